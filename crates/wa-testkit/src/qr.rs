//! Reading back the QR codes the gateway renders (wuzapi's `data:image/png;base64,…` URLs,
//! CONTRACTS §B.4), so a test can have the sim's phone scan what an app would show
//! (`POST /admin/phones/{phone}/scan` with the decoded text, WA-SIM.md).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The PNG data URL prefix.
const PREFIX: &str = "data:image/png;base64,";

/// The QR text inside a `data:image/png;base64,…` URL; `None` when it is not such a URL or
/// holds no readable QR code.
pub fn decode_data_url(url: &str) -> Option<String> {
    let png = STANDARD.decode(url.strip_prefix(PREFIX)?).ok()?;
    decode_png(&png)
}

/// The QR text in a PNG; `None` when there is none.
pub fn decode_png(png: &[u8]) -> Option<String> {
    let (_, content) = read(png)?;
    Some(content)
}

/// The QR's error-correction level in a PNG (`'L'`, `'M'`, `'Q'` or `'H'`).
pub fn ec_level(png: &[u8]) -> Option<char> {
    let (meta, _) = read(png)?;
    // The format information's two level bits, as the decoder reports them (ISO/IEC 18004
    // §7.9: M = 00, L = 01, H = 10, Q = 11).
    ['M', 'L', 'H', 'Q']
        .get(usize::from(meta.ecc_level))
        .copied()
}

/// A PNG's width, height and 8-bit luminance pixels (row-major); `None` when it is not a PNG.
pub fn decode_png_pixels(png: &[u8]) -> Option<(usize, usize, Vec<u8>)> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    let luma = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|px| match channels {
            1 | 2 => px[0],
            _ => ((u16::from(px[0]) + u16::from(px[1]) + u16::from(px[2])) / 3) as u8,
        })
        .collect();
    Some((w, h, luma))
}

fn read(png: &[u8]) -> Option<(rqrr::MetaData, String)> {
    let (w, h, luma) = decode_png_pixels(png)?;
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| luma[y * w + x]);
    let grids = prepared.detect_grids();
    grids.first()?.decode().ok()
}

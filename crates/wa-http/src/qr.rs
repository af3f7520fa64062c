//! QR codes as wuzapi renders them (CONTRACTS §B.4, §F rule 5): a 256×256 PNG with medium error
//! correction, served as a `data:image/png;base64,…` URL (`/session/qr`, `/session/status`'s
//! `qrcode`, the `QR` webhook's `qrCodeBase64`) and as the raw PNG (whatsapp-web.js dialect's
//! `/session/qr/{id}/image`).
//!
//! The module matrix comes from the `qrcode` crate; the image is drawn here the way wuzapi's
//! renderer does it: a quiet zone of 4 modules, an integer number of pixels per module, the
//! code centred on a white 256×256 canvas; the `png` crate encodes it (8-bit greyscale).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use qrcode::{Color, EcLevel, QrCode};

/// The side of the rendered image, in pixels (CONTRACTS §B.4).
pub const SIZE: usize = 256;

/// The quiet zone around the code, in modules (ISO/IEC 18004's minimum).
const QUIET_ZONE: usize = 4;

/// The PNG prefix of a data URL.
const DATA_URL_PREFIX: &str = "data:image/png;base64,";

/// `code` as a 256×256 greyscale PNG, medium error correction. Empty when `code` does not fit
/// in any QR version (more than 2,331 bytes at level M; WhatsApp's codes are a few hundred).
pub fn png(code: &str) -> Vec<u8> {
    match QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M) {
        Ok(qr) => encode(&pixels(&qr)),
        Err(e) => {
            tracing::warn!(error = %e, len = code.len(), "QR text does not fit in a QR code");
            Vec::new()
        }
    }
}

/// `code` as `data:image/png;base64,<png>` (wuzapi's `QRCode` / `qrcode` value); empty when
/// [`png`] is.
pub fn data_url(code: &str) -> String {
    let png = png(code);
    if png.is_empty() {
        return String::new();
    }
    let mut url = String::with_capacity(DATA_URL_PREFIX.len() + png.len() * 4 / 3 + 4);
    url.push_str(DATA_URL_PREFIX);
    STANDARD.encode_string(&png, &mut url);
    url
}

/// The code's modules drawn on a white `SIZE`×`SIZE` canvas, one byte per pixel (0 = dark).
fn pixels(qr: &QrCode) -> Vec<u8> {
    let width = qr.width();
    let colors = qr.to_colors();
    let modules = width + 2 * QUIET_ZONE;
    let scale = (SIZE / modules).max(1);
    let offset = SIZE.saturating_sub(modules * scale) / 2 + QUIET_ZONE * scale;
    let mut image = vec![255u8; SIZE * SIZE];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % width, i / width);
        for y in offset + my * scale..offset + (my + 1) * scale {
            for x in offset + mx * scale..offset + (mx + 1) * scale {
                if x < SIZE && y < SIZE {
                    image[y * SIZE + x] = 0;
                }
            }
        }
    }
    image
}

/// Greyscale pixels as a PNG. Writing into memory cannot fail; an encoder error (a bug) is
/// logged and gives an empty image.
fn encode(pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let side = SIZE as u32;
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let written = encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(pixels));
    if let Err(e) = written {
        tracing::error!(error = %e, "PNG encoding failed");
        return Vec::new();
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A pairing QR's shape (ref, noise key, identity key, adv secret; pairing §QR).
    const CODE: &str = "2@Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6,\
        AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/AbCdEf=,\
        ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210+/ZyXwVu=,\
        MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=";

    #[test]
    fn the_png_is_256_square_and_reads_back_to_the_same_text() {
        let png = png(CODE);
        let (w, h, _) = wa_testkit::qr::decode_png_pixels(&png).unwrap();
        assert_eq!((w, h), (SIZE, SIZE));
        assert_eq!(wa_testkit::qr::decode_png(&png).unwrap(), CODE);
    }

    #[test]
    fn the_data_url_is_a_base64_png_that_reads_back() {
        let url = data_url(CODE);
        assert!(url.starts_with("data:image/png;base64,"));
        assert_eq!(wa_testkit::qr::decode_data_url(&url).unwrap(), CODE);
    }

    #[test]
    fn medium_error_correction_is_used() {
        let png = png(CODE);
        assert_eq!(wa_testkit::qr::ec_level(&png).unwrap(), 'M');
    }

    #[test]
    fn a_text_too_long_for_any_qr_gives_nothing() {
        let long = "x".repeat(4000);
        assert!(png(&long).is_empty());
        assert!(data_url(&long).is_empty());
    }
}

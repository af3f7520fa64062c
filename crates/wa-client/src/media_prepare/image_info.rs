//! Image facts for outgoing media, with the `image` crate: dimensions, the small JPEG
//! thumbnail (`jpegThumbnail`, `media.md` §4) and the WebP sticker check. Images are decoded
//! only under the kind's size limit (checked before) and within [`decode_limits`], so a small
//! file that claims huge dimensions cannot take the memory.

use std::io::{BufRead, Seek};

use image::codecs::jpeg::JpegEncoder;
use image::{ImageDecoder, ImageReader, Limits};

use super::rejected::MediaRejected;

/// Largest side of the thumbnail, in pixels (WhatsApp Web and wuzapi send 72 px ones).
pub(crate) const THUMBNAIL_SIDE: u32 = 72;
/// JPEG quality of the thumbnail.
const THUMBNAIL_QUALITY: u8 = 60;

/// What decoding may use: 16384 px a side, 256 MiB of pixels.
fn decode_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(256 << 20);
    limits
}

/// An image's dimensions and thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageFacts {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// JPEG, at most [`THUMBNAIL_SIDE`] a side.
    pub jpeg_thumbnail: Vec<u8>,
}

fn undecodable(class: &'static str) -> impl Fn(image::ImageError) -> MediaRejected {
    move |source| MediaRejected::Undecodable { class, source }
}

/// Decodes the image in `reader` (any format the `image` crate reads) into its facts.
pub(crate) fn image_facts<R: BufRead + Seek>(
    reader: R,
    class: &'static str,
) -> Result<ImageFacts, MediaRejected> {
    let mut reader = ImageReader::new(reader)
        .with_guessed_format()
        .map_err(|e| undecodable(class)(image::ImageError::IoError(e)))?;
    reader.limits(decode_limits());
    let decoded = reader.decode().map_err(undecodable(class))?;
    let thumb = decoded.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE).to_rgb8();
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, THUMBNAIL_QUALITY)
        .encode_image(&thumb)
        .map_err(undecodable(class))?;
    Ok(ImageFacts {
        width: decoded.width(),
        height: decoded.height(),
        jpeg_thumbnail: jpeg,
    })
}

/// A WebP sticker's facts: dimensions (from the header, nothing decoded) and whether it is
/// animated (the `VP8X` chunk's animation flag, WebP container spec "Extended file format").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StickerFacts {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether it has an animation.
    pub animated: bool,
}

/// Reads a WebP sticker's header (`head`: the file's first bytes; `file`: the whole file, whose
/// chunk list the decoder walks, nothing decoded).
pub(crate) fn sticker_facts<R: BufRead + Seek>(
    head: &[u8],
    file: R,
) -> Result<StickerFacts, MediaRejected> {
    // RIFF header (12 bytes), then the first chunk: `VP8X` carries the flags byte first.
    let animated = head.get(12..16) == Some(b"VP8X".as_slice())
        && head.get(20).is_some_and(|flags| flags & 0x02 != 0);
    let decoder = image::codecs::webp::WebPDecoder::new(file).map_err(undecodable("sticker"))?;
    let (width, height) = decoder.dimensions();
    Ok(StickerFacts {
        width,
        height,
        animated,
    })
}

/// Whether `bytes` are a JPEG (a caller's video thumbnail).
pub(crate) fn is_jpeg(bytes: &[u8]) -> bool {
    infer::get(bytes).is_some_and(|t| t.mime_type() == "image/jpeg")
}

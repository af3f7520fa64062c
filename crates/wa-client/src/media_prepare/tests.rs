//! Detection, limits, thumbnails and durations against real small files made here (the
//! `image` crate encodes PNG, JPEG and WebP; the Ogg Opus pages are laid out per RFC 7845).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;

use image::{ImageFormat, RgbImage};
use wa_protocol::message::MediaKind;

use super::detect::{checked_mimetype, OCTET_STREAM, OGG_OPUS};
use super::image_info::THUMBNAIL_SIDE;
use super::prepare::{prepare, PrepareError, Prepared};
use super::rejected::MediaRejected;
use super::types::{MediaClass, MediaLimits, MediaRequest};
use crate::messaging::media::upload::MediaSource;

/// A `w`×`h` gradient encoded as `format`.
pub(crate) fn encoded(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// One Ogg page (RFC 3533 §6; the CRC is not checked by the reader under test).
fn ogg_page(granule: u64, sequence: u32, packet: &[u8]) -> Vec<u8> {
    let mut page = b"OggS".to_vec();
    page.extend([0, 0]);
    page.extend(granule.to_le_bytes());
    page.extend(7u32.to_le_bytes());
    page.extend(sequence.to_le_bytes());
    page.extend([0; 4]);
    page.push(1);
    page.push(u8::try_from(packet.len()).unwrap());
    page.extend(packet);
    page
}

/// An Ogg Opus file of `seconds` (pre-skip 312): OpusHead, OpusTags, one audio page.
pub(crate) fn ogg_opus(seconds: u64) -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.extend([1, 1]);
    head.extend(312u16.to_le_bytes());
    head.extend(48_000u32.to_le_bytes());
    head.extend([0, 0, 0]);
    let mut file = ogg_page(0, 0, &head);
    file.extend(ogg_page(0, 1, b"OpusTags\0\0\0\0\0\0\0\0"));
    file.extend(ogg_page(312 + seconds * 48_000, 2, &[0xfc; 40]));
    file
}

fn request(class: MediaClass, bytes: Vec<u8>) -> MediaRequest {
    MediaRequest::new(class, MediaSource::Bytes(bytes))
}

fn refused(request: MediaRequest) -> MediaRejected {
    match prepare(request, None) {
        Err(PrepareError::Rejected(r)) => r,
        Err(PrepareError::Failed(f)) => panic!("failed instead of refused: {f}"),
        Ok(p) => panic!("accepted: {:?}", p.kind),
    }
}

fn accepted(request: MediaRequest) -> Prepared {
    match prepare(request, None) {
        Ok(p) => p,
        Err(PrepareError::Rejected(r)) => panic!("refused: {r}"),
        Err(PrepareError::Failed(f)) => panic!("failed: {f}"),
    }
}

#[test]
fn the_type_comes_from_the_bytes() {
    let png = encoded(4, 4, ImageFormat::Png);
    let jpeg = encoded(4, 4, ImageFormat::Jpeg);
    assert_eq!(
        checked_mimetype(MediaClass::Image, &png, None).unwrap(),
        "image/png"
    );
    assert_eq!(
        checked_mimetype(MediaClass::Image, &jpeg, Some("image/jpg")).unwrap(),
        "image/jpeg"
    );
    assert_eq!(
        checked_mimetype(MediaClass::VoiceNote, &ogg_opus(3), None).unwrap(),
        OGG_OPUS
    );
    // A PNG declared as a PDF document, as audio, as a JPEG image: refused.
    assert!(matches!(
        checked_mimetype(MediaClass::Document, &png, Some("application/pdf")),
        Err(MediaRejected::MimeMismatch { ref detected, .. }) if detected == "image/png"
    ));
    assert!(matches!(
        checked_mimetype(MediaClass::Audio, &png, None),
        Err(MediaRejected::WrongType { class: "audio", ref detected }) if detected == "image/png"
    ));
    assert!(matches!(
        checked_mimetype(MediaClass::Image, &png, Some("image/jpeg")),
        Err(MediaRejected::MimeMismatch { .. })
    ));
    assert!(matches!(
        checked_mimetype(MediaClass::Sticker, &png, None),
        Err(MediaRejected::WrongType { .. })
    ));
    // Documents: any bytes; text types no magic number tells keep the declaration; a
    // declared type with magic numbers the bytes lack is refused.
    let text = b"name,phone\nana,1\n".to_vec();
    assert_eq!(
        checked_mimetype(MediaClass::Document, &text, Some("text/csv")).unwrap(),
        "text/csv"
    );
    assert_eq!(
        checked_mimetype(MediaClass::Document, &text, None).unwrap(),
        OCTET_STREAM
    );
    assert_eq!(
        checked_mimetype(MediaClass::Document, &text, Some(OCTET_STREAM)).unwrap(),
        OCTET_STREAM
    );
    assert!(matches!(
        checked_mimetype(MediaClass::Document, &text, Some("application/pdf")),
        Err(MediaRejected::MimeMismatch { ref detected, .. }) if detected == "unknown"
    ));
    let pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n".to_vec();
    assert_eq!(
        checked_mimetype(MediaClass::Document, &pdf, Some("application/pdf")).unwrap(),
        "application/pdf"
    );
    assert!(matches!(
        checked_mimetype(MediaClass::Document, &pdf, Some("not a type")),
        Err(MediaRejected::BadMimetype(_))
    ));
}

#[test]
fn images_get_dimensions_and_a_small_jpeg_thumbnail() {
    for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
        let mut req = request(MediaClass::Image, encoded(640, 320, format));
        req.caption = Some("a caption".into());
        let prepared = accepted(req);
        let MediaKind::Image(info) = prepared.kind else {
            panic!("not an image: {:?}", prepared.kind)
        };
        assert_eq!(
            (info.width, info.height),
            (Some(640), Some(320)),
            "{format:?}"
        );
        assert_eq!(info.caption.as_deref(), Some("a caption"));
        let thumb = image::load_from_memory(info.jpeg_thumbnail.as_deref().unwrap()).unwrap();
        assert_eq!(
            image::guess_format(info.jpeg_thumbnail.as_deref().unwrap()).unwrap(),
            ImageFormat::Jpeg
        );
        assert_eq!(
            (thumb.width(), thumb.height()),
            (THUMBNAIL_SIDE, THUMBNAIL_SIDE / 2)
        );
    }
}

#[test]
fn a_broken_image_is_refused() {
    let mut png = encoded(64, 64, ImageFormat::Png);
    png.truncate(60);
    assert!(matches!(
        refused(request(MediaClass::Image, png)),
        MediaRejected::Undecodable { class: "image", .. }
    ));
}

#[test]
fn sizes_are_limited_per_kind() {
    let limits = MediaLimits::whatsapp();
    assert_eq!(limits.of(MediaClass::Image), 16 << 20);
    assert_eq!(limits.of(MediaClass::Document), 2 << 30);
    assert_eq!(
        limits.of(MediaClass::Video),
        2 << 30,
        "a 100 MB video passes"
    );
    let mut req = request(MediaClass::Image, encoded(64, 64, ImageFormat::Png));
    req.limits.image = 100;
    assert!(matches!(
        refused(req),
        MediaRejected::TooLarge {
            class: "image",
            max: 100,
            ..
        }
    ));
    assert!(matches!(
        refused(request(MediaClass::Document, Vec::new())),
        MediaRejected::Empty("document")
    ));
    // A reader is staged up to the limit and refused past it, without reading it all.
    let mut req = MediaRequest::new(
        MediaClass::Document,
        MediaSource::Reader(Box::new(std::io::repeat(7))),
    );
    req.limits.document = 1 << 16;
    assert!(matches!(
        refused(req),
        MediaRejected::TooLarge { len, .. } if len == (1 << 16) + 1
    ));
}

#[test]
fn stickers_are_webp_within_their_limit() {
    let webp = encoded(512, 512, ImageFormat::WebP);
    let prepared = accepted(request(MediaClass::Sticker, webp.clone()));
    assert_eq!(prepared.mimetype, "image/webp");
    let MediaKind::Sticker(info) = prepared.kind else {
        panic!("not a sticker")
    };
    assert_eq!(
        (info.width, info.height, info.is_animated),
        (Some(512), Some(512), false)
    );
    let mut req = request(MediaClass::Sticker, webp);
    req.limits.sticker = 10;
    assert!(matches!(
        refused(req),
        MediaRejected::TooLarge {
            class: "sticker",
            max: 10,
            ..
        }
    ));
}

#[test]
fn voice_notes_get_their_duration_from_the_ogg_pages() {
    let mut req = request(MediaClass::VoiceNote, ogg_opus(7));
    req.seconds = Some(99);
    req.waveform = Some(vec![0, 50, 100]);
    let prepared = accepted(req);
    assert_eq!(prepared.mimetype, OGG_OPUS);
    let MediaKind::Audio(info) = prepared.kind else {
        panic!("not audio")
    };
    assert!(info.ptt);
    assert_eq!(
        info.seconds,
        Some(7),
        "read from the file, not the caller's 99"
    );
    assert_eq!(info.waveform.as_deref(), Some([0, 50, 100].as_slice()));
}

#[test]
fn documents_keep_their_name_and_videos_a_jpeg_thumbnail_only() {
    let mut req = request(MediaClass::Document, b"%PDF-1.4\n%%EOF\n".to_vec());
    req.file_name = Some("report.pdf".into());
    req.mimetype = Some("application/pdf".into());
    let prepared = accepted(req);
    assert_eq!(prepared.mimetype, "application/pdf");
    let MediaKind::Document(info) = prepared.kind else {
        panic!("not a document")
    };
    assert_eq!(info.file_name.as_deref(), Some("report.pdf"));
    assert_eq!(info.title.as_deref(), Some("report.pdf"));

    let mp4 = mp4_bytes();
    let mut req = request(MediaClass::Video, mp4.clone());
    req.jpeg_thumbnail = Some(encoded(8, 8, ImageFormat::Png));
    assert!(matches!(refused(req), MediaRejected::BadThumbnail));
    let mut req = request(MediaClass::Video, mp4);
    req.jpeg_thumbnail = Some(encoded(8, 8, ImageFormat::Jpeg));
    req.seconds = Some(3);
    let prepared = accepted(req);
    assert_eq!(prepared.mimetype, "video/mp4");
    let MediaKind::Video(info) = prepared.kind else {
        panic!("not a video")
    };
    assert_eq!(info.seconds, Some(3));
    assert!(info.jpeg_thumbnail.is_some());
}

/// The start of an MP4 file: an `ftyp` box (brand `isom`) and an empty `mdat`.
pub(crate) fn mp4_bytes() -> Vec<u8> {
    let mut file = 24u32.to_be_bytes().to_vec();
    file.extend(b"ftypisom");
    file.extend(0x200u32.to_be_bytes());
    file.extend(b"isommp41");
    file.extend(16u32.to_be_bytes());
    file.extend(b"mdat");
    file.extend([0u8; 8]);
    file
}

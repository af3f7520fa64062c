//! The mimetype of an outgoing file, detected from its first bytes (the `infer` crate's magic
//! numbers) and checked against what the caller declared: the kind asked for must take the
//! detected type, and a declared mimetype must agree with it. The caller's mimetype is never
//! sent as is for a type the bytes can tell.

use super::rejected::MediaRejected;
use super::types::MediaClass;

/// What is sent for a document whose type neither the bytes nor the caller tell.
pub(crate) const OCTET_STREAM: &str = "application/octet-stream";
/// The mimetype of an Ogg Opus file in a WhatsApp voice note or audio message.
pub(crate) const OGG_OPUS: &str = "audio/ogg; codecs=opus";

/// The detected type of `head` (the file's first bytes), as WhatsApp names it: `infer`'s
/// `audio/opus` (Ogg Opus) is `audio/ogg; codecs=opus`, `audio/m4a` is `audio/mp4`.
pub(crate) fn detect(head: &[u8]) -> Option<String> {
    let found = infer::get(head)?.mime_type();
    Some(
        match found {
            "audio/opus" => OGG_OPUS,
            "audio/m4a" => "audio/mp4",
            other => other,
        }
        .to_owned(),
    )
}

/// The types each kind takes (WhatsApp's supported media types: JPEG/PNG images — WebP and
/// GIF decode to a thumbnail too; MP4/3GPP video; AAC, MP4, MPEG, AMR and Ogg audio; WebP
/// stickers; any document).
fn takes(class: MediaClass, mime: &str) -> bool {
    match class {
        MediaClass::Image => matches!(
            mime,
            "image/jpeg" | "image/png" | "image/webp" | "image/gif"
        ),
        MediaClass::Video => matches!(mime, "video/mp4" | "video/3gpp" | "video/quicktime"),
        MediaClass::Audio | MediaClass::VoiceNote => matches!(
            mime,
            "audio/aac" | "audio/mp4" | "audio/mpeg" | "audio/amr" | "audio/ogg" | OGG_OPUS
        ),
        MediaClass::Sticker => mime == "image/webp",
        MediaClass::Document => true,
    }
}

/// `type/subtype` without parameters, lowercase; `image/jpg` is `image/jpeg`.
fn essence(mime: &str) -> String {
    let bare = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match bare.as_str() {
        "image/jpg" => "image/jpeg".to_owned(),
        "audio/mp3" => "audio/mpeg".to_owned(),
        "audio/opus" => "audio/ogg".to_owned(),
        "audio/m4a" | "audio/x-m4a" => "audio/mp4".to_owned(),
        _ => bare,
    }
}

/// Whether `mime` looks like `type/subtype` (RFC 6838 token characters).
fn well_formed(mime: &str) -> bool {
    let bare = mime.split(';').next().unwrap_or("").trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(bare.split_once('/'), Some((t, s)) if token(t) && token(s))
}

/// Zip-based formats `infer` may report as a bare `application/zip`: a declaration of one of
/// these refines a detected zip.
fn refines_zip(declared: &str) -> bool {
    declared.starts_with("application/vnd.openxmlformats-officedocument.")
        || declared.starts_with("application/vnd.oasis.opendocument.")
        || matches!(
            declared,
            "application/epub+zip"
                | "application/java-archive"
                | "application/vnd.android.package-archive"
        )
}

/// The mimetype to send for a file of kind `class` whose first bytes are `head`, given the
/// caller's `declared` mimetype (`application/octet-stream` declares nothing).
pub(crate) fn checked_mimetype(
    class: MediaClass,
    head: &[u8],
    declared: Option<&str>,
) -> Result<String, MediaRejected> {
    let declared = declared.map(str::trim).filter(|d| !d.is_empty());
    if let Some(d) = declared {
        if !well_formed(d) {
            return Err(MediaRejected::BadMimetype(d.to_owned()));
        }
    }
    let declared = declared.filter(|d| essence(d) != OCTET_STREAM);
    let detected = detect(head);
    let unknown = || "unknown".to_owned();
    if class != MediaClass::Document {
        let Some(found) = detected.filter(|m| takes(class, m)) else {
            return Err(MediaRejected::WrongType {
                class: class.name(),
                detected: detect(head).unwrap_or_else(unknown),
            });
        };
        return match declared {
            Some(d) if essence(d) != essence(&found) => Err(MediaRejected::MimeMismatch {
                declared: d.to_owned(),
                detected: found,
            }),
            _ => Ok(found),
        };
    }
    match (detected, declared) {
        (Some(found), None) => Ok(found),
        (Some(found), Some(d)) if essence(d) == essence(&found) => Ok(found),
        (Some(found), Some(d)) if found == "application/zip" && refines_zip(&essence(d)) => {
            Ok(essence(d))
        }
        (Some(found), Some(d)) => Err(MediaRejected::MimeMismatch {
            declared: d.to_owned(),
            detected: found,
        }),
        // A type with magic numbers the bytes do not have: the declaration is false.
        (None, Some(d)) if infer::is_mime_supported(&essence(d)) => {
            Err(MediaRejected::MimeMismatch {
                declared: d.to_owned(),
                detected: unknown(),
            })
        }
        // Text, CSV, JSON…: no magic number tells them; the declaration stands.
        (None, Some(d)) => Ok(d.to_owned()),
        (None, None) => Ok(OCTET_STREAM.to_owned()),
    }
}

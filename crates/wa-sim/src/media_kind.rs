//! The media a simulated phone sends: the `"media"` object of `POST /admin/phones/{phone}/send`
//! ([`MediaBody`]) and its kind ([`MediaKind`]), with what each kind means on the wire
//! (`media.md` §1: key info string and upload path; `messaging.md` §7: the `<enc mediatype>`).
//!
//! | `kind` | message (`media.md` §4) | `mediatype` | upload `/mms/…` |
//! |---|---|---|---|
//! | `image` | `imageMessage` | `image` | `image` |
//! | `video` | `videoMessage` | `video` | `video` |
//! | `audio` | `audioMessage` | `audio` | `audio` |
//! | `ptt` (voice note) | `audioMessage` with `PTT` | `ptt` | `audio` |
//! | `document` | `documentMessage` | `document` | `document` |
//! | `sticker` | `stickerMessage` | `sticker` | `image` |

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::SimError;

/// `"media": {"kind", "mimetype", "data_base64", "caption", "file_name", "seconds"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaBody {
    /// `image`, `video`, `audio`, `ptt`, `document` or `sticker` (see [`MediaKind`]).
    pub kind: String,
    /// The MIME type the message declares (`image/jpeg`, `application/pdf`, …).
    pub mimetype: String,
    /// The file, standard base64.
    pub data_base64: String,
    /// A caption (image, video, document).
    #[serde(default)]
    pub caption: Option<String>,
    /// A document's file name.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Audio or video length in seconds.
    #[serde(default)]
    pub seconds: Option<u32>,
}

/// A kind of media message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaKind {
    /// `imageMessage`.
    Image,
    /// `videoMessage`.
    Video,
    /// `audioMessage`.
    Audio,
    /// `audioMessage` with `PTT` set: a voice note.
    Ptt,
    /// `documentMessage`.
    Document,
    /// `stickerMessage`.
    Sticker,
}

impl MediaKind {
    /// The kind a request names.
    pub(crate) fn parse(text: &str) -> Result<Self, SimError> {
        Ok(match text {
            "image" => MediaKind::Image,
            "video" => MediaKind::Video,
            "audio" => MediaKind::Audio,
            "ptt" => MediaKind::Ptt,
            "document" => MediaKind::Document,
            "sticker" => MediaKind::Sticker,
            _ => {
                return Err(SimError::BadMedia(
                    "kind is one of image, video, audio, ptt, document, sticker",
                ))
            }
        })
    }

    /// The name: the admin API's `kind` and the `<enc mediatype>` (`messaging.md` §7).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Ptt => "ptt",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }
}

/// A checked media request: its kind and the file's bytes.
#[derive(Debug)]
pub(crate) struct MediaRequest<'a> {
    /// The kind.
    pub(crate) kind: MediaKind,
    /// The request.
    pub(crate) body: &'a MediaBody,
    /// The file.
    pub(crate) data: Vec<u8>,
}

impl MediaBody {
    /// Checks the request: a known kind, a MIME type, a non-empty file in base64.
    pub(crate) fn check(&self) -> Result<MediaRequest<'_>, SimError> {
        let kind = MediaKind::parse(&self.kind)?;
        if self.mimetype.trim().is_empty() {
            return Err(SimError::BadMedia("mimetype is required"));
        }
        let data = STANDARD
            .decode(self.data_base64.trim())
            .map_err(|_| SimError::BadMedia("data_base64 is not standard base64"))?;
        if data.is_empty() {
            return Err(SimError::BadMedia("data_base64 holds no bytes"));
        }
        Ok(MediaRequest {
            kind,
            body: self,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(kind: &str, mimetype: &str, data: &str) -> MediaBody {
        MediaBody {
            kind: kind.into(),
            mimetype: mimetype.into(),
            data_base64: data.into(),
            ..MediaBody::default()
        }
    }

    #[test]
    fn requests_are_checked() {
        let ok = body("ptt", "audio/ogg; codecs=opus", "aGVsbG8=");
        let checked = ok.check().expect("valid");
        assert_eq!(
            (checked.kind, checked.data.as_slice()),
            (MediaKind::Ptt, &b"hello"[..])
        );
        for (bad, what) in [
            (body("gifv", "image/gif", "aGVsbG8="), "unknown kind"),
            (body("image", " ", "aGVsbG8="), "no mimetype"),
            (body("image", "image/png", "not base64!"), "bad base64"),
            (body("image", "image/png", ""), "empty"),
        ] {
            assert!(matches!(bad.check(), Err(SimError::BadMedia(_))), "{what}");
        }
    }
}

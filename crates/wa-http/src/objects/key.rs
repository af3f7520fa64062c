//! Object keys and public URLs laid out as wuzapi lays them (CONTRACTS §B.7; facts from
//! wuzapi's `s3manager.go`, Jan-2026):
//!
//! ```text
//! users/<userId>/<inbox|outbox>/<contact jid, '@' and ':' → '_'>/<YYYY>/<MM>/<DD>/
//!     <images|videos|audio|documents>/<messageId>.<ext>
//! ```
//!
//! The folder comes from the MIME type's prefix (`image/`, `video/`, `audio/`, anything else
//! `documents`), the extension from words in the MIME type (`jpeg` → `.jpg`, …, `.bin` when
//! none matches). wuzapi formats the date with the Go layouts `"2025"`, `"05"`, `"25"`, which Go
//! reads as day/second fields, not year/month/day; the intent (three date segments) is kept here
//! with the real UTC date, so keys stay stable within a day and sort by date.

use std::time::SystemTime;

/// Which way the message went (wuzapi's `isIncoming`): `inbox` for received media, `outbox`
/// for sent media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received media (`inbox`).
    Inbox,
    /// Sent media (`outbox`).
    Outbox,
}

impl Direction {
    /// The key segment.
    pub fn segment(self) -> &'static str {
        match self {
            Direction::Inbox => "inbox",
            Direction::Outbox => "outbox",
        }
    }
}

/// The key's contact segment: the JID with `@` and `:` replaced by `_`.
pub(crate) fn contact_segment(jid: &str) -> String {
    jid.replace(['@', ':'], "_")
}

/// The media folder for a MIME type.
pub(crate) fn media_folder(mimetype: &str) -> &'static str {
    if mimetype.starts_with("image/") {
        "images"
    } else if mimetype.starts_with("video/") {
        "videos"
    } else if mimetype.starts_with("audio/") {
        "audio"
    } else {
        "documents"
    }
}

/// The file extension (with its dot) for a MIME type, checked in wuzapi's order.
pub(crate) fn extension(mimetype: &str) -> &'static str {
    const TABLE: [(&str, &str); 12] = [
        ("jpeg", ".jpg"),
        ("jpg", ".jpg"),
        ("png", ".png"),
        ("gif", ".gif"),
        ("webp", ".webp"),
        ("mp4", ".mp4"),
        ("webm", ".webm"),
        ("ogg", ".ogg"),
        ("opus", ".opus"),
        ("pdf", ".pdf"),
        ("spreadsheetml", ".xlsx"),
        ("excel", ".xls"),
    ];
    for (word, ext) in TABLE {
        if mimetype.contains(word) {
            return ext;
        }
    }
    if mimetype.contains("doc") {
        return if mimetype.contains("docx") {
            ".docx"
        } else {
            ".doc"
        };
    }
    ".bin"
}

/// `YYYY/MM/DD` of an instant, in UTC.
pub(crate) fn date_segments(at: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(at).to_string();
    // "2026-12-07T18:50:16Z"
    let date = stamp.get(..10).unwrap_or("0000-00-00");
    date.replace('-', "/")
}

/// What an object's key is made of.
#[derive(Debug, Clone)]
pub(crate) struct KeyParts<'a> {
    /// The account id (32 hex).
    pub(crate) user_id: &'a str,
    /// Inbox or outbox.
    pub(crate) direction: Direction,
    /// The contact's JID as text.
    pub(crate) contact: &'a str,
    /// The message id.
    pub(crate) message_id: &'a str,
    /// The media's MIME type.
    pub(crate) mimetype: &'a str,
    /// When it is stored (the date segments).
    pub(crate) at: SystemTime,
}

impl KeyParts<'_> {
    /// `<messageId>.<ext>`, the object's file name.
    pub(crate) fn file_name(&self) -> String {
        format!("{}{}", self.message_id, extension(self.mimetype))
    }

    /// The full key.
    pub(crate) fn key(&self) -> String {
        format!(
            "{}{}/{}/{}/{}/{}",
            user_prefix(self.user_id),
            self.direction.segment(),
            contact_segment(self.contact),
            date_segments(self.at),
            media_folder(self.mimetype),
            self.file_name()
        )
    }
}

/// `users/<userId>/`: everything of one account (deleted with `DELETE /admin/users/{id}/full`).
pub(crate) fn user_prefix(user_id: &str) -> String {
    format!("users/{user_id}/")
}

/// A key is safe as a path below a directory: relative, no empty, `.` or `..` segments, no
/// backslashes or NULs.
pub(crate) fn is_safe_key(key: &str) -> bool {
    !key.is_empty()
        && !key.contains(['\\', '\0'])
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// What wuzapi's public URL is built from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UrlStyle<'a> {
    /// `public_url` (e.g. a CDN); used as is when set, the bucket not appended.
    pub(crate) public_url: &'a str,
    /// The S3 endpoint.
    pub(crate) endpoint: &'a str,
    /// The bucket.
    pub(crate) bucket: &'a str,
    /// The region (AWS virtual-host URLs).
    pub(crate) region: &'a str,
    /// Path-style addressing.
    pub(crate) path_style: bool,
}

impl UrlStyle<'_> {
    /// The public URL of `key`, as wuzapi's `GetPublicURL` builds it:
    /// `public_url` set: `<public_url>/<key>`; path style: `<endpoint>/<bucket>/<key>`;
    /// virtual host on AWS: `https://<bucket>.s3.<region>.amazonaws.com/<key>`; virtual host
    /// elsewhere: `https://<bucket>.<endpoint host>/<key>`.
    pub(crate) fn url(&self, key: &str) -> String {
        if !self.public_url.is_empty() {
            return format!("{}/{key}", self.public_url.trim_end_matches('/'));
        }
        if self.path_style {
            return format!(
                "{}/{}/{key}",
                self.endpoint.trim_end_matches('/'),
                self.bucket
            );
        }
        if self.endpoint.contains("amazonaws.com") {
            return format!(
                "https://{}.s3.{}.amazonaws.com/{key}",
                self.bucket, self.region
            );
        }
        let host = self
            .endpoint
            .strip_prefix("https://")
            .unwrap_or(self.endpoint);
        let host = host.strip_prefix("http://").unwrap_or(host);
        format!("https://{}.{host}/{key}", self.bucket)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// 2026-12-07T18:50:16Z.
    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_796_669_416)
    }

    #[test]
    fn key_layout_is_wuzapis() {
        let parts = KeyParts {
            user_id: "0123456789abcdef0123456789abcdef",
            direction: Direction::Inbox,
            contact: "15550001111:7@s.whatsapp.net",
            message_id: "3EB0ABCDEF",
            mimetype: "image/jpeg",
            at: at(),
        };
        assert_eq!(
            parts.key(),
            "users/0123456789abcdef0123456789abcdef/inbox/15550001111_7_s.whatsapp.net/\
             2026/12/07/images/3EB0ABCDEF.jpg"
        );
        assert_eq!(parts.file_name(), "3EB0ABCDEF.jpg");
        let out = KeyParts {
            direction: Direction::Outbox,
            contact: "120363000000000001@g.us",
            mimetype: "application/pdf",
            ..parts
        };
        assert_eq!(
            out.key(),
            "users/0123456789abcdef0123456789abcdef/outbox/120363000000000001_g.us/\
             2026/12/07/documents/3EB0ABCDEF.pdf"
        );
    }

    #[test]
    fn folders_and_extensions_follow_the_mime_type() {
        let cases = [
            ("image/png", "images", ".png"),
            ("image/webp", "images", ".webp"),
            ("image/gif", "images", ".gif"),
            ("video/mp4", "videos", ".mp4"),
            ("video/webm", "videos", ".webm"),
            ("audio/ogg; codecs=opus", "audio", ".ogg"),
            ("audio/opus", "audio", ".opus"),
            ("audio/mpeg", "audio", ".bin"),
            (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "documents",
                ".xlsx",
            ),
            ("application/vnd.ms-excel", "documents", ".xls"),
            ("application/msword", "documents", ".bin"),
            (
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "documents",
                ".doc",
            ),
            ("application/docx", "documents", ".docx"),
            ("application/x-doc", "documents", ".doc"),
            ("application/zip", "documents", ".bin"),
            ("", "documents", ".bin"),
        ];
        for (mime, folder, ext) in cases {
            assert_eq!(media_folder(mime), folder, "{mime}");
            assert_eq!(extension(mime), ext, "{mime}");
        }
    }

    #[test]
    fn url_styles_are_wuzapis() {
        let style = UrlStyle {
            public_url: "",
            endpoint: "http://127.0.0.1:9000/",
            bucket: "media",
            region: "us-east-1",
            path_style: true,
        };
        assert_eq!(
            style.url("users/a/b.jpg"),
            "http://127.0.0.1:9000/media/users/a/b.jpg"
        );
        let cdn = UrlStyle {
            public_url: "https://cdn.example.com/",
            ..style
        };
        assert_eq!(
            cdn.url("users/a/b.jpg"),
            "https://cdn.example.com/users/a/b.jpg"
        );
        let aws = UrlStyle {
            endpoint: "https://s3.eu-west-1.amazonaws.com",
            region: "eu-west-1",
            path_style: false,
            ..style
        };
        assert_eq!(
            aws.url("k.jpg"),
            "https://media.s3.eu-west-1.amazonaws.com/k.jpg"
        );
        let other = UrlStyle {
            endpoint: "http://minio.example.com:9000",
            path_style: false,
            ..style
        };
        assert_eq!(
            other.url("k.jpg"),
            "https://media.minio.example.com:9000/k.jpg"
        );
    }

    #[test]
    fn unsafe_keys_are_refused() {
        assert!(is_safe_key("users/a/inbox/x/2026/12/07/images/m.jpg"));
        for bad in [
            "",
            "/etc/passwd",
            "users/../x",
            "users//x",
            "users/./x",
            "a\\b",
            "a\0",
        ] {
            assert!(!is_safe_key(bad), "{bad:?}");
        }
    }
}

//! Outgoing media preparation (issue 13 item 3): what the caller declares ([`MediaRequest`])
//! is checked against the bytes — the type detected from them, the kind's size limit
//! ([`MediaLimits`]) — and the message fields are read from the file (thumbnails, dimensions,
//! durations) before the upload. Refusals are [`MediaRejected`].

pub(crate) mod audio_info;
pub(crate) mod detect;
pub(crate) mod image_info;
pub(crate) mod prepare;
pub(crate) mod rejected;
pub(crate) mod types;

pub use rejected::MediaRejected;
pub use types::{MediaClass, MediaLimits, MediaRequest};

/// The mimetype detected from a file's first bytes (8 KiB are enough), as WhatsApp names it
/// (`audio/ogg; codecs=opus`, `audio/mp4`); `None` when no magic number matches.
pub fn detect_mimetype(head: &[u8]) -> Option<String> {
    detect::detect(head)
}

#[cfg(test)]
mod tests;

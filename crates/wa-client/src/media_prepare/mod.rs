//! Outgoing media preparation (issue 13 item 3): what the caller declares ([`MediaRequest`])
//! is checked against the bytes — the type detected from them, the kind's size limit
//! ([`MediaLimits`]) — and the message fields are read from the file (thumbnails, dimensions,
//! durations) before the upload. Refusals are [`MediaRejected`].

pub(crate) mod audio_info;
pub(crate) mod detect;
pub(crate) mod image_info;
pub(crate) mod prepare;
pub(crate) mod types;

pub use types::{MediaClass, MediaLimits, MediaRejected, MediaRequest};

#[cfg(test)]
mod tests;

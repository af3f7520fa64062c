//! Media transfer (`media.md` §2–§3): the `media_conn` cache and HTTP client ([`hub`]), upload
//! of an encrypted staged body ([`stage`]) across hosts ([`upload`]), verified streaming download
//! ([`download`]). The crypto is wa-protocol's `media` module.

pub(crate) mod body;
pub(crate) mod download;
pub(crate) mod failure;
pub(crate) mod hub;
pub(crate) mod stage;
pub(crate) mod upload;

pub use download::DownloadedMedia;
pub use failure::MediaFailure;
pub use upload::{MediaSource, UploadedMedia};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;

//! What a media upload or download can refuse, classified by who is at fault.

use wa_protocol::media::{MediaError, RetryResult};

/// A media upload or download failure (`media.md` §2–§3).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaFailure {
    // ----- the caller's fault -----
    /// The file is larger than [`crate::MediaConfig::max_file_bytes`] (or the message says so).
    #[error("media of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Bytes (at least) of the file.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The file to upload cannot be read.
    #[error("cannot read the media to upload: {0}")]
    Source(#[source] std::io::Error),
    /// A configured extra root certificate is not a usable certificate.
    #[error("media root certificate: {0}")]
    RootCertificate(#[source] rustls::Error),

    // ----- the peer's fault -----
    /// A received media message lacks a field its download needs.
    #[error("the media message has no {0}")]
    MissingField(&'static str),
    /// The downloaded body does not verify (MAC, hashes, length, padding).
    #[error("media does not verify: {0}")]
    Verify(#[from] MediaError),
    /// A media host answered with this HTTP status.
    #[error("media host {host} answered {status}")]
    Status {
        /// The host.
        host: String,
        /// The HTTP status.
        status: u16,
    },
    /// The upload answer is not the JSON of `media.md` §3 (`url`, `direct_path`).
    #[error("bad upload answer: {0}")]
    BadAnswer(String),
    /// Nowhere to upload to or download from (no hosts and no URL).
    #[error("no media host to try")]
    NoHosts,
    /// A media retry was answered `<error code>` (2: the phone no longer has the file).
    #[error("media retry refused with code {code}")]
    RetryRefused {
        /// The `code`.
        code: u32,
    },
    /// A media retry was answered with a result other than `SUCCESS`.
    #[error("media retry answered {0:?}")]
    RetryUnsuccessful(RetryResult),

    // ----- the network -----
    /// The HTTP request failed (connect, TLS, timeout, reset).
    #[error("media transfer: {0}")]
    Http(#[from] reqwest::Error),

    // ----- storage -----
    /// A staging or download file could not be written or read.
    #[error("media temp file: {0}")]
    TempFile(#[source] std::io::Error),
}

/// Who is at fault, in wa-client's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaFault {
    Caller,
    Peer,
    Network,
    Storage,
}

impl MediaFailure {
    pub(crate) fn fault(&self) -> MediaFault {
        match self {
            MediaFailure::TooLarge { .. }
            | MediaFailure::Source(_)
            | MediaFailure::RootCertificate(_) => MediaFault::Caller,
            MediaFailure::MissingField(_)
            | MediaFailure::Verify(_)
            | MediaFailure::Status { .. }
            | MediaFailure::BadAnswer(_)
            | MediaFailure::NoHosts
            | MediaFailure::RetryRefused { .. }
            | MediaFailure::RetryUnsuccessful(_) => MediaFault::Peer,
            MediaFailure::Http(_) => MediaFault::Network,
            MediaFailure::TempFile(_) => MediaFault::Storage,
        }
    }

    /// Whether trying again later may succeed: a network failure or a host's 5xx/408/429.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            MediaFailure::Http(_) => true,
            MediaFailure::Status { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            MediaFailure::TooLarge { .. }
            | MediaFailure::Source(_)
            | MediaFailure::RootCertificate(_)
            | MediaFailure::MissingField(_)
            | MediaFailure::Verify(_)
            | MediaFailure::BadAnswer(_)
            | MediaFailure::NoHosts
            | MediaFailure::RetryRefused { .. }
            | MediaFailure::RetryUnsuccessful(_)
            | MediaFailure::TempFile(_) => false,
        }
    }

    /// Whether the file is gone from the media hosts (404 or 410): a media retry may bring it
    /// back (whatsmeow `SendMediaRetryReceipt`: "getting a 404 or 410 error downloading").
    pub fn is_gone(&self) -> bool {
        matches!(
            self,
            MediaFailure::Status {
                status: 404 | 410,
                ..
            }
        )
    }
}

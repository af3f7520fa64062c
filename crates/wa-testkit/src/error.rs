//! The kit's one error type: what waiting and the raw client can report.

use std::time::Duration;

/// Why a wait, a peer process or a raw connection failed, grouped by cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing matching arrived in time: an awaited event, a node, a handshake answer.
    #[error("no {what} within {deadline:?}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long the wait lasted.
        deadline: Duration,
    },
    /// The stream or connection ended before what was awaited arrived.
    #[error("the stream ended before {what}")]
    Closed {
        /// What was awaited.
        what: String,
    },
    /// Opening the WebSocket failed: URL, proxy, network or TLS (wa-client's error).
    #[error("cannot open the websocket: {0}")]
    Open(#[from] wa_client::Error),
    /// The open WebSocket failed.
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server broke the protocol or failed authentication.
    #[error("protocol: {0}")]
    Protocol(#[from] wa_protocol::Error),
    /// A peer process could not be started, read or written to.
    #[error("peer process {program}: {source}")]
    Spawn {
        /// The program and script.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl Error {
    /// Whether trying again may help (the network, a slow or closing peer), as opposed to a
    /// protocol or setup fault.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Closed { .. } | Error::WebSocket(_) => true,
            Error::Open(e) => e.is_transient(),
            Error::Protocol(_) | Error::Spawn { .. } => false,
        }
    }
}

impl From<wa_protocol::noise::HandshakeError> for Error {
    fn from(e: wa_protocol::noise::HandshakeError) -> Self {
        Error::Protocol(e.into())
    }
}

impl From<wa_protocol::noise::FrameError> for Error {
    fn from(e: wa_protocol::noise::FrameError) -> Self {
        Error::Protocol(e.into())
    }
}

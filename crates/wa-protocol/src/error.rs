//! The crate's one error type, grouped by who is at fault.

use crate::binary::{DecodeError, EncodeError};
use crate::noise::{CertError, FrameError, HandshakeError};

/// Who caused an error: decides whether to retry, close or report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The remote side sent something invalid (malformed, unauthenticated, untrusted).
    Peer,
    /// The caller asked for something impossible (oversized frame, unencodable node).
    Caller,
}

/// Everything wa-protocol can refuse. Each variant wraps the detail enum of its layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A received binary node is malformed (peer).
    #[error("malformed node: {0}")]
    Decode(#[from] DecodeError),
    /// A node cannot be encoded (caller).
    #[error("cannot encode node: {0}")]
    Encode(#[from] EncodeError),
    /// Framing violated (peer), or a frame to send is too large (caller).
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    /// The Noise handshake or transport failed (peer; certificate problems included).
    #[error("noise: {0}")]
    Handshake(#[from] HandshakeError),
    /// A protobuf message from the peer does not decode.
    #[error("protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A stanza lacks what its kind requires (peer).
    #[error("stanza: {0}")]
    Stanza(#[from] crate::stanza::StanzaError),
    /// A Signal operation failed (see `SignalError::fault` and its `is_…` classifiers).
    #[error("signal: {0}")]
    Signal(#[from] crate::signal::SignalError),
    /// Pairing failed (peer: bad HMAC or signature, malformed pairing stanza).
    #[error("pairing: {0}")]
    Pair(#[from] crate::pairing::PairError),
    /// A received ClientPayload breaks the rules of its kind (peer).
    #[error("client payload: {0}")]
    Payload(#[from] crate::payload::PayloadError),
}

impl From<CertError> for Error {
    fn from(e: CertError) -> Self {
        Error::Handshake(HandshakeError::Cert(e))
    }
}

impl Error {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Encode(_) => Fault::Caller,
            Error::Frame(FrameError::TooLarge { .. }) => Fault::Peer,
            Error::Handshake(HandshakeError::CounterExhausted) => Fault::Caller,
            Error::Signal(e) => e.fault(),
            _ => Fault::Peer,
        }
    }

    /// Whether retrying on a fresh connection may succeed. Protocol violations by the peer are not
    /// transient for the same input, but a counter exhaustion is cured by reconnecting.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Handshake(HandshakeError::CounterExhausted))
    }
}

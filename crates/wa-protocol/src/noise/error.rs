//! Why a handshake, or the transport cipher after it, failed.

use super::cert::CertError;
use crate::fault::Fault;

/// Why a handshake (or the transport after it) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The handshake message is not a `HandshakeMessage` protobuf.
    #[error("handshake message does not decode: {0}")]
    Decode(#[source] prost::DecodeError),
    /// The expected part of the handshake message is absent.
    #[error("handshake message lacks {0}")]
    Missing(&'static str),
    /// A key in the handshake has the wrong length.
    #[error("{0} is not 32 bytes")]
    BadKeyLength(&'static str),
    /// AES-GCM authentication failed.
    #[error("authentication failed on {0}")]
    BadMac(&'static str),
    /// The server's certificate chain was rejected.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// Internal: encryption attempted before any key was mixed in (cannot happen in the XX flow).
    #[error("no cipher key yet")]
    NoKey,
    /// AES-GCM refused to encrypt (plaintext too long).
    #[error("encryption failed")]
    Encrypt,
    /// A transport counter would wrap.
    #[error("transport counter exhausted; reconnect")]
    CounterExhausted,
    /// A previous transport frame failed to decrypt; the connection must be closed.
    #[error("transport is broken by an earlier authentication failure")]
    TransportBroken,
    /// Input given to a server-side [`super::Accept`] that already accepted or failed (a bug of
    /// the caller).
    #[error("handshake already finished")]
    Finished,
}

impl HandshakeError {
    /// Who is at fault: the peer for anything it sent (malformed, unauthenticated, untrusted),
    /// the caller for misuse of the state machines and for exhausted counters.
    pub fn fault(&self) -> Fault {
        match self {
            HandshakeError::Decode(_)
            | HandshakeError::Missing(_)
            | HandshakeError::BadKeyLength(_)
            | HandshakeError::BadMac(_)
            | HandshakeError::Cert(_)
            | HandshakeError::TransportBroken => Fault::Peer,
            HandshakeError::NoKey
            | HandshakeError::Encrypt
            | HandshakeError::CounterExhausted
            | HandshakeError::Finished => Fault::Caller,
        }
    }

    /// Whether a fresh connection may succeed: only a counter exhaustion is cured by
    /// reconnecting; the rest fails the same way on the same input.
    pub fn is_transient(&self) -> bool {
        match self {
            HandshakeError::CounterExhausted => true,
            HandshakeError::Decode(_)
            | HandshakeError::Missing(_)
            | HandshakeError::BadKeyLength(_)
            | HandshakeError::BadMac(_)
            | HandshakeError::Cert(_)
            | HandshakeError::TransportBroken
            | HandshakeError::NoKey
            | HandshakeError::Encrypt
            | HandshakeError::Finished => false,
        }
    }
}

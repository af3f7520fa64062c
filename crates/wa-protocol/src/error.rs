//! The crate's one error type, grouped by who is at fault.

use crate::binary::{DecodeError, EncodeError};
pub use crate::fault::Fault;
use crate::noise::cert::CertError;
use crate::noise::error::HandshakeError;
use crate::noise::frame::FrameError;

/// Everything wa-protocol can refuse. Each variant wraps the detail enum of its layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A received binary node is malformed (peer).
    #[error("malformed node: {0}")]
    Decode(#[from] DecodeError),
    /// A node cannot be encoded (caller).
    #[error("cannot encode node: {0}")]
    Encode(#[from] EncodeError),
    /// Framing violated (peer), or a frame to send is too large (caller): see
    /// [`FrameError::fault`].
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    /// The Noise handshake or transport failed (see [`HandshakeError::fault`]; certificate
    /// problems included).
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
    Signal(#[from] crate::signal::error::SignalError),
    /// Pairing failed (see `PairError::fault`).
    #[error("pairing: {0}")]
    Pair(#[from] crate::pairing::error::PairError),
    /// A received ClientPayload breaks the rules of its kind (peer).
    #[error("client payload: {0}")]
    Payload(#[from] crate::payload::PayloadError),
    /// The server refused or did not answer an IQ the connection depends on (peer).
    #[error("{0}")]
    Iq(#[from] crate::stanza::IqFailure),
    /// A decrypted message plaintext is malformed: padding, protobuf or a required field (peer).
    #[error("message content: {0}")]
    Content(#[from] crate::message::ContentError),
    /// A media blob or key does not verify (peer; see `MediaError::fault`).
    #[error("media: {0}")]
    Media(#[from] crate::media::MediaError),
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
            Error::Frame(e) => e.fault(),
            Error::Handshake(e) => e.fault(),
            Error::Signal(e) => e.fault(),
            Error::Pair(e) => e.fault(),
            Error::Media(e) => e.fault(),
            Error::Decode(_)
            | Error::Protobuf(_)
            | Error::Stanza(_)
            | Error::Payload(_)
            | Error::Iq(_)
            | Error::Content(_) => Fault::Peer,
        }
    }

    /// Whether retrying on a fresh connection may succeed. Protocol violations by the peer and
    /// local bugs are not transient for the same input; a counter exhaustion is cured by
    /// reconnecting, and an unanswered (or 5xx) IQ may pass next time.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Handshake(e) => e.is_transient(),
            Error::Iq(e) => e.is_transient(),
            Error::Decode(_)
            | Error::Encode(_)
            | Error::Frame(_)
            | Error::Protobuf(_)
            | Error::Stanza(_)
            | Error::Signal(_)
            | Error::Pair(_)
            | Error::Payload(_)
            | Error::Content(_)
            | Error::Media(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binary::EncodeError;
    use crate::stanza::{IqFailure, StanzaError};

    #[test]
    fn oversized_frames_say_whose_they_are() {
        let ours = Error::from(FrameError::OutgoingTooLarge {
            len: 1 << 24,
            max: (1 << 24) - 1,
        });
        assert_eq!(ours.fault(), Fault::Caller);
        assert!(!ours.is_transient());
        let theirs = Error::from(FrameError::TooLarge {
            len: 2000,
            max: 1000,
        });
        assert_eq!(theirs.fault(), Fault::Peer);
        assert!(!theirs.is_transient());
        // encode_frame reports ours; the decoder reports the peer's.
        let big = vec![0u8; crate::noise::MAX_FRAME_LEN + 1];
        let err = crate::noise::encode_frame(&big, &mut Vec::new()).expect_err("too big");
        assert_eq!(Error::from(err).fault(), Fault::Caller);
        let mut decoder = crate::noise::FrameDecoder::for_client(10);
        decoder.push(&[0, 0, 11]);
        let err = decoder.next_frame().expect_err("too big");
        assert_eq!(Error::from(err).fault(), Fault::Peer);
    }

    #[test]
    fn fault_and_transience_by_layer() {
        let cases: Vec<(Error, Fault, bool)> = vec![
            (HandshakeError::CounterExhausted.into(), Fault::Caller, true),
            (HandshakeError::Finished.into(), Fault::Caller, false),
            (HandshakeError::BadMac("x").into(), Fault::Peer, false),
            (CertError::IntermediateSignature.into(), Fault::Peer, false),
            (FrameError::BadIntro(vec![1]).into(), Fault::Peer, false),
            (EncodeError::EmptyTag.into(), Fault::Caller, false),
            (
                StanzaError::MissingAttr {
                    tag: "iq".into(),
                    attr: "id",
                }
                .into(),
                Fault::Peer,
                false,
            ),
            (
                IqFailure::TimedOut { id: "1".into() }.into(),
                Fault::Peer,
                true,
            ),
            (
                IqFailure::Refused {
                    id: "1".into(),
                    code: 503,
                    text: "x".into(),
                }
                .into(),
                Fault::Peer,
                true,
            ),
            (
                IqFailure::Refused {
                    id: "1".into(),
                    code: 400,
                    text: "x".into(),
                }
                .into(),
                Fault::Peer,
                false,
            ),
            (
                crate::signal::error::SignalError::BadMac.into(),
                Fault::Peer,
                false,
            ),
            (
                crate::signal::error::SignalError::NoSendingSession.into(),
                Fault::Caller,
                false,
            ),
            (
                crate::pairing::error::PairError::HmacMismatch.into(),
                Fault::Peer,
                false,
            ),
            (
                crate::pairing::error::PairError::MalformedPairCode.into(),
                Fault::Caller,
                false,
            ),
        ];
        for (err, fault, transient) in cases {
            assert_eq!(err.fault(), fault, "{err}");
            assert_eq!(err.is_transient(), transient, "{err}");
        }
    }
}

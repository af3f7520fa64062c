//! The Signal module's one error type, with the cause classes a driver acts on.

use crate::fault::Fault;

/// Result alias of the Signal module.
pub type Result<T, E = SignalError> = core::result::Result<T, E>;

/// Everything the Signal functions can refuse.
///
/// A failed call never changes a record: the functions take records by reference and only return
/// a new record on success, so the caller simply keeps (does not persist) anything on error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// The message MAC does not verify: wrong session, tampered bytes, or a message for a state
    /// we no longer have.
    #[error("bad MAC")]
    BadMac,
    /// The peer's identity key is not the one we trust for this address.
    #[error("untrusted identity key")]
    UntrustedIdentity,
    /// The message key was already used: the message was decrypted before (ignore it).
    #[error("duplicate message: counter {counter} already used (chain at {chain_index})")]
    DuplicateMessage {
        /// The counter (or sender-key iteration) of the message.
        counter: u32,
        /// The index the receiving chain had reached.
        chain_index: u32,
    },
    /// No session state can decrypt this message (none exists, or none matches).
    #[error("no session")]
    NoSession,
    /// There is no current session to encrypt with (the caller must process a bundle first).
    #[error("no session to encrypt with")]
    NoSendingSession,
    /// No sender-key state for this key id (the sender's distribution message is missing).
    #[error("no sender key state for key id {key_id}")]
    NoSenderKeyState {
        /// The key id of the message.
        key_id: u32,
    },
    /// A PreKeySignalMessage names a prekey we do not have (already used or never issued).
    #[error("missing {kind} prekey {id}")]
    MissingPreKey {
        /// `"one-time"` or `"signed"`.
        kind: &'static str,
        /// The prekey id from the message.
        id: u32,
    },
    /// A key is malformed (wrong length or type byte).
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The message skips more than [`MAX_FORWARD_JUMP`](super::MAX_FORWARD_JUMP) messages.
    #[error("counter {counter} too far in the future (chain at {chain_index})")]
    TooFarInFuture {
        /// The counter (or sender-key iteration) of the message.
        counter: u32,
        /// The index the receiving chain had reached.
        chain_index: u32,
    },
    /// The message is structurally invalid (missing field, wrong length, bad ciphertext).
    #[error("invalid message: {0}")]
    InvalidMessage(&'static str),
    /// The message has a version byte we do not speak.
    #[error("unsupported message version byte {0:#04x}")]
    UnsupportedVersion(u8),
    /// A protobuf from the peer does not decode.
    #[error("protobuf: {0}")]
    Decode(#[from] prost::DecodeError),
    /// An XEdDSA signature (signed prekey, sender-key message) does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// WhatsApp plaintext padding is missing or inconsistent.
    #[error("invalid plaintext padding")]
    BadPadding,
    /// A stored record does not decode or breaks an invariant (wrong version, bad key length).
    #[error("invalid stored record: {0}")]
    InvalidRecord(&'static str),
    /// A chain counter would overflow `u32` (four billion messages on one chain).
    #[error("chain counter exhausted")]
    ChainExhausted,
    /// The caller asked for something impossible (e.g. encrypting with a received sender key).
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
}

impl SignalError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            SignalError::NoSendingSession
            | SignalError::InvalidRecord(_)
            | SignalError::ChainExhausted
            | SignalError::InvalidRequest(_) => Fault::Caller,
            SignalError::BadMac
            | SignalError::UntrustedIdentity
            | SignalError::DuplicateMessage { .. }
            | SignalError::NoSession
            | SignalError::NoSenderKeyState { .. }
            | SignalError::MissingPreKey { .. }
            | SignalError::InvalidKey(_)
            | SignalError::TooFarInFuture { .. }
            | SignalError::InvalidMessage(_)
            | SignalError::UnsupportedVersion(_)
            | SignalError::Decode(_)
            | SignalError::InvalidSignature
            | SignalError::BadPadding => Fault::Peer,
        }
    }

    /// The message was already decrypted: acknowledge and drop it, no retry receipt (whatsmeow
    /// ignores old counters the same way).
    pub fn is_duplicate(&self) -> bool {
        matches!(self, SignalError::DuplicateMessage { .. })
    }

    /// The peer's identity changed: the driver decides whether to trust the new key (clear the
    /// stored identity and sessions) and retry.
    pub fn is_untrusted_identity(&self) -> bool {
        matches!(self, SignalError::UntrustedIdentity)
    }

    /// A decryption failure the sender can cure by re-sending (a retry receipt, possibly with
    /// fresh prekeys): lost session state, bad MAC, missing prekey or sender key, too many
    /// skipped messages.
    pub fn should_request_retry(&self) -> bool {
        matches!(
            self,
            SignalError::BadMac
                | SignalError::NoSession
                | SignalError::NoSenderKeyState { .. }
                | SignalError::MissingPreKey { .. }
                | SignalError::TooFarInFuture { .. }
                | SignalError::InvalidMessage(_)
                | SignalError::InvalidSignature
                | SignalError::BadPadding
                | SignalError::Decode(_)
        )
    }
}

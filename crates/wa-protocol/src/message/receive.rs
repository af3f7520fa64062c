//! Decrypting an incoming pairwise `<enc>` (`messaging.md` §10 step 1) and deciding what a
//! failure calls for (retry receipt, ignore, nack; §10 "Then acknowledge", §11).
//!
//! ```text
//! <enc type="pkmsg|msg"> + record of the sender device (if any) + our identity
//!   + PreKeyLookup (signed / one-time prekeys by id, from the store)
//!   → Decrypted { padded plaintext, record', consumed one-time prekey id }
//!   driver: persist record', delete the consumed prekey, store the identity (one commit),
//!           then unpad / parse / deliver / ack
//! failure → failure_action(&err): Duplicate | TrustNewIdentity | RetryReceipt(reason) | Nack(code)
//! ```
//! `skmsg` is decrypted by [`group`](super::group).

use rand_core::CryptoRngCore;

use super::retry::RetryReason;
use crate::signal::curve::PublicKey;
use crate::signal::keys::{LocalIdentity, PreKey, SignedPreKey};
use crate::signal::session::{self, ResponderPreKeys};
use crate::signal::wire::PreKeySignalMessage;
use crate::signal::{SessionRecord, SignalError};
use crate::stanza::EncType;

/// NACK code for a message whose counter was already used (`messaging.md` §10: 496 "signal old
/// counter"). whatsmeow ignores such messages silently instead; the driver chooses.
pub const NACK_OLD_COUNTER: u16 = 496;
/// NACK code "unhandled error" (`messaging.md` §10: 500).
pub const NACK_UNHANDLED: u16 = 500;
/// NACK code "DB failure" (`messaging.md` §10: 552): our own stored record is unusable.
pub const NACK_DB_FAILURE: u16 = 552;

/// Our prekeys by id, as the store has them. The store stays outside: a `pkmsg` names the ids
/// and the decryption asks for exactly those.
pub trait PreKeyLookup {
    /// The signed prekey with this id, if we still have it.
    fn signed_pre_key(&self, id: u32) -> Option<SignedPreKey>;
    /// The one-time prekey with this id, if it was not consumed yet.
    fn one_time_pre_key(&self, id: u32) -> Option<PreKey>;
}

/// A [`PreKeyLookup`] over keys held in memory (tests, the simulated phone).
#[derive(Clone, Debug, Default)]
pub struct PreKeySet {
    /// Signed prekeys.
    pub signed: Vec<SignedPreKey>,
    /// One-time prekeys not yet consumed.
    pub one_time: Vec<PreKey>,
}

impl PreKeySet {
    /// Removes a consumed one-time prekey (what the driver does in its store).
    pub fn remove_one_time(&mut self, id: u32) {
        self.one_time.retain(|k| k.id != id);
    }
}

impl PreKeyLookup for PreKeySet {
    fn signed_pre_key(&self, id: u32) -> Option<SignedPreKey> {
        self.signed.iter().find(|k| k.id == id).cloned()
    }

    fn one_time_pre_key(&self, id: u32) -> Option<PreKey> {
        self.one_time.iter().find(|k| k.id == id).cloned()
    }
}

/// A decrypted pairwise message. `Debug` shows the plaintext's length only.
#[derive(Clone)]
pub struct Decrypted {
    /// The plaintext, still WhatsApp-padded (`messaging.md` §2; unpad with
    /// `signal::padding::unpad` for `<enc v="2">`).
    pub plaintext: Vec<u8>,
    /// The sender device's record to persist.
    pub record: SessionRecord,
    /// The one-time prekey this `pkmsg` consumed: delete it in the same commit.
    pub consumed_pre_key_id: Option<u32>,
    /// Whether a new session was created (X3DH ran).
    pub new_session: bool,
    /// The sender's identity key: from the `pkmsg` (store it on first contact, when
    /// `new_session`), or for a `msg` that of the record's current session.
    pub remote_identity: PublicKey,
    /// The sender's registration id.
    pub remote_registration_id: u32,
}

impl core::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decrypted")
            .field("plaintext_len", &self.plaintext.len())
            .field("record", &self.record)
            .field("consumed_pre_key_id", &self.consumed_pre_key_id)
            .field("new_session", &self.new_session)
            .field("remote_identity", &self.remote_identity)
            .field("remote_registration_id", &self.remote_registration_id)
            .finish()
    }
}

/// Decrypts a pairwise `<enc>` of type `pkmsg` or `msg` from one sender device.
///
/// `record` is the stored session with that device (`None` if we have none); `trusted_identity`
/// the identity key stored for it (a `pkmsg` with another one fails with
/// [`SignalError::UntrustedIdentity`]). On error nothing changed: persist nothing.
pub fn decrypt_pairwise(
    enc_type: EncType,
    ciphertext: &[u8],
    record: Option<&SessionRecord>,
    local: &LocalIdentity,
    pre_keys: &impl PreKeyLookup,
    trusted_identity: Option<&PublicKey>,
    rng: &mut impl CryptoRngCore,
) -> Result<Decrypted, SignalError> {
    let empty = SessionRecord::new();
    let record = record.unwrap_or(&empty);
    match enc_type {
        EncType::PkMsg => {
            let message = PreKeySignalMessage::parse(ciphertext)?;
            let signed = pre_keys.signed_pre_key(message.signed_pre_key_id());
            let one_time = message
                .pre_key_id()
                .and_then(|id| pre_keys.one_time_pre_key(id));
            let keys = ResponderPreKeys {
                signed_pre_key: signed.as_ref(),
                one_time_pre_key: one_time.as_ref(),
            };
            let out =
                session::decrypt_prekey(record, local, &message, keys, trusted_identity, rng)?;
            Ok(Decrypted {
                plaintext: out.plaintext,
                record: out.record,
                consumed_pre_key_id: out.consumed_pre_key_id,
                new_session: out.new_session,
                remote_identity: out.remote_identity,
                remote_registration_id: out.remote_registration_id,
            })
        }
        EncType::Msg => {
            if record.is_empty() {
                return Err(SignalError::NoSession);
            }
            let (record, plaintext) = session::decrypt(record, ciphertext, rng)?;
            let state = record.current().ok_or(SignalError::NoSession)?;
            let (remote_identity, remote_registration_id) =
                (*state.remote_identity(), state.remote_registration_id());
            Ok(Decrypted {
                plaintext,
                record,
                consumed_pre_key_id: None,
                new_session: false,
                remote_identity,
                remote_registration_id,
            })
        }
        EncType::SkMsg => Err(SignalError::InvalidRequest(
            "skmsg is decrypted with the sender key (message::group)",
        )),
    }
}

/// What the driver does about a failed decryption (issue 10 item 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureAction {
    /// Already decrypted (old counter): acknowledge and drop, no retry receipt (whatsmeow
    /// ignores it, `messaging.md` §10 step 5); a driver that nacks uses [`NACK_OLD_COUNTER`].
    Duplicate,
    /// The sender's identity key changed: the driver decides whether to trust it (clear the
    /// stored identity and sessions, `messaging.md` §13) and decrypts again.
    TrustNewIdentity,
    /// Send a retry receipt with this reason (`messaging.md` §11) and an `<ack>`.
    RetryReceipt(RetryReason),
    /// Our side is broken (unusable stored record, misuse): nack with this code.
    Nack(u16),
}

/// Classifies a decryption error. Every variant is listed: a new one must be classified here.
pub fn failure_action(error: &SignalError) -> FailureAction {
    use FailureAction::{Duplicate, Nack, RetryReceipt, TrustNewIdentity};
    match error {
        SignalError::DuplicateMessage { .. } => Duplicate,
        SignalError::UntrustedIdentity => TrustNewIdentity,
        SignalError::BadMac => RetryReceipt(RetryReason::BadMac),
        SignalError::NoSession | SignalError::NoSenderKeyState { .. } => {
            RetryReceipt(RetryReason::NoSession)
        }
        SignalError::MissingPreKey { .. } => RetryReceipt(RetryReason::InvalidPreKeyId),
        SignalError::InvalidKey(_) => RetryReceipt(RetryReason::InvalidKey),
        SignalError::TooFarInFuture { .. } => RetryReceipt(RetryReason::FutureMessage),
        SignalError::InvalidSignature => RetryReceipt(RetryReason::InvalidSignature),
        SignalError::InvalidMessage(_)
        | SignalError::UnsupportedVersion(_)
        | SignalError::Decode(_)
        | SignalError::BadPadding => RetryReceipt(RetryReason::InvalidMessage),
        SignalError::InvalidRecord(_) => Nack(NACK_DB_FAILURE),
        SignalError::NoSendingSession
        | SignalError::ChainExhausted
        | SignalError::InvalidRequest(_) => Nack(NACK_UNHANDLED),
    }
}

//! Pairwise sessions as pure functions over [`SessionRecord`]s (`signal.md` §4–§8).
//!
//! Every function takes the stored record by reference and, on success, returns the record to
//! persist next to its output. On error nothing is returned, so the stored record stays as it
//! was. The driver's loop is: load record → call → persist the returned record → send/deliver.
//!
//! ```text
//! initiator: process_bundle(record, bundle) → record'; encrypt → pkmsg … until answered
//! responder: PreKeySignalMessage::parse → load prekeys by id → decrypt_prekey → record', text
//! both:      encrypt(record, padded) → record', msg | pkmsg
//!            decrypt(record, msg) → record', padded text
//! ```

use std::sync::Arc;

use rand_core::CryptoRngCore;

use super::crypto::{kdf_root, x3dh_secrets, x3dh_session_id, ChainKey};
use super::curve::{KeyPair, PublicKey};
use super::error::{Result, SignalError};
use super::keys::{LocalIdentity, PreKey, PreKeyBundle, SignedPreKey};
use super::record::SessionRecord;
use super::state::{PendingPreKey, SenderChain, SessionState, SESSION_VERSION};
use super::wire::{CiphertextMessage, PreKeySignalMessage, SignalMessage};

/// Starts a session from a peer's prekey bundle (X3DH initiator).
///
/// Checks the signed prekey's signature (unlike libsignal-node) and, when `trusted_identity` is
/// given, that the bundle's identity key is that one. The new state becomes current; an
/// existing current state is archived. Until the peer answers, [`encrypt`] produces `pkmsg`s.
pub fn process_bundle(
    record: &SessionRecord,
    local: &LocalIdentity,
    bundle: &PreKeyBundle,
    trusted_identity: Option<&PublicKey>,
    rng: &mut impl CryptoRngCore,
) -> Result<SessionRecord> {
    let base = KeyPair::generate(rng);
    let ratchet = KeyPair::generate(rng);
    initiate_with_keys(record, local, bundle, trusted_identity, base, ratchet)
}

/// [`process_bundle`] with the base and first ratchet key pairs given (test vectors).
pub(crate) fn initiate_with_keys(
    record: &SessionRecord,
    local: &LocalIdentity,
    bundle: &PreKeyBundle,
    trusted_identity: Option<&PublicKey>,
    base: KeyPair,
    ratchet: KeyPair,
) -> Result<SessionRecord> {
    check_trust(trusted_identity, &bundle.identity_key)?;
    if !bundle.verify_signature() {
        return Err(SignalError::InvalidSignature);
    }
    let their_spk = bundle.signed_pre_key.key;
    let base_spk = base.private.agree(&their_spk);
    let mut dhs = vec![
        local.key_pair.private.agree(&their_spk),
        base.private.agree(&bundle.identity_key),
        base_spk,
    ];
    if let Some(opk) = &bundle.pre_key {
        dhs.push(base.private.agree(&opk.key));
    }
    let (root0, chain0) = x3dh_secrets(&dhs);
    let (root1, sending) = kdf_root(&root0, &ratchet.private.agree(&their_spk));
    let mut state = SessionState {
        session_version: SESSION_VERSION,
        local_identity: local.key_pair.public,
        remote_identity: bundle.identity_key,
        local_registration_id: local.registration_id,
        remote_registration_id: bundle.registration_id,
        base_key: base.public,
        session_id: x3dh_session_id(&base_spk),
        root_key: root1,
        previous_counter: 0,
        sender_chain: SenderChain {
            ratchet,
            chain: ChainKey::new(sending, 0),
        },
        receiver_chains: Vec::new(),
        pending_pre_key: Some(PendingPreKey {
            pre_key_id: bundle.pre_key.map(|k| k.id),
            signed_pre_key_id: bundle.signed_pre_key.id,
            base_key: base.public,
        }),
    };
    // The peer's first ratchet key is its signed prekey; its X3DH chain is our receiving chain
    // for it (go-libsignal keeps it too; it never carries traffic in the normal flow).
    state.add_receiver_chain(their_spk, ChainKey::new(chain0, 0));
    let mut next = record.clone();
    next.promote(state);
    Ok(next)
}

/// Encrypts `plaintext` (already WhatsApp-padded, see [`padding`](super::padding)) with the
/// current session. Returns the record to persist and a `pkmsg` while the peer has not
/// answered, a `msg` afterwards.
pub fn encrypt(
    record: &SessionRecord,
    plaintext: &[u8],
) -> Result<(SessionRecord, CiphertextMessage)> {
    let current = record
        .current
        .as_ref()
        .ok_or(SignalError::NoSendingSession)?;
    let mut state = current.clone();
    let message = state.encrypt(plaintext)?;
    Ok((
        SessionRecord {
            current: Some(state),
            previous: record.previous.clone(),
        },
        message,
    ))
}

/// Decrypts a SignalMessage (`<enc type="msg">`).
///
/// Tries the current state, then each archived state (newest first). `rng` supplies our next
/// ratchet key when the message starts a new DH step.
///
/// An archived state that decrypts a (late) message is updated where it is and does **not**
/// become current: the current state stays the most recently established session, which is
/// exactly what libsignal-node treats as its open session. (go-libsignal and upstream libsignal
/// promote the archived state instead. Against libsignal-node that is harmful: answering on an
/// old session makes it trial-decrypt with its open session first, and libsignal-node keeps the
/// ratchet step of that failed attempt, breaking its open session. Found by the live interop
/// test; both behaviours interoperate with peers that promote.)
pub fn decrypt(
    record: &SessionRecord,
    ciphertext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<(SessionRecord, Vec<u8>)> {
    let message = SignalMessage::parse(ciphertext)?;
    decrypt_message(record, &message, rng)
}

/// [`decrypt`] for an already parsed message.
pub fn decrypt_message(
    record: &SessionRecord,
    message: &SignalMessage,
    rng: &mut impl CryptoRngCore,
) -> Result<(SessionRecord, Vec<u8>)> {
    decrypt_in_record(record, message, rng).map(|(next, plaintext, _)| (next, plaintext))
}

/// Decrypts with the first state of `record` that can; also returns that state's remote
/// identity.
fn decrypt_in_record(
    record: &SessionRecord,
    message: &SignalMessage,
    rng: &mut impl CryptoRngCore,
) -> Result<(SessionRecord, Vec<u8>, PublicKey)> {
    let mut first_error = None;
    let mut too_far = None;
    if let Some(current) = &record.current {
        let mut state = current.clone();
        match state.decrypt(message, rng) {
            Ok(plaintext) => {
                let identity = state.remote_identity;
                let next = SessionRecord {
                    current: Some(state),
                    previous: record.previous.clone(),
                };
                return Ok((next, plaintext, identity));
            }
            Err(e) => note_error(e, &mut first_error, &mut too_far)?,
        }
    }
    for (i, archived) in record.previous.iter().enumerate() {
        let mut state = SessionState::clone(archived);
        match state.decrypt(message, rng) {
            Ok(plaintext) => {
                let identity = state.remote_identity;
                let mut next = record.clone();
                if let Some(slot) = next.previous.get_mut(i) {
                    *slot = Arc::new(state);
                }
                return Ok((next, plaintext, identity));
            }
            Err(e) => note_error(e, &mut first_error, &mut too_far)?,
        }
    }
    Err(too_far.or(first_error).unwrap_or(SignalError::NoSession))
}

/// Keeps the most telling error of a failed state: a duplicate ends the search at once (as in
/// libsignal), "too far in the future" beats the MAC failures of unrelated states.
fn note_error(
    e: SignalError,
    first: &mut Option<SignalError>,
    too_far: &mut Option<SignalError>,
) -> Result<()> {
    match e {
        SignalError::DuplicateMessage { .. } => return Err(e),
        SignalError::TooFarInFuture { .. } if too_far.is_none() => *too_far = Some(e),
        _ if first.is_none() => *first = Some(e),
        _ => {}
    }
    Ok(())
}

/// Our prekeys named by a PreKeySignalMessage, loaded by the caller from its store using
/// [`PreKeySignalMessage::signed_pre_key_id`] and [`PreKeySignalMessage::pre_key_id`]. Either
/// may be `None` when the store no longer has it: a repeated `pkmsg` of a known session needs
/// neither.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResponderPreKeys<'a> {
    /// The signed prekey with the message's `signedPreKeyId`.
    pub signed_pre_key: Option<&'a SignedPreKey>,
    /// The one-time prekey with the message's `preKeyId`.
    pub one_time_pre_key: Option<&'a PreKey>,
}

/// The outcome of [`decrypt_prekey`]. Its `Debug` output shows the plaintext's length only.
#[derive(Clone)]
pub struct PreKeyDecryption {
    /// The record to persist.
    pub record: SessionRecord,
    /// The decrypted (still WhatsApp-padded) plaintext.
    pub plaintext: Vec<u8>,
    /// The one-time prekey this message consumed: delete it from the store after persisting
    /// the record. `None` for a repeated `pkmsg` or a session without one-time prekey.
    pub consumed_pre_key_id: Option<u32>,
    /// Whether this message created a new session (X3DH ran) rather than reusing one.
    pub new_session: bool,
    /// The sender's identity key (store it on first contact).
    pub remote_identity: PublicKey,
    /// The sender's registration id.
    pub remote_registration_id: u32,
}

impl core::fmt::Debug for PreKeyDecryption {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PreKeyDecryption")
            .field("record", &self.record)
            .field("plaintext_len", &self.plaintext.len())
            .field("consumed_pre_key_id", &self.consumed_pre_key_id)
            .field("new_session", &self.new_session)
            .field("remote_identity", &self.remote_identity)
            .field("remote_registration_id", &self.remote_registration_id)
            .finish()
    }
}

/// Decrypts a PreKeySignalMessage (`<enc type="pkmsg">`), X3DH responder side.
///
/// If a state of `record` (current or archived) was made from the message's base key (or from
/// an equivalent re-encoding of it), the embedded message is decrypted with the record as for
/// [`decrypt`]: the initiator repeats its `pkmsg` until we answer, and an archived state stays
/// archived. Otherwise X3DH runs with the given prekeys, the new state becomes current and the
/// old one is archived. With `trusted_identity` given, a different identity key in the message
/// fails with [`SignalError::UntrustedIdentity`].
pub fn decrypt_prekey(
    record: &SessionRecord,
    local: &LocalIdentity,
    message: &PreKeySignalMessage,
    pre_keys: ResponderPreKeys<'_>,
    trusted_identity: Option<&PublicKey>,
    rng: &mut impl CryptoRngCore,
) -> Result<PreKeyDecryption> {
    check_trust(trusted_identity, message.identity_key())?;
    if record.has_state_with_base_key(message.base_key()) {
        return existing_session(record, message, rng);
    }
    let spk = pre_keys
        .signed_pre_key
        .filter(|k| k.id == message.signed_pre_key_id())
        .ok_or(SignalError::MissingPreKey {
            kind: "signed",
            id: message.signed_pre_key_id(),
        })?;
    let spk_base = spk.key_pair.private.agree(message.base_key());
    let session_id = x3dh_session_id(&spk_base);
    if record.has_state_with_session_id(&session_id) {
        // The same X3DH under a different base-key encoding: a modified copy of a pkmsg we
        // already have a session for. Decrypt with that session (a replay is a duplicate).
        return existing_session(record, message, rng);
    }
    let opk = match message.pre_key_id() {
        Some(id) => Some(pre_keys.one_time_pre_key.filter(|k| k.id == id).ok_or(
            SignalError::MissingPreKey {
                kind: "one-time",
                id,
            },
        )?),
        None => None,
    };
    let mut state = responder_state(
        local,
        message.identity_key(),
        message.base_key(),
        message.registration_id(),
        (&spk.key_pair, spk_base),
        opk.map(|k| &k.key_pair),
    );
    let plaintext = state.decrypt(message.message(), rng)?;
    let mut next = record.clone();
    next.promote(state);
    Ok(PreKeyDecryption {
        record: next,
        plaintext,
        consumed_pre_key_id: opk.map(|k| k.id),
        new_session: true,
        remote_identity: *message.identity_key(),
        remote_registration_id: message.registration_id(),
    })
}

/// [`decrypt_prekey`] for a pkmsg of a session the record already has.
fn existing_session(
    record: &SessionRecord,
    message: &PreKeySignalMessage,
    rng: &mut impl CryptoRngCore,
) -> Result<PreKeyDecryption> {
    let (record, plaintext, identity) = decrypt_in_record(record, message.message(), rng)?;
    // The outer pkmsg fields are not authenticated: never report an identity key that is
    // not the one of the state that decrypted.
    if &identity != message.identity_key() {
        return Err(SignalError::InvalidMessage(
            "pkmsg identity key differs from its session's",
        ));
    }
    Ok(PreKeyDecryption {
        record,
        plaintext,
        consumed_pre_key_id: None,
        new_session: false,
        remote_identity: *message.identity_key(),
        remote_registration_id: message.registration_id(),
    })
}

/// The responder's fresh state after X3DH: our signed prekey is our first ratchet key and the
/// X3DH chain our (unused) sending chain. `spk_base` is `DH(signed prekey, their base key)`,
/// already computed by the caller for the session id.
pub(crate) fn responder_state(
    local: &LocalIdentity,
    their_identity: &PublicKey,
    their_base: &PublicKey,
    their_registration_id: u32,
    (signed_pre_key, spk_base): (&KeyPair, [u8; 32]),
    one_time_pre_key: Option<&KeyPair>,
) -> SessionState {
    let mut dhs = vec![
        signed_pre_key.private.agree(their_identity),
        local.key_pair.private.agree(their_base),
        spk_base,
    ];
    if let Some(opk) = one_time_pre_key {
        dhs.push(opk.private.agree(their_base));
    }
    let (root0, chain0) = x3dh_secrets(&dhs);
    SessionState {
        session_version: SESSION_VERSION,
        local_identity: local.key_pair.public,
        remote_identity: *their_identity,
        local_registration_id: local.registration_id,
        remote_registration_id: their_registration_id,
        base_key: *their_base,
        session_id: x3dh_session_id(&spk_base),
        root_key: root0,
        previous_counter: 0,
        sender_chain: SenderChain {
            ratchet: signed_pre_key.clone(),
            chain: ChainKey::new(chain0, 0),
        },
        receiver_chains: Vec::new(),
        pending_pre_key: None,
    }
}

fn check_trust(trusted: Option<&PublicKey>, presented: &PublicKey) -> Result<()> {
    match trusted {
        Some(trusted) if trusted != presented => Err(SignalError::UntrustedIdentity),
        _ => Ok(()),
    }
}

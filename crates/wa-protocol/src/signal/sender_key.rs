//! Sender keys for groups (`signal.md` §9) as pure functions over [`SenderKeyRecord`]s.
//!
//! One record per (group, sender device). Our own record holds our sending state (with the
//! signing private key); records of other members hold the states their
//! SenderKeyDistributionMessages (SKDMs) gave us. Up to [`MAX_SENDER_KEY_STATES`] states are
//! kept, newest first.
//!
//! ```text
//! sender:    create_distribution(own record) → record', SKDM (send pairwise to each member)
//!            encrypt(own record, padded) → record', skmsg
//! receiver:  process_distribution(record of sender, SKDM) → record'
//!            decrypt(record of sender, skmsg) → record', padded plaintext
//! ```

use core::fmt;
use std::collections::VecDeque;

use prost::Message as _;
use rand_core::CryptoRngCore;

use super::crypto::{aes_cbc_decrypt, aes_cbc_encrypt, ChainKey, SenderMessageKeys};
use super::curve::{KeyPair, PublicKey};
use super::error::{Result, SignalError};
use super::limits::MAX_SENDER_KEY_STATES;
use super::record::{
    chain_from_store, chain_to_store, public_from_store, skipped_from_store, skipped_to_store,
    stored_key_pair, STORE_FORMAT_VERSION,
};
use super::state::{take_message_seed, SkippedKey};
use super::wire::{SenderKeyDistributionMessage, SenderKeyMessage};
use crate::pb::signal_store as store;

/// One sender-key chain of a group member.
#[derive(Clone)]
pub struct SenderKeyState {
    pub(crate) key_id: u32,
    pub(crate) chain: ChainKey,
    pub(crate) signing_public: PublicKey,
    pub(crate) signing_private: Option<KeyPair>,
    pub(crate) skipped: VecDeque<SkippedKey>,
}

impl SenderKeyState {
    /// The sender-key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The iteration the chain will use next.
    pub fn iteration(&self) -> u32 {
        self.chain.index
    }

    /// The sender's signing public key.
    pub fn signing_key(&self) -> &PublicKey {
        &self.signing_public
    }

    /// Whether this is our own sending state (it has the signing private key).
    pub fn is_own(&self) -> bool {
        self.signing_private.is_some()
    }
}

impl fmt::Debug for SenderKeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderKeyState")
            .field("key_id", &self.key_id)
            .field("iteration", &self.chain.index)
            .field("signing_key", &self.signing_public)
            .field("own", &self.signing_private.is_some())
            .field("skipped", &self.skipped.len())
            .finish_non_exhaustive()
    }
}

/// The sender-key states of one (group, sender device), newest first.
#[derive(Clone, Debug, Default)]
pub struct SenderKeyRecord {
    pub(crate) states: Vec<SenderKeyState>,
}

impl SenderKeyRecord {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the record has no state.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The states, newest first.
    pub fn states(&self) -> &[SenderKeyState] {
        &self.states
    }

    fn state_for_key_id(&self, key_id: u32) -> Option<usize> {
        self.states.iter().position(|s| s.key_id == key_id)
    }

    fn push_front(&mut self, state: SenderKeyState) {
        self.states.insert(0, state);
        self.states.truncate(MAX_SENDER_KEY_STATES);
    }

    /// Serialises through `wa.signal_store.SenderKeyRecord`.
    pub fn to_bytes(&self) -> Vec<u8> {
        store::SenderKeyRecord {
            format_version: STORE_FORMAT_VERSION,
            states: self
                .states
                .iter()
                .map(|s| store::SenderKeyState {
                    key_id: s.key_id,
                    chain_key: Some(chain_to_store(&s.chain)),
                    signing_public: s.signing_public.as_bytes().to_vec(),
                    signing_private: s
                        .signing_private
                        .as_ref()
                        .map(|k| k.private.to_bytes().to_vec())
                        .unwrap_or_default(),
                    skipped: skipped_to_store(&s.skipped),
                })
                .collect(),
        }
        .encode_to_vec()
    }

    /// Parses bytes written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let r = store::SenderKeyRecord::decode(bytes)
            .map_err(|_| SignalError::InvalidRecord("SenderKeyRecord does not decode"))?;
        if r.format_version != STORE_FORMAT_VERSION {
            return Err(SignalError::InvalidRecord(
                "unknown SenderKeyRecord version",
            ));
        }
        if r.states.len() > MAX_SENDER_KEY_STATES {
            return Err(SignalError::InvalidRecord("too many sender key states"));
        }
        let states = r
            .states
            .iter()
            .map(|s| {
                let signing_private = if s.signing_private.is_empty() {
                    None
                } else {
                    Some(stored_key_pair(&s.signing_public, &s.signing_private)?)
                };
                Ok(SenderKeyState {
                    key_id: s.key_id,
                    chain: chain_from_store(s.chain_key.as_ref())?,
                    signing_public: public_from_store(&s.signing_public)?,
                    signing_private,
                    skipped: skipped_from_store(&s.skipped)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { states })
    }
}

/// A random sender-key id in `1..=2^31 − 1` (positive in every reference's integer type).
fn generate_key_id(rng: &mut impl CryptoRngCore) -> u32 {
    loop {
        let id = rng.next_u32() & 0x7fff_ffff;
        if id != 0 {
            return id;
        }
    }
}

/// Our SKDM for a group, creating our sending state first if the record has none.
///
/// The SKDM carries the current iteration and chain key, so members who get it later cannot
/// read earlier messages. Send it pairwise to every member device that lacks it.
pub fn create_distribution(
    record: &SenderKeyRecord,
    rng: &mut impl CryptoRngCore,
) -> Result<(SenderKeyRecord, SenderKeyDistributionMessage)> {
    let mut next = record.clone();
    if !next.states.first().is_some_and(SenderKeyState::is_own) {
        let mut chain_key = [0u8; 32];
        rng.fill_bytes(&mut chain_key);
        let signing = KeyPair::generate(rng);
        next.push_front(SenderKeyState {
            key_id: generate_key_id(rng),
            chain: ChainKey::new(chain_key, 0),
            signing_public: signing.public,
            signing_private: Some(signing),
            skipped: VecDeque::new(),
        });
    }
    let state = next
        .states
        .first()
        .ok_or(SignalError::InvalidRequest("no sender key state"))?;
    let skdm = SenderKeyDistributionMessage::new(
        state.key_id,
        state.chain.index,
        state.chain.key,
        state.signing_public,
    );
    Ok((next, skdm))
}

/// Stores a member's SKDM as their newest state. A repeated SKDM for a state we already have
/// (same key id and signing key) keeps the existing state, so its progress and skipped keys
/// survive.
pub fn process_distribution(
    record: &SenderKeyRecord,
    skdm: &SenderKeyDistributionMessage,
) -> SenderKeyRecord {
    let mut next = record.clone();
    if let Some(i) = next.state_for_key_id(skdm.key_id()) {
        let same_key = next
            .states
            .get(i)
            .is_some_and(|s| &s.signing_public == skdm.signing_key());
        if same_key {
            return next;
        }
        next.states.remove(i);
    }
    next.push_front(SenderKeyState {
        key_id: skdm.key_id(),
        chain: ChainKey::new(*skdm.chain_key(), skdm.iteration()),
        signing_public: *skdm.signing_key(),
        signing_private: None,
        skipped: VecDeque::new(),
    });
    next
}

/// Encrypts a (WhatsApp-padded) group message with our newest sending state: the
/// `<enc type="skmsg">` content. Iterations are consecutive.
pub fn encrypt(
    record: &SenderKeyRecord,
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<(SenderKeyRecord, Vec<u8>)> {
    let mut z = [0u8; 64];
    rng.fill_bytes(&mut z);
    encrypt_with_nonce(record, plaintext, &z)
}

/// [`encrypt`] with the XEdDSA randomness given (reproducible test vectors).
pub(crate) fn encrypt_with_nonce(
    record: &SenderKeyRecord,
    plaintext: &[u8],
    z: &[u8; 64],
) -> Result<(SenderKeyRecord, Vec<u8>)> {
    let mut next = record.clone();
    let state = next.states.first_mut().ok_or(SignalError::InvalidRequest(
        "no sender key state to encrypt with",
    ))?;
    let signing = state
        .signing_private
        .as_ref()
        .ok_or(SignalError::InvalidRequest(
            "newest sender key state is not ours",
        ))?;
    let (seed, following) = state.chain.step()?;
    let keys = SenderMessageKeys::derive(&seed);
    let ciphertext = aes_cbc_encrypt(&keys.cipher_key, &keys.iv, plaintext);
    let mut bytes = SenderKeyMessage::unsigned_bytes(state.key_id, state.chain.index, &ciphertext);
    let signature = signing.private.sign_with_nonce(&bytes, z);
    bytes.extend_from_slice(&signature);
    state.chain = following;
    Ok((next, bytes))
}

/// Decrypts a group message (`<enc type="skmsg">`) with the sender's record: finds the state by
/// key id, checks the signature, then derives the key for the message's iteration (stored
/// skipped key, or the chain advanced up to [`MAX_FORWARD_JUMP`](super::MAX_FORWARD_JUMP)).
pub fn decrypt(record: &SenderKeyRecord, ciphertext: &[u8]) -> Result<(SenderKeyRecord, Vec<u8>)> {
    let message = SenderKeyMessage::parse(ciphertext)?;
    let mut next = record.clone();
    let key_id = message.key_id();
    let index = next
        .state_for_key_id(key_id)
        .ok_or(SignalError::NoSenderKeyState { key_id })?;
    let state = next
        .states
        .get_mut(index)
        .ok_or(SignalError::NoSenderKeyState { key_id })?;
    if !message.verify_signature(&state.signing_public) {
        return Err(SignalError::InvalidSignature);
    }
    let seed = take_message_seed(&mut state.chain, &mut state.skipped, message.iteration())?;
    let keys = SenderMessageKeys::derive(&seed);
    let plaintext = aes_cbc_decrypt(&keys.cipher_key, &keys.iv, message.ciphertext())
        .ok_or(SignalError::InvalidMessage("bad ciphertext"))?;
    Ok((next, plaintext))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn own_state_is_reused_and_limits_hold() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let (own, skdm1) = create_distribution(&SenderKeyRecord::new(), &mut rng).expect("create");
        let (own, skdm2) = create_distribution(&own, &mut rng).expect("again");
        assert_eq!(skdm1.key_id(), skdm2.key_id());
        assert_eq!(own.states().len(), 1);

        // A member's record keeps at most five states.
        let mut member = SenderKeyRecord::new();
        let mut last = None;
        for _ in 0..7 {
            let (_, skdm) = create_distribution(&SenderKeyRecord::new(), &mut rng).expect("c");
            member = process_distribution(&member, &skdm);
            last = Some(skdm.key_id());
        }
        assert_eq!(member.states().len(), MAX_SENDER_KEY_STATES);
        assert_eq!(member.states()[0].key_id(), last.expect("some"));
        // Encrypting with a record that is not ours is refused.
        assert!(matches!(
            encrypt(&member, b"x", &mut rng),
            Err(SignalError::InvalidRequest(_))
        ));
        assert!(matches!(
            encrypt(&SenderKeyRecord::new(), b"x", &mut rng),
            Err(SignalError::InvalidRequest(_))
        ));
    }

    #[test]
    fn repeated_skdm_keeps_progress() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(12);
        let (own, skdm) = create_distribution(&SenderKeyRecord::new(), &mut rng).expect("c");
        let member = process_distribution(&SenderKeyRecord::new(), &skdm);
        let (own, m0) = encrypt(&own, b"zero", &mut rng).expect("e0");
        let (_own, m1) = encrypt(&own, b"one", &mut rng).expect("e1");
        let (member, p1) = decrypt(&member, &m1).expect("d1");
        assert_eq!(p1, b"one");
        let member = process_distribution(&member, &skdm);
        let (member, p0) = decrypt(&member, &m0).expect("skipped key kept");
        assert_eq!(p0, b"zero");
        assert!(decrypt(&member, &m1).expect_err("dup").is_duplicate());
    }
}

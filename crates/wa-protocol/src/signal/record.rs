//! Session records: the current state plus archived states of one remote device, and their
//! storage encoding through `proto/signal_store.proto` (`wa.signal_store`, format version 1).
//!
//! `to_bytes` is deterministic and `from_bytes(b)?.to_bytes() == b` for every `b` this module
//! wrote, so a store can persist the bytes as they are.

use std::collections::VecDeque;
use std::sync::Arc;

use prost::Message as _;

use super::crypto::ChainKey;
use super::curve::{KeyPair, PrivateKey, PublicKey};
use super::error::{Result, SignalError};
use super::limits::{MAX_ARCHIVED_STATES, MAX_RECEIVER_CHAINS, MAX_SKIPPED_KEYS};
use super::state::{
    PendingPreKey, ReceiverChain, SenderChain, SessionState, SkippedKey, SESSION_VERSION,
};
use crate::pb::signal_store as store;

/// Format version written into every stored record.
pub const STORE_FORMAT_VERSION: u32 = 1;

/// All sessions with one remote device: a current state and up to
/// [`MAX_ARCHIVED_STATES`] archived ones (newest first).
///
/// Records are values: the functions in [`session`](super::session) take `&SessionRecord` and
/// return a new record on success. Archived states are shared between copies (`Arc`), so
/// copying a record costs about one state.
#[derive(Clone, Debug, Default)]
pub struct SessionRecord {
    pub(crate) current: Option<SessionState>,
    pub(crate) previous: Vec<Arc<SessionState>>,
}

impl SessionRecord {
    /// An empty record (no session).
    pub fn new() -> Self {
        Self::default()
    }

    /// The current session state, if any.
    pub fn current(&self) -> Option<&SessionState> {
        self.current.as_ref()
    }

    /// Whether there is a current session to encrypt with.
    pub fn has_current_session(&self) -> bool {
        self.current.is_some()
    }

    /// Archived states, newest first.
    pub fn previous_states(&self) -> impl Iterator<Item = &SessionState> {
        self.previous.iter().map(|s| s.as_ref())
    }

    /// Whether the record holds no state at all.
    pub fn is_empty(&self) -> bool {
        self.current.is_none() && self.previous.is_empty()
    }

    /// Whether any state (current or archived) was made from this X3DH base key.
    pub fn has_state_with_base_key(&self, base_key: &PublicKey) -> bool {
        self.current.iter().any(|s| &s.base_key == base_key)
            || self.previous.iter().any(|s| &s.base_key == base_key)
    }

    /// Whether any state came from an X3DH with this session id.
    pub(crate) fn has_state_with_session_id(&self, id: &[u8; 32]) -> bool {
        self.current.iter().any(|s| &s.session_id == id)
            || self.previous.iter().any(|s| &s.session_id == id)
    }

    /// A copy with the current state archived (e.g. before fetching a fresh bundle after the
    /// peer's identity changed). Archived states can still decrypt late messages.
    pub fn with_current_archived(&self) -> SessionRecord {
        let mut next = self.clone();
        if let Some(current) = next.current.take() {
            next.archive(current);
        }
        next
    }

    /// Makes a new `state` current, archiving the previous current state.
    pub(crate) fn promote(&mut self, state: SessionState) {
        if let Some(old) = self.current.replace(state) {
            self.archive(old);
        }
    }

    fn archive(&mut self, state: SessionState) {
        self.previous.insert(0, Arc::new(state));
        self.previous.truncate(MAX_ARCHIVED_STATES);
    }

    /// Serialises through `wa.signal_store.SessionRecord`.
    pub fn to_bytes(&self) -> Vec<u8> {
        store::SessionRecord {
            format_version: STORE_FORMAT_VERSION,
            current: self.current.as_ref().map(state_to_store),
            previous: self.previous.iter().map(|s| state_to_store(s)).collect(),
        }
        .encode_to_vec()
    }

    /// Parses bytes written by [`to_bytes`](Self::to_bytes), checking every invariant (key
    /// lengths, limits, version).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let r = store::SessionRecord::decode(bytes)
            .map_err(|_| SignalError::InvalidRecord("SessionRecord does not decode"))?;
        if r.format_version != STORE_FORMAT_VERSION {
            return Err(SignalError::InvalidRecord("unknown SessionRecord version"));
        }
        if r.previous.len() > MAX_ARCHIVED_STATES {
            return Err(SignalError::InvalidRecord("too many archived states"));
        }
        Ok(Self {
            current: r.current.as_ref().map(state_from_store).transpose()?,
            previous: r
                .previous
                .iter()
                .map(|s| state_from_store(s).map(Arc::new))
                .collect::<Result<_>>()?,
        })
    }
}

// --- conversions ----------------------------------------------------------------------------

pub(crate) fn public_from_store(bytes: &[u8]) -> Result<PublicKey> {
    PublicKey::from_slice(bytes).ok_or(SignalError::InvalidRecord("public key length"))
}

pub(crate) fn key32_from_store(bytes: &[u8]) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| SignalError::InvalidRecord("key length"))
}

/// A stored key pair whose public half is taken as stored: records are loaded for every message,
/// and recomputing the public key would cost a scalar multiplication each time (the store is
/// trusted for integrity, like for every other field).
pub(crate) fn stored_key_pair(public: &[u8], private: &[u8]) -> Result<KeyPair> {
    Ok(KeyPair {
        private: PrivateKey::from_bytes(key32_from_store(private)?),
        public: public_from_store(public)?,
    })
}

/// A stored key pair, checking that the public half matches the private one (for prekeys,
/// which are loaded rarely).
pub(crate) fn key_pair_from_store(public: &[u8], private: &[u8]) -> Result<KeyPair> {
    let pair = KeyPair::from_private(PrivateKey::from_bytes(key32_from_store(private)?));
    if pair.public.as_bytes()[..] != *public {
        return Err(SignalError::InvalidRecord(
            "public key does not match private key",
        ));
    }
    Ok(pair)
}

pub(crate) fn chain_to_store(chain: &ChainKey) -> store::ChainKey {
    store::ChainKey {
        index: chain.index,
        key: chain.key.to_vec(),
    }
}

pub(crate) fn chain_from_store(chain: Option<&store::ChainKey>) -> Result<ChainKey> {
    let chain = chain.ok_or(SignalError::InvalidRecord("missing chain key"))?;
    Ok(ChainKey::new(key32_from_store(&chain.key)?, chain.index))
}

pub(crate) fn skipped_to_store(skipped: &VecDeque<SkippedKey>) -> Vec<store::SkippedKey> {
    skipped
        .iter()
        .map(|k| store::SkippedKey {
            index: k.index,
            seed: k.seed.to_vec(),
        })
        .collect()
}

pub(crate) fn skipped_from_store(skipped: &[store::SkippedKey]) -> Result<VecDeque<SkippedKey>> {
    if skipped.len() > MAX_SKIPPED_KEYS {
        return Err(SignalError::InvalidRecord("too many skipped keys"));
    }
    skipped
        .iter()
        .map(|k| {
            Ok(SkippedKey {
                index: k.index,
                seed: key32_from_store(&k.seed)?,
            })
        })
        .collect()
}

fn state_to_store(s: &SessionState) -> store::SessionState {
    store::SessionState {
        session_version: s.session_version,
        local_identity: s.local_identity.as_bytes().to_vec(),
        remote_identity: s.remote_identity.as_bytes().to_vec(),
        local_registration_id: s.local_registration_id,
        remote_registration_id: s.remote_registration_id,
        base_key: s.base_key.as_bytes().to_vec(),
        session_id: s.session_id.to_vec(),
        root_key: s.root_key.to_vec(),
        previous_counter: s.previous_counter,
        sender_chain: Some(store::SenderChain {
            ratchet_public: s.sender_chain.ratchet.public.as_bytes().to_vec(),
            ratchet_private: s.sender_chain.ratchet.private.to_bytes().to_vec(),
            chain_key: Some(chain_to_store(&s.sender_chain.chain)),
        }),
        receiver_chains: s
            .receiver_chains
            .iter()
            .map(|c| store::ReceiverChain {
                ratchet_public: c.ratchet_key.as_bytes().to_vec(),
                chain_key: Some(chain_to_store(&c.chain)),
                skipped: skipped_to_store(&c.skipped),
            })
            .collect(),
        pending_pre_key: s.pending_pre_key.as_ref().map(|p| store::PendingPreKey {
            pre_key_id: p.pre_key_id,
            signed_pre_key_id: p.signed_pre_key_id,
            base_key: p.base_key.as_bytes().to_vec(),
        }),
    }
}

fn state_from_store(s: &store::SessionState) -> Result<SessionState> {
    if s.session_version != SESSION_VERSION {
        return Err(SignalError::InvalidRecord("unsupported session version"));
    }
    if s.receiver_chains.len() > MAX_RECEIVER_CHAINS {
        return Err(SignalError::InvalidRecord("too many receiver chains"));
    }
    let sender = s
        .sender_chain
        .as_ref()
        .ok_or(SignalError::InvalidRecord("missing sender chain"))?;
    Ok(SessionState {
        session_version: s.session_version,
        local_identity: public_from_store(&s.local_identity)?,
        remote_identity: public_from_store(&s.remote_identity)?,
        local_registration_id: s.local_registration_id,
        remote_registration_id: s.remote_registration_id,
        base_key: public_from_store(&s.base_key)?,
        session_id: key32_from_store(&s.session_id)?,
        root_key: key32_from_store(&s.root_key)?,
        previous_counter: s.previous_counter,
        sender_chain: SenderChain {
            ratchet: stored_key_pair(&sender.ratchet_public, &sender.ratchet_private)?,
            chain: chain_from_store(sender.chain_key.as_ref())?,
        },
        receiver_chains: s
            .receiver_chains
            .iter()
            .map(|c| {
                Ok(ReceiverChain {
                    ratchet_key: public_from_store(&c.ratchet_public)?,
                    chain: chain_from_store(c.chain_key.as_ref())?,
                    skipped: skipped_from_store(&c.skipped)?,
                })
            })
            .collect::<Result<_>>()?,
        pending_pre_key: s
            .pending_pre_key
            .as_ref()
            .map(|p| {
                Ok::<_, SignalError>(PendingPreKey {
                    pre_key_id: p.pre_key_id,
                    signed_pre_key_id: p.signed_pre_key_id,
                    base_key: public_from_store(&p.base_key)?,
                })
            })
            .transpose()?,
    })
}

//! One double-ratchet session (`signal.md` §5): sending chain, receiving chains with skipped
//! message keys, the DH ratchet step, and the per-message encrypt/decrypt.
//!
//! Functions here mutate a state in place; the public API in [`session`](super::session) only
//! ever calls them on a copy and keeps the copy on success, so a failure leaves the caller's
//! record untouched.

use core::fmt;
use std::collections::VecDeque;

use rand_core::CryptoRngCore;

use super::crypto::{aes_cbc_decrypt, aes_cbc_encrypt, kdf_root, ChainKey, MessageKeys};
use super::curve::{KeyPair, PublicKey};
use super::error::{Result, SignalError};
use super::limits::{MAX_FORWARD_JUMP, MAX_RECEIVER_CHAINS, MAX_SKIPPED_KEYS};
use super::wire::{CiphertextMessage, PreKeySignalMessage, SignalMessage};

/// The Signal message version of every session this module creates.
pub(crate) const SESSION_VERSION: u32 = 3;

/// The message seed of a skipped message.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SkippedKey {
    pub(crate) index: u32,
    pub(crate) seed: [u8; 32],
}

/// Our sending chain and the ratchet key pair it belongs to.
#[derive(Clone)]
pub(crate) struct SenderChain {
    pub(crate) ratchet: KeyPair,
    pub(crate) chain: ChainKey,
}

/// A receiving chain for one of the peer's ratchet keys.
#[derive(Clone)]
pub(crate) struct ReceiverChain {
    pub(crate) ratchet_key: PublicKey,
    pub(crate) chain: ChainKey,
    /// Oldest first, at most [`MAX_SKIPPED_KEYS`].
    pub(crate) skipped: VecDeque<SkippedKey>,
}

/// What the initiator repeats in every message until the peer answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PendingPreKey {
    pub(crate) pre_key_id: Option<u32>,
    pub(crate) signed_pre_key_id: u32,
    pub(crate) base_key: PublicKey,
}

/// One double-ratchet session with a remote device.
#[derive(Clone)]
pub struct SessionState {
    pub(crate) session_version: u32,
    pub(crate) local_identity: PublicKey,
    pub(crate) remote_identity: PublicKey,
    pub(crate) local_registration_id: u32,
    pub(crate) remote_registration_id: u32,
    pub(crate) base_key: PublicKey,
    /// [`x3dh_session_id`](super::crypto::x3dh_session_id) of the X3DH that made the session.
    pub(crate) session_id: [u8; 32],
    pub(crate) root_key: [u8; 32],
    pub(crate) previous_counter: u32,
    pub(crate) sender_chain: SenderChain,
    /// Oldest first, at most [`MAX_RECEIVER_CHAINS`].
    pub(crate) receiver_chains: Vec<ReceiverChain>,
    pub(crate) pending_pre_key: Option<PendingPreKey>,
}

impl SessionState {
    /// The identity key of the remote device.
    pub fn remote_identity(&self) -> &PublicKey {
        &self.remote_identity
    }

    /// Our identity key as recorded when the session was made.
    pub fn local_identity(&self) -> &PublicKey {
        &self.local_identity
    }

    /// The remote device's registration id.
    pub fn remote_registration_id(&self) -> u32 {
        self.remote_registration_id
    }

    /// Our registration id as sent in PreKeySignalMessages.
    pub fn local_registration_id(&self) -> u32 {
        self.local_registration_id
    }

    /// The initiator's X3DH base key, which identifies the session.
    pub fn base_key(&self) -> &PublicKey {
        &self.base_key
    }

    /// Whether the peer has not answered yet, so messages still go out as `pkmsg`.
    pub fn has_unacknowledged_pre_key(&self) -> bool {
        self.pending_pre_key.is_some()
    }

    /// The Signal message version of the session (3).
    pub fn session_version(&self) -> u32 {
        self.session_version
    }

    /// How many messages went out on the current sending chain.
    pub fn sending_index(&self) -> u32 {
        self.sender_chain.chain.index
    }

    /// Encrypts one message on the sending chain and advances it.
    pub(crate) fn encrypt(&mut self, plaintext: &[u8]) -> Result<CiphertextMessage> {
        let (seed, next) = self.sender_chain.chain.step()?;
        let keys = MessageKeys::derive(&seed);
        let ciphertext = aes_cbc_encrypt(&keys.cipher_key, &keys.iv, plaintext);
        let message = SignalMessage::build(
            &keys.mac_key,
            &self.local_identity,
            &self.remote_identity,
            self.sender_chain.ratchet.public,
            self.sender_chain.chain.index,
            self.previous_counter,
            ciphertext,
        );
        self.sender_chain.chain = next;
        Ok(match &self.pending_pre_key {
            Some(pending) => CiphertextMessage::PreKey(
                PreKeySignalMessage::build(
                    self.local_registration_id,
                    pending.pre_key_id,
                    pending.signed_pre_key_id,
                    pending.base_key,
                    self.local_identity,
                    message,
                )
                .into_serialized(),
            ),
            None => CiphertextMessage::Signal(message.into_serialized()),
        })
    }

    /// Decrypts a message, doing a DH ratchet step for a new ratchet key and storing keys of
    /// skipped messages. On error the state may be half-updated: callers work on a copy.
    pub(crate) fn decrypt(
        &mut self,
        message: &SignalMessage,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>> {
        let position = match self.receiver_chain_position(message.ratchet_key()) {
            Some(position) => position,
            None => self.ratchet_step(*message.ratchet_key(), rng),
        };
        let chain = self
            .receiver_chains
            .get_mut(position)
            .ok_or(SignalError::NoSession)?;
        let seed = take_message_seed(&mut chain.chain, &mut chain.skipped, message.counter())?;
        let keys = MessageKeys::derive(&seed);
        if !message.verify_mac(&keys.mac_key, &self.remote_identity, &self.local_identity) {
            return Err(SignalError::BadMac);
        }
        let plaintext = aes_cbc_decrypt(&keys.cipher_key, &keys.iv, message.ciphertext())
            .ok_or(SignalError::InvalidMessage("bad ciphertext"))?;
        self.pending_pre_key = None;
        Ok(plaintext)
    }

    fn receiver_chain_position(&self, ratchet_key: &PublicKey) -> Option<usize> {
        self.receiver_chains
            .iter()
            .position(|c| &c.ratchet_key == ratchet_key)
    }

    /// DH ratchet step for the peer's new ratchet key; returns the new receiving chain's
    /// position.
    fn ratchet_step(&mut self, their_ratchet: PublicKey, rng: &mut impl CryptoRngCore) -> usize {
        let dh = self.sender_chain.ratchet.private.agree(&their_ratchet);
        let (root, receiving) = kdf_root(&self.root_key, &dh);
        let ours = KeyPair::generate(rng);
        let dh = ours.private.agree(&their_ratchet);
        let (root, sending) = kdf_root(&root, &dh);
        self.root_key = root;
        // Index of the last message sent on the old chain (0 if none), as libsignal-node reads it.
        self.previous_counter = self.sender_chain.chain.index.saturating_sub(1);
        self.sender_chain = SenderChain {
            ratchet: ours,
            chain: ChainKey::new(sending, 0),
        };
        self.add_receiver_chain(their_ratchet, ChainKey::new(receiving, 0))
    }

    /// Appends a receiving chain, dropping the oldest beyond the limit; returns its position.
    pub(crate) fn add_receiver_chain(&mut self, ratchet_key: PublicKey, chain: ChainKey) -> usize {
        self.receiver_chains.push(ReceiverChain {
            ratchet_key,
            chain,
            skipped: VecDeque::new(),
        });
        if self.receiver_chains.len() > MAX_RECEIVER_CHAINS {
            let excess = self.receiver_chains.len() - MAX_RECEIVER_CHAINS;
            self.receiver_chains.drain(..excess);
        }
        self.receiver_chains.len() - 1
    }
}

impl fmt::Debug for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionState")
            .field("remote_identity", &self.remote_identity)
            .field("remote_registration_id", &self.remote_registration_id)
            .field("base_key", &self.base_key)
            .field("sending_index", &self.sender_chain.chain.index)
            .field("receiver_chains", &self.receiver_chains.len())
            .field("pending_pre_key", &self.pending_pre_key)
            .finish_non_exhaustive()
    }
}

/// The message seed for `counter` on a receiving chain: a stored skipped key for an old
/// counter, or the chain advanced to `counter` (storing the keys it passes, oldest dropped
/// beyond [`MAX_SKIPPED_KEYS`]). Shared by pairwise sessions and sender keys.
pub(crate) fn take_message_seed(
    chain: &mut ChainKey,
    skipped: &mut VecDeque<SkippedKey>,
    counter: u32,
) -> Result<[u8; 32]> {
    let chain_index = chain.index;
    if counter < chain_index {
        let duplicate = SignalError::DuplicateMessage {
            counter,
            chain_index,
        };
        let position = skipped
            .iter()
            .position(|k| k.index == counter)
            .ok_or(duplicate.clone())?;
        return skipped.remove(position).map(|k| k.seed).ok_or(duplicate);
    }
    if counter - chain_index > MAX_FORWARD_JUMP {
        return Err(SignalError::TooFarInFuture {
            counter,
            chain_index,
        });
    }
    let mut current = chain.clone();
    while current.index < counter {
        let (seed, next) = current.step()?;
        skipped.push_back(SkippedKey {
            index: current.index,
            seed,
        });
        current = next;
    }
    if skipped.len() > MAX_SKIPPED_KEYS {
        let excess = skipped.len() - MAX_SKIPPED_KEYS;
        skipped.drain(..excess);
    }
    let (seed, next) = current.step()?;
    *chain = next;
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_message_seed_limits() {
        let start = ChainKey::new([1; 32], 0);
        let mut chain = start.clone();
        let mut skipped = VecDeque::new();
        // In order.
        let s0 = take_message_seed(&mut chain, &mut skipped, 0).expect("0");
        assert_eq!(s0, start.step().expect("step").0);
        assert_eq!(
            take_message_seed(&mut chain, &mut skipped, 0),
            Err(SignalError::DuplicateMessage {
                counter: 0,
                chain_index: 1
            })
        );
        // A jump of exactly MAX_FORWARD_JUMP is allowed, one more is not.
        assert_eq!(
            take_message_seed(
                &mut chain.clone(),
                &mut skipped.clone(),
                1 + MAX_FORWARD_JUMP + 1
            ),
            Err(SignalError::TooFarInFuture {
                counter: 2 + MAX_FORWARD_JUMP,
                chain_index: 1
            })
        );
        take_message_seed(&mut chain, &mut skipped, 1 + MAX_FORWARD_JUMP).expect("jump");
        assert_eq!(skipped.len(), MAX_FORWARD_JUMP as usize);
        // Another jump pushes the oldest skipped keys out.
        take_message_seed(&mut chain, &mut skipped, 2 + 2 * MAX_FORWARD_JUMP).expect("jump 2");
        assert_eq!(skipped.len(), MAX_SKIPPED_KEYS);
        assert!(matches!(
            take_message_seed(&mut chain, &mut skipped, 1),
            Err(SignalError::DuplicateMessage { .. })
        ));
        // A skipped key still stored is usable exactly once.
        let late = 2 + MAX_FORWARD_JUMP + 5;
        take_message_seed(&mut chain, &mut skipped, late).expect("late");
        assert!(take_message_seed(&mut chain, &mut skipped, late).is_err());
    }
}

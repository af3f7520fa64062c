//! The Signal protocol as WhatsApp uses it (`shared/protocol/signal.md`), as pure functions over
//! records: bytes, records, randomness (`&mut impl CryptoRngCore`) and prekeys go in; new
//! records and bytes come out. Nothing here touches a clock, a store or a socket.
//!
//! * [`curve`]: Curve25519 keys, X25519 and libsignal-flavoured XEdDSA.
//! * [`keys`]: identity, registration id, signed and one-time prekeys, prekey bundles.
//! * [`session`]: X3DH (initiator from a bundle, responder from a `pkmsg`) and the double
//!   ratchet over a [`SessionRecord`] (current + up to 40 archived states).
//! * [`sender_key`]: group sender keys over a [`SenderKeyRecord`].
//! * [`wire`]: the v3 wire formats (`msg`, `pkmsg`, `skmsg`, SKDM).
//! * [`padding`]: WhatsApp's plaintext padding (pad / strict unpad).
//! * [`SignalError`]: one error type with cause classes (bad MAC, untrusted identity, duplicate,
//!   no session, invalid key, too far in the future, …).
//!
//! A decrypt failure never changes a record: every function takes `&Record` and only returns a
//! new record on success. The driver persists the returned record before it acts on the output
//! (sends the bytes, delivers the plaintext, deletes a consumed one-time prekey).
//!
//! Limits (go-libsignal, libsignal-node, whatsapp-rust agree): [`MAX_FORWARD_JUMP`],
//! [`MAX_SKIPPED_KEYS`], [`MAX_RECEIVER_CHAINS`], [`MAX_ARCHIVED_STATES`],
//! [`MAX_SENDER_KEY_STATES`].

mod crypto;
pub mod curve;
pub(crate) mod error;
pub mod keys;
mod limits;
pub mod padding;
mod record;
pub mod sender_key;
pub mod session;
mod state;
pub mod wire;

#[cfg(test)]
mod tests;

pub use curve::{KeyPair, PrivateKey, PublicKey, Signature, DJB_TYPE, SIGNATURE_LEN};
pub use error::{Result, SignalError};
pub use keys::{
    generate_pre_keys, generate_registration_id, next_pre_key_id, LocalIdentity, PreKey,
    PreKeyBundle, PublicPreKey, SignedPreKey, MAX_PRE_KEY_ID, MAX_REGISTRATION_ID,
};
pub use record::{SessionRecord, STORE_FORMAT_VERSION};
pub use sender_key::{SenderKeyRecord, SenderKeyState};
pub use session::{PreKeyDecryption, ResponderPreKeys};
pub use state::SessionState;
pub use wire::{
    CiphertextMessage, PreKeySignalMessage, SenderKeyDistributionMessage, SenderKeyMessage,
    SignalMessage,
};

pub use limits::{
    MAX_ARCHIVED_STATES, MAX_FORWARD_JUMP, MAX_RECEIVER_CHAINS, MAX_SENDER_KEY_STATES,
    MAX_SKIPPED_KEYS,
};

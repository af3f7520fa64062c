//! Signal state changes handed to the store: identities, sessions, sender keys, the send step.

use wa_protocol::signal::PublicKey;

/// What [`crate::Store::save_identity`] found (trust on first use with change detection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityChange {
    /// First identity seen for this address: stored and trusted.
    New,
    /// Same key as stored.
    Unchanged,
    /// A different key replaced the stored one (WhatsApp trusts the new key; the caller emits an
    /// identity-change event and drops the old sessions).
    Changed {
        /// The key that was replaced.
        previous: PublicKey,
    },
}

/// One Signal session record to save.
#[derive(Clone, Copy, Debug)]
pub struct SessionUpdate<'a> {
    /// Signal address of the remote device.
    pub address: &'a str,
    /// The serialized session record (opaque, kept byte for byte).
    pub record: &'a [u8],
}

/// One sender-key record to save.
#[derive(Clone, Copy, Debug)]
pub struct SenderKeyUpdate<'a> {
    /// Group JID.
    pub group: &'a str,
    /// Sender's Signal address.
    pub sender: &'a str,
    /// The serialized sender-key record.
    pub record: &'a [u8],
}

/// The durable send step: the ratchet state after encrypting one outbox message, saved together
/// with the entry's `Queued → Sent` change, so a message key never goes out twice.
#[derive(Clone, Copy, Debug)]
pub struct SendStep<'a> {
    /// The outbox entry being sent.
    pub message_id: &'a str,
    /// Session records advanced by the encryption (one per recipient device).
    pub sessions: &'a [SessionUpdate<'a>],
    /// Sender-key record advanced by a group send.
    pub sender_key: Option<SenderKeyUpdate<'a>>,
    /// Now (ms since the Unix epoch).
    pub now_ms: u64,
}

/// A session created from an incoming prekey message, saved together with consuming the one-time
/// prekey it used and recording the sender's identity.
#[derive(Clone, Copy, Debug)]
pub struct IncomingSession<'a> {
    /// The session record.
    pub session: SessionUpdate<'a>,
    /// The one-time prekey the message named, if any: removed in the same transaction; the
    /// commit fails with [`Error::PreKeyNotFound`] if another caller consumed it first.
    ///
    /// [`Error::PreKeyNotFound`]: crate::Error::PreKeyNotFound
    pub prekey_id: Option<u32>,
    /// The sender's identity key, stored (trust on first use) in the same transaction.
    pub identity: Option<PublicKey>,
}

//! Incoming messages: the dedup key and the atomic receive commit.

use wa_protocol::binary::Jid;
use wa_protocol::signal::PublicKey;

use super::signal::{IdentityChange, SenderKeyUpdate, SessionUpdate};

/// Most dedup entries kept per account: committing one more drops the oldest (see
/// [`crate::Store::commit_received`]). The server redelivers only what we have not acked, so
/// the window needs to cover an offline batch, not history.
pub const MAX_RECEIVED_PER_ACCOUNT: u64 = 4096;

/// What identifies an incoming message: (chat, sender, message id). The sender is the sending
/// user (or device) as the caller normalizes it; the store compares bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceivedKey<'a> {
    /// The chat (the peer for 1:1, the group JID for groups).
    pub chat: &'a Jid,
    /// The sender.
    pub sender: &'a Jid,
    /// The message id.
    pub id: &'a str,
}

/// A decrypted incoming message's state changes, committed in one write set with its dedup
/// entry: the advanced (or new) session, the consumed one-time prekey, the sender's identity,
/// and the sender keys it advanced or distributed.
#[derive(Clone, Copy, Debug)]
pub struct ReceivedMessage<'a> {
    /// The dedup key.
    pub key: ReceivedKey<'a>,
    /// The message's `t` (unix seconds).
    pub t: u64,
    /// Session records advanced (or created) by decrypting it.
    pub sessions: &'a [SessionUpdate<'a>],
    /// The one-time prekey a `pkmsg` named: removed in the same write set; the commit fails
    /// with [`Error::PreKeyNotFound`] if it is gone.
    ///
    /// [`Error::PreKeyNotFound`]: crate::Error::PreKeyNotFound
    pub prekey_id: Option<u32>,
    /// The sender's Signal address and identity key (trust on first use), for a `pkmsg`.
    pub identity: Option<(&'a str, PublicKey)>,
    /// Sender-key records advanced by an `skmsg` or created from a distribution message.
    pub sender_keys: &'a [SenderKeyUpdate<'a>],
    /// The event to hand to the application (opaque here, e.g. the decoded message), kept in
    /// the account's pending reports until [`crate::Store::mark_reported`]: committed with the
    /// dedup entry, so a crash between the commit and the report loses nothing.
    pub report: Option<&'a [u8]>,
    /// Now (ms since the Unix epoch).
    pub now_ms: u64,
}

/// A received message committed but not yet handed to the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingReport {
    /// Its place in receive order (pass it to [`crate::Store::mark_reported`]).
    pub seq: u64,
    /// The chat.
    pub chat: Jid,
    /// The sender.
    pub sender: Jid,
    /// The message id.
    pub id: String,
    /// The event, as committed.
    pub payload: Vec<u8>,
    /// When it was committed (ms since the Unix epoch).
    pub received_ms: u64,
}

/// What [`crate::Store::commit_received`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiveOutcome {
    /// First time: everything was committed (with its pending report, if given); report it.
    New {
        /// Its place in receive order (the pending report's seq).
        seq: u64,
        /// What recording the sender identity found, if one was given.
        identity: Option<IdentityChange>,
    },
    /// Already committed earlier: nothing was written; ack it again, do not report it.
    Duplicate,
}

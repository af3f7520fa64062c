//! Outbox entries and their changes.

use wa_protocol::binary::Jid;

/// Status of an outbox entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Accepted, waiting to be encrypted and sent (or to be retried).
    Queued,
    /// Encrypted and handed to the socket; its ratchet step is persisted.
    Sent,
    /// The server acknowledged it (terminal).
    Acked,
    /// Given up (terminal).
    Failed,
}

/// An accepted outgoing message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Message id (the idempotency key).
    pub message_id: String,
    /// Destination chat.
    pub chat: Jid,
    /// The message to send (serialized plaintext protobuf, opaque here).
    pub payload: Vec<u8>,
    /// Status.
    pub status: OutboxStatus,
    /// Sends attempted so far.
    pub attempts: u32,
    /// Earliest time for the next attempt (ms since the Unix epoch); meaningful while queued.
    pub next_attempt_ms: u64,
    /// Accepted at.
    pub created_ms: u64,
    /// Last changed at.
    pub updated_ms: u64,
}

/// A message to put in the outbox.
#[derive(Clone, Copy, Debug)]
pub struct NewOutbound<'a> {
    /// Message id (idempotency key; 1..=256 bytes).
    pub message_id: &'a str,
    /// Destination chat.
    pub chat: &'a Jid,
    /// The message.
    pub payload: &'a [u8],
    /// Now (ms since the Unix epoch); also the first attempt time.
    pub now_ms: u64,
}

/// Result of an enqueue: idempotent by message id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored now.
    Inserted,
    /// The same message was already there (its current state is returned).
    AlreadyPresent(OutboxEntry),
}

/// A change of an outbox entry other than sending (which is [`crate::Store::commit_send`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxUpdate {
    /// The server acknowledged the message: `Sent → Acked`.
    Acked,
    /// Give up: `Queued | Sent → Failed`.
    Failed,
    /// Try again at a later time: `Queued | Sent → Queued`.
    Retry {
        /// Earliest next attempt (ms since the Unix epoch).
        at_ms: u64,
    },
}

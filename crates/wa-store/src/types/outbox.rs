//! Outbox entries and their changes.

use wa_protocol::binary::Jid;

/// Where an outbox entry is in the send pipeline. Moves `Queued → Sent → Acked → Delivered →
/// Read`, or to `Failed`; never backwards (a retry puts a `Queued`/`Sent` entry back to
/// `Queued`). The application-facing view is [`MessageStatus`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Accepted, waiting to be encrypted and sent (or to be retried).
    Queued,
    /// Encrypted and handed to the socket; its ratchet step is persisted; no server ack yet.
    Sent,
    /// The server acknowledged it without an error.
    Acked,
    /// A recipient device's delivery receipt arrived.
    Delivered,
    /// A read receipt arrived (terminal).
    Read,
    /// Given up, or refused by the server (terminal).
    Failed,
}

/// The durable status of an outbound message as the application sees it (issue 10 item 4):
/// `Queued → Sent → Delivered → Read`, or `Failed`, only ever forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageStatus {
    /// Not acknowledged by the server yet (waiting, or on the wire).
    Queued,
    /// The server acknowledged it (messaging.md §8 `<ack t>`).
    Sent {
        /// The ack's `t` (unix seconds); `None` if acknowledged through [`OutboxUpdate::Acked`].
        server_t: Option<u64>,
    },
    /// A recipient's delivery receipt arrived.
    Delivered {
        /// The receipt's `t` (unix seconds).
        t: u64,
    },
    /// A read receipt arrived.
    Read {
        /// The receipt's `t` (unix seconds).
        t: u64,
    },
    /// Not sent: refused by the server, or given up locally.
    Failed {
        /// The server's `error` code (400, 463, 479, …; messaging.md §8, §16); `None` when the
        /// sender gave up ([`OutboxUpdate::Failed`]).
        code: Option<u16>,
    },
}

/// An ack or receipt about a sent message, fed to [`crate::Store::record_status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusEvent {
    /// The server's `<ack>` without `error`, with its `t` (messaging.md §8).
    ServerAck {
        /// Unix seconds.
        server_t: u64,
    },
    /// The server's `<ack>` with `error` (messaging.md §8, §16: a failure, never "sent").
    Rejected {
        /// The error code.
        code: u16,
    },
    /// A delivery receipt (no `type`, or `inactive`; messaging.md §8).
    Delivered {
        /// The receipt's `t` (unix seconds).
        t: u64,
    },
    /// A `read` (or `played`) receipt.
    Read {
        /// The receipt's `t` (unix seconds).
        t: u64,
    },
}

/// What [`crate::Store::record_status`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusOutcome {
    /// The status moved forward; announce it.
    Advanced {
        /// The status before.
        from: MessageStatus,
        /// The entry after the change.
        entry: OutboxEntry,
    },
    /// Late or repeated: the entry was already at or past this point, nothing was written.
    Unchanged(OutboxEntry),
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
    /// The server ack's `t` (unix seconds), once acknowledged with one.
    pub server_t: Option<u64>,
    /// The first delivery receipt's `t` (unix seconds).
    pub delivered_t: Option<u64>,
    /// The read receipt's `t` (unix seconds).
    pub read_t: Option<u64>,
    /// The server's error code, if it refused the message.
    pub fail_code: Option<u16>,
}

impl OutboxEntry {
    /// The application-facing status.
    pub fn message_status(&self) -> MessageStatus {
        match self.status {
            OutboxStatus::Queued | OutboxStatus::Sent => MessageStatus::Queued,
            OutboxStatus::Acked => MessageStatus::Sent {
                server_t: self.server_t,
            },
            OutboxStatus::Delivered => MessageStatus::Delivered {
                t: self.delivered_t.unwrap_or_default(),
            },
            OutboxStatus::Read => MessageStatus::Read {
                t: self.read_t.unwrap_or_default(),
            },
            OutboxStatus::Failed => MessageStatus::Failed {
                code: self.fail_code,
            },
        }
    }
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

//! The timeline of an outbound message (issue 12 item 3): when it was accepted, and each
//! status change with its local time, the server's `t` and the server's error code. Kept after
//! the outbox entry is done, for [`STATUS_LOG_RETENTION_MS`] (pruned by
//! [`crate::Store::prune_status_log`]).

use wa_protocol::binary::Jid;

use super::outbox::{MessageStatus, OutboxEntry, OutboxStatus};

/// How long a timeline is kept after its last change by default: 7 days.
pub const STATUS_LOG_RETENTION_MS: u64 = 7 * 24 * 3600 * 1000;

/// One status change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusStep {
    /// The status it moved to (`Sent` with the ack's `t`, `Delivered`/`Read` with the
    /// receipt's `t`, `Failed` with the server's code; never `Queued`).
    pub status: MessageStatus,
    /// When it was recorded (ms since the Unix epoch, the gateway's clock).
    pub at_ms: u64,
}

/// A message's durable status and its history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusTimeline {
    /// The message id.
    pub message_id: String,
    /// The chat it was sent to.
    pub chat: Jid,
    /// When it was accepted (ms since the Unix epoch).
    pub queued_ms: u64,
    /// The changes since, oldest first.
    pub steps: Vec<StatusStep>,
}

impl StatusTimeline {
    /// The status now: the last step's, or `Queued`.
    pub fn status(&self) -> MessageStatus {
        self.steps
            .last()
            .map_or(MessageStatus::Queued, |s| s.status)
    }

    /// When it last changed (ms since the Unix epoch).
    pub fn updated_ms(&self) -> u64 {
        self.steps.last().map_or(self.queued_ms, |s| s.at_ms)
    }

    /// The timeline an outbox entry implies when no step was logged for it (an entry still
    /// queued, or one recorded before the log existed: its steps carry the entry's
    /// `updated_ms`).
    pub fn from_entry(e: &OutboxEntry) -> Self {
        let at_ms = e.updated_ms;
        let mut steps = Vec::new();
        let mut push = |status| steps.push(StatusStep { status, at_ms });
        if e.server_t.is_some() || matches!(e.status, OutboxStatus::Acked) {
            push(MessageStatus::Sent {
                server_t: e.server_t,
            });
        }
        if let Some(t) = e.delivered_t {
            push(MessageStatus::Delivered { t });
        }
        if let Some(t) = e.read_t {
            push(MessageStatus::Read { t });
        }
        if e.status == OutboxStatus::Failed {
            push(MessageStatus::Failed { code: e.fail_code });
        }
        Self {
            message_id: e.message_id.clone(),
            chat: e.chat.clone(),
            queued_ms: e.created_ms,
            steps,
        }
    }
}

//! The status log's records (`proto/store.proto` `StatusLog`, tree `status_log`): conversions
//! and the check of one stored record. A leaf: `records.rs` (check, import) and
//! `core/status_log.rs` (the writes) both use it.

use crate::codec::{decode, Field};
use crate::error::{CorruptReason, Error, Result};
use crate::keys::{self, TreeId};
use crate::pb;
use crate::types::account_id::AccountId;
use crate::types::outbox::MessageStatus;
use crate::types::status_log::{StatusStep, StatusTimeline};

const SENT: u32 = 1;
const DELIVERED: u32 = 2;
const READ: u32 = 3;
const FAILED: u32 = 4;

fn step_to_pb(s: &StatusStep) -> pb::StatusStep {
    let (kind, t, code) = match s.status {
        // Never stored: a timeline starts queued (`queued_ms`).
        MessageStatus::Queued => (0, None, None),
        MessageStatus::Sent { server_t } => (SENT, server_t, None),
        MessageStatus::Delivered { t } => (DELIVERED, Some(t), None),
        MessageStatus::Read { t } => (READ, Some(t), None),
        MessageStatus::Failed { code } => (FAILED, None, code.map(u32::from)),
    };
    pb::StatusStep {
        kind,
        at_ms: s.at_ms,
        t,
        code,
    }
}

fn step_from_pb(s: pb::StatusStep) -> Field<StatusStep> {
    let t = || s.t.ok_or(CorruptReason::BadField("t"));
    let status = match s.kind {
        SENT => MessageStatus::Sent { server_t: s.t },
        DELIVERED => MessageStatus::Delivered { t: t()? },
        READ => MessageStatus::Read { t: t()? },
        FAILED => MessageStatus::Failed {
            code: s
                .code
                .map(u16::try_from)
                .transpose()
                .map_err(|_| CorruptReason::BadField("code"))?,
        },
        _ => return Err(CorruptReason::BadField("kind")),
    };
    Ok(StatusStep {
        status,
        at_ms: s.at_ms,
    })
}

pub(crate) fn to_pb(l: &StatusTimeline) -> pb::StatusLog {
    pb::StatusLog {
        chat: l.chat.to_string(),
        queued_ms: l.queued_ms,
        steps: l.steps.iter().map(step_to_pb).collect(),
        updated_ms: l.updated_ms(),
    }
}

/// The timeline of the record under `key` (the message id is the key's suffix).
pub(crate) fn from_pb(key: &[u8], m: pb::StatusLog) -> Field<StatusTimeline> {
    let id = key
        .get(AccountId::LEN..)
        .and_then(|s| std::str::from_utf8(s).ok())
        .filter(|s| !s.is_empty())
        .ok_or(CorruptReason::BadKey)?;
    let chat = m
        .chat
        .parse()
        .map_err(|_| CorruptReason::BadField("chat"))?;
    let steps = m
        .steps
        .into_iter()
        .map(step_from_pb)
        .collect::<Field<Vec<_>>>()?;
    Ok(StatusTimeline {
        message_id: id.to_owned(),
        chat,
        queued_ms: m.queued_ms,
        steps,
    })
}

/// Verifies one stored record (`Store::check`, import).
pub(crate) fn verify(key: &[u8], value: &[u8]) -> Result<()> {
    if keys::key_account(key).is_none() {
        return Err(Error::corrupt(
            TreeId::StatusLog.name(),
            key,
            CorruptReason::BadKey,
        ));
    }
    decode(TreeId::StatusLog, key, value, |m| from_pb(key, m)).map(|_| ())
}

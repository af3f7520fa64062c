//! The status log (issue 12 item 3): one record per outbound message that changed status
//! (tree `status_log`, key: account + message id), written in the same write set as the
//! outbox change it records, so the timeline never disagrees with the entry. Records outlive
//! the outbox entry and are pruned by age ([`prune`]).

use crate::codec::{decode, encode};
use crate::engine::{Engine, TxResult, TxView};
use crate::error::Result;
use crate::keys::{self, TreeId};
use crate::pb;
use crate::status_records::{from_pb, to_pb};
use crate::types::account_id::AccountId;
use crate::types::outbox::{MessageStatus, OutboxEntry};
use crate::types::status_log::{StatusStep, StatusTimeline};

/// Appends `status` to the log of `entry` (created from the entry when absent), inside the
/// transaction that changes the entry.
pub(super) fn append_tx(
    tx: &dyn TxView,
    a: &AccountId,
    entry: &OutboxEntry,
    status: MessageStatus,
    at_ms: u64,
) -> TxResult<()> {
    let k = keys::named(a, "message id", &entry.message_id)?;
    let mut log = match tx.get(TreeId::StatusLog, &k)? {
        Some(v) => decode(TreeId::StatusLog, &k, &v, |m| from_pb(&k, m))?,
        None => StatusTimeline {
            message_id: entry.message_id.clone(),
            chat: entry.chat.clone(),
            queued_ms: entry.created_ms,
            steps: Vec::new(),
        },
    };
    log.steps.push(StatusStep { status, at_ms });
    tx.insert(TreeId::StatusLog, &k, encode(&to_pb(&log)))?;
    Ok(())
}

/// The message's logged timeline, if any step was logged (else the caller falls back on
/// what its outbox entry implies).
pub(super) fn logged<E: Engine>(
    engine: &E,
    a: &AccountId,
    id: &str,
) -> Result<Option<StatusTimeline>> {
    let k = keys::named(a, "message id", id)?;
    match engine.get(TreeId::StatusLog, &k)? {
        Some(v) => decode(TreeId::StatusLog, &k, &v, |m| from_pb(&k, m)).map(Some),
        None => Ok(None),
    }
}

/// Removes the account's timelines last changed before `before_ms`; how many.
pub(super) fn prune<E: Engine>(engine: &E, a: &AccountId, before_ms: u64) -> Result<usize> {
    let mut old = Vec::new();
    engine.scan(TreeId::StatusLog, a.as_bytes(), &mut |k, v| {
        let updated = decode(TreeId::StatusLog, k, v, |m: pb::StatusLog| Ok(m.updated_ms))?;
        if updated < before_ms {
            old.push(k.to_vec());
        }
        Ok(true)
    })?;
    for chunk in old.chunks(512) {
        engine.transact(|tx| {
            for k in chunk {
                tx.remove(TreeId::StatusLog, k)?;
            }
            Ok(())
        })?;
    }
    Ok(old.len())
}

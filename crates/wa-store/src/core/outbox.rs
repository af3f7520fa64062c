//! The outbox: accepted messages, their due index, their state changes, and the durable send
//! step that marks one sent together with the ratchet state it advanced.

use crate::engine::{Engine, TxResult, TxView};
use crate::error::{CorruptReason, Error, Result};
use crate::keys::{self, TreeId};
use crate::pb;
use crate::records::{self, decode, encode};
use crate::types::account_id::AccountId;
use crate::types::outbox::{
    Enqueued, NewOutbound, OutboxEntry, OutboxStatus, OutboxUpdate, StatusEvent, StatusOutcome,
};
use crate::types::signal::SendStep;

use super::access::{check_message_id, load, opaque, tx_decode};
use super::status_log;

fn tx_entry(tx: &dyn TxView, a: &AccountId, k: &[u8], id: &str) -> TxResult<OutboxEntry> {
    match tx.get(TreeId::Outbox, k)? {
        Some(v) => tx_decode(TreeId::Outbox, k, &v, records::outbox_from_pb),
        None => Err(Error::OutboxNotFound {
            account: *a,
            message_id: id.to_string(),
        }
        .into()),
    }
}

pub(super) fn enqueue<E: Engine>(
    engine: &E,
    a: &AccountId,
    m: &NewOutbound<'_>,
) -> Result<Enqueued> {
    check_message_id(m.message_id)?;
    let k = keys::named(a, "message id", m.message_id)?;
    let entry = OutboxEntry {
        message_id: m.message_id.to_string(),
        chat: m.chat.clone(),
        payload: m.payload.to_vec(),
        status: OutboxStatus::Queued,
        attempts: 0,
        next_attempt_ms: m.now_ms,
        created_ms: m.now_ms,
        updated_ms: m.now_ms,
        server_t: None,
        delivered_t: None,
        read_t: None,
        fail_code: None,
    };
    let v = encode(&records::outbox_to_pb(&entry));
    let due = keys::due(a, m.now_ms, m.message_id);
    let due_v = encode(&pb::OutboxDue {});
    // A new message id is not in the overlay: its (absent) record is looked up on disk before
    // the write lock is taken.
    engine.transact_prefetch(&[(TreeId::Outbox, &k)], |tx| {
        if let Some(old) = tx.get(TreeId::Outbox, &k)? {
            let old = tx_decode(TreeId::Outbox, &k, &old, records::outbox_from_pb)?;
            if old.chat != *m.chat || old.payload != m.payload {
                return Err(Error::OutboxConflict {
                    account: *a,
                    message_id: m.message_id.to_string(),
                }
                .into());
            }
            return Ok(Enqueued::AlreadyPresent(old));
        }
        tx.insert(TreeId::Outbox, &k, v.clone())?;
        // The entry is new, so is its due-index key (it only exists alongside its entry).
        tx.insert_new(TreeId::OutboxDue, &due, due_v.clone())?;
        Ok(Enqueued::Inserted)
    })
}

pub(super) fn entry<E: Engine>(engine: &E, a: &AccountId, id: &str) -> Result<Option<OutboxEntry>> {
    let k = keys::named(a, "message id", id)?;
    load(engine, TreeId::Outbox, &k, records::outbox_from_pb)
}

pub(super) fn entries<E: Engine>(engine: &E, a: &AccountId) -> Result<Vec<OutboxEntry>> {
    let mut out = Vec::new();
    engine.scan(TreeId::Outbox, a.as_bytes(), &mut |k, v| {
        out.push(decode(TreeId::Outbox, k, v, records::outbox_from_pb)?);
        Ok(true)
    })?;
    Ok(out)
}

pub(super) fn due<E: Engine>(
    engine: &E,
    a: &AccountId,
    now_ms: u64,
    limit: usize,
) -> Result<Vec<OutboxEntry>> {
    let mut ids = Vec::new();
    if limit > 0 {
        engine.scan(TreeId::OutboxDue, a.as_bytes(), &mut |k, _| {
            let (at, id) = keys::parse_due(k).ok_or_else(|| {
                Error::corrupt(TreeId::OutboxDue.name(), k, CorruptReason::BadKey)
            })?;
            if at > now_ms {
                return Ok(false);
            }
            ids.push(id.to_string());
            Ok(ids.len() < limit)
        })?;
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        // An entry sent between the index scan and this read is skipped.
        if let Some(e) = entry(engine, a, &id)? {
            if e.status == OutboxStatus::Queued {
                out.push(e);
            }
        }
    }
    Ok(out)
}

pub(super) fn update<E: Engine>(
    engine: &E,
    a: &AccountId,
    id: &str,
    update: OutboxUpdate,
    now_ms: u64,
) -> Result<OutboxEntry> {
    let k = keys::named(a, "message id", id)?;
    let due_v = encode(&pb::OutboxDue {});
    engine.transact(|tx| {
        let mut e = tx_entry(tx, a, &k, id)?;
        let (allowed, to) = match update {
            OutboxUpdate::Acked => (e.status == OutboxStatus::Sent, OutboxStatus::Acked),
            OutboxUpdate::Failed => (
                matches!(e.status, OutboxStatus::Queued | OutboxStatus::Sent),
                OutboxStatus::Failed,
            ),
            OutboxUpdate::Retry { .. } => (
                matches!(e.status, OutboxStatus::Queued | OutboxStatus::Sent),
                OutboxStatus::Queued,
            ),
        };
        if !allowed {
            return Err(Error::InvalidTransition {
                account: *a,
                message_id: id.to_string(),
                from: e.status,
                to,
            }
            .into());
        }
        if e.status == OutboxStatus::Queued {
            tx.remove(TreeId::OutboxDue, &keys::due(a, e.next_attempt_ms, id))?;
        }
        if let OutboxUpdate::Retry { at_ms } = update {
            e.next_attempt_ms = at_ms;
            tx.insert(TreeId::OutboxDue, &keys::due(a, at_ms, id), due_v.clone())?;
        }
        e.status = to;
        e.updated_ms = now_ms;
        tx.insert(TreeId::Outbox, &k, encode(&records::outbox_to_pb(&e)))?;
        if to == OutboxStatus::Failed {
            status_log::append_tx(tx, a, &e, e.message_status(), now_ms)?;
        }
        Ok(e)
    })
}

pub(super) fn remove<E: Engine>(engine: &E, a: &AccountId, id: &str) -> Result<bool> {
    let k = keys::named(a, "message id", id)?;
    engine.transact(|tx| {
        let Some(v) = tx.get(TreeId::Outbox, &k)? else {
            return Ok(false);
        };
        let e = tx_decode(TreeId::Outbox, &k, &v, records::outbox_from_pb)?;
        if e.status == OutboxStatus::Queued {
            tx.remove(TreeId::OutboxDue, &keys::due(a, e.next_attempt_ms, id))?;
        }
        tx.remove(TreeId::Outbox, &k)?;
        Ok(true)
    })
}

/// The durable send step: `Queued → Sent` and the advanced session and sender-key records, in
/// one write set.
pub(super) fn commit_send<E: Engine>(engine: &E, a: &AccountId, step: &SendStep<'_>) -> Result<()> {
    check_message_id(step.message_id)?;
    let ok = keys::named(a, "message id", step.message_id)?;
    let mut sessions = Vec::with_capacity(step.sessions.len());
    for s in step.sessions {
        sessions.push((keys::named(a, "address", s.address)?, opaque(s.record)));
    }
    let sender = match &step.sender_key {
        Some(u) => Some((keys::sender_key(a, u.group, u.sender)?, opaque(u.record))),
        None => None,
    };
    engine.transact(|tx| {
        let mut e = tx_entry(tx, a, &ok, step.message_id)?;
        if e.status != OutboxStatus::Queued {
            return Err(Error::InvalidTransition {
                account: *a,
                message_id: step.message_id.to_string(),
                from: e.status,
                to: OutboxStatus::Sent,
            }
            .into());
        }
        tx.remove(
            TreeId::OutboxDue,
            &keys::due(a, e.next_attempt_ms, &e.message_id),
        )?;
        e.status = OutboxStatus::Sent;
        e.attempts = e.attempts.saturating_add(1);
        e.updated_ms = step.now_ms;
        tx.insert(TreeId::Outbox, &ok, encode(&records::outbox_to_pb(&e)))?;
        for (k, v) in &sessions {
            tx.insert(TreeId::Sessions, k, v.clone())?;
        }
        if let Some((k, v)) = &sender {
            tx.insert(TreeId::SenderKeys, k, v.clone())?;
        }
        Ok(())
    })
}

/// How far along the pipeline a status is (Failed is apart).
fn rank(s: OutboxStatus) -> u8 {
    match s {
        OutboxStatus::Queued => 0,
        OutboxStatus::Sent => 1,
        OutboxStatus::Acked => 2,
        OutboxStatus::Delivered => 3,
        OutboxStatus::Read => 4,
        OutboxStatus::Failed => 5,
    }
}

/// What an ack or receipt does to an entry.
enum Verdict {
    Forward,
    Stale,
    Refuse,
}

/// The status rules: only forward; an ack or receipt needs a message that was sent at least
/// once (a `Queued` entry with attempts is being retried, and the earlier attempt's ack counts);
/// a server error after the server accepted the message is refused (it contradicts the ack);
/// nothing but a repeated error leaves `Failed`.
fn verdict(e: &OutboxEntry, ev: StatusEvent) -> (Verdict, OutboxStatus) {
    let to = match ev {
        StatusEvent::ServerAck { .. } => OutboxStatus::Acked,
        StatusEvent::Rejected { .. } => OutboxStatus::Failed,
        StatusEvent::Delivered { .. } => OutboxStatus::Delivered,
        StatusEvent::Read { .. } => OutboxStatus::Read,
    };
    let rejected = matches!(ev, StatusEvent::Rejected { .. });
    let v = match e.status {
        OutboxStatus::Failed if rejected => Verdict::Stale,
        OutboxStatus::Failed => Verdict::Refuse,
        OutboxStatus::Queued if e.attempts == 0 => Verdict::Refuse,
        OutboxStatus::Queued | OutboxStatus::Sent => Verdict::Forward,
        OutboxStatus::Acked | OutboxStatus::Delivered | OutboxStatus::Read if rejected => {
            Verdict::Refuse
        }
        cur if rank(cur) >= rank(to) => Verdict::Stale,
        _ => Verdict::Forward,
    };
    (v, to)
}

/// Feeds an ack or receipt to an entry's status (see [`verdict`]).
pub(super) fn record_status<E: Engine>(
    engine: &E,
    a: &AccountId,
    id: &str,
    ev: StatusEvent,
    now_ms: u64,
) -> Result<StatusOutcome> {
    let k = keys::named(a, "message id", id)?;
    engine.transact(|tx| {
        let mut e = tx_entry(tx, a, &k, id)?;
        let (v, to) = verdict(&e, ev);
        match v {
            Verdict::Stale => return Ok(StatusOutcome::Unchanged(e)),
            Verdict::Refuse => {
                return Err(Error::InvalidTransition {
                    account: *a,
                    message_id: id.to_string(),
                    from: e.status,
                    to,
                }
                .into())
            }
            Verdict::Forward => {}
        }
        let from = e.message_status();
        if e.status == OutboxStatus::Queued {
            tx.remove(TreeId::OutboxDue, &keys::due(a, e.next_attempt_ms, id))?;
        }
        match ev {
            StatusEvent::ServerAck { server_t } => e.server_t = Some(server_t),
            StatusEvent::Rejected { code } => e.fail_code = Some(code),
            StatusEvent::Delivered { t } => e.delivered_t = Some(t),
            StatusEvent::Read { t } => e.read_t = Some(t),
        }
        e.status = to;
        e.updated_ms = now_ms;
        tx.insert(TreeId::Outbox, &k, encode(&records::outbox_to_pb(&e)))?;
        status_log::append_tx(tx, a, &e, e.message_status(), now_ms)?;
        Ok(StatusOutcome::Advanced { from, entry: e })
    })
}

//! The durable webhook queue and its dead-letter list (issue 12 item 1): two trees keyed by the
//! delivery's sequence number (u64 big-endian, so a scan is enqueue order), not per account (the
//! global receiver's queue spans accounts; logout and account deletion leave them: they are
//! the application's events). Moving a delivery between the trees is one transaction.

use crate::codec::{decode, encode};
use crate::engine::{Engine, TxError};
use crate::error::{Error, Result};
use crate::keys::TreeId;
use crate::types::webhook::WebhookDelivery;
use crate::webhook_records::{from_pb, to_pb};

fn key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Queues (or replaces, after a failed attempt) a delivery.
pub(super) fn put<E: Engine>(engine: &E, d: &WebhookDelivery) -> Result<()> {
    if d.receiver.is_empty() {
        return Err(Error::InvalidInput {
            what: "webhook receiver",
            reason: "empty",
        });
    }
    engine.insert(TreeId::WebhookQueue, &key(d.seq), encode(&to_pb(d)))
}

/// Removes a queued delivery (sent); whether it was queued.
pub(super) fn remove<E: Engine>(engine: &E, seq: u64) -> Result<bool> {
    let k = key(seq);
    engine.transact(|tx| {
        let found = tx.get(TreeId::WebhookQueue, &k)?.is_some();
        if found {
            tx.remove(TreeId::WebhookQueue, &k)?;
        }
        Ok(found)
    })
}

fn scan<E: Engine>(engine: &E, tree: TreeId, limit: usize) -> Result<Vec<WebhookDelivery>> {
    let mut out = Vec::new();
    engine.scan(tree, &[], &mut |k, v| {
        out.push(decode(tree, k, v, from_pb)?);
        Ok(out.len() < limit)
    })?;
    Ok(out)
}

/// Up to `limit` queued deliveries, in seq order.
pub(super) fn queued<E: Engine>(engine: &E, limit: usize) -> Result<Vec<WebhookDelivery>> {
    scan(engine, TreeId::WebhookQueue, limit)
}

/// Up to `limit` dead letters, in seq order.
pub(super) fn dead<E: Engine>(engine: &E, limit: usize) -> Result<Vec<WebhookDelivery>> {
    scan(engine, TreeId::WebhookDead, limit)
}

/// The highest seq in either tree (0 when both are empty).
pub(super) fn max_seq<E: Engine>(engine: &E) -> Result<u64> {
    let mut max = 0;
    for tree in [TreeId::WebhookQueue, TreeId::WebhookDead] {
        engine.scan(tree, &[], &mut |k, _| {
            if let Ok(b) = <[u8; 8]>::try_from(k) {
                max = max.max(u64::from_be_bytes(b));
            }
            Ok(true)
        })?;
    }
    Ok(max)
}

/// Gives a queued delivery up: it leaves the queue and joins the dead letters as `d` says (its
/// attempts and last error), in one transaction. Whether it was queued (a delivery removed
/// meanwhile is not resurrected).
pub(super) fn bury<E: Engine>(engine: &E, d: &WebhookDelivery) -> Result<bool> {
    let k = key(d.seq);
    let v = encode(&to_pb(d));
    engine.transact(|tx| {
        if tx.get(TreeId::WebhookQueue, &k)?.is_none() {
            return Ok(false);
        }
        tx.remove(TreeId::WebhookQueue, &k)?;
        tx.insert(TreeId::WebhookDead, &k, v.clone())?;
        Ok(true)
    })
}

/// Moves a dead letter back into the queue under `new_seq` (the end of its receiver's queue),
/// attempts reset, due at `now_ms`, in one transaction; the delivery as queued, or `None` when
/// there is no such dead letter.
pub(super) fn replay<E: Engine>(
    engine: &E,
    seq: u64,
    new_seq: u64,
    now_ms: u64,
) -> Result<Option<WebhookDelivery>> {
    let old = key(seq);
    let new = key(new_seq);
    engine.transact(|tx| {
        let Some(v) = tx.get(TreeId::WebhookDead, &old)? else {
            return Ok(None);
        };
        if tx.get(TreeId::WebhookQueue, &new)?.is_some() {
            return Err(TxError::Abort(Error::InvalidInput {
                what: "webhook seq",
                reason: "already queued",
            }));
        }
        let mut d = decode(TreeId::WebhookDead, &old, &v, from_pb).map_err(TxError::Abort)?;
        d.seq = new_seq;
        d.attempts = 0;
        d.next_attempt_ms = now_ms;
        d.enqueued_ms = now_ms;
        d.last_error.clear();
        tx.remove(TreeId::WebhookDead, &old)?;
        tx.insert(TreeId::WebhookQueue, &new, encode(&to_pb(&d)))?;
        Ok(Some(d))
    })
}

/// Drops a dead letter; whether there was one.
pub(super) fn discard<E: Engine>(engine: &E, seq: u64) -> Result<bool> {
    let k = key(seq);
    engine.transact(|tx| {
        let found = tx.get(TreeId::WebhookDead, &k)?.is_some();
        if found {
            tx.remove(TreeId::WebhookDead, &k)?;
        }
        Ok(found)
    })
}

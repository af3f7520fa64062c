//! Incoming messages: the dedup entry committed in one write set with the session advance, the
//! consumed one-time prekey, the sender identity and sender keys; and its bounded growth.
//!
//! Expiry rule: each account keeps its dedup entries in receive order (`received_order`, a seq
//! per entry, live range in `received_meta`). Committing an entry beyond
//! [`MAX_RECEIVED_PER_ACCOUNT`] drops the oldest in the same write set, and
//! `expire_received(before_ms)` drops every entry received before a time. The window only has to
//! cover what the server may deliver again (messages not yet acked, an offline batch).

use crate::engine::{Engine, TxResult, TxView};
use crate::error::{CorruptReason, Error, Result};
use crate::keys::{self, TreeId};
use crate::msg_records;
use crate::pb;
use crate::records::{decode, encode};
use crate::types::account_id::AccountId;
use crate::types::received::{
    PendingReport, ReceiveOutcome, ReceivedKey, ReceivedMessage, MAX_RECEIVED_PER_ACCOUNT,
};

use super::access::{check_message_id, opaque, tx_decode};
use super::signal::tx_save_identity;

pub(super) fn key(a: &AccountId, k: &ReceivedKey<'_>) -> Result<Vec<u8>> {
    check_message_id(k.id)?;
    keys::received(a, &k.chat.to_string(), &k.sender.to_string(), k.id)
}

pub(super) fn is_received<E: Engine>(
    engine: &E,
    a: &AccountId,
    k: &ReceivedKey<'_>,
) -> Result<bool> {
    let rk = key(a, k)?;
    match engine.get(TreeId::Received, &rk)? {
        // Decoded, so a damaged entry is reported rather than taken for a duplicate.
        Some(v) => decode(TreeId::Received, &rk, &v, |m: pb::Received| Ok(m.seq)).map(|_| true),
        None => Ok(false),
    }
}

fn tx_meta(tx: &dyn TxView, mk: &[u8]) -> TxResult<(u64, u64)> {
    match tx.get(TreeId::ReceivedMeta, mk)? {
        Some(v) => tx_decode(
            TreeId::ReceivedMeta,
            mk,
            &v,
            msg_records::received_meta_from_pb,
        ),
        None => Ok((0, 0)),
    }
}

/// Drops the oldest entry (`first`), if its order record is there.
fn tx_drop_oldest(tx: &dyn TxView, a: &AccountId, first: u64) -> TxResult<()> {
    let ok = keys::sequenced(a, first);
    if let Some(v) = tx.get(TreeId::ReceivedOrder, &ok)? {
        let o = tx_decode(TreeId::ReceivedOrder, &ok, &v, |m: pb::ReceivedOrder| Ok(m))?;
        let mut rk = a.as_bytes().to_vec();
        rk.extend_from_slice(&o.key);
        tx.remove(TreeId::Received, &rk)?;
        tx.remove(TreeId::ReceivedOrder, &ok)?;
    }
    Ok(())
}

/// The prepared writes of one received message (keys built and values encoded before the
/// transaction, whose closure may run more than once).
struct Prepared {
    rk: Vec<u8>,
    sessions: Vec<(Vec<u8>, Vec<u8>)>,
    sender_keys: Vec<(Vec<u8>, Vec<u8>)>,
    prekey: Option<(u32, Vec<u8>)>,
    identity: Option<Vec<u8>>,
    report: Option<Vec<u8>>,
}

fn prepare(a: &AccountId, m: &ReceivedMessage<'_>) -> Result<Prepared> {
    let mut sessions = Vec::with_capacity(m.sessions.len());
    for s in m.sessions {
        sessions.push((keys::named(a, "address", s.address)?, opaque(s.record)));
    }
    let mut sender_keys = Vec::with_capacity(m.sender_keys.len());
    for u in m.sender_keys {
        sender_keys.push((keys::sender_key(a, u.group, u.sender)?, opaque(u.record)));
    }
    Ok(Prepared {
        rk: key(a, &m.key)?,
        sessions,
        sender_keys,
        prekey: m.prekey_id.map(|id| (id, keys::numbered(a, id))),
        identity: match &m.identity {
            Some((address, _)) => Some(keys::named(a, "address", address)?),
            None => None,
        },
        report: m.report.map(|payload| {
            encode(&pb::PendingReport {
                chat: m.key.chat.to_string(),
                sender: m.key.sender.to_string(),
                id: m.key.id.to_string(),
                payload: payload.to_vec(),
                received_ms: m.now_ms,
            })
        }),
    })
}

/// Commits a decrypted message and its dedup entry in one write set, or reports a duplicate
/// (writing nothing).
pub(super) fn commit<E: Engine>(
    engine: &E,
    a: &AccountId,
    m: &ReceivedMessage<'_>,
) -> Result<ReceiveOutcome> {
    let p = prepare(a, m)?;
    let mk = keys::account(a);
    // What the transaction will probably find on disk: the (absent) dedup key, the prekey, and
    // the oldest order entry it may expire.
    let first = match engine.get(TreeId::ReceivedMeta, &mk)? {
        Some(v) => {
            decode(
                TreeId::ReceivedMeta,
                &mk,
                &v,
                msg_records::received_meta_from_pb,
            )?
            .0
        }
        None => 0,
    };
    let oldest = keys::sequenced(a, first);
    let mut prefetch: Vec<(TreeId, &[u8])> =
        vec![(TreeId::Received, &p.rk), (TreeId::ReceivedOrder, &oldest)];
    if let Some((_, pk)) = &p.prekey {
        prefetch.push((TreeId::PreKeys, pk));
    }
    engine.transact_prefetch(&prefetch, |tx| {
        if let Some(v) = tx.get(TreeId::Received, &p.rk)? {
            // Decoded, so a damaged entry is reported rather than taken for a duplicate.
            tx_decode(TreeId::Received, &p.rk, &v, |m: pb::Received| Ok(m.seq))?;
            return Ok(ReceiveOutcome::Duplicate);
        }
        if let Some((id, pk)) = &p.prekey {
            if tx.get(TreeId::PreKeys, pk)?.is_none() {
                return Err(Error::PreKeyNotFound {
                    account: *a,
                    id: *id,
                }
                .into());
            }
            tx.remove(TreeId::PreKeys, pk)?;
        }
        for (k, v) in &p.sessions {
            tx.insert(TreeId::Sessions, k, v.clone())?;
        }
        for (k, v) in &p.sender_keys {
            tx.insert(TreeId::SenderKeys, k, v.clone())?;
        }
        let identity = match (&p.identity, &m.identity) {
            (Some(ik), Some((_, key))) => Some(tx_save_identity(tx, ik, key)?),
            _ => None,
        };
        let seq = tx_record(tx, a, &mk, &p.rk, m)?;
        if let Some(v) = &p.report {
            tx.insert_new(TreeId::PendingReports, &keys::sequenced(a, seq), v.clone())?;
        }
        Ok(ReceiveOutcome::New { seq, identity })
    })
}

/// Writes the dedup entry and its order entry; drops the oldest beyond the bound.
fn tx_record(
    tx: &dyn TxView,
    a: &AccountId,
    mk: &[u8],
    rk: &[u8],
    m: &ReceivedMessage<'_>,
) -> TxResult<u64> {
    let (mut first, mut next) = tx_meta(tx, mk)?;
    let seq = next;
    next += 1;
    let rec = pb::Received {
        seq,
        t: m.t,
        received_ms: m.now_ms,
    };
    tx.insert_new(TreeId::Received, rk, encode(&rec))?;
    let order = pb::ReceivedOrder {
        key: rk[AccountId::LEN..].to_vec(),
        received_ms: m.now_ms,
    };
    tx.insert_new(
        TreeId::ReceivedOrder,
        &keys::sequenced(a, seq),
        encode(&order),
    )?;
    while next - first > MAX_RECEIVED_PER_ACCOUNT {
        tx_drop_oldest(tx, a, first)?;
        first += 1;
    }
    let meta = pb::ReceivedMeta {
        first_seq: first,
        next_seq: next,
    };
    tx.insert(TreeId::ReceivedMeta, mk, encode(&meta))?;
    Ok(seq)
}

/// Drops every dedup entry received before `before_ms`; how many.
pub(super) fn expire<E: Engine>(engine: &E, a: &AccountId, before_ms: u64) -> Result<u64> {
    let mk = keys::account(a);
    engine.transact(|tx| {
        let (mut first, next) = tx_meta(tx, &mk)?;
        let start = first;
        while first < next {
            let ok = keys::sequenced(a, first);
            if let Some(v) = tx.get(TreeId::ReceivedOrder, &ok)? {
                let at = tx_decode(TreeId::ReceivedOrder, &ok, &v, |m: pb::ReceivedOrder| {
                    Ok(m.received_ms)
                })?;
                if at >= before_ms {
                    break;
                }
            }
            tx_drop_oldest(tx, a, first)?;
            first += 1;
        }
        if first != start {
            let meta = pb::ReceivedMeta {
                first_seq: first,
                next_seq: next,
            };
            tx.insert(TreeId::ReceivedMeta, &mk, encode(&meta))?;
        }
        Ok(first - start)
    })
}

/// Up to `limit` pending reports, in receive order.
pub(super) fn pending<E: Engine>(
    engine: &E,
    a: &AccountId,
    limit: usize,
) -> Result<Vec<PendingReport>> {
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    engine.scan(TreeId::PendingReports, a.as_bytes(), &mut |k, v| {
        let seq = keys::key_seq(k).ok_or_else(|| {
            Error::corrupt(TreeId::PendingReports.name(), k, CorruptReason::BadKey)
        })?;
        out.push(decode(TreeId::PendingReports, k, v, |m| {
            msg_records::pending_report_from_pb(seq, m)
        })?);
        Ok(out.len() < limit)
    })?;
    Ok(out)
}

/// Drops a pending report once the application has it; whether it was pending.
pub(super) fn mark_reported<E: Engine>(engine: &E, a: &AccountId, seq: u64) -> Result<bool> {
    let k = keys::sequenced(a, seq);
    engine.transact(|tx| {
        let had = tx.get(TreeId::PendingReports, &k)?.is_some();
        if had {
            tx.remove(TreeId::PendingReports, &k)?;
        }
        Ok(had)
    })
}

//! One-time prekeys: generated in batches with 24-bit ids that roll over as
//! [`wa_protocol::signal::next_pre_key_id`] says, uploaded, consumed.

use rand_core::CryptoRngCore;
use wa_protocol::signal::keys::{next_pre_key_id, MAX_PRE_KEY_ID};
use wa_protocol::signal::{KeyPair, PublicKey};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::keys::{self, TreeId};
use crate::pb;
use crate::records::{self, decode, encode};
use crate::types::account_id::AccountId;
use crate::types::device::{OneTimePreKey, PreKeyCounts};

use super::access::tx_decode;

/// Most prekeys one call may generate.
const MAX_BATCH: u32 = 10_000;

/// Generates `count` prekeys under fresh ids (continuing after the last batch) and stores them
/// as not yet uploaded.
pub(super) fn add<E: Engine>(
    engine: &E,
    a: &AccountId,
    count: u32,
    mut rng: &mut dyn CryptoRngCore,
) -> Result<Vec<(u32, PublicKey)>> {
    if count == 0 || count > MAX_BATCH {
        return Err(Error::InvalidInput {
            what: "prekey count",
            reason: "must be 1 to 10000",
        });
    }
    // Randomness is drawn before the transaction, whose closure may run more than once.
    let pairs: Vec<KeyPair> = (0..count).map(|_| KeyPair::generate(&mut rng)).collect();
    let meta_key = keys::account(a);
    engine.transact(|tx| {
        let stored = match tx.get(TreeId::PreKeyMeta, &meta_key)? {
            Some(v) => tx_decode(TreeId::PreKeyMeta, &meta_key, &v, |m: pb::PreKeyMeta| {
                Ok(m.next_id)
            })?,
            None => 1,
        };
        // The stored id is the next to hand out; stores written before the shared rule may
        // hold 0 or 2^24 (one past the last id), where the rule starts over.
        let mut next = if (1..=MAX_PRE_KEY_ID).contains(&stored) {
            stored
        } else {
            next_pre_key_id(stored)
        };
        let mut ids = Vec::with_capacity(pairs.len());
        for kp in &pairs {
            let p = OneTimePreKey {
                id: next,
                key_pair: kp.clone(),
                uploaded: false,
            };
            tx.insert(
                TreeId::PreKeys,
                &keys::numbered(a, next),
                encode(&records::prekey_to_pb(&p)),
            )?;
            ids.push((next, kp.public));
            next = next_pre_key_id(next);
        }
        tx.insert(
            TreeId::PreKeyMeta,
            &meta_key,
            encode(&pb::PreKeyMeta { next_id: next }),
        )?;
        Ok(ids)
    })
}

/// Visits the account's prekeys in id order while `f` returns `true`.
fn scan<E: Engine>(
    engine: &E,
    a: &AccountId,
    f: &mut dyn FnMut(OneTimePreKey) -> bool,
) -> Result<()> {
    engine.scan(TreeId::PreKeys, a.as_bytes(), &mut |k, v| {
        let p = decode(TreeId::PreKeys, k, v, records::prekey_from_pb)?;
        Ok(f(p))
    })
}

/// Up to `limit` prekeys not yet uploaded, in id order.
pub(super) fn to_upload<E: Engine>(
    engine: &E,
    a: &AccountId,
    limit: usize,
) -> Result<Vec<OneTimePreKey>> {
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    scan(engine, a, &mut |p| {
        if !p.uploaded {
            out.push(p);
        }
        out.len() < limit
    })?;
    Ok(out)
}

pub(super) fn counts<E: Engine>(engine: &E, a: &AccountId) -> Result<PreKeyCounts> {
    let mut c = PreKeyCounts::default();
    scan(engine, a, &mut |p| {
        c.total += 1;
        c.uploaded += u32::from(p.uploaded);
        true
    })?;
    Ok(c)
}

pub(super) fn mark_uploaded<E: Engine>(engine: &E, a: &AccountId, ids: &[u32]) -> Result<()> {
    engine.transact(|tx| {
        for &id in ids {
            let k = keys::numbered(a, id);
            // A prekey consumed meanwhile is simply gone: nothing to mark.
            if let Some(v) = tx.get(TreeId::PreKeys, &k)? {
                let mut p = tx_decode(TreeId::PreKeys, &k, &v, records::prekey_from_pb)?;
                if !p.uploaded {
                    p.uploaded = true;
                    tx.insert(TreeId::PreKeys, &k, encode(&records::prekey_to_pb(&p)))?;
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::engine::MemEngine;

    fn stored_next(e: &MemEngine, a: &AccountId) -> u32 {
        let k = keys::account(a);
        let v = e.get(TreeId::PreKeyMeta, &k).expect("get").expect("meta");
        decode(
            TreeId::PreKeyMeta,
            &k,
            &v,
            |m: pb::PreKeyMeta| Ok(m.next_id),
        )
        .expect("decode")
    }

    #[test]
    fn ids_follow_the_protocol_rollover_rule() {
        let e = MemEngine::new();
        let a = AccountId::from_bytes([1; 16]);
        let mut rng = StdRng::seed_from_u64(1);
        // (stored next id, ids handed out): the last ids before the rollover, and what stores
        // written before the shared rule hold (0, or one past the last id after a rollover).
        let cases = [
            (MAX_PRE_KEY_ID - 1, [MAX_PRE_KEY_ID - 1, MAX_PRE_KEY_ID, 1]),
            (MAX_PRE_KEY_ID + 1, [1, 2, 3]),
            (0, [1, 2, 3]),
        ];
        for (stored, want) in cases {
            let k = keys::account(&a);
            e.insert(
                TreeId::PreKeyMeta,
                &k,
                encode(&pb::PreKeyMeta { next_id: stored }),
            )
            .expect("meta");
            let ids: Vec<u32> = add(&e, &a, 3, &mut rng)
                .expect("add")
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            assert_eq!(ids, want, "stored {stored}");
            assert_eq!(stored_next(&e, &a), next_pre_key_id(want[2]));
        }
    }
}

//! The directory of other users: cached device lists (messaging.md §4) and the PN ↔ LID map
//! (messaging.md §0, §16), one mapping stored under both keys and kept one-to-one.

use wa_protocol::binary::Jid;
use wa_protocol::ids::PhoneNumber;

use crate::engine::{Engine, TxResult, TxView};
use crate::error::{Error, Result};
use crate::keys::{self, TreeId};
use crate::msg_records::{self, is_lid_user};
use crate::records::{decode, encode};
use crate::types::account_id::AccountId;
use crate::types::directory::{DeviceList, LidChange, LidMapping};

use super::access::{load, tx_decode};

fn user_key(a: &AccountId, user: &Jid) -> Result<Vec<u8>> {
    keys::named(a, "user", &user.to_non_ad().to_string())
}

pub(super) fn pn_key(a: &AccountId, pn: &PhoneNumber) -> Result<Vec<u8>> {
    keys::named(a, "phone number", pn.as_str())
}

/// The key of a LID user (device part ignored); refuses anything but a `…@lid` user.
pub(super) fn lid_key(a: &AccountId, lid: &Jid) -> Result<Vec<u8>> {
    let user = lid.to_non_ad();
    if !is_lid_user(&user) {
        return Err(Error::InvalidInput {
            what: "lid",
            reason: "must be a digits@lid JID",
        });
    }
    keys::named(a, "lid", user.user_part())
}

/// Saves (replaces) a user's device list, keyed by the user without device part.
pub(super) fn save_device_list<E: Engine>(engine: &E, a: &AccountId, l: &DeviceList) -> Result<()> {
    let mut l = l.clone();
    l.user = l.user.to_non_ad();
    let k = user_key(a, &l.user)?;
    engine.insert(
        TreeId::DeviceLists,
        &k,
        encode(&msg_records::device_list_to_pb(&l)),
    )
}

pub(super) fn device_list<E: Engine>(
    engine: &E,
    a: &AccountId,
    user: &Jid,
) -> Result<Option<DeviceList>> {
    let k = user_key(a, user)?;
    load(
        engine,
        TreeId::DeviceLists,
        &k,
        msg_records::device_list_from_pb,
    )
}

/// Drops a cached device list; whether there was one.
pub(super) fn invalidate_device_list<E: Engine>(
    engine: &E,
    a: &AccountId,
    user: &Jid,
) -> Result<bool> {
    let k = user_key(a, user)?;
    engine.transact(|tx| {
        let had = tx.get(TreeId::DeviceLists, &k)?.is_some();
        if had {
            tx.remove(TreeId::DeviceLists, &k)?;
        }
        Ok(had)
    })
}

fn tx_mapping(tx: &dyn TxView, tree: TreeId, k: &[u8]) -> TxResult<Option<LidMapping>> {
    match tx.get(tree, k)? {
        Some(v) => Ok(Some(tx_decode(
            tree,
            k,
            &v,
            msg_records::lid_mapping_from_pb,
        )?)),
        None => Ok(None),
    }
}

/// Stores `pn ↔ lid` under both keys. A later mapping replaces an earlier one: the PN's old LID
/// and the LID's old PN lose their reverse entries, so the map stays one-to-one.
pub(super) fn save_lid_mapping<E: Engine>(
    engine: &E,
    a: &AccountId,
    m: &LidMapping,
) -> Result<LidChange> {
    let kp = pn_key(a, &m.pn)?;
    let kl = lid_key(a, &m.lid)?;
    let mut m = m.clone();
    m.lid = m.lid.to_non_ad();
    let v = encode(&msg_records::lid_mapping_to_pb(&m));
    engine.transact(|tx| {
        let by_pn = tx_mapping(tx, TreeId::LidByPn, &kp)?;
        let by_lid = tx_mapping(tx, TreeId::PnByLid, &kl)?;
        let same_lid = by_pn.as_ref().is_some_and(|o| o.lid == m.lid);
        let same_pn = by_lid.as_ref().is_some_and(|o| o.pn == m.pn);
        if same_lid && same_pn {
            return Ok(LidChange::Unchanged);
        }
        let previous_lid = by_pn.filter(|o| o.lid != m.lid).map(|o| o.lid);
        let previous_pn = by_lid.filter(|o| o.pn != m.pn).map(|o| o.pn);
        if let Some(old) = &previous_lid {
            tx.remove(TreeId::PnByLid, &lid_key(a, old)?)?;
        }
        if let Some(old) = &previous_pn {
            tx.remove(TreeId::LidByPn, &pn_key(a, old)?)?;
        }
        tx.insert(TreeId::LidByPn, &kp, v.clone())?;
        tx.insert(TreeId::PnByLid, &kl, v.clone())?;
        Ok(match (previous_lid, previous_pn) {
            (None, None) => LidChange::New,
            (previous_lid, previous_pn) => LidChange::Replaced {
                previous_lid,
                previous_pn,
            },
        })
    })
}

pub(super) fn lid_for_pn<E: Engine>(
    engine: &E,
    a: &AccountId,
    pn: &PhoneNumber,
) -> Result<Option<LidMapping>> {
    let k = pn_key(a, pn)?;
    load(
        engine,
        TreeId::LidByPn,
        &k,
        msg_records::lid_mapping_from_pb,
    )
}

pub(super) fn pn_for_lid<E: Engine>(
    engine: &E,
    a: &AccountId,
    lid: &Jid,
) -> Result<Option<LidMapping>> {
    let k = lid_key(a, lid)?;
    load(
        engine,
        TreeId::PnByLid,
        &k,
        msg_records::lid_mapping_from_pb,
    )
}

/// Every PN ↔ LID pair the account has learnt, in phone-number key order (the HTTP API's
/// contact list, CONTRACTS §A.6).
pub(super) fn lid_mappings<E: Engine>(engine: &E, a: &AccountId) -> Result<Vec<LidMapping>> {
    let mut out = Vec::new();
    engine.scan(TreeId::LidByPn, &keys::account(a), &mut |k, v| {
        out.push(decode(
            TreeId::LidByPn,
            k,
            v,
            msg_records::lid_mapping_from_pb,
        )?);
        Ok(true)
    })?;
    Ok(out)
}

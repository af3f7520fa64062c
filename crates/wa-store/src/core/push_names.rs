//! Push names (tree `push_names`, `crate::push_names`): one record per contact phone number,
//! replaced when the contact announces another name.

use wa_protocol::ids::PhoneNumber;

use crate::codec::{decode, encode};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::keys::{self, TreeId};
use crate::push_names::{push_name_from_pb, push_name_to_pb};
use crate::types::account_id::AccountId;
use crate::types::push_name::{PushName, MAX_PUSH_NAME};

fn key(a: &AccountId, pn: &PhoneNumber) -> Result<Vec<u8>> {
    keys::named(a, "phone number", pn.as_str())
}

/// Stores `p` unless the same name is stored already; whether it wrote.
pub(super) fn save<E: Engine>(engine: &E, a: &AccountId, p: &PushName) -> Result<bool> {
    if p.name.is_empty() || p.name.len() > MAX_PUSH_NAME {
        return Err(Error::InvalidInput {
            what: "push name",
            reason: "empty or longer than 256 bytes",
        });
    }
    let k = key(a, &p.pn)?;
    let v = encode(&push_name_to_pb(p));
    let suffix = p.pn.as_str().as_bytes().to_vec();
    engine.transact(|tx| {
        let same = match tx.get(TreeId::PushNames, &k)? {
            Some(old) => {
                decode(TreeId::PushNames, &k, &old, |m| {
                    push_name_from_pb(&suffix, m)
                })?
                .name
                    == p.name
            }
            None => false,
        };
        if !same {
            tx.insert(TreeId::PushNames, &k, v.clone())?;
        }
        Ok(!same)
    })
}

/// The push name of `pn`, if one was learnt.
pub(super) fn get<E: Engine>(
    engine: &E,
    a: &AccountId,
    pn: &PhoneNumber,
) -> Result<Option<PushName>> {
    let k = key(a, pn)?;
    let suffix = pn.as_str().as_bytes();
    engine
        .get(TreeId::PushNames, &k)?
        .map(|v| decode(TreeId::PushNames, &k, &v, |m| push_name_from_pb(suffix, m)))
        .transpose()
}

/// Every push name of the account, in phone-number key order.
pub(super) fn all<E: Engine>(engine: &E, a: &AccountId) -> Result<Vec<PushName>> {
    let mut out = Vec::new();
    engine.scan(TreeId::PushNames, &keys::account(a), &mut |k, v| {
        let suffix = k.get(AccountId::LEN..).unwrap_or_default();
        out.push(decode(TreeId::PushNames, k, v, |m| {
            push_name_from_pb(suffix, m)
        })?);
        Ok(true)
    })?;
    Ok(out)
}

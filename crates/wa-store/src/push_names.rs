//! Push-name records (tree `push_names`): a contact's display name as its messages' `notify`
//! attribute announced it (`messaging.md` §10), keyed by account ‖ phone number; conversions
//! between `proto/store.proto`'s `PushName` and [`PushName`], and their part of
//! `check()`/`import()` verification.

use crate::codec::{decode, Field};
use crate::error::{CorruptReason, Error, Result};
use crate::keys::TreeId;
use crate::pb;
use crate::types::account_id::AccountId;
use crate::types::push_name::{PushName, MAX_PUSH_NAME};

pub(crate) fn push_name_to_pb(p: &PushName) -> pb::PushName {
    pb::PushName {
        name: p.name.clone(),
        learnt_ms: p.learnt_ms,
    }
}

/// The record stored under the phone number `pn` (the key's suffix).
pub(crate) fn push_name_from_pb(pn: &[u8], m: pb::PushName) -> Field<PushName> {
    let pn = std::str::from_utf8(pn)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(CorruptReason::BadKey)?;
    if m.name.is_empty() || m.name.len() > MAX_PUSH_NAME {
        return Err(CorruptReason::BadField("name"));
    }
    Ok(PushName {
        pn,
        name: m.name,
        learnt_ms: m.learnt_ms,
    })
}

/// Checks one stored entry: a phone number after the account id, a name of 1 to
/// [`MAX_PUSH_NAME`] bytes.
pub(crate) fn verify_entry(tree: TreeId, key: &[u8], value: &[u8]) -> Result<()> {
    let suffix = key
        .get(AccountId::LEN..)
        .ok_or_else(|| Error::corrupt(tree.name(), key, CorruptReason::BadKey))?;
    decode(tree, key, value, |m| push_name_from_pb(suffix, m)).map(drop)
}

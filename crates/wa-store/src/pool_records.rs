//! Records of the issue-12 trees `pools` and `default_session`: conversions that check every
//! field, and the entry check `check()` and `import()` run.

use crate::codec::{decode, Field};
use crate::error::{CorruptReason, Error, Result};
use crate::keys::{TreeId, DEFAULT_SESSION_KEY};
use crate::pb;
use crate::types::account_id::AccountId;
use crate::types::pool::{pool_name_ok, Pool};
use crate::types::secret::Secret;

pub(crate) fn pool_to_pb(p: &Pool) -> pb::Pool {
    pb::Pool {
        name: p.name.clone(),
        token: p.token.expose().clone(),
        members: p.members.iter().map(|m| m.as_bytes().to_vec()).collect(),
        description: p.description.clone(),
        created_ms: p.created_ms,
        updated_ms: p.updated_ms,
    }
}

pub(crate) fn pool_from_pb(p: pb::Pool) -> Field<Pool> {
    if !pool_name_ok(&p.name) {
        return Err(CorruptReason::BadField("name"));
    }
    if p.token.is_empty() {
        return Err(CorruptReason::BadField("token"));
    }
    let mut members = Vec::with_capacity(p.members.len());
    for m in &p.members {
        let id = AccountId::from_slice(m).ok_or(CorruptReason::BadField("members"))?;
        if members.contains(&id) {
            return Err(CorruptReason::BadField("members"));
        }
        members.push(id);
    }
    Ok(Pool {
        name: p.name,
        token: Secret::new(p.token),
        members,
        description: p.description,
        created_ms: p.created_ms,
        updated_ms: p.updated_ms,
    })
}

pub(crate) fn default_from_pb(m: pb::DefaultSession) -> Field<AccountId> {
    AccountId::from_slice(&m.account_id).ok_or(CorruptReason::BadField("account_id"))
}

/// Checks one entry of `pools` (the name is the key) or `default_session` (one key).
pub(crate) fn verify_entry(tree: TreeId, key: &[u8], value: &[u8]) -> Result<()> {
    let inconsistent = |what| Error::corrupt(tree.name(), key, CorruptReason::Inconsistent(what));
    match tree {
        TreeId::DefaultSession => {
            if key != DEFAULT_SESSION_KEY {
                return Err(Error::corrupt(tree.name(), key, CorruptReason::BadKey));
            }
            decode(tree, key, value, default_from_pb)?;
        }
        _ => {
            let pool = decode(tree, key, value, pool_from_pb)?;
            if pool.name.as_bytes() != key {
                return Err(inconsistent("pool name differs from its key"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::pb;
    use crate::records::account_from_pb;

    /// An account record written before issue 12 (no fields 16–18) reads active, with no
    /// description or country code.
    #[test]
    fn old_account_records_read_with_defaults() {
        let old = pb::Account {
            id: vec![1; 16],
            name: "old".into(),
            token: "t".into(),
            s3: Some(pb::S3Config::default()),
            ..pb::Account::default()
        };
        assert_eq!(old.active, None);
        let a = account_from_pb(old).expect("decodes");
        assert!(a.active);
        assert!(a.description.is_empty() && a.country_code.is_empty());
    }
}

//! Session pools and the default session (issue 12): trees `pools` (key: the pool's name) and
//! `default_session` (one key). A pool's token is unique among pools and never an account's
//! token; its members are existing accounts. The default names an existing account when set;
//! deleting that account clears it.

use crate::engine::{Engine, Live, TxView};
use crate::error::{Error, Result};
use crate::keys::{self, TreeId, DEFAULT_SESSION_KEY};
use crate::pb;
use crate::pool_records::{default_from_pb, pool_from_pb, pool_to_pb};
use crate::records::{decode, encode};
use crate::types::account_id::AccountId;
use crate::types::pool::{pool_name_ok, Pool};

use super::access::load;
use super::accounts::account_in;

fn check_pool(pool: &Pool) -> Result<()> {
    if !pool_name_ok(&pool.name) {
        return Err(Error::InvalidInput {
            what: "pool name",
            reason: "must be 1 to 64 ASCII letters, digits, '-', '_' or '.'",
        });
    }
    if pool.token.expose().is_empty() {
        return Err(Error::InvalidInput {
            what: "pool token",
            reason: "empty",
        });
    }
    for (i, m) in pool.members.iter().enumerate() {
        if pool.members[..i].contains(m) {
            return Err(Error::InvalidInput {
                what: "pool members",
                reason: "an account is listed twice",
            });
        }
    }
    Ok(())
}

/// Whether another pool than `name` holds `token` (pools are few: a scan).
fn token_held_by_other_pool<E: Engine>(engine: &E, name: &str, token: &str) -> Result<bool> {
    Ok(all(engine)?
        .iter()
        .any(|p| p.name != name && p.token.expose() == token))
}

fn tx_members_exist(tx: &dyn TxView, pool: &Pool) -> crate::engine::TxResult<()> {
    for m in &pool.members {
        if tx.get(TreeId::Accounts, &keys::account(m))?.is_none() {
            return Err(Error::AccountNotFound(*m).into());
        }
    }
    Ok(())
}

/// Creates (`create`) or replaces an existing pool.
pub(super) fn save<E: Engine>(engine: &E, pool: &Pool, create: bool) -> Result<()> {
    check_pool(pool)?;
    let tk = keys::token(pool.token.expose())?;
    if token_held_by_other_pool(engine, &pool.name, pool.token.expose())? {
        return Err(Error::TokenTaken);
    }
    let key = pool.name.as_bytes().to_vec();
    let v = encode(&pool_to_pb(pool));
    engine.transact(|tx| {
        let exists = tx.get(TreeId::Pools, &key)?.is_some();
        match (create, exists) {
            (true, true) => return Err(Error::PoolExists(pool.name.clone()).into()),
            (false, false) => return Err(Error::PoolNotFound(pool.name.clone()).into()),
            _ => {}
        }
        if tx.get(TreeId::Tokens, &tk)?.is_some() {
            return Err(Error::TokenTaken.into());
        }
        tx_members_exist(tx, pool)?;
        tx.insert(TreeId::Pools, &key, v.clone())?;
        Ok(())
    })
}

pub(super) fn get<E: Engine>(engine: &E, name: &str) -> Result<Option<Pool>> {
    if !pool_name_ok(name) {
        return Ok(None);
    }
    load(engine, TreeId::Pools, name.as_bytes(), pool_from_pb)
}

pub(super) fn all<E: Engine>(engine: &E) -> Result<Vec<Pool>> {
    let mut out = Vec::new();
    engine.scan(TreeId::Pools, &[], &mut |k, v| {
        out.push(decode(TreeId::Pools, k, v, pool_from_pb)?);
        Ok(true)
    })?;
    Ok(out)
}

pub(super) fn by_token<E: Engine>(engine: &E, token: &str) -> Result<Option<Pool>> {
    if token.is_empty() {
        return Ok(None);
    }
    Ok(all(engine)?.into_iter().find(|p| p.token.expose() == token))
}

pub(super) fn delete<E: Engine>(engine: &E, name: &str) -> Result<bool> {
    if !pool_name_ok(name) {
        return Ok(false);
    }
    let key = name.as_bytes().to_vec();
    engine.transact(|tx| {
        let existed = tx.get(TreeId::Pools, &key)?.is_some();
        if existed {
            tx.remove(TreeId::Pools, &key)?;
        }
        Ok(existed)
    })
}

pub(super) fn set_default<E: Engine>(engine: &E, account: Option<&AccountId>) -> Result<()> {
    let Some(a) = account else {
        return engine.remove(TreeId::DefaultSession, DEFAULT_SESSION_KEY);
    };
    let v = encode(&pb::DefaultSession {
        account_id: a.as_bytes().to_vec(),
    });
    engine.transact(|tx| {
        if tx.get(TreeId::Accounts, &keys::account(a))?.is_none() {
            return Err(Error::AccountNotFound(*a).into());
        }
        tx.insert(TreeId::DefaultSession, DEFAULT_SESSION_KEY, v.clone())?;
        Ok(())
    })
}

/// The default session's account, if set and the account still exists.
pub(super) fn default_account<E: Engine>(engine: &E) -> Result<Option<AccountId>> {
    let Some(id) = load(
        engine,
        TreeId::DefaultSession,
        DEFAULT_SESSION_KEY,
        default_from_pb,
    )?
    else {
        return Ok(None);
    };
    Ok(account_in(&Live(engine), &id)?.map(|_| id))
}

//! Gateway accounts and their token index; logout and account deletion.

use crate::engine::{Engine, Live, ReadView, TxResult, TxView};
use crate::error::{CorruptReason, Error, Result};
use crate::keys::{self, TreeId};
use crate::pb;
use crate::records::{self, decode, encode};
use crate::types::account::Account;
use crate::types::account_id::AccountId;

use super::access::{keys_with_prefix, tx_decode};

fn token_owner(m: pb::TokenOwner) -> std::result::Result<AccountId, CorruptReason> {
    AccountId::from_slice(&m.account_id).ok_or(CorruptReason::BadField("account_id"))
}

/// The account record of `a` as `view` sees it.
pub(super) fn account_in(view: &dyn ReadView, a: &AccountId) -> Result<Option<Account>> {
    let k = keys::account(a);
    view.get(TreeId::Accounts, &k)?
        .map(|v| decode(TreeId::Accounts, &k, &v, records::account_from_pb))
        .transpose()
}

fn tx_account(tx: &dyn TxView, a: &AccountId) -> TxResult<Option<Account>> {
    let k = keys::account(a);
    match tx.get(TreeId::Accounts, &k)? {
        Some(v) => Ok(Some(tx_decode(
            TreeId::Accounts,
            &k,
            &v,
            records::account_from_pb,
        )?)),
        None => Ok(None),
    }
}

fn tx_claim_token(tx: &dyn TxView, tk: &[u8], owner: &AccountId) -> TxResult<()> {
    if let Some(v) = tx.get(TreeId::Tokens, tk)? {
        let cur = tx_decode(TreeId::Tokens, tk, &v, token_owner)?;
        if cur != *owner {
            return Err(Error::TokenTaken.into());
        }
    }
    let v = encode(&pb::TokenOwner {
        account_id: owner.as_bytes().to_vec(),
    });
    tx.insert(TreeId::Tokens, tk, v)?;
    Ok(())
}

pub(super) fn create<E: Engine>(engine: &E, acc: &Account) -> Result<()> {
    let tk = keys::token(acc.token.expose())?;
    let v = encode(&records::account_to_pb(acc));
    engine.transact(|tx| {
        if tx_account(tx, &acc.id)?.is_some() {
            return Err(Error::AccountExists(acc.id).into());
        }
        tx_claim_token(tx, &tk, &acc.id)?;
        tx.insert(TreeId::Accounts, &keys::account(&acc.id), v.clone())?;
        Ok(())
    })
}

pub(super) fn update<E: Engine>(engine: &E, acc: &Account) -> Result<()> {
    let tk = keys::token(acc.token.expose())?;
    let v = encode(&records::account_to_pb(acc));
    engine.transact(|tx| {
        let old = tx_account(tx, &acc.id)?.ok_or(Error::AccountNotFound(acc.id))?;
        if old.token != acc.token {
            tx_claim_token(tx, &tk, &acc.id)?;
            tx.remove(TreeId::Tokens, &keys::token(old.token.expose())?)?;
        }
        tx.insert(TreeId::Accounts, &keys::account(&acc.id), v.clone())?;
        Ok(())
    })
}

pub(super) fn by_token<E: Engine>(engine: &E, token: &str) -> Result<Option<Account>> {
    let Ok(tk) = keys::token(token) else {
        return Ok(None);
    };
    let Some(v) = engine.get(TreeId::Tokens, &tk)? else {
        return Ok(None);
    };
    let id = decode(TreeId::Tokens, &tk, &v, token_owner)?;
    // Double-check the owner still holds this token (the index is updated atomically, so a
    // mismatch means corruption; report nothing rather than the wrong account).
    Ok(account_in(&Live(engine), &id)?.filter(|acc| acc.token.expose() == token))
}

pub(super) fn all<E: Engine>(engine: &E) -> Result<Vec<Account>> {
    let mut out = Vec::new();
    engine.scan(TreeId::Accounts, &[], &mut |k, v| {
        out.push(decode(TreeId::Accounts, k, v, records::account_from_pb)?);
        Ok(true)
    })?;
    Ok(out)
}

/// Removes every key of `trees` under the account's prefix (plus `extra` keys) atomically.
pub(super) fn wipe<E: Engine>(
    engine: &E,
    a: &AccountId,
    trees: &[TreeId],
    extra: &[(TreeId, Vec<u8>)],
) -> Result<()> {
    let mut doomed: Vec<(TreeId, Vec<u8>)> = extra.to_vec();
    for &t in trees {
        for k in keys_with_prefix(engine, t, a.as_bytes())? {
            doomed.push((t, k));
        }
    }
    engine.transact(|tx| {
        for (t, k) in &doomed {
            tx.remove(*t, k)?;
        }
        Ok(())
    })
}

/// Removes the account with its token, outbox, device identity and Signal state.
pub(super) fn delete<E: Engine>(engine: &E, a: &AccountId) -> Result<()> {
    let acc = account_in(&Live(engine), a)?.ok_or(Error::AccountNotFound(*a))?;
    let tk = keys::token(acc.token.expose())?;
    let mut extra = vec![(TreeId::Tokens, tk)];
    // Issue 12: the default session goes with its account.
    if is_default(engine, a)? {
        extra.push((TreeId::DefaultSession, keys::DEFAULT_SESSION_KEY.to_vec()));
    }
    let mut trees = TreeId::DEVICE_STATE.to_vec();
    trees.extend([
        TreeId::Accounts,
        TreeId::Outbox,
        TreeId::OutboxDue,
        TreeId::PendingReports,
        TreeId::ReceivedMeta,
        TreeId::StatusLog,
    ]);
    wipe(engine, a, &trees, &extra)
}

/// Whether the stored default session names `a` (account deletion clears it).
fn is_default<E: Engine>(engine: &E, a: &AccountId) -> Result<bool> {
    let stored = super::access::load(
        engine,
        TreeId::DefaultSession,
        keys::DEFAULT_SESSION_KEY,
        crate::pool_records::default_from_pb,
    )?;
    Ok(stored == Some(*a))
}

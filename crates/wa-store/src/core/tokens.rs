//! Privacy (trusted-contact) tokens per contact LID, and when we last issued ours
//! (messaging.md §16).

use wa_protocol::binary::Jid;

use crate::engine::Engine;
use crate::error::Result;
use crate::keys::TreeId;
use crate::msg_records;
use crate::pb;
use crate::records::encode;
use crate::types::account_id::AccountId;
use crate::types::directory::PrivacyToken;

use super::access::{load, tx_decode};
use super::directory::lid_key;

/// Stores a contact's token unless the stored one is newer (notifications may arrive out of
/// order); whether it was stored.
pub(super) fn save<E: Engine>(
    engine: &E,
    a: &AccountId,
    lid: &Jid,
    t: &PrivacyToken,
) -> Result<bool> {
    let k = lid_key(a, lid)?;
    if t.token.is_empty() {
        return Err(crate::error::Error::InvalidInput {
            what: "privacy token",
            reason: "empty",
        });
    }
    let v = encode(&msg_records::privacy_token_to_pb(t));
    engine.transact(|tx| {
        if let Some(old) = tx.get(TreeId::PrivacyTokens, &k)? {
            let old = tx_decode(
                TreeId::PrivacyTokens,
                &k,
                &old,
                msg_records::privacy_token_from_pb,
            )?;
            if old.t > t.t {
                return Ok(false);
            }
        }
        tx.insert(TreeId::PrivacyTokens, &k, v.clone())?;
        Ok(true)
    })
}

pub(super) fn get<E: Engine>(engine: &E, a: &AccountId, lid: &Jid) -> Result<Option<PrivacyToken>> {
    let k = lid_key(a, lid)?;
    load(
        engine,
        TreeId::PrivacyTokens,
        &k,
        msg_records::privacy_token_from_pb,
    )
}

pub(super) fn delete<E: Engine>(engine: &E, a: &AccountId, lid: &Jid) -> Result<()> {
    engine.remove(TreeId::PrivacyTokens, &lid_key(a, lid)?)
}

/// Records that we issued our token to `lid` at `t_secs` (never moves back in time).
pub(super) fn record_issued<E: Engine>(
    engine: &E,
    a: &AccountId,
    lid: &Jid,
    t_secs: u64,
) -> Result<()> {
    let k = lid_key(a, lid)?;
    let v = encode(&pb::TokenIssued { t: t_secs });
    engine.transact(|tx| {
        if let Some(old) = tx.get(TreeId::TokensIssued, &k)? {
            let old = tx_decode(TreeId::TokensIssued, &k, &old, |m: pb::TokenIssued| Ok(m.t))?;
            if old > t_secs {
                return Ok(());
            }
        }
        tx.insert(TreeId::TokensIssued, &k, v.clone())?;
        Ok(())
    })
}

pub(super) fn issued<E: Engine>(engine: &E, a: &AccountId, lid: &Jid) -> Result<Option<u64>> {
    let k = lid_key(a, lid)?;
    load(engine, TreeId::TokensIssued, &k, |m: pb::TokenIssued| {
        Ok(m.t)
    })
}

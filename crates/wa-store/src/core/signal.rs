//! Signal state: peer identities (trust on first use), and the incoming-session commit.

use wa_protocol::signal::PublicKey;

use crate::engine::{Engine, TxResult, TxView};
use crate::error::{Error, Result};
use crate::keys::{self, TreeId};
use crate::pb;
use crate::records::{self, encode};
use crate::types::account_id::AccountId;
use crate::types::signal::{IdentityChange, IncomingSession};

use super::access::{opaque, tx_decode};

/// Stores `identity` under `key`, reporting whether it is new, unchanged or replaced another.
pub(super) fn tx_save_identity(
    tx: &dyn TxView,
    key: &[u8],
    identity: &PublicKey,
) -> TxResult<IdentityChange> {
    let old = match tx.get(TreeId::Identities, key)? {
        Some(v) => Some(tx_decode(
            TreeId::Identities,
            key,
            &v,
            records::identity_from_pb,
        )?),
        None => None,
    };
    let change = match old {
        None => IdentityChange::New,
        Some(p) if p == *identity => return Ok(IdentityChange::Unchanged),
        Some(previous) => IdentityChange::Changed { previous },
    };
    let v = encode(&pb::PeerIdentity {
        public_key: identity.as_bytes().to_vec(),
    });
    tx.insert(TreeId::Identities, key, v)?;
    Ok(change)
}

/// Consumes the one-time prekey, saves the session and records the identity, atomically.
pub(super) fn commit_incoming<E: Engine>(
    engine: &E,
    a: &AccountId,
    inc: &IncomingSession<'_>,
) -> Result<Option<IdentityChange>> {
    let sk = keys::named(a, "address", inc.session.address)?;
    let value = opaque(inc.session.record);
    let pk = inc.prekey_id.map(|id| keys::numbered(a, id));
    let prefetch: Vec<(TreeId, &[u8])> =
        pk.iter().map(|k| (TreeId::PreKeys, k.as_slice())).collect();
    engine.transact_prefetch(&prefetch, |tx| {
        if let (Some(id), Some(pk)) = (inc.prekey_id, &pk) {
            if tx.get(TreeId::PreKeys, pk)?.is_none() {
                return Err(Error::PreKeyNotFound { account: *a, id }.into());
            }
            tx.remove(TreeId::PreKeys, pk)?;
        }
        tx.insert(TreeId::Sessions, &sk, value.clone())?;
        match &inc.identity {
            Some(ik) => Ok(Some(tx_save_identity(tx, &sk, ik)?)),
            None => Ok(None),
        }
    })
}

/// The remote addresses that have a session, in key order.
pub(super) fn session_addresses<E: Engine>(engine: &E, a: &AccountId) -> Result<Vec<String>> {
    let mut out = Vec::new();
    engine.scan(TreeId::Sessions, a.as_bytes(), &mut |k, _| {
        let name = &k[AccountId::LEN..];
        out.push(String::from_utf8_lossy(name).into_owned());
        Ok(true)
    })?;
    Ok(out)
}

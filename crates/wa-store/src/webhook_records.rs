//! The webhook delivery record (tree `webhook_queue` and `webhook_dead`, `proto/store.proto`
//! `WebhookDelivery`): conversion and the entry check shared by `check()` and `import()`.

use crate::codec::decode;
use crate::error::{CorruptReason, Error, Result};
use crate::keys::TreeId;
use crate::pb;
use crate::types::account_id::AccountId;
use crate::types::webhook::WebhookDelivery;

/// The stored form of a delivery.
pub(crate) fn to_pb(d: &WebhookDelivery) -> pb::WebhookDelivery {
    pb::WebhookDelivery {
        seq: d.seq,
        receiver: d.receiver.clone(),
        account_id: d.account.map(|a| a.as_bytes().to_vec()).unwrap_or_default(),
        kind: d.kind.clone(),
        content_type: d.content_type.clone(),
        body: d.body.clone(),
        signature: d.signature.clone().unwrap_or_default(),
        attempts: d.attempts,
        next_attempt_ms: d.next_attempt_ms,
        enqueued_ms: d.enqueued_ms,
        last_error: d.last_error.clone(),
    }
}

/// Decodes a stored delivery.
pub(crate) fn from_pb(
    m: pb::WebhookDelivery,
) -> std::result::Result<WebhookDelivery, CorruptReason> {
    let account = if m.account_id.is_empty() {
        None
    } else {
        Some(AccountId::from_slice(&m.account_id).ok_or(CorruptReason::BadField("account_id"))?)
    };
    if m.receiver.is_empty() {
        return Err(CorruptReason::BadField("receiver"));
    }
    Ok(WebhookDelivery {
        seq: m.seq,
        receiver: m.receiver,
        account,
        kind: m.kind,
        content_type: m.content_type,
        body: m.body,
        signature: (!m.signature.is_empty()).then_some(m.signature),
        attempts: m.attempts,
        next_attempt_ms: m.next_attempt_ms,
        enqueued_ms: m.enqueued_ms,
        last_error: m.last_error,
    })
}

/// Checks one entry of either tree (`check`, `import`): an 8-byte key equal to the record's seq.
pub(crate) fn verify(tree: TreeId, k: &[u8], v: &[u8]) -> Result<()> {
    let seq = <[u8; 8]>::try_from(k)
        .map(u64::from_be_bytes)
        .map_err(|_| Error::corrupt(tree.name(), k, CorruptReason::BadKey))?;
    let d = decode(tree, k, v, from_pb)?;
    if d.seq != seq {
        return Err(Error::corrupt(
            tree.name(),
            k,
            CorruptReason::Inconsistent("delivery seq differs from its key"),
        ));
    }
    Ok(())
}

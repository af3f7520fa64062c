//! The receiver's side of retry receipts (`messaging.md` §11): a message we cannot decrypt is
//! acked and answered with `<receipt type="retry">` so the sender encrypts it again for us.
//!
//! ```text
//! decrypt fails → failure_action = RetryReceipt(reason)
//!   count = next_retry_count(None, <enc count>)       (a resend's count N continues at N+1)
//!   count ≥ 2 → a fresh one-time prekey: add_prekeys(1) + mark uploaded, in the same store
//!               job, so it is durable before the receipt (queued behind that job) leaves
//!   <receipt id to type="retry" [participant] [recipient] [category="peer"]>
//!     <retry count id t v="1" error/> <registration/> [<keys>…</keys>]
//! ```
//!
//! The count needs no state of our own: the first failure asks with 1 (no keys: the sender
//! may still hold a good session), the resend carries `count`, and a second failure asks with
//! 2 and our keys, from which the sender starts a new session (a `pkmsg` that consumes the
//! fresh prekey). Past [`MAX_RETRY_COUNT`](wa_protocol::message::retry::MAX_RETRY_COUNT) we
//! stop asking.

use wa_protocol::message::retry::{next_retry_count, retry_includes_keys, RetryReason};
use wa_protocol::signal::keys::PreKey;
use wa_protocol::stanza::{
    Enc, MessageStanza, Receipt, ReceiptType, RetryInfo, RetryKeys, UploadedPreKey,
    UploadedSignedPreKey,
};
use wa_store::{AccountId, Durability, Store};

use super::keys::Keys;

/// `<retry v>` (§11).
const RETRY_VERSION: u8 = 1;

/// The retry receipt for `msg`, whose `enc` failed for `reason`; `None` once the count limit
/// is reached. With keys, the fresh prekey is stored (marked uploaded) first.
pub(crate) fn retry_receipt(
    store: &dyn Store,
    account: AccountId,
    keys: &Keys,
    msg: &MessageStanza,
    enc: &Enc,
    reason: RetryReason,
    now_secs: u64,
) -> wa_store::Result<Option<Receipt>> {
    let Some(count) = next_retry_count(None, enc.count.map(u32::from)) else {
        tracing::warn!(account = %account, id = %msg.id.as_str(), "retry limit reached");
        return Ok(None);
    };
    let Ok(mut receipt) = Receipt::for_message(msg, ReceiptType::Retry) else {
        return Ok(None);
    };
    let with_keys = if retry_includes_keys(count, false) {
        Some(fresh_keys(store, account, keys)?)
    } else {
        None
    };
    receipt.peer = msg.peer;
    receipt.retry = Some(RetryInfo {
        count: u8::try_from(count).unwrap_or(u8::MAX),
        id: msg.id.clone(),
        t: msg.t.unwrap_or(now_secs),
        v: RETRY_VERSION,
        error: Some(u16::from(reason.code())),
        registration_id: keys.local.registration_id,
        keys: with_keys,
    });
    Ok(Some(receipt))
}

/// A new one-time prekey, stored and marked uploaded (the sender gets it from the receipt, not
/// the server), and the `<keys>` that offer it with our identity and signed prekey.
fn fresh_keys(store: &dyn Store, account: AccountId, keys: &Keys) -> wa_store::Result<RetryKeys> {
    let mut rng = rand::rngs::OsRng;
    let added = store.add_prekeys(&account, 1, &mut rng, Durability::Buffered)?;
    let ids: Vec<u32> = added.iter().map(|(id, _)| *id).collect();
    store.mark_prekeys_uploaded(&account, &ids, Durability::Buffered)?;
    let pre_key = match added.first() {
        Some(&(id, _)) => store.load_prekey(&account, id)?.map(|k| PreKey {
            id: k.id,
            key_pair: k.key_pair,
        }),
        None => None,
    };
    let device_identity = store.device(&account)?.and_then(|d| d.adv_signed_identity);
    Ok(RetryKeys {
        identity: *keys.local.public_key(),
        prekey: pre_key.map(|k| UploadedPreKey {
            id: k.id,
            public: k.key_pair.public,
        }),
        signed: UploadedSignedPreKey {
            id: keys.signed.id,
            public: keys.signed.key_pair.public,
            signature: keys.signed.signature,
        },
        device_identity,
    })
}

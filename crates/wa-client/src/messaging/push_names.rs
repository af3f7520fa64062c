//! Push names learnt from received messages: the `notify` attribute a message arrives with
//! (`messaging.md` §10) is its sender's display name. Kept per contact phone number in the
//! store (`Store::save_push_name`, written with the receive job's batch), so `user/contacts`
//! shows it after a restart.

use wa_protocol::PhoneNumber;
use wa_store::{AccountId, Durability, PushName, Store, MAX_PUSH_NAME};

use super::types::Sender;

/// Saves `notify` as the push name of `sender`'s phone number (when both are known and the
/// name fits); the same name stored already writes nothing. A store failure is logged: the
/// message itself is committed regardless.
pub(crate) fn learn(
    store: &dyn Store,
    account: AccountId,
    sender: &Sender,
    notify: Option<&str>,
    now_ms: u64,
) {
    let name = notify.filter(|n| !n.trim().is_empty() && n.len() <= MAX_PUSH_NAME);
    let pn = sender.phone.as_ref().and_then(PhoneNumber::from_jid);
    let (Some(name), Some(pn)) = (name, pn) else {
        return;
    };
    let record = PushName {
        pn,
        name: name.to_owned(),
        learnt_ms: now_ms,
    };
    if let Err(error) = store.save_push_name(&account, &record, Durability::Buffered) {
        tracing::warn!(account = %account, %error, "cannot save a push name");
    }
}

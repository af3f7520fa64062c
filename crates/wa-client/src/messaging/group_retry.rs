//! Answering a group member's retry receipt (`messaging.md` §11, sender side, group form):
//!
//! ```text
//! <receipt type="retry" from=<group> participant=<device>> ─▶ the outbox entry (chat = group)
//!   ─▶ RetryLog::decide (once per count) ─▶ session: <keys> | fresh bundle | the one we have
//!   ─▶ under the send lock: the stored padded Message with our SKDM added (our current sender
//!      key, unchanged), encrypted pairwise for that device only; session saved before the write
//!   ─▶ <message id=same to=<group> participant=<device> type><enc count=N/>
//!      [<device-identity/>]</message>  (not an skmsg; no <participants>)
//!   ─▶ on the server's ack the device joins the holders of our key
//! ```

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_protocol::binary::Jid;
use wa_protocol::message::fanout::{encrypt_for_device, DeviceCiphertext};
use wa_protocol::message::group::distribution;
use wa_protocol::message::retry::RetryDecision;
use wa_protocol::message::{decode_padded, encode_padded, Content, EncVersion};
use wa_protocol::pb::e2e as pb;
use wa_protocol::signal::keys::LocalIdentity;
use wa_protocol::signal::SenderKeyRecord;
use wa_protocol::stanza::{AddressingMode, Enc, EncType, MessageStanza, Receipt};
use wa_protocol::time::Millis;
use wa_protocol::MessageId;
use wa_store::{AccountId, DeviceIdentity, Durability, Store};

use super::address::signal_address;
use super::group_devices::own_in;
use super::retry::{decide, in_background, save_session, target};
use super::send::{load_sessions, own_device};
use crate::error::Error;
use crate::handle::{AccountHandle, WeakHandle};

/// Answers a group retry receipt in the background (the connection goes on).
pub(crate) fn on_group_retry(
    handle: Option<&WeakHandle>,
    store: &Arc<dyn Store>,
    receipt: Receipt,
    now: Millis,
) {
    in_background(handle, store, receipt, move |h, s, r| async move {
        answer_group(&h, &s, &r, now).await
    });
}

/// Whether a receipt is a group member's retry receipt (`from` the group, `participant` the
/// device).
pub(crate) fn is_group_retry(receipt: &Receipt) -> bool {
    receipt.retry.is_some()
        && receipt.from.as_ref().is_some_and(Jid::is_group)
        && receipt.participant.is_some()
}

/// Answers one group retry receipt; whether a resend went out and the server accepted it.
pub(crate) async fn answer_group(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    receipt: &Receipt,
    now: Millis,
) -> Result<bool, Error> {
    let (Some(info), Some(group), Some(device)) = (
        receipt.retry.as_ref(),
        receipt.from.clone(),
        receipt.participant.clone(),
    ) else {
        return Ok(false);
    };
    let count = info.count;
    let account = *handle.id();
    let Some(payload) = outbox_payload(store, account, receipt, &group).await? else {
        return Ok(false);
    };
    let identity = own_device(handle, store).await?;
    let mode = AddressingMode::of(&device);
    let own = own_in(identity.jid.as_ref(), identity.lid.as_ref(), mode)
        .ok_or(Error::NotRunning(account))?;
    let lock = handle.send_lock();
    let guard = lock.lock().await;
    let who = (&group, &own, &device);
    let Some(done) = encrypt(handle, store, &identity, &payload, who, receipt, now).await? else {
        return Ok(false);
    };
    let content = content_of(&payload)?;
    let stanza = resend_stanza(
        (&receipt.id, &group),
        &content,
        &done,
        &identity,
        Some(count),
    );
    let outcome = handle.submit_message(stanza);
    drop(guard);
    if outcome.await.is_err() {
        return Ok(false);
    }
    add_holder(store, account, &group, device).await?;
    Ok(true)
}

/// The stored padded Message of the retried id, if it went to this group.
async fn outbox_payload(
    store: &Arc<dyn Store>,
    account: AccountId,
    receipt: &Receipt,
    group: &Jid,
) -> Result<Option<Vec<u8>>, Error> {
    let s = Arc::clone(store);
    let id = receipt.id.as_str().to_owned();
    let entry = tokio::task::spawn_blocking(move || s.outbox_entry(&account, &id)).await??;
    Ok(entry.filter(|e| e.chat == *group).map(|e| e.payload))
}

pub(crate) fn content_of(payload: &[u8]) -> Result<Content, Error> {
    let message = decode_padded(payload, EncVersion::V2).map_err(wa_protocol::Error::from)?;
    Ok(Content::from_message(&message).map_err(wa_protocol::Error::from)?)
}

/// Under the send lock: the retry rule, the session, the message + SKDM encrypted for the
/// device, the session saved. `None`: not answered (a count already answered, no session or
/// bundle, no sender key of ours).
async fn encrypt(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    identity: &DeviceIdentity,
    payload: &[u8],
    (group, own, device): (&Jid, &Jid, &Jid),
    receipt: &Receipt,
    now: Millis,
) -> Result<Option<DeviceCiphertext>, Error> {
    let account = *handle.id();
    let Some(info) = receipt.retry.as_ref() else {
        return Ok(None);
    };
    let Some(stored) = load_sessions(store, account, vec![device.clone()])
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let decision = decide(
        handle,
        device,
        &receipt.id,
        info,
        stored.record.is_some(),
        now,
    );
    let RetryDecision::Resend { session } = decision else {
        return Ok(None);
    };
    let Some(target) = target(handle, stored, session, info).await? else {
        return Ok(None);
    };
    let mut rng = StdRng::from_entropy();
    let Some(plaintext) = with_skdm(store, account, group, own, payload, &mut rng).await? else {
        return Ok(None);
    };
    let local = LocalIdentity {
        key_pair: identity.identity_key.clone(),
        registration_id: identity.registration_id,
    };
    let done = encrypt_for_device(&local, &target, &plaintext, &mut rng)
        .map_err(wa_protocol::Error::from)?;
    save_session(store, account, &done).await?;
    Ok(Some(done))
}

/// The stored message with our current SKDM added (`Message.senderKeyDistributionMessage`,
/// §11 step 4), padded; `None` when we hold no sending key for the group (nothing to add: the
/// retried message was never sent with a key of this record).
pub(crate) async fn with_skdm(
    store: &Arc<dyn Store>,
    account: AccountId,
    group: &Jid,
    own: &Jid,
    payload: &[u8],
    rng: &mut StdRng,
) -> Result<Option<Vec<u8>>, Error> {
    let s = Arc::clone(store);
    let (g, address) = (group.to_string(), signal_address(own));
    let bytes =
        tokio::task::spawn_blocking(move || s.load_sender_key(&account, &g, &address)).await??;
    let Some(record) = bytes
        .map(|b| SenderKeyRecord::from_bytes(&b))
        .transpose()
        .map_err(wa_protocol::Error::from)?
    else {
        return Ok(None);
    };
    let (unchanged, skdm) = distribution(&record, rng).map_err(wa_protocol::Error::from)?;
    if unchanged.to_bytes() != record.to_bytes() {
        // The record had no sending state of ours: a new one would need persisting first.
        return Ok(None);
    }
    let mut message = decode_padded(payload, EncVersion::V2).map_err(wa_protocol::Error::from)?;
    message.sender_key_distribution_message = Some(pb::SenderKeyDistributionMessage {
        group_id: Some(group.to_string()),
        axolotl_sender_key_distribution_message: Some(skdm),
    });
    Ok(Some(encode_padded(&message, rng)))
}

/// `<message id to=<group> participant=<device> type [edit]><enc [count] [mediatype]/>
/// [<device-identity/>]</message>` (§11 step 5, group form; without `count` when it answers
/// no retry receipt, `group_phash.rs`).
pub(crate) fn resend_stanza(
    (id, group): (&MessageId, &Jid),
    content: &Content,
    done: &DeviceCiphertext,
    identity: &DeviceIdentity,
    count: Option<u8>,
) -> MessageStanza {
    let mut stanza = MessageStanza::new(id.clone(), content.stanza_type());
    stanza.to = Some(group.clone());
    stanza.participant = Some(done.jid.clone());
    stanza.edit = content.edit_attr();
    let mut enc = Enc::new(done.enc_type, done.ciphertext.clone());
    enc.count = count;
    enc.mediatype = content.media_type().map(str::to_owned);
    enc.decrypt_fail_hide = content.hides_decrypt_failure();
    stanza.encs = vec![enc];
    if done.enc_type == EncType::PkMsg {
        stanza
            .device_identity
            .clone_from(&identity.adv_signed_identity);
    }
    stanza
}

/// The device now holds our current key (it got the SKDM pairwise).
pub(crate) async fn add_holder(
    store: &Arc<dyn Store>,
    account: AccountId,
    group: &Jid,
    device: Jid,
) -> Result<(), Error> {
    let s = Arc::clone(store);
    let group = group.to_string();
    tokio::task::spawn_blocking(move || -> wa_store::Result<()> {
        let mut holders = s.sender_key_devices(&account, &group)?;
        if !holders.contains(&device) {
            holders.push(device);
            s.save_sender_key_devices(&account, &group, &holders, Durability::Buffered)?;
        }
        Ok(())
    })
    .await??;
    Ok(())
}

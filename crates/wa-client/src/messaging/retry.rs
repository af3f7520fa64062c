//! Answering retry receipts for what we sent (`messaging.md` §11, sender side):
//!
//! ```text
//! <receipt type="retry" from=device> ─▶ the outbox entry (1:1) by id, else ignored
//!   ─▶ RetryLog::decide (once per count; rule of wa_protocol::message::retry)
//!   ─▶ session: the receipt's <keys> | a fresh bundle | the one we have
//!   ─▶ under the send lock: encrypt the stored padded Message for that device only
//!      (DeviceSentMessage-wrapped for our own device), save the session (durable before the
//!      write, like every send) ─▶ <message id=same to=device device_fanout=false>
//!                                   <enc count=N/></message>
//! ```

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::fanout::{encrypt_for_device, DeviceCiphertext, DeviceTarget};
use wa_protocol::message::retry::{RetryDecision, RetryRequest, SessionSource};
use wa_protocol::message::{decode_padded, encode_padded, wrap_device_sent, Content, EncVersion};
use wa_protocol::signal::keys::LocalIdentity;
use wa_protocol::signal::{PreKeyBundle, PublicPreKey};
use wa_protocol::stanza::{Enc, MessageStanza, Receipt, RetryInfo};
use wa_protocol::time::Millis;
use wa_protocol::MessageId;
use wa_store::{AccountId, DeviceIdentity, Durability, OutboxEntry, OutboxStatus, Store};

use super::address::{signal_address, user_of};
use super::privacy;
use super::send::{load_sessions, own_device, with_bundles};
use super::send_plan::Stored;
use crate::error::Error;
use crate::handle::{AccountHandle, WeakHandle};

/// Answers a retry receipt in the background (the connection goes on).
pub(crate) fn on_retry_receipt(
    handle: Option<&WeakHandle>,
    store: &Arc<dyn Store>,
    receipt: Receipt,
    now: Millis,
) {
    in_background(handle, store, receipt, move |h, s, r| async move {
        answer(&h, &s, r, now).await
    });
}

/// Runs `answer` for a retry receipt (1:1 here, group in `group_retry.rs`) on its own task,
/// logging whether it was answered.
pub(crate) fn in_background<F, Fut>(
    handle: Option<&WeakHandle>,
    store: &Arc<dyn Store>,
    receipt: Receipt,
    answer: F,
) where
    F: FnOnce(AccountHandle, Arc<dyn Store>, Receipt) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<bool, Error>> + Send + 'static,
{
    let Some(handle) = handle.and_then(WeakHandle::upgrade) else {
        return;
    };
    let store = Arc::clone(store);
    // In the session span of the account task that spawns it.
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        let account = *handle.id();
        let id = receipt.id.clone();
        match answer(handle, store, receipt).await {
            Ok(answered) => {
                tracing::debug!(account = %account, message = %id, answered, "retry receipt")
            }
            Err(error) => {
                tracing::warn!(account = %account, message = %id, %error, "retry not answered")
            }
        }
    }));
}

/// Answers one retry receipt; whether a resend went out and the server accepted it.
async fn answer(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    receipt: Receipt,
    now: Millis,
) -> Result<bool, Error> {
    let (Some(info), Some(from)) = (receipt.retry.clone(), receipt.from.clone()) else {
        return Ok(false);
    };
    if receipt.participant.is_some() || !matches!(from.server(), Server::WhatsApp | Server::Lid) {
        // A group's retry: the group sender answers it with its sender key.
        return Ok(false);
    }
    let account = *handle.id();
    let Some(entry) = outbox_entry(store, account, &receipt.id).await? else {
        return Ok(false);
    };
    let lock = handle.send_lock();
    let guard = lock.lock().await;
    let stored = load_sessions(store, account, vec![from.clone()]).await?;
    let Some(stored) = stored.into_iter().next() else {
        return Ok(false);
    };
    let decision = decide(
        handle,
        &from,
        &receipt.id,
        &info,
        stored.record.is_some(),
        now,
    );
    let RetryDecision::Resend { session } = decision else {
        return Ok(false);
    };
    let Some(target) = target(handle, stored, session, &info).await? else {
        return Ok(false);
    };
    let device = own_device(handle, store).await?;
    let own = is_own(&device, &from);
    let tctoken = match own {
        true => None,
        false => privacy::token_for(store, account, &entry.chat, now).await?,
    };
    let (content, plaintext) = plaintext_for(&entry, own)?;
    let local = LocalIdentity {
        key_pair: device.identity_key.clone(),
        registration_id: device.registration_id,
    };
    let mut rng = StdRng::from_entropy();
    let done = encrypt_for_device(&local, &target, &plaintext, &mut rng)
        .map_err(wa_protocol::Error::from)?;
    save_session(store, account, &done).await?;
    let resend = Resend {
        id: receipt.id,
        to: from,
        chat: entry.chat,
        own,
        count: info.count,
        tctoken,
    };
    let stanza = resend.stanza(&content, &done, &device);
    let outcome = handle.submit_message(stanza);
    drop(guard);
    Ok(outcome.await.is_ok())
}

async fn outbox_entry(
    store: &Arc<dyn Store>,
    account: AccountId,
    id: &MessageId,
) -> Result<Option<OutboxEntry>, Error> {
    let s = Arc::clone(store);
    let id = id.as_str().to_owned();
    let entry = tokio::task::spawn_blocking(move || s.outbox_entry(&account, &id)).await??;
    // A message the server refused never reached the device: nothing to answer.
    Ok(entry.filter(|e| {
        matches!(e.chat.server(), Server::WhatsApp | Server::Lid)
            && e.status != OutboxStatus::Failed
    }))
}

/// The account's retry rule for one receipt (once per count, `RetryLog::decide`), 1:1 and group.
pub(crate) fn decide(
    handle: &AccountHandle,
    device: &Jid,
    id: &MessageId,
    info: &RetryInfo,
    has_session: bool,
    now: Millis,
) -> RetryDecision {
    let request = RetryRequest {
        count: u32::from(info.count),
        has_keys: info.keys.is_some(),
    };
    let log = handle.retries();
    let mut log = log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    log.decide(device, id, request, has_session, now)
}

/// The device to encrypt for, with the session the rule chose (§11 step 3); `None` when a
/// fetched bundle is not there.
pub(crate) async fn target(
    handle: &AccountHandle,
    stored: Stored,
    session: SessionSource,
    info: &RetryInfo,
) -> Result<Option<DeviceTarget>, Error> {
    let identity = stored.identity;
    match (session, stored.record, bundle_of(info)) {
        (SessionSource::Keys, _, Some(bundle)) => {
            let mut t = DeviceTarget::with_bundle(stored.jid, bundle);
            t.trusted_identity = identity;
            Ok(Some(t))
        }
        (SessionSource::Existing, Some(record), _) => {
            let mut t = DeviceTarget::with_session(stored.jid, record);
            t.trusted_identity = identity;
            Ok(Some(t))
        }
        _ => {
            let fresh = Stored {
                jid: stored.jid,
                record: None,
                identity,
            };
            Ok(with_bundles(handle, vec![fresh]).await?.into_iter().next())
        }
    }
}

/// The bundle the receipt's `<registration>` and `<keys>` make (§11 step 3).
fn bundle_of(info: &RetryInfo) -> Option<PreKeyBundle> {
    let keys = info.keys.as_ref()?;
    Some(PreKeyBundle {
        registration_id: info.registration_id,
        identity_key: keys.identity,
        signed_pre_key: PublicPreKey {
            id: keys.signed.id,
            key: keys.signed.public,
        },
        signed_pre_key_signature: keys.signed.signature,
        pre_key: keys.prekey.map(|k| PublicPreKey {
            id: k.id,
            key: k.public,
        }),
    })
}

/// Whether `device` is one of our own account's devices (PN or LID).
fn is_own(device: &DeviceIdentity, from: &Jid) -> bool {
    [&device.jid, &device.lid]
        .into_iter()
        .flatten()
        .any(|own| user_of(own) == user_of(from))
}

/// The content (for the stanza's type and attributes) and the padded plaintext: the stored
/// message, wrapped as a DeviceSentMessage for our own device (§11 step 4).
fn plaintext_for(entry: &OutboxEntry, own: bool) -> Result<(Content, Vec<u8>), Error> {
    let message =
        decode_padded(&entry.payload, EncVersion::V2).map_err(wa_protocol::Error::from)?;
    let content = Content::from_message(&message).map_err(wa_protocol::Error::from)?;
    let plaintext = if own {
        let copy = wrap_device_sent(&message, &entry.chat, None);
        encode_padded(&copy, &mut StdRng::from_entropy())
    } else {
        entry.payload.clone()
    };
    Ok((content, plaintext))
}

/// The new session (and a new device's identity, trusted on first use), before the write.
pub(crate) async fn save_session(
    store: &Arc<dyn Store>,
    account: AccountId,
    done: &DeviceCiphertext,
) -> Result<(), Error> {
    let s = Arc::clone(store);
    let address = signal_address(&done.jid);
    let record = done.record.to_bytes();
    let identity = done.remote_identity;
    let new = done.new_session;
    tokio::task::spawn_blocking(move || -> wa_store::Result<()> {
        let b = Durability::Buffered;
        if new {
            s.save_identity(&account, &address, &identity, b)?;
        }
        s.save_session(&account, &address, &record, b)
    })
    .await??;
    Ok(())
}

/// The resend's addressing (§11 step 5).
struct Resend {
    id: MessageId,
    to: Jid,
    chat: Jid,
    own: bool,
    count: u8,
    tctoken: Option<Vec<u8>>,
}

impl Resend {
    /// `<message id to=<device> type [recipient] [device_fanout="false"] [edit]><enc count/>
    /// [<device-identity/>][<tctoken/>]</message>` (no `<participants>`).
    fn stanza(
        self,
        content: &Content,
        done: &DeviceCiphertext,
        device: &DeviceIdentity,
    ) -> MessageStanza {
        let mut stanza = MessageStanza::new(self.id, content.stanza_type());
        stanza.to = Some(self.to);
        stanza.edit = content.edit_attr();
        if self.own {
            stanza.recipient = Some(self.chat);
        } else {
            stanza.device_fanout = Some(false);
        }
        let mut enc = Enc::new(done.enc_type, done.ciphertext.clone());
        enc.count = Some(self.count);
        enc.mediatype = content.media_type().map(str::to_owned);
        enc.decrypt_fail_hide = content.hides_decrypt_failure();
        stanza.encs = vec![enc];
        if done.enc_type == wa_protocol::stanza::EncType::PkMsg {
            stanza
                .device_identity
                .clone_from(&device.adv_signed_identity);
        }
        stanza.tctoken = self.tctoken;
        stanza
    }
}

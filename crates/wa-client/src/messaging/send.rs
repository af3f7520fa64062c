//! The 1:1 send path (`messaging.md` §4–§8): devices, sessions or bundles, one encryption per
//! device (the peer's devices get the padded message, our other devices the padded
//! DeviceSentMessage copy), one `<message>` with `<participants>` (and `<device-identity>` when
//! any `pkmsg`), committed with the outbox entry before the account task writes it.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::fanout::{encrypt_fanout, DeviceTarget, Fanout, FanoutGroup};
use wa_protocol::message::{encode_padded, wrap_device_sent, Content};
use wa_protocol::signal::keys::LocalIdentity;
use wa_protocol::signal::{PublicKey, SessionRecord};
use wa_protocol::stanza::{
    BundleOutcome, BundleTarget, DeviceEnc, Enc, IqResponse, MessageStanza, PreKeyBundleRequest,
    PreKeyBundleResult,
};
use wa_protocol::time::Millis;
use wa_protocol::MessageId;
use wa_store::{
    AccountId, DeviceIdentity, Durability, NewOutbound, OutboxStatus, OutboxUpdate, SendStep,
    SessionUpdate, Store,
};

use super::address::{signal_address, user_of};
use super::directory::devices_of;
use super::privacy;
use super::types::{SendOptions, SentMessage};
use crate::error::Error;
use crate::handle::AccountHandle;

/// One device to encrypt for: its JID, stored session and identity.
pub(crate) struct Stored {
    pub(crate) jid: Jid,
    pub(crate) record: Option<SessionRecord>,
    pub(crate) identity: Option<PublicKey>,
}

/// Sends `content` to the user `to` from `handle`'s account; resolves on the server's ack.
/// Every kind goes through the one encoder (`Content::to_message`, its stanza type, `edit`
/// and `mediatype`, §7); a 1:1 send carries the contact's privacy token when one is valid
/// (§16), and after it our own token is issued to that contact when its bucket has rolled
/// over.
pub(crate) async fn send(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    now: Millis,
    to: Jid,
    content: Content,
    options: SendOptions,
) -> Result<SentMessage, Error> {
    let is_user = matches!(to.server(), Server::WhatsApp | Server::Lid);
    if !is_user || to.device_id() != 0 || to.user_part().is_empty() {
        return Err(Error::BadRecipient(to));
    }
    let device = own_device(handle, store).await?;
    let own = own_jid(&device, &to).ok_or(Error::NotRunning(*handle.id()))?;
    let (peer_devices, own_devices) = recipients(handle, store, &to, &own, now).await?;
    let id = options.id.unwrap_or_else(|| {
        MessageId::generate(
            now.unix_secs(),
            Some(own.user_part()),
            &mut rand::rngs::OsRng,
        )
    });
    let tctoken = privacy::token_for(store, *handle.id(), &to, now).await?;
    let plan = Plan {
        id,
        to,
        content,
        peer_devices,
        own_devices,
        device,
        tctoken,
    };
    let lock = handle.send_lock();
    let guard = lock.lock().await;
    let padded = encode_padded(&plan.content.to_message(), &mut StdRng::from_entropy());
    let stanza = encrypt_and_commit(handle, store, &plan, padded, Step::New, now).await?;
    let outcome = handle.submit_message(stanza);
    drop(guard);
    let server_t = outcome.await?;
    if plan.tctoken.is_some() {
        privacy::issue_if_due(handle, store, &plan.to, now);
    }
    Ok(SentMessage {
        id: plan.id,
        server_t,
    })
}

/// The devices of `to` and our own other devices (`own` is our device in `to`'s namespace).
pub(crate) async fn recipients(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    to: &Jid,
    own: &Jid,
    now: Millis,
) -> Result<(Vec<Jid>, Vec<Jid>), Error> {
    let users = [to.clone(), user_of(own)];
    let mut lists = devices_of(handle, store, &users, now.0).await?;
    let own_devices: Vec<Jid> = lists.pop().unwrap_or_default();
    let own_devices = own_devices
        .into_iter()
        .filter(|d| d.device_id() != own.device_id())
        .collect();
    let peer_devices = lists.pop().unwrap_or_default();
    if peer_devices.is_empty() {
        return Err(Error::NoDevices(to.clone()));
    }
    Ok((peer_devices, own_devices))
}

/// What one send encrypts.
pub(crate) struct Plan {
    /// The message id.
    pub(crate) id: MessageId,
    /// The chat (a user JID).
    pub(crate) to: Jid,
    /// What is sent.
    pub(crate) content: Content,
    /// The chat's devices.
    pub(crate) peer_devices: Vec<Jid>,
    /// Our other devices (they get the DeviceSentMessage copy).
    pub(crate) own_devices: Vec<Jid>,
    /// Our device record.
    pub(crate) device: DeviceIdentity,
    /// The contact's privacy token, when a valid one is stored (§16).
    pub(crate) tctoken: Option<Vec<u8>>,
}

pub(crate) async fn own_device(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
) -> Result<DeviceIdentity, Error> {
    let id = *handle.id();
    let s = Arc::clone(store);
    tokio::task::spawn_blocking(move || s.device(&id))
        .await??
        .ok_or(Error::NotRunning(id))
}

/// Our device in the namespace of `to` (one namespace per stanza, §16).
pub(crate) fn own_jid(device: &DeviceIdentity, to: &Jid) -> Option<Jid> {
    let pn = device.jid.as_ref()?;
    match to.server() {
        Server::Lid => {
            let lid = device.lid.as_ref()?;
            Some(Jid::device(
                lid.user_part().to_owned(),
                pn.device_id(),
                Server::Lid,
            ))
        }
        _ => Some(pn.clone()),
    }
}

/// Whether a commit puts a new message in the outbox or sends one already there again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `enqueue` (idempotent by id), then `commit_send`.
    New,
    /// An entry committed before but never acknowledged: back to `Queued` (a retry), then
    /// `commit_send` with the new ratchet step.
    Again,
}

/// Under the account's send lock: sessions (or bundles), encryption of `padded` (the padded
/// `Message` of `plan.content`; our other devices get it wrapped as a DeviceSentMessage), the
/// durable commit.
pub(crate) async fn encrypt_and_commit(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    plan: &Plan,
    padded: Vec<u8>,
    step: Step,
    now: Millis,
) -> Result<MessageStanza, Error> {
    let id = *handle.id();
    let mut all = plan.peer_devices.clone();
    all.extend(plan.own_devices.iter().cloned());
    let stored = load_sessions(store, id, all).await?;
    let targets = with_bundles(handle, stored).await?;
    let (peer, own): (Vec<DeviceTarget>, Vec<DeviceTarget>) = targets
        .into_iter()
        .partition(|t| plan.peer_devices.contains(&t.jid));
    let mut rng = StdRng::from_entropy();
    let message = plan.content.to_message();
    let copy = encode_padded(&wrap_device_sent(&message, &plan.to, None), &mut rng);
    let local = LocalIdentity {
        key_pair: plan.device.identity_key.clone(),
        registration_id: plan.device.registration_id,
    };
    let groups = [
        FanoutGroup {
            devices: &peer,
            plaintext: &padded,
        },
        FanoutGroup {
            devices: &own,
            plaintext: &copy,
        },
    ];
    let fanout = encrypt_fanout(&local, &groups, &mut rng);
    if !fanout
        .encrypted
        .iter()
        .any(|c| plan.peer_devices.contains(&c.jid))
    {
        return Err(Error::NoDevices(plan.to.clone()));
    }
    for failed in &fanout.failed {
        tracing::warn!(account = %id, device = %failed.jid, error = %failed.error, "device skipped");
    }
    let stanza = build_stanza(plan, &fanout);
    let updates = session_updates(&fanout);
    commit(store, id, &plan.id, &plan.to, (updates, padded), step, now).await?;
    Ok(stanza)
}

/// The stored session and identity of each of `devices` (a session without a current state
/// counts as none).
pub(crate) async fn load_sessions(
    store: &Arc<dyn Store>,
    id: AccountId,
    devices: Vec<Jid>,
) -> Result<Vec<Stored>, Error> {
    let s = Arc::clone(store);
    let loaded = tokio::task::spawn_blocking(move || {
        devices
            .into_iter()
            .map(|jid| {
                let address = signal_address(&jid);
                let record = s.load_session(&id, &address)?;
                let identity = s.identity(&id, &address)?;
                Ok((jid, record, identity))
            })
            .collect::<wa_store::Result<Vec<_>>>()
    })
    .await??;
    loaded
        .into_iter()
        .map(|(jid, bytes, identity)| {
            let record = bytes
                .map(|b| SessionRecord::from_bytes(&b))
                .transpose()
                .map_err(wa_protocol::Error::from)?
                .filter(SessionRecord::has_current_session);
            Ok(Stored {
                jid,
                record,
                identity,
            })
        })
        .collect()
}

/// Devices with a session as they are; the others get a bundle from one IQ (a device the
/// server has no bundle for is skipped, §5).
pub(crate) async fn with_bundles(
    handle: &AccountHandle,
    stored: Vec<Stored>,
) -> Result<Vec<DeviceTarget>, Error> {
    let need: Vec<BundleTarget> = stored
        .iter()
        .filter(|s| s.record.is_none())
        .map(|s| BundleTarget {
            jid: s.jid.clone(),
            reason: None,
        })
        .collect();
    let answers = if need.is_empty() {
        Vec::new()
    } else {
        let request = PreKeyBundleRequest { users: need }.request();
        match handle.iq(request).await {
            Some(IqResponse::Result(node)) => {
                PreKeyBundleResult::from_node(&node)
                    .map_err(wa_protocol::Error::from)?
                    .users
            }
            Some(IqResponse::Error { code, .. }) => {
                return Err(Error::IqRefused {
                    what: "prekey bundle",
                    code,
                })
            }
            None => return Err(Error::Timeout("prekey bundle query")),
        }
    };
    let mut targets = Vec::new();
    for s in stored {
        if let Some(record) = s.record {
            let mut t = DeviceTarget::with_session(s.jid, record);
            t.trusted_identity = s.identity;
            targets.push(t);
            continue;
        }
        let bundle = answers
            .iter()
            .find(|a| a.jid == s.jid)
            .and_then(|a| match &a.outcome {
                BundleOutcome::Bundle(d) => Some(d.bundle.clone()),
                BundleOutcome::Error { .. } => None,
            });
        if let Some(bundle) = bundle {
            let mut t = DeviceTarget::with_bundle(s.jid, bundle);
            t.trusted_identity = s.identity;
            targets.push(t);
        }
    }
    Ok(targets)
}

/// `<message id to type><participants><to jid><enc/></to>…</participants>
/// [<device-identity/>]</message>` (§7).
pub(crate) fn build_stanza(plan: &Plan, fanout: &Fanout) -> MessageStanza {
    let mut stanza = MessageStanza::new(plan.id.clone(), plan.content.stanza_type());
    stanza.to = Some(plan.to.clone());
    stanza.edit = plan.content.edit_attr();
    stanza.participants = fanout
        .encrypted
        .iter()
        .map(|c| {
            let mut enc = Enc::new(c.enc_type, c.ciphertext.clone());
            enc.mediatype = plan.content.media_type().map(str::to_owned);
            enc.decrypt_fail_hide = plan.content.hides_decrypt_failure();
            DeviceEnc {
                jid: c.jid.clone(),
                enc,
            }
        })
        .collect();
    if fanout.needs_device_identity() {
        stanza.device_identity = plan.device.adv_signed_identity.clone();
    }
    stanza.tctoken.clone_from(&plan.tctoken);
    stanza
}

/// A session to save after an encryption: the device's address, the record, the device's
/// identity and whether the session is new (its identity is then trusted on first use).
pub(crate) type SessionSave = (String, Vec<u8>, PublicKey, bool);

/// The sessions `fanout` advanced, to save.
pub(crate) fn session_updates(fanout: &Fanout) -> Vec<SessionSave> {
    fanout
        .encrypted
        .iter()
        .map(|c| {
            (
                signal_address(&c.jid),
                c.record.to_bytes(),
                c.remote_identity,
                c.new_session,
            )
        })
        .collect()
}

/// One blocking call: the outbox entry (new: idempotent by id; again: back to `Queued`), the
/// peers' identities (trust on first use), then `commit_send` (sessions + `Queued → Sent`). Durability is awaited by the
/// account task before the bytes leave.
pub(crate) async fn commit(
    store: &Arc<dyn Store>,
    id: AccountId,
    message_id: &MessageId,
    chat: &Jid,
    (updates, payload): (Vec<SessionSave>, Vec<u8>),
    step: Step,
    now: Millis,
) -> Result<(), Error> {
    let s = Arc::clone(store);
    let message_id = message_id.as_str().to_owned();
    let chat = chat.clone();
    tokio::task::spawn_blocking(move || -> wa_store::Result<()> {
        let b = Durability::Buffered;
        let outbound = NewOutbound {
            message_id: &message_id,
            chat: &chat,
            payload: &payload,
            now_ms: now.0,
        };
        match step {
            Step::New => {
                s.enqueue(&id, &outbound, b)?;
            }
            Step::Again => {
                let sent = s
                    .outbox_entry(&id, &message_id)?
                    .is_some_and(|e| e.status == OutboxStatus::Sent);
                if sent {
                    let retry = OutboxUpdate::Retry { at_ms: now.0 };
                    s.update_outbox(&id, &message_id, retry, now.0, b)?;
                }
            }
        }
        for (address, _, identity, new) in &updates {
            if *new {
                s.save_identity(&id, address, identity, b)?;
            }
        }
        let sessions: Vec<SessionUpdate<'_>> = updates
            .iter()
            .map(|(address, record, _, _)| SessionUpdate { address, record })
            .collect();
        let step = SendStep {
            message_id: &message_id,
            sessions: &sessions,
            sender_key: None,
            now_ms: now.0,
        };
        s.commit_send(&id, &step, b)
    })
    .await??;
    Ok(())
}

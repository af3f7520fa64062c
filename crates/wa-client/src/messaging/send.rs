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
    AccountId, DeviceIdentity, Durability, NewOutbound, SendStep, SessionUpdate, Store,
};

use super::address::{signal_address, user_of};
use super::directory::devices_of;
use super::types::SentMessage;
use crate::account::AccountHandle;
use crate::error::Error;

/// One device to encrypt for: its JID, stored session and identity.
struct Stored {
    jid: Jid,
    record: Option<SessionRecord>,
    identity: Option<PublicKey>,
}

/// Sends `text` to the user `to` from `handle`'s account; resolves on the server's ack.
pub(crate) async fn send_text(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    now: Millis,
    to: Jid,
    text: String,
) -> Result<SentMessage, Error> {
    let is_user = matches!(to.server(), Server::WhatsApp | Server::Lid);
    if !is_user || to.device_id() != 0 || to.user_part().is_empty() {
        return Err(Error::BadRecipient(to));
    }
    let device = own_device(handle, store).await?;
    let own = own_jid(&device, &to).ok_or(Error::NotRunning(*handle.id()))?;
    let users = [to.clone(), user_of(&own)];
    let mut lists = devices_of(handle, store, &users, now.0).await?;
    let own_devices: Vec<Jid> = lists.pop().unwrap_or_default();
    let own_devices = own_devices
        .into_iter()
        .filter(|d| d.device_id() != own.device_id())
        .collect();
    let peer_devices = lists.pop().unwrap_or_default();
    if peer_devices.is_empty() {
        return Err(Error::NoDevices(to));
    }
    let content = Content::text(text);
    let plan = Plan {
        id: MessageId::generate(
            now.unix_secs(),
            Some(own.user_part()),
            &mut rand::rngs::OsRng,
        ),
        to,
        content,
        peer_devices,
        own_devices,
        device,
    };
    let lock = handle.send_lock();
    let guard = lock.lock().await;
    let stanza = encrypt_and_commit(handle, store, &plan, now).await?;
    let outcome = handle.submit_message(stanza);
    drop(guard);
    let server_t = outcome.await?;
    Ok(SentMessage {
        id: plan.id,
        server_t,
    })
}

/// What one send encrypts.
struct Plan {
    id: MessageId,
    to: Jid,
    content: Content,
    peer_devices: Vec<Jid>,
    own_devices: Vec<Jid>,
    device: DeviceIdentity,
}

async fn own_device(
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
fn own_jid(device: &DeviceIdentity, to: &Jid) -> Option<Jid> {
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

/// Under the account's send lock: sessions (or bundles), encryption, the durable commit.
async fn encrypt_and_commit(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    plan: &Plan,
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
    let padded = encode_padded(&message, &mut rng);
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
    commit(store, id, plan, &fanout, padded, now).await?;
    Ok(stanza)
}

async fn load_sessions(
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
async fn with_bundles(
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
fn build_stanza(plan: &Plan, fanout: &Fanout) -> MessageStanza {
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
    stanza
}

/// One blocking call: the outbox entry, the peers' identities (trust on first use), then
/// `commit_send` (sessions + `Queued → Sent`). Durability is awaited by the account task
/// before the bytes leave.
async fn commit(
    store: &Arc<dyn Store>,
    id: AccountId,
    plan: &Plan,
    fanout: &Fanout,
    payload: Vec<u8>,
    now: Millis,
) -> Result<(), Error> {
    let s = Arc::clone(store);
    let message_id = plan.id.as_str().to_owned();
    let chat = plan.to.clone();
    let updates: Vec<(String, Vec<u8>, PublicKey, bool)> = fanout
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
        .collect();
    tokio::task::spawn_blocking(move || -> wa_store::Result<()> {
        let b = Durability::Buffered;
        let outbound = NewOutbound {
            message_id: &message_id,
            chat: &chat,
            payload: &payload,
            now_ms: now.0,
        };
        s.enqueue(&id, &outbound, b)?;
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

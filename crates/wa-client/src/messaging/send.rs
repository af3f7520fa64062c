//! The 1:1 send path (`messaging.md` §4–§8): devices, sessions or bundles, one encryption per
//! device (the peer's devices get the padded message, our other devices the padded
//! DeviceSentMessage copy), one `<message>` with `<participants>` (and `<device-identity>` when
//! any `pkmsg`), committed with the outbox entry before the account task writes it.

use std::sync::Arc;

use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::fanout::DeviceTarget;
use wa_protocol::message::{encode_padded, Content};
use wa_protocol::stanza::{
    BundleAnswer, BundleOutcome, BundleTarget, IqResponse, PreKeyBundleRequest, PreKeyBundleResult,
};
use wa_protocol::time::Millis;
use wa_protocol::MessageId;
use wa_store::{AccountId, DeviceIdentity, Store};

use super::address::user_of;
use super::directory::devices_of;
use super::lid_route;
use super::privacy;
use super::send_job::{Need, SendJob};
use super::send_plan::{load_blocking, Plan, Step, Stored};
use super::types::{SendOptions, SentMessage};
use crate::error::Error;
use crate::handle::AccountHandle;

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
    // A LID-migrated account writes to the peer's LID (§16; `lid_route`).
    let to = lid_route::chat_for(handle, store, &device, to, now).await?;
    let own = own_jid(&device, &to).ok_or(Error::NotRunning(*handle.id()))?;
    let id = options.id.unwrap_or_else(|| {
        MessageId::generate(
            now.unix_secs(),
            Some(own.user_part()),
            &mut rand::rngs::OsRng,
        )
    });
    let plan = Plan {
        id,
        to,
        content,
        peer_devices: Vec::new(),
        own_devices: Vec::new(),
        device,
        tctoken: None,
    };
    // The thread's CSPRNG: no getrandom system call per send.
    let padded = encode_padded(&plan.content.to_message(), &mut rand::thread_rng());
    let (id, to) = (plan.id.clone(), plan.to.clone());
    let outcome = submit(handle, store, (plan, own), padded, Step::New, now).await?;
    let server_t = outcome.await?;
    privacy::issue_if_due(handle, store, &to, now);
    Ok(SentMessage { id, server_t })
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

pub(crate) async fn own_device(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
) -> Result<DeviceIdentity, Error> {
    if let Some(device) = handle.cache().device() {
        return Ok(DeviceIdentity::clone(&device));
    }
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

/// The stored session and identity of each of `devices` (a session without a current state
/// counts as none).
pub(crate) async fn load_sessions(
    store: &Arc<dyn Store>,
    id: AccountId,
    devices: Vec<Jid>,
) -> Result<Vec<Stored>, Error> {
    let s = Arc::clone(store);
    tokio::task::spawn_blocking(move || load_blocking(s.as_ref(), id, devices)).await?
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
        fetch_bundles(handle, need.into_iter().map(|t| t.jid).collect()).await?
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

/// One prekey-bundle IQ for `devices` (§5): each device's answer.
pub(crate) async fn fetch_bundles(
    handle: &AccountHandle,
    devices: Vec<Jid>,
) -> Result<Vec<BundleAnswer>, Error> {
    let users = devices
        .into_iter()
        .map(|jid| BundleTarget { jid, reason: None })
        .collect();
    let request = PreKeyBundleRequest { users }.request();
    match handle.iq(request).await {
        Some(IqResponse::Result(node)) => Ok(PreKeyBundleResult::from_node(&node)
            .map_err(wa_protocol::Error::from)?
            .users),
        Some(IqResponse::Error { code, .. }) => Err(Error::IqRefused {
            what: "prekey bundle",
            code,
        }),
        None => Err(Error::Timeout("prekey bundle query")),
    }
}

/// How often a send may come back before it fails (for its device lists, then its bundles;
/// each time, what was missing was fetched or found not to exist).
const ROUNDS: usize = 4;

/// Queues `plan` in the account's pipeline (fetching bundles when the job asks for them);
/// resolves once the message is committed and handed to the connection, with the future of
/// the server's verdict.
pub(crate) async fn submit(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    (plan, own): (Plan, Jid),
    padded: Vec<u8>,
    step: Step,
    now: Millis,
) -> Result<impl std::future::Future<Output = Result<Option<u64>, Error>>, Error> {
    let account = *handle.id();
    let message = plan.id.as_str().to_owned();
    let mut job = Box::new(SendJob {
        plan,
        own,
        lists: None,
        padded,
        step,
        now,
        bundles: Vec::new(),
        lock: handle.send_lock(),
    });
    for _ in 0..ROUNDS {
        let mut submitted = handle.submit_send(job);
        let Some((back, need)) = submitted.needs().await else {
            return Ok(async move { submitted.verdict(account, &message).await });
        };
        job = back;
        let devices = match need {
            Need::Lists => {
                let lists = recipients(handle, store, &job.plan.to, &job.own, now).await?;
                job.lists = Some(lists);
                continue;
            }
            Need::Bundles(devices) => devices,
        };
        for answer in fetch_bundles(handle, devices.clone()).await? {
            let bundle = match answer.outcome {
                BundleOutcome::Bundle(d) => Some(d.bundle),
                BundleOutcome::Error { .. } => None,
            };
            job.bundles.push((answer.jid, bundle));
        }
        for device in devices {
            if !job.bundles.iter().any(|(j, _)| *j == device) {
                job.bundles.push((device, None));
            }
        }
    }
    Err(Error::Timeout("device lists and bundles for a send"))
}

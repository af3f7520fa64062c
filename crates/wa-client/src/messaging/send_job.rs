//! A 1:1 send as a job of the account's persistence pipeline (`persist.rs`):
//!
//! ```text
//!  caller: own device (SendCache, else the store) · padded message
//!     └─▶ AccountCommand::Send ─▶ pipeline (FIFO, batched): on its blocking thread
//!           device lists, sessions, privacy token (store) ─▶ encrypt_fanout
//!           ─▶ enqueue + identities + commit_send
//!         ─▶ the batch's one durability wait ─▶ <message> handed to the connection
//!     a list not cached, or a device without a session: the job comes back (nothing
//!     written), the caller asks the server (usync, `messaging.md` §4; or the bundles, §5)
//!     and queues it again
//! ```
//!
//! Why in the pipeline: jobs run one after another in queue order, so two sends (and a send
//! and the receive job, which decrypts and commits a session in the same pipeline) never
//! read the same session state: each reads what the previous job wrote. The ratchet step and
//! the outbox entry are durable before the bytes leave (the job is `durable`; its `After`
//! writes the stanza), and a message key is used once: the commit that stores the advanced
//! session is the one whose stanza leaves, and a failed commit sends nothing. Several queued
//! sends share one blocking call and one durability wait (group commit). The few senders that
//! still encrypt outside the pipeline (group sends, retry answers) hold the account's send
//! lock across their read–encrypt–commit; a send job takes the same lock while it runs.

use std::sync::Arc;

use wa_protocol::binary::Jid;
use wa_protocol::message::fanout::{encrypt_fanout, DeviceTarget, FanoutGroup};
use wa_protocol::message::{encode_padded, wrap_device_sent};
use wa_protocol::signal::keys::{LocalIdentity, PreKeyBundle};
use wa_protocol::stanza::MessageStanza;
use wa_protocol::time::Millis;
use wa_store::{AccountId, Store};

use super::address::{device_jids, peer_recipient_pn, stored_token, user_of};
use super::send_plan::{build_stanza, commit_blocking, load_blocking, session_updates, Plan, Step};
use crate::error::Error;

/// One queued 1:1 send.
pub(crate) struct SendJob {
    /// What to encrypt for whom (the job fills in the devices).
    pub(crate) plan: Plan,
    /// Our device in the chat's namespace.
    pub(crate) own: Jid,
    /// The chat's devices and our other devices, when the caller fetched them (else the job
    /// reads the store's cached lists).
    pub(crate) lists: Option<(Vec<Jid>, Vec<Jid>)>,
    /// The padded `Message` of `plan.content`.
    pub(crate) padded: Vec<u8>,
    /// New message or resend of an outbox entry.
    pub(crate) step: Step,
    /// Now.
    pub(crate) now: Millis,
    /// Bundles fetched for devices without a session (`None`: the server has none).
    pub(crate) bundles: Vec<(Jid, Option<PreKeyBundle>)>,
    /// The account's send lock (see the module doc).
    pub(crate) lock: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for SendJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendJob")
            .field("id", &self.plan.id)
            .field("to", &self.plan.to)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

/// What a send job lacked (nothing was written).
#[derive(Debug)]
pub(crate) enum Need {
    /// A device list is not cached.
    Lists,
    /// These devices have no session and no bundle yet.
    Bundles(Vec<Jid>),
}

/// What a send job came to.
#[derive(Debug)]
pub(crate) enum Ran {
    /// Committed (durable once the batch is): this stanza goes out.
    Sent(Box<MessageStanza>),
    /// Back to the caller for what it lacks.
    Needs(Box<SendJob>, Need),
}

/// The chat's devices and our other devices from the store's cached lists (`None`: one is
/// not cached).
fn cached_lists(
    store: &dyn Store,
    account: AccountId,
    to: &Jid,
    own: &Jid,
) -> wa_store::Result<Option<(Vec<Jid>, Vec<Jid>)>> {
    let Some(peer) = store.device_list(&account, to)? else {
        return Ok(None);
    };
    let Some(ours) = store.device_list(&account, &user_of(own))? else {
        return Ok(None);
    };
    let ours = device_jids(&ours)
        .into_iter()
        .filter(|d| d.device_id() != own.device_id())
        .collect();
    Ok(Some((device_jids(&peer), ours)))
}

/// The job in the pipeline (`persist::apply_all`, which holds `job.lock` around it):
/// sessions, encryption, the commit.
pub(crate) fn run(
    store: &dyn Store,
    account: AccountId,
    mut job: Box<SendJob>,
) -> Result<Ran, Error> {
    let lists = match &job.lists {
        Some(lists) => lists.clone(),
        None => match cached_lists(store, account, &job.plan.to, &job.own)? {
            Some(lists) => lists,
            None => return Ok(Ran::Needs(job, Need::Lists)),
        },
    };
    if lists.0.is_empty() {
        return Err(Error::NoDevices(job.plan.to.clone()));
    }
    (job.plan.peer_devices, job.plan.own_devices) = lists.clone();
    job.lists = Some(lists);
    let mut all = job.plan.peer_devices.clone();
    all.extend(job.plan.own_devices.iter().cloned());
    let stored = load_blocking(store, account, all)?;
    let need: Vec<Jid> = stored
        .iter()
        .filter(|s| s.record.is_none() && !job.bundles.iter().any(|(j, _)| *j == s.jid))
        .map(|s| s.jid.clone())
        .collect();
    if !need.is_empty() {
        return Ok(Ran::Needs(job, Need::Bundles(need)));
    }
    // The contact's privacy token, read here rather than in a round trip of its own (§16).
    job.plan.tctoken = stored_token(store, account, &job.plan.to, job.now)?;
    let mut targets = Vec::with_capacity(stored.len());
    for s in stored {
        let mut target = match s.record {
            Some(record) => DeviceTarget::with_session(s.jid, record),
            None => match job.bundles.iter().find(|(j, _)| *j == s.jid) {
                Some((_, Some(bundle))) => DeviceTarget::with_bundle(s.jid, bundle.clone()),
                // The server has no bundle for it: skipped (§5).
                _ => continue,
            },
        };
        target.trusted_identity = s.identity;
        targets.push(target);
    }
    let mut stanza = encrypt_commit(store, account, &job, targets)?;
    // A LID-migrated account's DM names the peer's number too (`lid_route`, §16).
    stanza.alt.peer_recipient_pn =
        peer_recipient_pn(store, account, &job.plan.device, &job.plan.to)?;
    Ok(Ran::Sent(Box::new(stanza)))
}

fn encrypt_commit(
    store: &dyn Store,
    account: AccountId,
    job: &SendJob,
    targets: Vec<DeviceTarget>,
) -> Result<MessageStanza, Error> {
    let plan = &job.plan;
    let (peer, own): (Vec<DeviceTarget>, Vec<DeviceTarget>) = targets
        .into_iter()
        .partition(|t| plan.peer_devices.contains(&t.jid));
    // The thread's CSPRNG (reseeded from the OS), not a getrandom call per job.
    let mut rng = rand::thread_rng();
    let message = plan.content.to_message();
    let copy = encode_padded(&wrap_device_sent(&message, &plan.to, None), &mut rng);
    let local = LocalIdentity {
        key_pair: plan.device.identity_key.clone(),
        registration_id: plan.device.registration_id,
    };
    let groups = [
        FanoutGroup {
            devices: &peer,
            plaintext: &job.padded,
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
        tracing::warn!(account = %account, device = %failed.jid, error = %failed.error, "device skipped");
    }
    let stanza = build_stanza(plan, &fanout);
    let updates = session_updates(&fanout);
    let payload = (updates, job.padded.as_slice());
    commit_blocking(
        store, account, &plan.id, &plan.to, payload, job.step, job.now,
    )?;
    Ok(stanza)
}

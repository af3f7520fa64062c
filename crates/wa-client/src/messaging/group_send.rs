//! The group send path (`messaging.md` §9; `signal.md` §9 for sender keys):
//!
//! ```text
//! send_group ─▶ metadata (participants, addressing mode): the account's cache, else one IQ
//!            ─▶ devices of every participant and of our own user (store | usync),
//!               minus hosted devices and our sending device
//!            ─▶ under the account's send lock:
//!                 our sender key for (group, our device) + the devices that hold it (store)
//!                 plan_distribution: a holder that is no longer a member ⇒ rotate (new key)
//!                 SKDM pairwise (pkmsg/msg) to every device that lacks the current key
//!                 padded Message encrypted once with the sender key ⇒ <enc type="skmsg">
//!                 outbox entry + sessions + sender key committed (commit_send) before the write
//!            ─▶ <message to=group phash [addressing_mode]><participants>…</participants>
//!               [<device-identity>]<enc type="skmsg"/></message>
//!            ─▶ on the server's ack: the devices that got the SKDM join the key's holders;
//!               an ack whose phash is not ours (§8) ⇒ group_phash::redistribute
//! ```
//!
//! Our own other devices are ordinary SKDM recipients: groups never use the DeviceSentMessage
//! wrapper (§6 step 3, §10); they decrypt the `skmsg` like every member.

use std::collections::BTreeSet;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_protocol::binary::Jid;
use wa_protocol::message::fanout::{encrypt_fanout, DeviceTarget, Fanout, FanoutGroup};
use wa_protocol::message::group::{
    distribution, encrypt, phash, plan_distribution, rotate_sender_key, DistributionPlan,
};
use wa_protocol::message::{encode_padded, Content};
use wa_protocol::pb::e2e as pb;
use wa_protocol::signal::keys::LocalIdentity;
use wa_protocol::signal::SenderKeyRecord;
use wa_protocol::stanza::{AddressingMode, DeviceEnc, Enc, EncType, MessageStanza};
use wa_protocol::time::Millis;
use wa_protocol::MessageId;
use wa_store::{AccountId, DeviceIdentity, Durability, SenderKeyUpdate, Store};

use super::address::signal_address;
use super::group::cached_group_info;
use super::group_commit::{commit_group, GroupCommit};
use super::group_devices::{member_devices, own_in};
use super::group_phash::redistribute;
use super::send::{load_sessions, own_device, with_bundles};
use super::send_plan::Step;
use super::types::{SendOptions, SentMessage};
use crate::error::Error;
use crate::handle::AccountHandle;

/// What one group send encrypts.
struct GroupPlan {
    id: MessageId,
    group: Jid,
    content: Content,
    /// Our sending device, in the group's namespace.
    own: Jid,
    /// Every member device but our sending one.
    devices: Vec<Jid>,
    addressing_mode: Option<AddressingMode>,
    device: DeviceIdentity,
}

/// Sends `content` to `group`; resolves on the server's ack.
pub(crate) async fn send_group(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    now: Millis,
    group: Jid,
    content: Content,
    options: SendOptions,
) -> Result<SentMessage, Error> {
    let plan = plan_group(handle, store, now, (group, content), options.id).await?;
    send_planned(handle, store, &plan, Step::New, now).await
}

/// Sends an outbox entry for `group` that was committed but never acknowledged again
/// (`resend.rs`): the same id, the metadata and devices of now, a new sender-key iteration
/// (the committed one is never reused).
pub(crate) async fn resend_group(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    now: Millis,
    (id, group, content): (MessageId, Jid, Content),
) -> Result<SentMessage, Error> {
    let plan = plan_group(handle, store, now, (group, content), Some(id)).await?;
    send_planned(handle, store, &plan, Step::Again, now).await
}

/// Sends an entry an async send accepted (`accepted.rs`): the same id, committed only while
/// it is still queued with no attempt.
pub(crate) async fn send_accepted_group(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    now: Millis,
    (id, group, content): (MessageId, Jid, Content),
) -> Result<SentMessage, Error> {
    let plan = plan_group(handle, store, now, (group, content), Some(id)).await?;
    send_planned(handle, store, &plan, Step::Accepted, now).await
}

/// The metadata (cached), our device and the member devices of one send.
async fn plan_group(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    now: Millis,
    (group, content): (Jid, Content),
    id: Option<MessageId>,
) -> Result<GroupPlan, Error> {
    let info = cached_group_info(handle, &group, now).await?;
    let device = own_device(handle, store).await?;
    let own = own_in(
        device.jid.as_ref(),
        device.lid.as_ref(),
        info.addressing_mode,
    )
    .ok_or(Error::NotRunning(*handle.id()))?;
    let devices = member_devices(handle, store, &info, &own, now).await?;
    if devices.is_empty() {
        return Err(Error::NoDevices(group));
    }
    let id = id.unwrap_or_else(|| {
        MessageId::generate(
            now.unix_secs(),
            Some(own.user_part()),
            &mut rand::rngs::OsRng,
        )
    });
    Ok(GroupPlan {
        id,
        group,
        content,
        own,
        devices,
        addressing_mode: info.addressing_mode,
        device,
    })
}

/// Encrypts and commits `plan` under the send lock, hands it to the task, and on the server's
/// ack records the devices that now hold our key.
async fn send_planned(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    plan: &GroupPlan,
    step: Step,
    now: Millis,
) -> Result<SentMessage, Error> {
    let lock = handle.send_lock();
    let guard = lock.lock().await;
    let (stanza, holders) = encrypt_and_commit(handle, store, plan, step, now).await?;
    let outcome = handle.submit_message(stanza);
    drop(guard);
    let outcome = outcome.await;
    let stale = handle.cache().take_stale(&plan.id);
    let server_t = outcome.inspect_err(|_| {
        // A refusal may mean our metadata is stale: ask again next time.
        handle.cache().forget_group(&plan.group);
    })?;
    save_holders(store, *handle.id(), &plan.group, holders).await?;
    if stale {
        let what = (&plan.id, &plan.group, &plan.content);
        match redistribute(handle, store, what, now).await {
            Ok(n) => {
                tracing::info!(account = %handle.id(), message = %plan.id, devices = n, "stale phash: resent pairwise")
            }
            Err(error) => {
                tracing::warn!(account = %handle.id(), message = %plan.id, %error, "stale phash: not resent")
            }
        }
    }
    Ok(SentMessage {
        id: plan.id.clone(),
        server_t,
    })
}

/// Under the send lock: the distribution plan, the SKDM fan-out, the `skmsg`, the durable
/// commit. Returns the stanza and the devices that will hold our key once the server accepts it.
async fn encrypt_and_commit(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    plan: &GroupPlan,
    step: Step,
    now: Millis,
) -> Result<(MessageStanza, Vec<Jid>), Error> {
    let account = *handle.id();
    let group_key = plan.group.to_string();
    let own_address = signal_address(&plan.own);
    let (record, held) = load_own_key(store, account, &group_key, &own_address).await?;
    let distribution_plan = plan_distribution(&held, &plan.devices);
    let mut rng = StdRng::from_entropy();
    let (record, skdm) = if distribution_plan.rotate {
        rotate_sender_key(&mut rng)
    } else {
        distribution(&record, &mut rng)
    }
    .map_err(wa_protocol::Error::from)?;
    let targets = if distribution_plan.send_to.is_empty() {
        Vec::new()
    } else {
        let stored = load_sessions(store, account, distribution_plan.send_to.clone()).await?;
        with_bundles(handle, stored).await?
    };
    let fanout = skdm_fanout(plan, &targets, &skdm, &mut rng);
    for failed in &fanout.failed {
        tracing::warn!(account = %account, device = %failed.jid, error = %failed.error, "no SKDM for device");
    }
    let padded = encode_padded(&plan.content.to_message(), &mut rng);
    let (record, skmsg) = encrypt(&record, &padded, &mut rng).map_err(wa_protocol::Error::from)?;
    let stanza = build_stanza(plan, &fanout, skmsg);
    let record_bytes = record.to_bytes();
    let commit = GroupCommit {
        message_id: &plan.id,
        group: &plan.group,
        fanout: &fanout,
        payload: padded,
        sender_key: SenderKeyUpdate {
            group: &group_key,
            sender: &own_address,
            record: &record_bytes,
        },
        step,
    };
    commit_group(store, account, commit, now).await?;
    Ok((stanza, holders(&held, &distribution_plan, &fanout)))
}

/// Our sender-key record for the group (empty when we never sent) and the devices that hold it.
async fn load_own_key(
    store: &Arc<dyn Store>,
    account: AccountId,
    group: &str,
    own_address: &str,
) -> Result<(SenderKeyRecord, BTreeSet<Jid>), Error> {
    let s = Arc::clone(store);
    let (group, own) = (group.to_owned(), own_address.to_owned());
    let (bytes, held) = tokio::task::spawn_blocking(move || -> wa_store::Result<_> {
        Ok((
            s.load_sender_key(&account, &group, &own)?,
            s.sender_key_devices(&account, &group)?,
        ))
    })
    .await??;
    let record = bytes
        .map(|b| SenderKeyRecord::from_bytes(&b))
        .transpose()
        .map_err(wa_protocol::Error::from)?
        .unwrap_or_default();
    // Without our key no device can hold it (e.g. the record was lost): start over.
    let held = if record.is_empty() {
        BTreeSet::new()
    } else {
        held.into_iter().collect()
    };
    Ok((record, held))
}

/// The SKDM (`Message.senderKeyDistributionMessage`, §9 step 4), padded, encrypted pairwise for
/// each target.
fn skdm_fanout(
    plan: &GroupPlan,
    targets: &[DeviceTarget],
    skdm: &[u8],
    rng: &mut StdRng,
) -> Fanout {
    let message = pb::Message {
        sender_key_distribution_message: Some(pb::SenderKeyDistributionMessage {
            group_id: Some(plan.group.to_string()),
            axolotl_sender_key_distribution_message: Some(skdm.to_vec()),
        }),
        ..Default::default()
    };
    let padded = encode_padded(&message, rng);
    let local = LocalIdentity {
        key_pair: plan.device.identity_key.clone(),
        registration_id: plan.device.registration_id,
    };
    let groups = [FanoutGroup {
        devices: targets,
        plaintext: &padded,
    }];
    encrypt_fanout(&local, &groups, rng)
}

/// Who holds our key after this send is accepted: after a rotation only the devices the new
/// SKDM reached, else the earlier holders too.
fn holders(held: &BTreeSet<Jid>, plan: &DistributionPlan, fanout: &Fanout) -> Vec<Jid> {
    let mut out: BTreeSet<Jid> = if plan.rotate {
        BTreeSet::new()
    } else {
        held.clone()
    };
    out.extend(fanout.encrypted.iter().map(|c| c.jid.clone()));
    out.into_iter().collect()
}

async fn save_holders(
    store: &Arc<dyn Store>,
    account: AccountId,
    group: &Jid,
    devices: Vec<Jid>,
) -> Result<(), Error> {
    let s = Arc::clone(store);
    let group = group.to_string();
    tokio::task::spawn_blocking(move || {
        s.save_sender_key_devices(&account, &group, &devices, Durability::Buffered)
    })
    .await??;
    Ok(())
}

/// `<message id to=group type phash [addressing_mode]><participants>…</participants>
/// [<device-identity>]<enc type="skmsg"/></message>` (§9 step 6).
fn build_stanza(plan: &GroupPlan, fanout: &Fanout, skmsg: Vec<u8>) -> MessageStanza {
    let mut stanza = MessageStanza::new(plan.id.clone(), plan.content.stanza_type());
    stanza.to = Some(plan.group.clone());
    stanza.edit = plan.content.edit_attr();
    let mut hashed = plan.devices.clone();
    hashed.push(plan.own.clone());
    stanza.phash = Some(phash(&hashed));
    stanza.addressing_mode = plan.addressing_mode;
    stanza.participants = fanout
        .encrypted
        .iter()
        .map(|c| DeviceEnc {
            jid: c.jid.clone(),
            enc: Enc::new(c.enc_type, c.ciphertext.clone()),
        })
        .collect();
    if fanout.needs_device_identity() {
        stanza.device_identity = plan.device.adv_signed_identity.clone();
    }
    let mut enc = Enc::new(EncType::SkMsg, skmsg);
    enc.mediatype = plan.content.media_type().map(str::to_owned);
    enc.decrypt_fail_hide = plan.content.hides_decrypt_failure();
    stanza.encs = vec![enc];
    stanza
}

#[cfg(test)]
mod tests {
    use super::*;
    use wa_protocol::binary::Server;

    fn pn(user: &str, device: u16) -> Jid {
        Jid::device(user, device, Server::WhatsApp)
    }

    #[test]
    fn holders_after_a_send() {
        let (a, b, c) = (
            pn("15550000001", 0),
            pn("15550000002", 0),
            pn("15550000003", 2),
        );
        let held: BTreeSet<Jid> = [a.clone(), c.clone()].into_iter().collect();
        let fanout = Fanout {
            encrypted: Vec::new(),
            failed: Vec::new(),
        };
        // Nothing new went out: the holders stay.
        let plan = plan_distribution(&held, &[a.clone(), c.clone()]);
        assert_eq!(holders(&held, &plan, &fanout), vec![a.clone(), c.clone()]);
        // c left: rotation, and only the devices the new SKDM reached hold the key.
        let plan = plan_distribution(&held, &[a.clone(), b.clone()]);
        assert!(plan.rotate);
        assert_eq!(plan.send_to, vec![a.clone(), b.clone()]);
        assert!(holders(&held, &plan, &fanout).is_empty());
    }
}

//! A group send whose server ack carried another `phash` than ours (`messaging.md` §8: "your
//! device cache is stale"; whatsapp-rust re-queries and may redistribute sender keys). The
//! server delivered the `skmsg` to the members it knows; a device our lists missed got it
//! without our key and cannot read it. Once per such send:
//!
//! ```text
//! Event::StalePhash (before the ack) ─▶ driver: group metadata dropped, message marked
//! send resolves ─▶ redistribute: member device lists dropped, metadata + devices fetched again
//!   ─▶ devices that hold no key of ours (the store's holders, this send's SKDM included)
//!   ─▶ under the send lock: sessions | bundles, the message with our SKDM added, encrypted
//!      pairwise for each, sessions saved (durable before the write)
//!   ─▶ one at a time (one id in flight): <message id=same to=<group> participant=<device>>
//!      <enc type="pkmsg|msg"/></message> (the group retry form, §11 step 5, without count)
//!   ─▶ each device the server accepted it for joins the holders of our key
//! ```
//!
//! A device that left since is not a member any more: the next send sees it among the holders
//! and rotates the key (`plan_distribution`).

use std::collections::BTreeSet;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_protocol::binary::Jid;
use wa_protocol::message::fanout::{encrypt_fanout, DeviceCiphertext, FanoutGroup};
use wa_protocol::message::{encode_padded, Content};
use wa_protocol::signal::keys::LocalIdentity;
use wa_protocol::time::Millis;
use wa_protocol::MessageId;
use wa_store::{AccountId, DeviceIdentity, Store};

use super::device_cache::forget;
use super::group::cached_group_info;
use super::group_devices::{member_devices, own_in};
use super::group_retry::{add_holder, resend_stanza, with_skdm};
use super::retry::save_session;
use super::send::{load_sessions, own_device, with_bundles};
use crate::error::Error;
use crate::handle::AccountHandle;

/// Sends message `id` (with `content`) of `group` again, pairwise with our SKDM, to each member
/// device that holds no key of ours; how many the server accepted it for.
pub(crate) async fn redistribute(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    (id, group, content): (&MessageId, &Jid, &Content),
    now: Millis,
) -> Result<usize, Error> {
    let account = *handle.id();
    let (identity, own, missing) = missing_devices(handle, store, group, now).await?;
    if missing.is_empty() {
        return Ok(0);
    }
    let lock = handle.send_lock();
    let guard = lock.lock().await;
    let mut rng = StdRng::from_entropy();
    let padded = encode_padded(&content.to_message(), &mut rng);
    let Some(plaintext) = with_skdm(store, account, group, &own, &padded, &mut rng).await? else {
        return Ok(0);
    };
    let stored = load_sessions(store, account, missing).await?;
    let targets = with_bundles(handle, stored).await?;
    let local = LocalIdentity {
        key_pair: identity.identity_key.clone(),
        registration_id: identity.registration_id,
    };
    let groups = [FanoutGroup {
        devices: &targets,
        plaintext: &plaintext,
    }];
    let fanout = encrypt_fanout(&local, &groups, &mut rng);
    for done in &fanout.encrypted {
        save_session(store, account, done).await?;
    }
    drop(guard);
    let mut accepted = 0;
    for done in fanout.encrypted {
        if send_one(handle, (id, group), content, &done, &identity).await {
            add_holder(store, account, group, done.jid).await?;
            accepted += 1;
        }
    }
    Ok(accepted)
}

/// Our device record, our device in the group's namespace, and the member devices (metadata
/// and device lists fetched again) that hold no key of ours.
async fn missing_devices(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    group: &Jid,
    now: Millis,
) -> Result<(DeviceIdentity, Jid, Vec<Jid>), Error> {
    let account = *handle.id();
    handle.cache().forget_group(group);
    let info = cached_group_info(handle, group, now).await?;
    let users: Vec<Jid> = info.participants.iter().map(|p| p.jid.clone()).collect();
    let s = Arc::clone(store);
    tokio::task::spawn_blocking(move || forget(s.as_ref(), account, &users)).await??;
    let identity = own_device(handle, store).await?;
    let own = own_in(
        identity.jid.as_ref(),
        identity.lid.as_ref(),
        info.addressing_mode,
    )
    .ok_or(Error::NotRunning(account))?;
    let devices = member_devices(handle, store, &info, &own, now).await?;
    let held = holders(store, account, group).await?;
    let missing = devices.into_iter().filter(|d| !held.contains(d)).collect();
    Ok((identity, own, missing))
}

async fn holders(
    store: &Arc<dyn Store>,
    account: AccountId,
    group: &Jid,
) -> Result<BTreeSet<Jid>, Error> {
    let s = Arc::clone(store);
    let group = group.to_string();
    let held =
        tokio::task::spawn_blocking(move || s.sender_key_devices(&account, &group)).await??;
    Ok(held.into_iter().collect())
}

/// Writes one pairwise resend and waits for the server's verdict; whether it was accepted.
async fn send_one(
    handle: &AccountHandle,
    to: (&MessageId, &Jid),
    content: &Content,
    done: &DeviceCiphertext,
    identity: &DeviceIdentity,
) -> bool {
    let stanza = resend_stanza(to, content, done, identity, None);
    match handle.submit_message(stanza).await {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(account = %handle.id(), device = %done.jid, %error, "not resent");
            false
        }
    }
}

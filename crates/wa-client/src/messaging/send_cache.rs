//! Our device identity, kept in memory per account so a send makes no store round trip for
//! it: the account task sets it from the running connection's credentials when it logs in and
//! clears it at logout; until then (or for a task not yet connected) sends read the store.
//! It also keeps group metadata for the group send (`group_send.rs`), so a send to an unchanged
//! group makes no metadata IQ, and the contacts whose privacy-token check (`privacy.rs`) is
//! settled for the current bucket, so a send to them makes no store round trip for it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use wa_protocol::binary::Jid;
use wa_protocol::stanza::GroupInfo;
use wa_protocol::time::Millis;
use wa_protocol::MessageId;
use wa_store::DeviceIdentity;

/// How long fetched group metadata is used before a send asks again (10 minutes).
///
/// The `w:gp2` notifications, our own participant/subject/leave IQs, a refused send and a
/// `phash` that disagrees with the server's (`messaging.md` §8) already drop an entry; the
/// expiry bounds what a change none of those reported (a notification lost with a queue the
/// server discarded, a change made while the account was away) can cost: sends planned from
/// an old participant list, so a new member's devices miss our SKDM (they ask by retry
/// receipt) and a removed member's key is not rotated away. Ten minutes keeps that window
/// short while costing an account sending to a busy group one metadata IQ per ten minutes
/// (the device lists of the members have their own cache, `device_cache.rs`).
pub(crate) const GROUP_METADATA_TTL_MS: u64 = 10 * 60 * 1000;

/// One account's in-memory send cache (shared by its handles and its task).
#[derive(Debug, Default)]
pub(crate) struct SendCache {
    device: Mutex<Option<Arc<DeviceIdentity>>>,
    /// Group metadata by group JID, as the last metadata IQ returned it, with when it was
    /// fetched; dropped by a `w:gp2` notification for the group and by our own participant,
    /// subject and leave IQs, and not used past [`GROUP_METADATA_TTL_MS`].
    groups: Mutex<GroupSlots>,
    /// Per contact (as sends address it), the privacy-token bucket whose issue check is done
    /// or running (`privacy::issue_if_due`); cleared with the device at logout.
    token_checks: Mutex<HashMap<Jid, u64>>,
    /// Group messages whose server ack carried another `phash` than ours (`messaging.md` §8),
    /// set by the task before the ack resolves the send, taken by the sender (`group_send.rs`).
    stale: Mutex<HashSet<MessageId>>,
}

/// At most this many stale marks wait to be taken (a sender that went away leaves its mark).
const MAX_STALE_MARKS: usize = 1024;

/// The cached group metadata and how many times any of it was dropped: metadata fetched before
/// a drop is not cached after it (the drop may have come while its IQ was in flight).
#[derive(Debug, Default)]
struct GroupSlots {
    generation: u64,
    info: HashMap<Jid, (Arc<GroupInfo>, Millis)>,
}

impl SendCache {
    /// Our device identity, when the task has set it.
    pub(crate) fn device(&self) -> Option<Arc<DeviceIdentity>> {
        // A panic while holding this lock leaves a plain value behind: keep using it.
        let device = self
            .device
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        device.clone()
    }

    /// Sets (logged in) or clears (logged out) our device identity.
    pub(crate) fn set_device(&self, device: Option<Arc<DeviceIdentity>>) {
        let mut slot = self
            .device
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if device.is_none() {
            self.token_checks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clear();
        }
        *slot = device;
    }

    /// Claims the privacy-token issue check of `contact` for `bucket`: false when it is already
    /// done or running for that bucket (nothing to do), true when the caller runs it.
    pub(crate) fn claim_token_check(&self, contact: &Jid, bucket: u64) -> bool {
        let mut checks = self
            .token_checks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if checks.get(contact) == Some(&bucket) {
            return false;
        }
        checks.insert(contact.clone(), bucket);
        true
    }

    /// Gives a claimed check back (it could not settle: no LID yet, or the IQ failed), so the
    /// next send to `contact` checks again.
    pub(crate) fn release_token_check(&self, contact: &Jid, bucket: u64) {
        let mut checks = self
            .token_checks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if checks.get(contact) == Some(&bucket) {
            checks.remove(contact);
        }
    }

    /// The cached metadata of `group` unless it expired by `now`, or the generation to pass to
    /// [`SendCache::set_group`] once it is fetched.
    pub(crate) fn group(&self, group: &Jid, now: Millis) -> Result<Arc<GroupInfo>, u64> {
        let groups = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match groups.info.get(group) {
            Some((info, at)) if now.since(*at) < GROUP_METADATA_TTL_MS => Ok(Arc::clone(info)),
            _ => Err(groups.generation),
        }
    }

    /// Caches the metadata of `group` fetched at `generation` (at `now`), unless a drop came
    /// since.
    pub(crate) fn set_group(&self, group: Jid, info: Arc<GroupInfo>, generation: u64, now: Millis) {
        let mut groups = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if groups.generation == generation {
            groups.info.insert(group, (info, now));
        }
    }

    /// The ack of `id` carried another `phash` than ours (the task calls this before the ack
    /// resolves the send): the metadata of `group` is dropped and `id` marked for its sender.
    pub(crate) fn stale_phash(&self, group: &Jid, id: MessageId) {
        self.forget_group(group);
        let mut stale = self
            .stale
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if stale.len() >= MAX_STALE_MARKS {
            stale.clear();
        }
        stale.insert(id);
    }

    /// Whether `id` was marked stale (the mark is taken).
    pub(crate) fn take_stale(&self, id: &MessageId) -> bool {
        let mut stale = self
            .stale
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stale.remove(id)
    }

    /// Drops the cached metadata of `group` (it changed, or may have).
    pub(crate) fn forget_group(&self, group: &Jid) {
        let mut groups = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        groups.generation += 1;
        groups.info.remove(group);
    }
}

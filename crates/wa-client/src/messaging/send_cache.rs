//! Our device identity, kept in memory per account so a send makes no store round trip for
//! it: the account task sets it from the running connection's credentials when it logs in and
//! clears it at logout; until then (or for a task not yet connected) sends read the store.
//! It also keeps group metadata for the group send (`group_send.rs`), so a send to an unchanged
//! group makes no metadata IQ, and the contacts whose privacy-token check (`privacy.rs`) is
//! settled for the current bucket, so a send to them makes no store round trip for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wa_protocol::binary::Jid;
use wa_protocol::stanza::GroupInfo;
use wa_store::DeviceIdentity;

/// One account's in-memory send cache (shared by its handles and its task).
#[derive(Debug, Default)]
pub(crate) struct SendCache {
    device: Mutex<Option<Arc<DeviceIdentity>>>,
    /// Group metadata by group JID, as the last metadata IQ returned it; dropped by a `w:gp2`
    /// notification for the group and by our own participant, subject and leave IQs.
    groups: Mutex<GroupSlots>,
    /// Per contact (as sends address it), the privacy-token bucket whose issue check is done
    /// or running (`privacy::issue_if_due`); cleared with the device at logout.
    token_checks: Mutex<HashMap<Jid, u64>>,
}

/// The cached group metadata and how many times any of it was dropped: metadata fetched before
/// a drop is not cached after it (the drop may have come while its IQ was in flight).
#[derive(Debug, Default)]
struct GroupSlots {
    generation: u64,
    info: HashMap<Jid, Arc<GroupInfo>>,
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

    /// The cached metadata of `group`, or the generation to pass to [`SendCache::set_group`]
    /// once it is fetched.
    pub(crate) fn group(&self, group: &Jid) -> Result<Arc<GroupInfo>, u64> {
        let groups = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        groups.info.get(group).cloned().ok_or(groups.generation)
    }

    /// Caches the metadata of `group` fetched at `generation`, unless a drop came since.
    pub(crate) fn set_group(&self, group: Jid, info: Arc<GroupInfo>, generation: u64) {
        let mut groups = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if groups.generation == generation {
            groups.info.insert(group, info);
        }
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

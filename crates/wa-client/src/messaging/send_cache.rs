//! Our device identity, kept in memory per account so a send makes no store round trip for
//! it: the account task sets it from the running connection's credentials when it logs in and
//! clears it at logout; until then (or for a task not yet connected) sends read the store.

use std::sync::{Arc, Mutex};

use wa_store::DeviceIdentity;

/// One account's in-memory send cache (shared by its handles and its task).
#[derive(Debug, Default)]
pub(crate) struct SendCache {
    device: Mutex<Option<Arc<DeviceIdentity>>>,
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
        *slot = device;
    }
}

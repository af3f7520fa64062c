//! The last decoded device identity of each account, keyed by the exact bytes it was decoded
//! from. Decoding a device record checks its three key pairs (three scalar multiplications,
//! `records::device_from_pb`), and the send path reads the device once per message; a read
//! whose stored bytes equal the remembered ones returns the remembered identity instead. The
//! check is byte equality with what was stored, so the memo is never stale: a changed record
//! is decoded (and checked) again.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::error::Result;
use crate::types::account_id::AccountId;
use crate::types::device::DeviceIdentity;

/// Per account: the record's bytes and what they decoded to.
#[derive(Default)]
pub(crate) struct DeviceMemo {
    entries: Mutex<HashMap<AccountId, (Vec<u8>, DeviceIdentity)>>,
}

impl DeviceMemo {
    fn lock(&self) -> MutexGuard<'_, HashMap<AccountId, (Vec<u8>, DeviceIdentity)>> {
        match self.entries.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The identity `raw` decodes to: remembered when `raw` is what was decoded last time for
    /// account `a`, else `decode(raw)` (remembered when it succeeds).
    pub(crate) fn get_or_decode(
        &self,
        a: &AccountId,
        raw: Vec<u8>,
        decode: impl FnOnce(&[u8]) -> Result<DeviceIdentity>,
    ) -> Result<DeviceIdentity> {
        if let Some((bytes, device)) = self.lock().get(a) {
            if *bytes == raw {
                return Ok(device.clone());
            }
        }
        let device = decode(&raw)?;
        self.lock().insert(*a, (raw, device.clone()));
        Ok(device)
    }

    /// Forgets account `a` (its record is gone).
    pub(crate) fn forget(&self, a: &AccountId) {
        self.lock().remove(a);
    }
}

//! The directory role: what the network knows about devices, for other devices to find.
//!
//! Today it keeps the keys each companion published with its prekey upload (identity, signed
//! prekey, one-time prekeys), which the session role counts and refills and the admin API
//! reports. Next, with messaging (`WA-SIM.md`): usync answers (devices with key-index,
//! key-index-list, LID), prekey bundles served from these keys (each fetch consuming one
//! one-time prekey), and profile and push names.

use std::collections::HashMap;

use wa_protocol::stanza::PreKeyUpload;
use wa_protocol::PhoneNumber;

/// The keys devices published, by `(account, device)`.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    keys: HashMap<(PhoneNumber, u8), PreKeyUpload>,
}

impl Directory {
    /// Records an upload: one-time prekeys add to those of the same identity (the signed
    /// prekey is replaced); an upload with another identity starts over.
    pub(crate) fn record_upload(&mut self, phone: &PhoneNumber, device: u8, upload: PreKeyUpload) {
        match self.keys.get_mut(&(phone.clone(), device)) {
            Some(keys) if keys.identity == upload.identity => {
                keys.prekeys.extend(upload.prekeys.iter().copied());
                keys.signed = upload.signed;
            }
            _ => {
                self.keys.insert((phone.clone(), device), upload);
            }
        }
    }

    /// How many one-time prekeys the device has on the server.
    pub(crate) fn prekey_count(&self, phone: &PhoneNumber, device: u8) -> usize {
        self.keys
            .get(&(phone.clone(), device))
            .map_or(0, |k| k.prekeys.len())
    }

    /// Forgets a device's keys (it was unlinked).
    pub(crate) fn forget(&mut self, phone: &PhoneNumber, device: u8) {
        self.keys.remove(&(phone.clone(), device));
    }
}

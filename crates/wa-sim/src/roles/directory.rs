//! The directory role: what the network knows about devices, for other devices to find.
//!
//! It keeps the keys each device published: companions with their prekey upload, the
//! simulated phone (device 0) when its account is created (identity, signed prekey, one-time
//! prekeys). The session role counts and refills them, the admin API reports them, and
//! [`discovery`](super::discovery) serves usync answers and prekey bundles from them, each
//! bundle consuming one one-time prekey as the real server does (`messaging.md` §5, §14).
//! Profile and push names come later.

use std::collections::HashMap;

use wa_protocol::signal::{PreKeyBundle, PublicPreKey};
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

    /// The device's bundle, handing out (and so consuming) its oldest one-time prekey; without
    /// one left the bundle has none (§5). `None` if the device published no keys.
    pub(crate) fn take_bundle(&mut self, phone: &PhoneNumber, device: u8) -> Option<PreKeyBundle> {
        let keys = self.keys.get_mut(&(phone.clone(), device))?;
        let pre_key = (!keys.prekeys.is_empty()).then(|| keys.prekeys.remove(0));
        Some(PreKeyBundle {
            registration_id: keys.registration_id,
            identity_key: keys.identity,
            signed_pre_key: PublicPreKey {
                id: keys.signed.id,
                key: keys.signed.public,
            },
            signed_pre_key_signature: keys.signed.signature,
            pre_key: pre_key.map(|k| PublicPreKey {
                id: k.id,
                key: k.public,
            }),
        })
    }

    /// Forgets a device's keys (it was unlinked).
    pub(crate) fn forget(&mut self, phone: &PhoneNumber, device: u8) {
        self.keys.remove(&(phone.clone(), device));
    }
}

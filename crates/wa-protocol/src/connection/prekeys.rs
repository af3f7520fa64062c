//! Prekeys: the count after login, a refill when the server runs low (count result or
//! `encrypt` notification), and the upload of keys the driver created and stored.

use rand_core::CryptoRngCore;

use super::iq::IqPurpose;
use super::state::Connection;
use super::types::Event;
use crate::binary::Node;
use crate::signal::PublicKey;
use crate::stanza::{
    parse_prekey_count, prekey_upload, PreKeyUpload, UploadedPreKey, UploadedSignedPreKey,
};
use crate::time::Millis;

impl<R: CryptoRngCore> Connection<R> {
    /// The answer to the post-login count: refill below the minimum, else this step is done.
    pub(super) fn prekey_count_received(&mut self, result: &Node, now: Millis) {
        match parse_prekey_count(result) {
            Ok(count) if count < self.config.min_prekeys => {
                self.request_prekeys(self.config.upload_prekeys.saturating_sub(count));
            }
            Ok(_) => self.post_login_step(now, |l| l.prekeys_done = true),
            Err(e) => self.protocol_error(e),
        }
    }

    /// An `encrypt` notification: when it says the server runs low (logged in), ask for a
    /// refill and return `true`; otherwise `false` (the notification goes to the application).
    pub(super) fn low_prekeys_notified(&mut self, notification: &Node) -> bool {
        let Ok(have) = parse_prekey_count(notification) else {
            return false;
        };
        if have >= self.config.min_prekeys || self.state.logged_in_mut().is_none() {
            return false;
        }
        self.request_prekeys(self.config.upload_prekeys.saturating_sub(have));
        true
    }

    /// Asks the driver for `count` new one-time prekeys (it stores them durably, then answers
    /// with `Command::UploadPreKeys`).
    fn request_prekeys(&mut self, count: u32) {
        let Some(l) = self.state.logged_in_mut() else {
            return;
        };
        if !l.prekeys_requested && count > 0 {
            l.prekeys_requested = true;
            self.events.push_back(Event::PreKeysNeeded { count });
        }
    }

    /// Uploads the keys the driver stored, with our signed prekey.
    pub(super) fn upload_prekeys(&mut self, keys: Vec<(u32, PublicKey)>, now: Millis) {
        let upload = PreKeyUpload {
            registration_id: self.creds.registration_id,
            identity: self.creds.identity.public,
            prekeys: keys
                .iter()
                .map(|(id, public)| UploadedPreKey {
                    id: *id,
                    public: *public,
                })
                .collect(),
            signed: UploadedSignedPreKey {
                id: self.creds.signed_prekey_id,
                public: self.creds.signed_prekey.public,
                signature: self.creds.signed_prekey_signature,
            },
        };
        let ids = keys.iter().map(|(id, _)| *id).collect();
        self.send_iq(prekey_upload(&upload), IqPurpose::PreKeyUpload(ids), now);
    }

    /// The server stored the upload.
    pub(super) fn prekeys_uploaded(&mut self, ids: Vec<u32>, now: Millis) {
        if let Some(l) = self.state.logged_in_mut() {
            l.prekeys_requested = false;
        }
        self.events.push_back(Event::PreKeysUploaded { ids });
        self.post_login_step(now, |l| l.prekeys_done = true);
    }
}

//! The simulated phones' own copies of media (a phone's gallery), so a phone can answer a media
//! retry request after the server's copy expired (issue 13 item 7, "expiry of old media (to
//! exercise media retry)"; the stanzas are `wa_protocol::stanza::MediaRetryRequest` /
//! `MediaRetryNotice`).
//!
//! A phone keeps the encrypted body (`ciphertext ‖ mac`, a hard link to the store's file, or a
//! copy where links are not possible) of every media message it sent, and of every one it
//! received and verified, with the message's `mediaKey` and type, keyed by (phone, message id).
//! Copies live in the media store's directory for the simulator's lifetime; expiring the
//! server's file (`POST /admin/media/expire`) does not touch them. `POST /admin/media/forget`
//! drops every phone copy, so a retry is answered "not on phone".

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use wa_protocol::media::{MediaKey, MediaType};
use wa_protocol::PhoneNumber;

/// One kept file.
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    /// The phone's copy of the encrypted body.
    pub(crate) file: PathBuf,
    /// The message's `mediaKey`.
    pub(crate) key: MediaKey,
    /// Its type (the upload's `mms-type`).
    pub(crate) ty: MediaType,
    /// `fileEncSha256` of the body.
    pub(crate) file_enc_sha256: [u8; 32],
}

/// Every phone's kept files.
#[derive(Debug, Default)]
pub(crate) struct PhoneGallery {
    kept: Mutex<HashMap<(PhoneNumber, String), Kept>>,
}

impl PhoneGallery {
    fn lock(&self) -> MutexGuard<'_, HashMap<(PhoneNumber, String), Kept>> {
        // Single inserts and removals: a panic while holding it leaves it consistent.
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `kept` as `phone`'s copy of message `id`.
    pub(crate) fn insert(&self, phone: &PhoneNumber, id: &str, kept: Kept) {
        self.lock().insert((phone.clone(), id.to_owned()), kept);
    }

    /// `phone`'s copy of message `id`.
    pub(crate) fn get(&self, phone: &PhoneNumber, id: &str) -> Option<Kept> {
        self.lock().get(&(phone.clone(), id.to_owned())).cloned()
    }

    /// Drops every copy (their files are removed); returns how many there were.
    pub(crate) fn forget_all(&self) -> usize {
        let drained: Vec<Kept> = self.lock().drain().map(|(_, k)| k).collect();
        for kept in &drained {
            if let Err(error) = std::fs::remove_file(&kept.file) {
                tracing::warn!(%error, file = %kept.file.display(), "wa-sim: kept media not removed");
            }
        }
        drained.len()
    }
}

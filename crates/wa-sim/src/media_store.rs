//! The simulated media server's storage (`media.md` §3): the `auth` tokens `media_conn` hands
//! out, and the uploaded files (ciphertext ‖ MAC, as clients upload them) on disk, each under a
//! direct path, until it expires.
//!
//! Files are streamed to disk ([`Incoming`]) while their SHA-256 is computed, so a 100 MB upload
//! is never held in memory; downloads read them back in chunks. The store checks what a server
//! can check without keys: the upload's `auth`, and that the body hashes to the `fileEncSha256`
//! the upload token names. An expired file (its [`MediaConfig::file_ttl`] passed, or expired
//! by the harness) is deleted and answers 410 from then on; a path never stored answers 404.
//!
//! Direct paths have the shape of `media.md` §3's example (`/v/t62…enc?ccb=…&oh=…&oe=…&_nc_sid=…`):
//! `/v/t62.sim-<mms-type>/<id>.enc?ccb=11-4&oh=<signature>&oe=<expiry, hex unix seconds>&_nc_sid=wa-sim`.
//! A download must carry the `oh` of its path (403 otherwise), as a real one carries the
//! server's signature.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::StdRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use wa_protocol::media::{parse_upload_token, MediaType};
use wa_protocol::time::Millis;

use crate::config::MediaConfig;
use crate::error::SimError;
use crate::media_gallery::PhoneGallery;

/// An upload path's type, one of `media.md` §1's `mms-type`s ([`MediaType::from_mms_type`]).
pub(crate) fn mms_type(text: &str) -> Result<&'static str, SimError> {
    MediaType::from_mms_type(text)
        .map(MediaType::mms_type)
        .ok_or_else(|| SimError::UnknownMmsType(text.chars().take(40).collect()))
}

/// The `fileEncSha256` an upload token names: URL-safe base64, padded (whatsmeow) or not
/// (Baileys, whatsapp-rust; `media.md` §3 and §6: a simulated server accepts both).
pub(crate) fn decode_token(token: &str) -> Result<[u8; 32], SimError> {
    parse_upload_token(token).map_err(|_| SimError::BadMediaToken)
}

/// The path part of a direct path or URL path (what a file is stored under).
fn path_part(direct_path: &str) -> &str {
    direct_path.split('?').next().unwrap_or(direct_path)
}

/// One stored file, as `GET /admin/media` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MediaInfo {
    /// The direct path it is downloaded by (with its query).
    pub direct_path: String,
    /// The `mms-type` it was uploaded as.
    pub mms_type: String,
    /// Bytes (ciphertext and MAC).
    pub size: u64,
    /// Hex SHA-256 of the stored bytes (`fileEncSha256`).
    pub file_enc_sha256: String,
    /// When it expires (unix seconds).
    pub expires: u64,
    /// Whether it is gone (downloads answer 410).
    pub expired: bool,
}

/// What an upload answers (`media.md` §3): the file's URL and direct path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Uploaded {
    /// `http://<host><direct_path>`.
    pub(crate) url: String,
    /// The direct path.
    pub(crate) direct_path: String,
    /// Bytes stored.
    pub(crate) size: u64,
}

#[derive(Debug)]
struct Stored {
    file: PathBuf,
    info: MediaInfo,
    oh: String,
}

#[derive(Debug, Default)]
struct Inner {
    /// Live `auth` tokens and when each stops opening uploads.
    auths: HashMap<String, Millis>,
    /// Files by the path part of their direct path.
    files: HashMap<String, Stored>,
    /// Bytes of the files not yet gone.
    total: u64,
}

/// Where the files live: a temporary directory of the store's, or the harness's.
#[derive(Debug)]
enum Root {
    Temp(tempfile::TempDir),
    Dir(PathBuf),
}

impl Root {
    fn path(&self) -> &Path {
        match self {
            Root::Temp(t) => t.path(),
            Root::Dir(d) => d,
        }
    }
}

/// The media server's state (one per simulator).
#[derive(Debug)]
pub(crate) struct MediaStore {
    root: Root,
    host: String,
    config: MediaConfig,
    inner: Mutex<Inner>,
    next: AtomicU64,
    /// The phones' own copies (`media_gallery`).
    pub(crate) gallery: PhoneGallery,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl MediaStore {
    /// A store answering for `host` (`ip:port`, the media host `media_conn` names).
    pub(crate) fn new(config: MediaConfig, host: String) -> Result<Self, SimError> {
        let root = match &config.dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(SimError::MediaIo)?;
                Root::Dir(dir.clone())
            }
            None => Root::Temp(tempfile::tempdir().map_err(SimError::MediaIo)?),
        };
        Ok(Self {
            root,
            host,
            config,
            inner: Mutex::new(Inner::default()),
            next: AtomicU64::new(1),
            gallery: PhoneGallery::default(),
        })
    }

    /// The media host clients are told (`ip:port`).
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The limits and lifetimes.
    pub(crate) fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// A new `auth` token, valid for [`MediaConfig::auth_ttl`] from `now`.
    pub(crate) fn new_auth(&self, now: Millis, rng: &mut StdRng) -> String {
        let mut bytes = [0u8; 24];
        rng.fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let until = now.after(millis(self.config.auth_ttl));
        let mut inner = lock(&self.inner);
        inner.auths.retain(|_, t| *t > now);
        inner.auths.insert(token.clone(), until);
        token
    }

    /// Checks an upload's `auth`: a token `media_conn` handed out that has not expired.
    pub(crate) fn check_auth(&self, auth: Option<&str>, now: Millis) -> Result<(), SimError> {
        let inner = lock(&self.inner);
        match auth.and_then(|a| inner.auths.get(a)) {
            Some(until) if *until > now => Ok(()),
            _ => Err(SimError::MediaAuth),
        }
    }

    /// A new file being written (removed again unless committed).
    pub(crate) fn begin(&self) -> Result<Incoming, SimError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.root.path().join(format!("part-{n}"));
        let file = File::create(&path).map_err(SimError::MediaIo)?;
        Ok(Incoming {
            file,
            path: Some(path),
            hasher: Sha256::new(),
            size: 0,
            max: self.config.max_file_bytes,
        })
    }

    /// Keeps a written file as `mms_type` under a new direct path. With `expected` (the
    /// upload token's `fileEncSha256`), a body hashing to anything else is refused.
    pub(crate) fn commit(
        &self,
        mut incoming: Incoming,
        mms_type: &'static str,
        expected: Option<[u8; 32]>,
        now: Millis,
        rng: &mut StdRng,
    ) -> Result<Uploaded, SimError> {
        incoming.file.flush().map_err(SimError::MediaIo)?;
        let hash: [u8; 32] = incoming.hasher.clone().finalize().into();
        if expected.is_some_and(|e| e != hash) {
            return Err(SimError::MediaHashMismatch);
        }
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let mut oh = [0u8; 12];
        rng.fill_bytes(&mut oh);
        let (id, oh) = (hex::encode(id), URL_SAFE_NO_PAD.encode(oh));
        let expires = now.after(millis(self.config.file_ttl));
        let path = format!("/v/t62.sim-{mms_type}/{id}.enc");
        let direct_path = format!(
            "{path}?ccb=11-4&oh={oh}&oe={:X}&_nc_sid=wa-sim",
            expires.unix_secs()
        );
        let file = self.root.path().join(format!("{id}.enc"));
        let mut inner = lock(&self.inner);
        if inner.total.saturating_add(incoming.size) > self.config.max_total_bytes {
            return Err(SimError::MediaTooLarge(self.config.max_total_bytes));
        }
        let written = incoming
            .path
            .take()
            .ok_or_else(|| SimError::MediaIo(std::io::Error::other("upload already committed")))?;
        std::fs::rename(&written, &file).map_err(SimError::MediaIo)?;
        inner.total += incoming.size;
        let info = MediaInfo {
            direct_path: direct_path.clone(),
            mms_type: mms_type.to_owned(),
            size: incoming.size,
            file_enc_sha256: hex::encode(hash),
            expires: expires.unix_secs(),
            expired: false,
        };
        inner.files.insert(path, Stored { file, info, oh });
        Ok(Uploaded {
            url: format!("http://{}{direct_path}", self.host),
            direct_path,
            size: incoming.size,
        })
    }

    /// Opens a stored file for download: the path part of `direct_path` names it, `oh` must
    /// be its signature. Gone when expired (its file is deleted then).
    pub(crate) fn open(
        &self,
        direct_path: &str,
        oh: Option<&str>,
        now: Millis,
    ) -> Result<(File, u64), SimError> {
        let key = path_part(direct_path);
        let mut inner = lock(&self.inner);
        let stored = inner
            .files
            .get(key)
            .ok_or_else(|| SimError::NoMedia(key.chars().take(120).collect()))?;
        let expired = stored.info.expired || now.unix_secs() >= stored.info.expires;
        if expired {
            expire_one(&mut inner, key);
            return Err(SimError::MediaGone(key.chars().take(120).collect()));
        }
        if oh != Some(stored.oh.as_str()) {
            return Err(SimError::MediaSignature);
        }
        let file = File::open(&stored.file).map_err(SimError::MediaIo)?;
        Ok((file, stored.info.size))
    }

    /// Expires the file under `direct_path` now (its downloads answer 410 from now on).
    pub(crate) fn expire(&self, direct_path: &str) -> Result<(), SimError> {
        let key = path_part(direct_path);
        let mut inner = lock(&self.inner);
        if !inner.files.contains_key(key) {
            return Err(SimError::NoMedia(key.chars().take(120).collect()));
        }
        expire_one(&mut inner, key);
        Ok(())
    }

    /// Expires every stored file; returns how many were live.
    pub(crate) fn expire_all(&self) -> usize {
        let mut inner = lock(&self.inner);
        let keys: Vec<String> = inner
            .files
            .iter()
            .filter(|(_, s)| !s.info.expired)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &keys {
            expire_one(&mut inner, key);
        }
        keys.len()
    }

    /// Links (or, where that fails, copies) the live file under `direct_path` to a new file the
    /// store does not expire: a phone's own copy (`media_gallery`).
    pub(crate) fn keep_copy(&self, direct_path: &str) -> Result<PathBuf, SimError> {
        let key = path_part(direct_path);
        let source = {
            let inner = lock(&self.inner);
            let stored = inner
                .files
                .get(key)
                .filter(|s| !s.info.expired)
                .ok_or_else(|| SimError::NoMedia(key.chars().take(120).collect()))?;
            stored.file.clone()
        };
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let kept = self.root.path().join(format!("kept-{n}.enc"));
        if std::fs::hard_link(&source, &kept).is_err() {
            std::fs::copy(&source, &kept).map_err(SimError::MediaIo)?;
        }
        Ok(kept)
    }

    /// Stores the body in `kept` again under a new direct path (a phone's re-upload), checked
    /// against `expected` as an upload is.
    pub(crate) fn reupload(
        &self,
        kept: &Path,
        mms_type: &'static str,
        expected: [u8; 32],
        now: Millis,
        rng: &mut StdRng,
    ) -> Result<Uploaded, SimError> {
        let mut source = File::open(kept).map_err(SimError::MediaIo)?;
        let mut incoming = self.begin()?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = std::io::Read::read(&mut source, &mut buf).map_err(SimError::MediaIo)?;
            if n == 0 {
                break;
            }
            incoming.write(&buf[..n])?;
        }
        self.commit(incoming, mms_type, Some(expected), now, rng)
    }

    /// Forgets every `media_conn` auth token: uploads with them answer 401 until a client asks
    /// for a new one (the harness's switch for "refreshed on auth failure").
    pub(crate) fn revoke_auths(&self) -> usize {
        let mut inner = lock(&self.inner);
        let n = inner.auths.len();
        inner.auths.clear();
        n
    }

    /// Every file stored (gone ones too), by direct path.
    pub(crate) fn list(&self, now: Millis) -> Vec<MediaInfo> {
        let inner = lock(&self.inner);
        let mut out: Vec<MediaInfo> = inner
            .files
            .values()
            .map(|s| {
                let mut info = s.info.clone();
                info.expired |= now.unix_secs() >= info.expires;
                info
            })
            .collect();
        out.sort_by(|a, b| a.direct_path.cmp(&b.direct_path));
        out
    }
}

/// Marks a file gone and deletes its bytes.
fn expire_one(inner: &mut Inner, key: &str) {
    let Some(stored) = inner.files.get_mut(key) else {
        return;
    };
    if stored.info.expired {
        return;
    }
    stored.info.expired = true;
    let (file, size) = (stored.file.clone(), stored.info.size);
    inner.total = inner.total.saturating_sub(size);
    if let Err(error) = std::fs::remove_file(&file) {
        tracing::warn!(%error, file = %file.display(), "wa-sim: expired media not removed");
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A file being written to the store: its bytes go to disk as they come, hashed on the way.
/// Dropped without [`MediaStore::commit`], its file is removed.
#[derive(Debug)]
pub(crate) struct Incoming {
    file: File,
    path: Option<PathBuf>,
    hasher: Sha256,
    size: u64,
    max: u64,
}

impl Incoming {
    /// Appends `chunk` and hashes it; refused once the file passes the store's largest size.
    pub(crate) fn write(&mut self, chunk: &[u8]) -> Result<(), SimError> {
        self.append(chunk)?;
        self.hasher.update(chunk);
        Ok(())
    }

    /// Appends `chunk` without hashing it: the caller hashes the same bytes, in order, on
    /// another thread and hands the hash over with [`Incoming::hashed_by`] before the commit.
    pub(crate) fn append(&mut self, chunk: &[u8]) -> Result<(), SimError> {
        self.size += chunk.len() as u64;
        if self.size > self.max {
            return Err(SimError::MediaTooLarge(self.max));
        }
        self.file.write_all(chunk).map_err(SimError::MediaIo)
    }

    /// The hash of everything [`Incoming::append`]ed, computed elsewhere.
    pub(crate) fn hashed_by(&mut self, hasher: Sha256) {
        self.hasher = hasher;
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // Best effort: a file that cannot be removed stays in the (temporary) directory.
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    /// `media.md` §5: the vector's upload token, padded and unpadded.
    #[test]
    fn tokens_decode_padded_and_unpadded() {
        let hash = hex::decode("622314e5b73d91755e82353c1226c91ee1ce9258087654d713573dfe2033feba")
            .expect("hex");
        let token = "YiMU5bc9kXVegjU8EibJHuHOklgIdlTXE1c9_iAz_ro";
        assert_eq!(decode_token(token).expect("unpadded").to_vec(), hash);
        let padded = format!("{token}=");
        assert_eq!(decode_token(&padded).expect("padded").to_vec(), hash);
        assert_eq!(URL_SAFE_NO_PAD.encode(&hash), token);
        assert!(decode_token("YiMU5bc9").is_err(), "not 32 bytes");
        assert!(decode_token("YiMU5bc9kXVegjU8EibJHuHOklgIdlTXE1c9+iAz/ro").is_err());
    }

    #[test]
    fn a_file_is_stored_opened_and_expired() {
        let store = MediaStore::new(MediaConfig::default(), "127.0.0.1:1".into()).expect("store");
        let mut rng = StdRng::seed_from_u64(7);
        let now = Millis(1_700_000_000_000);
        let mut incoming = store.begin().expect("begin");
        incoming.write(b"ciphertext").expect("write");
        let hash: [u8; 32] = Sha256::digest(b"ciphertext").into();
        let up = store
            .commit(incoming, "image", Some(hash), now, &mut rng)
            .expect("commit");
        assert!(up.url.ends_with(&up.direct_path));
        let oh = up
            .direct_path
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("oh="))
            .expect("oh");
        let (_, size) = store.open(&up.direct_path, Some(oh), now).expect("open");
        assert_eq!(size, 10);
        assert!(matches!(
            store.open(&up.direct_path, Some("x"), now),
            Err(SimError::MediaSignature)
        ));
        store.expire(&up.direct_path).expect("expire");
        assert!(matches!(
            store.open(&up.direct_path, Some(oh), now),
            Err(SimError::MediaGone(_))
        ));
        assert!(matches!(
            store.open("/v/t62.sim-image/none.enc", Some(oh), now),
            Err(SimError::NoMedia(_))
        ));
    }

    #[test]
    fn auth_tokens_and_files_expire_on_the_clock() {
        let config = MediaConfig {
            auth_ttl: std::time::Duration::from_secs(60),
            file_ttl: std::time::Duration::from_secs(600),
            ..MediaConfig::default()
        };
        let store = MediaStore::new(config, "127.0.0.1:1".into()).expect("store");
        let mut rng = StdRng::seed_from_u64(8);
        let now = Millis(1_700_000_000_000);
        let auth = store.new_auth(now, &mut rng);
        store
            .check_auth(Some(&auth), now.after(59_999))
            .expect("live");
        assert!(store.check_auth(Some(&auth), now.after(60_000)).is_err());
        assert!(store.check_auth(Some("other"), now).is_err());
        assert!(store.check_auth(None, now).is_err());
        let incoming = store.begin().expect("begin");
        let up = store
            .commit(incoming, "document", None, now, &mut rng)
            .expect("commit");
        let oh = up
            .direct_path
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("oh="))
            .expect("oh")
            .to_owned();
        store
            .open(&up.direct_path, Some(&oh), now.after(599_999))
            .expect("live");
        assert!(matches!(
            store.open(&up.direct_path, Some(&oh), now.after(600_000)),
            Err(SimError::MediaGone(_))
        ));
        assert!(store.list(now)[0].expired);
    }

    #[test]
    fn a_body_with_another_hash_is_refused_and_removed() {
        let store = MediaStore::new(MediaConfig::default(), "127.0.0.1:1".into()).expect("store");
        let mut rng = StdRng::seed_from_u64(7);
        let mut incoming = store.begin().expect("begin");
        incoming.write(b"ciphertext").expect("write");
        let refused = store.commit(incoming, "image", Some([0; 32]), Millis(0), &mut rng);
        assert!(matches!(refused, Err(SimError::MediaHashMismatch)));
        let left = std::fs::read_dir(store.root.path()).expect("dir").count();
        assert_eq!(left, 0, "the refused upload's file is removed");
    }
}

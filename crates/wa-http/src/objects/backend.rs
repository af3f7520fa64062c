//! Which backend an account's media goes to: its S3 bucket when `s3_config.enabled`, the
//! gateway's media directory otherwise (the embedded default). S3 clients are kept per account
//! and rebuilt when its settings change.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use wa_store::{Account, AccountId, S3Config};

use crate::error::ApiError;
use crate::objects::local::LocalDir;
use crate::objects::s3::S3Bucket;

/// The object storage layer every handler shares ([`crate::AppState::objects`]).
#[derive(Debug, Default)]
pub struct Objects {
    media_dir: Option<PathBuf>,
    base_url: String,
    clients: Mutex<HashMap<AccountId, S3Bucket>>,
}

impl Objects {
    /// Objects of accounts without S3 go below `media_dir` (`<data dir>/media`) and are named
    /// `<base_url>/media/<key>` (the gateway's own address; `GET /media/...` serves them).
    pub fn new(media_dir: PathBuf, base_url: impl Into<String>) -> Self {
        Self {
            media_dir: Some(media_dir),
            base_url: base_url.into(),
            clients: Mutex::default(),
        }
    }

    /// The media directory, if this gateway has one.
    pub fn media_dir(&self) -> Option<&Path> {
        self.media_dir.as_deref()
    }

    /// The local backend (no media directory: a 500 naming the missing setting).
    pub(crate) fn local(&self) -> Result<LocalDir, ApiError> {
        let dir = self
            .media_dir
            .clone()
            .ok_or_else(|| ApiError::Internal("no media directory configured".into()))?;
        Ok(LocalDir::new(dir, &self.base_url))
    }

    /// The S3 client of `account`'s settings (built on first use and when they change).
    pub(crate) fn s3(&self, id: &AccountId, config: &S3Config) -> Result<S3Bucket, ApiError> {
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| ApiError::Internal("S3 client cache poisoned".into()))?;
        if let Some(bucket) = clients.get(id) {
            if bucket.config() == config {
                return Ok(bucket.clone());
            }
        }
        let bucket = S3Bucket::new(config).map_err(ApiError::S3Init)?;
        clients.insert(*id, bucket.clone());
        Ok(bucket)
    }

    /// Forgets `account`'s S3 client (its settings were deleted).
    pub(crate) fn forget(&self, id: &AccountId) {
        if let Ok(mut clients) = self.clients.lock() {
            clients.remove(id);
        }
    }

    /// Where `account`'s objects go.
    pub(crate) fn backend(&self, account: &Account) -> Result<Backend, ApiError> {
        if account.s3.enabled {
            Ok(Backend::S3(self.s3(&account.id, &account.s3)?))
        } else {
            Ok(Backend::Local(self.local()?))
        }
    }
}

/// One account's storage.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// The user's bucket.
    S3(S3Bucket),
    /// The gateway's media directory.
    Local(LocalDir),
}

impl Backend {
    /// The bucket's name (`""` for the media directory).
    pub(crate) fn bucket(&self) -> &str {
        match self {
            Backend::S3(s3) => s3.bucket(),
            Backend::Local(_) => "",
        }
    }

    /// The URL apps fetch `key` at.
    pub(crate) fn url(&self, key: &str) -> String {
        match self {
            Backend::S3(s3) => s3.url(key),
            Backend::Local(local) => local.url(key),
        }
    }

    /// Stores `file` at `key`, streaming; returns the size.
    pub(crate) async fn put_file(
        &self,
        key: &str,
        file: &Path,
        mimetype: &str,
    ) -> Result<u64, ApiError> {
        match self {
            Backend::S3(s3) => s3.put_file(key, file, mimetype).await,
            Backend::Local(local) => local.put_file(key, file).await,
        }
    }

    /// Deletes what lies below `prefix` and was last modified before `cutoff` (everything
    /// when `None`); returns how many objects.
    pub(crate) async fn delete_older(
        &self,
        prefix: &str,
        cutoff: Option<SystemTime>,
    ) -> Result<usize, ApiError> {
        match self {
            Backend::S3(s3) => s3
                .delete_older(prefix, cutoff)
                .await
                .map_err(ApiError::ObjectStore),
            Backend::Local(local) => local.delete_older(prefix, cutoff).await,
        }
    }
}

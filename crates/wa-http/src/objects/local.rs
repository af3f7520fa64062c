//! The embedded default backend: objects as files below the store's media directory
//! (`<data dir>/media/<key>`), files `0600` and directories `0700`, written to a temporary name
//! and renamed so a reader never sees half a file. The gateway serves them back at
//! `GET /media/<key>` behind the owner's token (`routes.rs`).

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tokio::io::AsyncWriteExt;

use crate::error::ApiError;
use crate::objects::key::is_safe_key;

/// A media directory and the base URL its files are served under.
#[derive(Debug, Clone)]
pub(crate) struct LocalDir {
    root: PathBuf,
    base_url: String,
}

impl LocalDir {
    /// Files below `root`, named `<base_url>/media/<key>`.
    pub(crate) fn new(root: PathBuf, base_url: &str) -> Self {
        Self {
            root,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The file of `key` (a key that could leave the directory is not found).
    pub(crate) fn path_of(&self, key: &str) -> Result<PathBuf, ApiError> {
        if !is_safe_key(key) {
            return Err(ApiError::NotFound("not found".into()));
        }
        Ok(self.root.join(key))
    }

    /// The URL the gateway serves `key` at.
    pub(crate) fn url(&self, key: &str) -> String {
        format!("{}/media/{key}", self.base_url)
    }

    /// Copies `file` to `key`, streaming; returns the size.
    pub(crate) async fn put_file(&self, key: &str, file: &Path) -> Result<u64, ApiError> {
        let dest = self.path_of(key)?;
        let dir = dest
            .parent()
            .ok_or_else(|| ApiError::Internal("media key without a directory".into()))?;
        make_dirs(dir).await.map_err(ApiError::MediaDir)?;
        let tmp = dir.join(format!(".{}.tmp", rand::random::<u64>()));
        let written = copy_new(file, &tmp).await;
        match written {
            Ok(size) => {
                tokio::fs::rename(&tmp, &dest)
                    .await
                    .map_err(ApiError::MediaDir)?;
                Ok(size)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(ApiError::MediaDir(e))
            }
        }
    }

    /// Deletes the files below `prefix` last modified before `cutoff` (all of them when `None`);
    /// returns how many.
    pub(crate) async fn delete_older(
        &self,
        prefix: &str,
        cutoff: Option<SystemTime>,
    ) -> Result<usize, ApiError> {
        let dir = self.path_of(prefix.trim_end_matches('/'))?;
        tokio::task::spawn_blocking(move || sweep_dir(&dir, cutoff))
            .await
            .map_err(|e| ApiError::Internal(format!("media sweep: {e}").into()))?
            .map_err(ApiError::MediaDir)
    }
}

async fn make_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await
}

/// Copies `from` into a new file `to` (mode 0600) in chunks, flushed to disk.
async fn copy_new(from: &Path, to: &Path) -> io::Result<u64> {
    let mut source = tokio::fs::File::open(from).await?;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut dest = options.open(to).await?;
    let size = tokio::io::copy(&mut source, &mut dest).await?;
    dest.flush().await?;
    dest.sync_all().await?;
    Ok(size)
}

/// Removes the old files below `dir` (and directories left empty); a missing `dir` has none.
fn sweep_dir(dir: &Path, cutoff: Option<SystemTime>) -> io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            removed += sweep_dir(&path, cutoff)?;
            // Fails (and stays) while something is left inside.
            let _ = std::fs::remove_dir(&path);
        } else {
            let old = match cutoff {
                None => true,
                Some(cutoff) => entry.metadata()?.modified()? < cutoff,
            };
            if old {
                std::fs::remove_file(&path)?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn files_are_private_and_swept_by_age() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalDir::new(dir.path().join("media"), "http://127.0.0.1:1/");
        let src = dir.path().join("src.bin");
        std::fs::write(&src, b"hello").unwrap();
        let key = "users/u1/inbox/c/2026/12/07/images/m.jpg";
        assert_eq!(local.put_file(key, &src).await.unwrap(), 5);
        assert_eq!(
            std::fs::read(local.path_of(key).unwrap()).unwrap(),
            b"hello"
        );
        assert_eq!(local.url(key), format!("http://127.0.0.1:1/media/{key}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(local.path_of(key).unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let now = SystemTime::now();
        // Younger than the cutoff: kept.
        let kept = local
            .delete_older("users/u1/", Some(now - Duration::from_secs(3600)))
            .await
            .unwrap();
        assert_eq!(kept, 0);
        let gone = local
            .delete_older("users/u1/", Some(now + Duration::from_secs(3600)))
            .await
            .unwrap();
        assert_eq!(gone, 1);
        assert!(!dir.path().join("media/users/u1/inbox").exists());
        assert!(local.path_of("users/../../etc/passwd").is_err());
    }
}

//! What `/metrics` reports of the session store: its size on disk and its log syncs
//! (`SledStore::log_syncs`), read at scrape time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wa_store::SledStore;

/// Where the store lives and how to read its sync count (set by `wagate serve`).
#[derive(Clone)]
pub struct StoreStats {
    path: PathBuf,
    syncs: Arc<dyn Fn() -> u64 + Send + Sync>,
}

impl std::fmt::Debug for StoreStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreStats")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl StoreStats {
    /// The stats of a sled store: its directory and its write-ahead log's syncs.
    pub fn sled(store: Arc<SledStore>) -> Self {
        Self {
            path: store.path().to_path_buf(),
            syncs: Arc::new(move || store.log_syncs()),
        }
    }
}

impl StoreStats {
    /// The store's size on disk in bytes (without the files below `skip`: the media
    /// directory of issue 13 lives in the data directory but is not the store's) and its log
    /// syncs. Walks the directory: call it on a blocking thread.
    pub fn read(&self, skip: Option<&Path>) -> (u64, u64) {
        (dir_size(&self.path, skip), (self.syncs)())
    }
}

/// Bytes of the files below `dir`, except below `skip`; unreadable entries count 0.
fn dir_size(dir: &Path, skip: Option<&Path>) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if skip.is_some_and(|s| s == path) {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => total += dir_size(&path, skip),
            Ok(t) if t.is_file() => total += entry.metadata().map_or(0, |m| m.len()),
            _ => {}
        }
    }
    total
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_add_up_without_the_skipped_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 5]).unwrap();
        std::fs::create_dir(dir.path().join("media")).unwrap();
        std::fs::write(dir.path().join("media/c"), [0u8; 100]).unwrap();
        let skip = dir.path().join("media");
        assert_eq!(dir_size(dir.path(), Some(&skip)), 15);
        assert_eq!(dir_size(dir.path(), None), 115);
    }
}

//! The two backends, [`SledStore`] and [`MemStore`] (both `Core` over an engine), and where the
//! durable one keeps its files.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::core::Core;
use crate::engine::{Engine, MemEngine};
use crate::error::{Error, Result};
use crate::logged::SledEngine;

/// Default data directory, relative to the working directory (what self-hosters knew as
/// `wa_sessions/`).
pub const DEFAULT_DATA_DIR: &str = "wa_sessions";

/// Where and how [`SledStore`] keeps its data.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Data directory (default `wa_sessions`, relative to the working directory). Created with
    /// mode 0700; files inside are set to 0600.
    pub path: PathBuf,
    /// sled page-cache budget in bytes (default 32 MiB). One-time prekeys and idle accounts'
    /// records live on disk and only pass through this cache.
    pub cache_capacity: u64,
    /// Background flush interval for [`Durability::Buffered`] writes, and the interval of the
    /// checkpoint that moves the write-ahead log into sled (default 500 ms; `None`: only durable
    /// writes and [`Store::flush`] flush, and checkpoints run only when the log grows large).
    ///
    /// [`Durability::Buffered`]: crate::Durability::Buffered
    /// [`Store::flush`]: crate::Store::flush
    pub flush_every_ms: Option<u64>,
    /// Shortest time between two timed checkpoints (default `None`: one every
    /// `flush_every_ms`). A checkpoint rotates the log (a new segment file, its directory entry
    /// synced: several milliseconds during which no durable wait completes) and flushes sled;
    /// with this set, the `flush_every_ms` ticks in between only sync the buffered writes. A
    /// growing log or overlay still checkpoints at once.
    pub checkpoint_every_ms: Option<u64>,
    /// Group-commit window of the write-ahead log (default zero: off). Under load (a sync
    /// wanted less than this long after the previous one ended) the next sync starts this long
    /// after the previous one, so more writers share it: fewer `fdatasync`s per write, at most
    /// this much added to a durable wait. A sync wanted later starts at once.
    pub group_commit_window: std::time::Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from(DEFAULT_DATA_DIR),
            cache_capacity: 32 * 1024 * 1024,
            flush_every_ms: Some(500),
            checkpoint_every_ms: None,
            group_commit_window: std::time::Duration::ZERO,
        }
    }
}

impl StoreConfig {
    /// The default configuration with another data directory.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }
}

/// The durable store: one sled database, one tree per record kind, behind the write-ahead log.
pub type SledStore = Core<SledEngine>;

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.engine().path())
            .finish_non_exhaustive()
    }
}

/// Names sled gives its files and folders in a data directory, plus our log segments.
const SLED_FILES: [&str; 5] = ["conf", "db", "blobs", "snap.", crate::wal::PREFIX];

impl SledStore {
    /// Opens (or creates) the store described by `config`.
    ///
    /// Refuses with a typed error, never a panic: a path that is not a directory or holds
    /// something else ([`Error::Foreign`]), a store of a newer schema ([`Error::NewerSchema`]),
    /// a store another process has open ([`Error::Locked`]), or engine-level corruption.
    pub fn open(config: &StoreConfig) -> Result<Self> {
        let path = config.path.as_path();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        match fs::metadata(path) {
            Ok(m) if !m.is_dir() => {
                return Err(Error::Foreign {
                    path: path.to_path_buf(),
                    reason: "not a directory",
                })
            }
            Ok(_) => {
                let mut has_db = false;
                let mut other = false;
                for entry in fs::read_dir(path).map_err(io)? {
                    let name = entry.map_err(io)?.file_name();
                    let name = name.to_string_lossy();
                    if name == "db" {
                        has_db = true;
                    } else if !SLED_FILES.iter().any(|f| name.starts_with(f)) {
                        other = true;
                    }
                }
                if other && !has_db {
                    return Err(Error::Foreign {
                        path: path.to_path_buf(),
                        reason: "directory is not empty and holds no store",
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(path)
                    .map_err(io)?;
            }
            Err(e) => return Err(io(e)),
        }
        fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(io)?;
        // sled recovers an unreadable data file as an empty database; a store must not then
        // start afresh on top of it.
        let had_db = fs::metadata(path.join("db")).is_ok_and(|m| m.len() > 0);
        let sled_config = sled::Config::new()
            .path(path)
            .cache_capacity(config.cache_capacity)
            // sled is flushed by our checkpointer only: the write-ahead log is the durability
            // point, and sled must not flush half-applied state on its own schedule anyway.
            .flush_every_ms(None);
        let interval = config
            .flush_every_ms
            .map(|ms| std::time::Duration::from_millis(ms.max(1)));
        let every = config
            .checkpoint_every_ms
            .map(|ms| std::time::Duration::from_millis(ms.max(1)));
        let window = config.group_commit_window;
        let engine = SledEngine::open(&sled_config, path, interval, every, window)?;
        let fresh = engine.data_trees_empty();
        let core = Core::with_engine(engine);
        match core.init_schema(fresh && !had_db) {
            Err(Error::Foreign { path, .. }) if fresh && had_db => {
                return Err(Error::Foreign {
                    path,
                    reason: "its database file holds no readable store (damaged, or not ours); \
                             move it away to start afresh",
                })
            }
            r => r?,
        }
        restrict_permissions(path)?;
        Ok(core)
    }

    /// Re-applies 0700/0600 to the data directory and everything in it (sled creates snapshot
    /// files later with the process umask; the 0700 directory already keeps others out).
    pub fn restrict_permissions(&self) -> Result<()> {
        restrict_permissions(self.engine().path())
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        self.engine().path()
    }

    /// How many times the write-ahead log has been `fdatasync`ed since the store opened (one
    /// sync covers every record committed before it: group commit). With the count of durable
    /// writes and waits, this says how many syncs each one cost, without timing anything.
    pub fn log_syncs(&self) -> u64 {
        self.engine().syncs()
    }
}

/// Sets 0700 on directories and 0600 on files under `dir` (inclusive), recursively.
pub fn restrict_permissions(dir: &Path) -> Result<()> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Io { path: p, source }
    };
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let p = entry.path();
        let ft = entry.file_type().map_err(io(&p))?;
        if ft.is_dir() {
            restrict_permissions(&p)?;
        } else if ft.is_file() {
            fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).map_err(io(&p))?;
        }
    }
    Ok(())
}

/// The in-memory store: the same record logic over ordered maps. For tests, benchmarks and the
/// simulator; nothing survives the process.
pub type MemStore = Core<MemEngine>;

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        let core = Core::with_engine(MemEngine::new());
        // Writing the schema record into an empty map cannot fail.
        let _ = core.init_schema(true);
        core
    }
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemStore").finish_non_exhaustive()
    }
}

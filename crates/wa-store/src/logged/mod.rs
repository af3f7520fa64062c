//! [`SledEngine`]: sled behind our own write-ahead log with group commit.
//!
//! * **Commit.** A write set (one transaction, or one insert/remove) runs under one mutex: its
//!   reads see the newest state (staged writes → in-memory overlay → sled), and on success it is
//!   appended as one checksummed record ([`crate::wal`]) to the log buffer and merged into the
//!   *active overlay*, in the same critical section, so log order is commit order. Serializable
//!   by construction; no sled transaction runs on the write path. A value whose key already has
//!   an image in the active overlay (= in the current segment) is logged as a **patch** against
//!   it: a session advanced by one message costs ~40 log bytes instead of its ~1.2 KB record.
//! * **Durability.** One **log writer thread** owns the segment file. A caller that needs its
//!   writes durable takes a [`DurableWait`] (the position of the last committed record),
//!   registers its waker, and raises the requested position; the writer takes the whole pending
//!   buffer (every record committed meanwhile, by anyone), appends it to the segment, calls
//!   `fdatasync` once, publishes the synced position and wakes exactly the waiters it covers.
//!   Blocking callers ([`Engine::flush`]) park their thread on the same mechanism; async callers
//!   `.await` the future, so no thread is held per pending send. While one sync runs the next
//!   batch accumulates (group commit). A second writer overlapping syncs was measured within
//!   run-to-run noise of one, with more and smaller syncs (more CPU per send), so there is one.
//! * **Checkpoint.** sled never sees a write before the log holds it durably (write-ahead rule),
//!   so a crash can never leave half a write set in sled that the log cannot complete. A
//!   background thread (every `flush_every_ms`, or when the overlay grows) asks the log writer to
//!   *rotate*: under the mutex the active overlay becomes the *frozen* one and the buffer is cut;
//!   the writer syncs the old segment and starts a new one. The frozen overlay (already
//!   coalesced: the latest image of every key) is then applied to sled, sled is flushed
//!   (its 30–60 ms flush is paid here, off every caller's path), and only then is the old
//!   segment deleted.
//! * **Open.** Every segment is replayed into sled (idempotent: records resolve to after-images),
//!   sled is flushed, the segments are deleted, and a fresh segment starts.
//! * **Failure.** A failed log write or sync poisons the log: every later write and sync fails
//!   (after an fsync error the kernel may have dropped the pages; retrying could lie).

mod checkpoint;
mod shared;
mod state;
mod views;
mod writer;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::durable::DurableWait;
use crate::engine::{Engine, ReadView, ScanFn, TxError, TxResult, TxView};
use crate::error::{Error, Result};
use crate::keys::TreeId;
use crate::wal;

use self::shared::{map_sled, Shared};
use self::state::{empty_overlay, lock, Pending};
use self::views::{merged_scan, LoggedTx, Snapshot, Unpin};
use self::writer::Segment;

/// sled behind the write-ahead log (the engine of [`SledStore`](crate::SledStore)).
pub struct SledEngine {
    // Field order matters: `shared` (and with it sled) drops before `released` waits.
    shared: Arc<Shared>,
    checkpointer: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
    _released: LockRelease,
}

/// On drop, waits (briefly) until sled's file lock is free: sled's background I/O threads keep
/// the database locked for a moment after the handle is gone, and a reopen right after closing
/// must not fail with [`Error::Locked`].
struct LockRelease(PathBuf);

impl Drop for LockRelease {
    fn drop(&mut self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while let Ok(f) = File::open(&self.0) {
            match f.try_lock() {
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                _ => return,
            }
        }
    }
}

impl SledEngine {
    /// Opens sled at `path`, replays the write-ahead log into it, and starts the checkpointer
    /// (every `interval`, and whenever the overlay grows past its bound).
    pub(crate) fn open(
        config: &sled::Config,
        path: &Path,
        interval: Option<Duration>,
        checkpoint_every: Option<Duration>,
        window: Duration,
    ) -> Result<Self> {
        // sled's background threads hold its file lock for a moment after a handle closes (ours
        // or another tool's): a lock that stays held for a second is another process's.
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        let db = loop {
            match config.open().map_err(|e| open_error(e, path)) {
                Err(Error::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                r => break r?,
            }
        };
        // Before creating any tree: a sled database of someone else stays untouched.
        refuse_foreign(&db, path)?;
        let mut trees = Vec::with_capacity(TreeId::ALL.len());
        for t in TreeId::ALL {
            trees.push(db.open_tree(t.name()).map_err(|e| map_sled(e, path))?);
        }
        let replayed = wal::replay(path, &mut |ops| {
            for op in ops {
                let t = &trees[op.tree.index()];
                match op.value {
                    Some(v) => t.insert(op.key, v),
                    None => t.remove(op.key),
                }
                .map_err(|e| map_sled(e, path))?;
            }
            Ok(())
        })?;
        if !replayed.is_empty() {
            db.flush().map_err(|e| map_sled(e, path))?;
            for n in &replayed {
                wal::remove_segment(path, *n)?;
            }
        }
        let number = replayed.last().map_or(1, |n| n + 1);
        let file = wal::create_segment(path, number)?;
        let shared = Arc::new(Shared::new(db, trees, path, window));
        let spawn_err = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let bg = shared.clone();
        let segment = Segment { file, number };
        let writer = std::thread::Builder::new()
            .name("wa-store-log".into())
            .spawn(move || bg.run_writer(segment))
            .map_err(spawn_err)?;
        let bg = shared.clone();
        let checkpointer = match std::thread::Builder::new()
            .name("wa-store-checkpoint".into())
            .spawn(move || bg.run_checkpointer(interval, checkpoint_every))
        {
            Ok(h) => h,
            Err(e) => {
                lock(&shared.writer).stop = true;
                shared.writer_cv.notify_all();
                let _ = writer.join();
                return Err(spawn_err(e));
            }
        };
        Ok(Self {
            shared,
            checkpointer: Some(checkpointer),
            writer: Some(writer),
            _released: LockRelease(path.join("db")),
        })
    }

    /// A wait on every write committed so far.
    pub(crate) fn durable(&self) -> DurableWait {
        let target = self.shared.appended.load(Ordering::Acquire);
        DurableWait::new(self.shared.clone(), target)
    }

    /// A patient wait on every write committed so far: covered by the next sync anyone asks
    /// for, its own sync asked for only after `patience`.
    pub(crate) fn durable_within(&self, patience: Duration) -> DurableWait {
        let target = self.shared.appended.load(Ordering::Acquire);
        let deadline = std::time::Instant::now() + patience;
        DurableWait::patient(self.shared.clone(), target, deadline)
    }

    /// How many times the log has been `fdatasync`ed since the store opened (each covers every
    /// record committed before it: group commit).
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Whether every tree but `meta` is empty (a store whose creation was interrupted).
    pub(crate) fn data_trees_empty(&self) -> bool {
        let st = lock(&self.shared.state);
        TreeId::ALL
            .iter()
            .filter(|t| **t != TreeId::Meta)
            .all(|t| self.shared.trees[t.index()].is_empty() && st.active[t.index()].is_empty())
    }

    fn write(&self, tree: TreeId, key: &[u8], value: Option<Vec<u8>>) -> Result<()> {
        let st = self.shared.writable()?;
        let mut staged = empty_overlay();
        staged[tree.index()].insert(
            key.to_vec(),
            Pending {
                value,
                fresh: false,
            },
        );
        self.shared.committed(st, staged);
        Ok(())
    }
}

impl Drop for SledEngine {
    fn drop(&mut self) {
        lock(&self.shared.state).stop = true;
        self.shared.wake.notify_all();
        if let Some(h) = self.checkpointer.take() {
            let _ = h.join();
        }
        // Best effort: whatever is not checkpointed stays in the log and is replayed at open.
        let _ = self.shared.checkpoint();
        lock(&self.shared.writer).stop = true;
        self.shared.writer_cv.notify_all();
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

/// Refuses a sled database that is not a wagate store (trees of other names, or data without
/// our `meta` tree).
fn refuse_foreign(db: &sled::Db, path: &Path) -> Result<()> {
    let names = db.tree_names();
    let ours =
        |n: &[u8]| n == b"__sled__default" || TreeId::ALL.iter().any(|t| t.name().as_bytes() == n);
    let has_meta = names
        .iter()
        .any(|n| &n[..] == TreeId::Meta.name().as_bytes());
    if !has_meta && (names.iter().any(|n| !ours(n)) || !db.is_empty()) {
        return Err(Error::Foreign {
            path: path.to_path_buf(),
            reason: "a sled database that is not a wagate store",
        });
    }
    Ok(())
}

fn open_error(e: sled::Error, path: &Path) -> Error {
    if let sled::Error::Io(io) = &e {
        if io.kind() == std::io::ErrorKind::Other
            && io.to_string().contains("could not acquire lock")
        {
            return Error::Locked {
                path: path.to_path_buf(),
            };
        }
    }
    map_sled(e, path)
}

impl Engine for SledEngine {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        {
            let st = lock(&self.shared.state);
            if let Some(v) = st.lookup(tree, key) {
                return Ok(v.clone());
            }
        }
        // Not pending: sled has the newest value (an entry leaves the overlay only after sled
        // holds it).
        self.shared.sled_get(tree, key)
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> Result<()> {
        self.write(tree, key, Some(value))
    }

    fn remove(&self, tree: TreeId, key: &[u8]) -> Result<()> {
        self.write(tree, key, None)
    }

    fn scan(&self, tree: TreeId, prefix: &[u8], f: &mut ScanFn<'_>) -> Result<()> {
        let sh = &*self.shared;
        let i = tree.index();
        // Pending entries of the range, newest winning; then a merge with sled's range. The
        // callback runs without any lock held (it may read the store).
        let mut pending: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        {
            let st = lock(&sh.state);
            let range = (Bound::Included(prefix), Bound::Unbounded);
            let frozen = st.frozen.as_ref().map(|(f, _)| &f[i]);
            for map in frozen.into_iter().chain([&st.active[i]]) {
                for (k, p) in map.range::<[u8], _>(range) {
                    if !k.starts_with(prefix) {
                        break;
                    }
                    pending.insert(k.clone(), p.value.clone());
                }
            }
        }
        merged_scan(sh, tree, prefix, pending.into_iter(), f)
    }

    fn consistent<T>(&self, f: impl FnOnce(&dyn ReadView) -> Result<T>) -> Result<T> {
        let sh = &*self.shared;
        let pending = {
            let mut st = lock(&sh.state);
            let mut pending: Vec<BTreeMap<Vec<u8>, Option<Vec<u8>>>> =
                vec![BTreeMap::new(); TreeId::ALL.len()];
            let frozen = st.frozen.as_ref().map(|(f, _)| f.as_ref());
            for overlay in frozen.into_iter().chain([&st.active]) {
                for (into, map) in pending.iter_mut().zip(overlay) {
                    for (k, p) in map {
                        into.insert(k.clone(), p.value.clone());
                    }
                }
            }
            st.pinned += 1;
            pending
        };
        let _unpin = Unpin(sh);
        f(&Snapshot {
            shared: sh,
            pending,
        })
    }

    fn transact<T>(&self, f: impl Fn(&dyn TxView) -> TxResult<T>) -> Result<T> {
        self.transact_prefetch(&[], f)
    }

    fn transact_prefetch<T>(
        &self,
        prefetch: &[(TreeId, &[u8])],
        f: impl Fn(&dyn TxView) -> TxResult<T>,
    ) -> Result<T> {
        let generation = self.shared.released.load(Ordering::Acquire);
        let mut prefetched = Vec::with_capacity(prefetch.len());
        for &(tree, key) in prefetch {
            prefetched.push((tree, key, self.shared.sled_get(tree, key)?));
        }
        let st = self.shared.writable()?;
        if self.shared.released.load(Ordering::Acquire) != generation {
            // A checkpoint moved an overlay into sled meanwhile: what was read may be stale.
            prefetched.clear();
        }
        let tx = LoggedTx {
            state: &st,
            shared: &self.shared,
            staged: RefCell::new(empty_overlay()),
            absent: RefCell::new(Vec::new()),
            prefetched,
        };
        let out = match f(&tx) {
            Ok(v) => v,
            Err(TxError::Abort(e)) => return Err(e),
        };
        let staged = tx.staged.into_inner();
        self.shared.committed(st, staged);
        Ok(out)
    }

    fn flush(&self) -> Result<()> {
        self.durable().wait()
    }

    fn durable(&self) -> DurableWait {
        SledEngine::durable(self)
    }

    fn durable_within(&self, patience: Duration) -> DurableWait {
        SledEngine::durable_within(self, patience)
    }

    fn path(&self) -> &Path {
        &self.shared.path
    }
}

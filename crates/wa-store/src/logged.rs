//! [`SledEngine`]: sled behind our own write-ahead log with group commit.
//!
//! * **Commit.** A write set (one transaction, or one insert/remove) runs under one mutex: its
//!   reads see the newest state (staged writes → in-memory overlay → sled), and on success it is
//!   appended as one checksummed record ([`crate::wal`]) to the log buffer and merged into the
//!   *active overlay*, in the same critical section, so log order is commit order. Serializable
//!   by construction; no sled transaction runs on the write path.
//! * **Durability.** A durable caller waits until the log is `fdatasync`ed past its record.
//!   Whoever finds its record not yet covered by a running sync becomes a *sync leader*: it takes
//!   the whole pending buffer (every writer that arrived meanwhile), appends it to the segment
//!   file and calls `fdatasync`. Up to [`MAX_SYNCS_IN_FLIGHT`] syncs overlap (the disk here
//!   completes parallel flushes much faster than serial ones); a finished sync covers everything
//!   written before it started.
//! * **Checkpoint.** sled never sees a write before the log holds it durably (write-ahead rule),
//!   so a crash can never leave half a write set in sled that the log cannot complete. A
//!   background thread (every `flush_every_ms`, or when the overlay grows) *rotates*: under the
//!   mutex the active overlay becomes the *frozen* one and the buffer is cut; the old segment is
//!   synced and a new one started. The frozen overlay (already coalesced: the latest image of
//!   every key) is then applied to sled per tree, sled is flushed (its 30–60 ms flush is paid
//!   here, off every caller's path), and only then is the old segment deleted.
//! * **Open.** Every segment is replayed into sled (idempotent: records are after-images), sled
//!   is flushed, the segments are deleted, and a fresh segment starts.
//! * **Failure.** A failed log write or sync poisons the log: every later write and sync fails
//!   (after an fsync error the kernel may have dropped the pages; retrying could lie).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::engine::{Engine, ScanFn, TxError, TxResult, TxView};
use crate::error::{Error, Result};
use crate::keys::TreeId;
use crate::wal;

/// Pending writes per tree (`None` = removal).
type Overlay = Vec<BTreeMap<Vec<u8>, Option<Vec<u8>>>>;

fn empty_overlay() -> Overlay {
    vec![BTreeMap::new(); TreeId::ALL.len()]
}

/// Log syncs allowed to run at the same time. Measured here (64 writers): 1 and 2 are within
/// noise of each other, 4 and 8 split batches too small; 2 lets a batch start while the disk is
/// still completing the previous one.
const MAX_SYNCS_IN_FLIGHT: usize = 2;
/// Active-overlay size (approximate bytes) that triggers a checkpoint.
const CHECKPOINT_BYTES: usize = 16 << 20;
/// Log bytes since the last rotation that trigger a checkpoint.
const CHECKPOINT_LOG_BYTES: usize = 64 << 20;
/// Active-overlay size at which writers wait for the running checkpoint (memory bound).
const STALL_BYTES: usize = 64 << 20;
/// Rough per-entry bookkeeping cost of an overlay entry.
const ENTRY_OVERHEAD: usize = 64;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
struct Log {
    /// Encoded records not yet handed to a sync leader.
    buf: Vec<u8>,
    /// Sequence number of the last record appended to `buf`.
    appended: u64,
    /// Highest record a started sync covers.
    started: u64,
    /// Highest record known durable.
    synced: u64,
    in_flight: usize,
    /// A rotation holds the segment: no sync may start.
    rotating: bool,
    /// A log write or sync failed; nothing may be written any more.
    failed: bool,
    /// Bytes appended since the last rotation.
    since_rotation: usize,
}

struct State {
    active: Overlay,
    active_bytes: usize,
    /// The overlay being checkpointed into sled, and the segment that holds its records.
    frozen: Option<(Arc<Overlay>, u64)>,
    log: Log,
    stop: bool,
    checkpoint_wanted: bool,
    checkpoint_failing: bool,
}

impl State {
    fn lookup(&self, tree: TreeId, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        let i = tree.index();
        self.active[i]
            .get(key)
            .or_else(|| self.frozen.as_ref().and_then(|(f, _)| f[i].get(key)))
    }

    /// Appends the write set to the log buffer and the active overlay (under the mutex: log order
    /// is commit order). Returns whether a checkpoint should be started.
    fn commit(&mut self, staged: Overlay) -> bool {
        if staged.iter().all(BTreeMap::is_empty) {
            return false;
        }
        let seq = self.log.appended + 1;
        let before = self.log.buf.len();
        wal::encode_record(
            &mut self.log.buf,
            seq,
            TreeId::ALL
                .iter()
                .zip(&staged)
                .flat_map(|(t, m)| m.iter().map(move |(k, v)| (*t, k.as_slice(), v.as_deref()))),
        );
        self.log.since_rotation += self.log.buf.len() - before;
        self.log.appended = seq;
        for (map, writes) in self.active.iter_mut().zip(staged) {
            for (k, v) in writes {
                let size = |k: &Vec<u8>, v: &Option<Vec<u8>>| {
                    k.len() + v.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD
                };
                self.active_bytes += size(&k, &v);
                let key_len = k.len();
                if let Some(old) = map.insert(k, v) {
                    self.active_bytes = self
                        .active_bytes
                        .saturating_sub(key_len + old.map_or(0, |o| o.len()) + ENTRY_OVERHEAD);
                }
            }
        }
        !self.checkpoint_wanted
            && (self.active_bytes >= CHECKPOINT_BYTES
                || self.log.since_rotation >= CHECKPOINT_LOG_BYTES)
    }
}

struct Segment {
    file: Arc<File>,
    number: u64,
}

struct Shared {
    state: Mutex<State>,
    /// Log progress (a sync or rotation finished) and release of the frozen overlay.
    progress: Condvar,
    /// Wakes the checkpointer.
    wake: Condvar,
    /// `log.synced`, readable without the state lock: durable writers whose records a started
    /// sync covers wait on `synced_cv` instead of contending for `state` (with many concurrent
    /// senders, waking them all on the state mutex after each sync cost more than the sync).
    synced: AtomicU64,
    /// Mirrors `log.failed` for the same waiters.
    failed: AtomicBool,
    /// Guards the wait on `synced_cv` (no data: the values are the atomics).
    sync_gate: Mutex<()>,
    synced_cv: Condvar,
    /// The segment being appended to. Lock order: `state`, then `segment`.
    segment: Mutex<Segment>,
    db: sled::Db,
    trees: Vec<sled::Tree>,
    path: PathBuf,
}

impl Shared {
    fn err(&self, e: sled::Error) -> Error {
        map_sled(e, &self.path)
    }

    fn sled_get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.trees[tree.index()]
            .get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.to_vec()))
    }

    /// Locks the state, waiting while the overlay is over its memory bound and a checkpoint is
    /// draining it.
    fn writable(&self) -> Result<MutexGuard<'_, State>> {
        let mut st = lock(&self.state);
        while st.active_bytes >= STALL_BYTES
            && st.frozen.is_some()
            && !st.checkpoint_failing
            && !st.log.failed
        {
            st = self
                .progress
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if st.log.failed {
            return Err(Error::FlushFailed);
        }
        Ok(st)
    }

    /// Publishes the durable position and failure flag to lock-free waiters and wakes them.
    fn publish(&self, log: &Log) {
        self.synced.fetch_max(log.synced, Ordering::Release);
        if log.failed {
            self.failed.store(true, Ordering::Release);
        }
        let _gate = lock(&self.sync_gate);
        self.synced_cv.notify_all();
    }

    /// Waits, without the state lock, until `target` is durable or the log failed.
    fn wait_synced(&self, target: u64) {
        let mut gate = lock(&self.sync_gate);
        while self.synced.load(Ordering::Acquire) < target && !self.failed.load(Ordering::Acquire) {
            // The timeout only bounds a wait whose sync was handed over by a rotation.
            gate = self
                .synced_cv
                .wait_timeout(gate, Duration::from_millis(20))
                .map_or_else(|e| e.into_inner().0, |(g, _)| g);
        }
    }

    fn committed(&self, mut st: MutexGuard<'_, State>, staged: Overlay) {
        if st.commit(staged) {
            st.checkpoint_wanted = true;
            drop(st);
            self.wake.notify_one();
        }
    }

    /// Returns once every record up to `target` is durable (group commit).
    fn sync(&self, target: u64) -> Result<()> {
        if self.synced.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let mut st = lock(&self.state);
        loop {
            if st.log.synced >= target {
                return Ok(());
            }
            if st.log.failed {
                return Err(Error::FlushFailed);
            }
            if st.log.started < target && st.log.in_flight < MAX_SYNCS_IN_FLIGHT && !st.log.rotating
            {
                let buf = std::mem::take(&mut st.log.buf);
                let upto = st.log.appended;
                st.log.started = upto;
                st.log.in_flight += 1;
                // Taking the segment before releasing the state keeps appends in log order.
                let seg = lock(&self.segment);
                drop(st);
                let number = seg.number;
                let file = seg.file.clone();
                let written = (&*seg.file).write_all(&buf);
                drop(seg);
                // Everything appended before this sync starts is covered by it.
                let r = written.and_then(|()| file.sync_data());
                st = lock(&self.state);
                st.log.in_flight -= 1;
                if st.log.buf.is_empty() && st.log.buf.capacity() < buf.capacity() {
                    let mut buf = buf;
                    buf.clear();
                    st.log.buf = buf;
                }
                let r = match r {
                    Ok(()) => {
                        st.log.synced = st.log.synced.max(upto);
                        Ok(())
                    }
                    Err(source) => {
                        st.log.failed = true;
                        Err(Error::Io {
                            path: wal::segment_path(&self.path, number),
                            source,
                        })
                    }
                };
                self.publish(&st.log);
                self.progress.notify_all();
                r?;
                continue;
            }
            if st.log.started >= target && !st.log.rotating {
                // A sync in flight covers our records: wait for it off the state lock.
                drop(st);
                self.wait_synced(target);
                st = lock(&self.state);
                continue;
            }
            st = self
                .progress
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Cuts the log: the active overlay becomes the frozen one, the old segment is completed and
    /// synced, and a new segment takes further records. Returns the frozen overlay and the number
    /// of the segment holding it, or `None` when there is nothing to checkpoint.
    fn rotate(&self) -> Result<Option<(Arc<Overlay>, u64)>> {
        let mut st = lock(&self.state);
        if let Some(f) = &st.frozen {
            // A previous checkpoint failed after rotating: finish that one first.
            return Ok(Some(f.clone()));
        }
        if st.active.iter().all(BTreeMap::is_empty) || st.log.failed {
            return if st.log.failed {
                Err(Error::FlushFailed)
            } else {
                Ok(None)
            };
        }
        while st.log.rotating {
            st = self
                .progress
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        st.log.rotating = true;
        while st.log.in_flight > 0 {
            st = self
                .progress
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let frozen = Arc::new(std::mem::replace(&mut st.active, empty_overlay()));
        st.active_bytes = 0;
        let buf = std::mem::take(&mut st.log.buf);
        let upto = st.log.appended;
        st.log.since_rotation = 0;
        let mut seg = lock(&self.segment);
        let old = seg.number;
        st.frozen = Some((frozen.clone(), old));
        drop(st);
        let r = (&*seg.file)
            .write_all(&buf)
            .and_then(|()| seg.file.sync_data())
            .map_err(|source| Error::Io {
                path: wal::segment_path(&self.path, old),
                source,
            })
            .and_then(|()| wal::create_segment(&self.path, old + 1));
        let r = r.map(|file| {
            seg.file = Arc::new(file);
            seg.number = old + 1;
        });
        drop(seg);
        let mut st = lock(&self.state);
        st.log.rotating = false;
        match &r {
            Ok(()) => {
                st.log.synced = st.log.synced.max(upto);
                st.log.started = st.log.started.max(upto);
            }
            Err(_) => st.log.failed = true,
        }
        self.publish(&st.log);
        self.progress.notify_all();
        drop(st);
        r.map(|()| Some((frozen, old)))
    }

    /// Moves the overlay into sled and drops the log segments it no longer needs.
    fn checkpoint(&self) -> Result<()> {
        let r = self.checkpoint_inner();
        let mut st = lock(&self.state);
        st.checkpoint_failing = r.is_err();
        self.progress.notify_all();
        r
    }

    fn checkpoint_inner(&self) -> Result<()> {
        let Some((frozen, segment)) = self.rotate()? else {
            return Ok(());
        };
        for (tree, writes) in self.trees.iter().zip(frozen.iter()) {
            if writes.is_empty() {
                continue;
            }
            let mut batch = sled::Batch::default();
            for (k, v) in writes {
                match v {
                    Some(v) => batch.insert(k.as_slice(), v.as_slice()),
                    None => batch.remove(k.as_slice()),
                }
            }
            tree.apply_batch(batch).map_err(|e| self.err(e))?;
        }
        self.db.flush().map_err(|e| self.err(e))?;
        // Older segments first (there are none left normally; never leave an older one behind).
        for n in wal::segments(&self.path)? {
            if n <= segment {
                wal::remove_segment(&self.path, n)?;
            }
        }
        lock(&self.state).frozen = None;
        Ok(())
    }

    fn run_checkpointer(&self, interval: Option<Duration>) {
        loop {
            let mut st = lock(&self.state);
            loop {
                if st.stop {
                    return;
                }
                if st.checkpoint_wanted {
                    break;
                }
                match interval {
                    Some(d) => {
                        let (g, t) = self
                            .wake
                            .wait_timeout(st, d)
                            .unwrap_or_else(PoisonError::into_inner);
                        st = g;
                        if t.timed_out() {
                            break;
                        }
                    }
                    None => st = self.wake.wait(st).unwrap_or_else(PoisonError::into_inner),
                }
            }
            st.checkpoint_wanted = false;
            drop(st);
            // A failure leaves the frozen overlay and its segment in place; the next round
            // retries, and the log keeps every acknowledged write meanwhile.
            let _ = self.checkpoint();
        }
    }
}

pub(crate) struct SledEngine {
    // Field order matters: `shared` (and with it sled) drops before `released` waits.
    shared: Arc<Shared>,
    checkpointer: Option<JoinHandle<()>>,
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
        let names = db.tree_names();
        let ours = |n: &[u8]| {
            n == b"__sled__default" || TreeId::ALL.iter().any(|t| t.name().as_bytes() == n)
        };
        let has_meta = names
            .iter()
            .any(|n| &n[..] == TreeId::Meta.name().as_bytes());
        if !has_meta && (names.iter().any(|n| !ours(n)) || !db.is_empty()) {
            return Err(Error::Foreign {
                path: path.to_path_buf(),
                reason: "a sled database that is not a wagate store",
            });
        }
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
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                active: empty_overlay(),
                active_bytes: 0,
                frozen: None,
                log: Log::default(),
                stop: false,
                checkpoint_wanted: false,
                checkpoint_failing: false,
            }),
            progress: Condvar::new(),
            wake: Condvar::new(),
            synced: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            sync_gate: Mutex::new(()),
            synced_cv: Condvar::new(),
            segment: Mutex::new(Segment {
                file: Arc::new(file),
                number,
            }),
            db,
            trees,
            path: path.to_path_buf(),
        });
        let bg = shared.clone();
        let checkpointer = std::thread::Builder::new()
            .name("wa-store-checkpoint".into())
            .spawn(move || bg.run_checkpointer(interval))
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            shared,
            checkpointer: Some(checkpointer),
            _released: LockRelease(path.join("db")),
        })
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
        staged[tree.index()].insert(key.to_vec(), value);
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
    }
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

pub(crate) fn map_sled(e: sled::Error, path: &Path) -> Error {
    match e {
        sled::Error::Io(source) => Error::Io {
            path: path.to_path_buf(),
            source,
        },
        e @ sled::Error::Corruption { .. } => Error::EngineCorrupt {
            path: path.to_path_buf(),
            source: e,
        },
        e => Error::Engine(e),
    }
}

/// A transaction over the overlay and sled, run under the state mutex.
struct LoggedTx<'a> {
    state: &'a State,
    shared: &'a Shared,
    staged: RefCell<Overlay>,
}

impl TxView for LoggedTx<'_> {
    fn get(&self, tree: TreeId, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        if let Some(v) = self.staged.borrow()[tree.index()].get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.state.lookup(tree, key) {
            return Ok(v.clone());
        }
        Ok(self.shared.sled_get(tree, key)?)
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> TxResult<()> {
        self.staged.borrow_mut()[tree.index()].insert(key.to_vec(), Some(value));
        Ok(())
    }

    fn remove(&self, tree: TreeId, key: &[u8]) -> TxResult<()> {
        self.staged.borrow_mut()[tree.index()].insert(key.to_vec(), None);
        Ok(())
    }
}

fn next_entry(it: &mut sled::Iter, sh: &Shared) -> Result<Option<(sled::IVec, sled::IVec)>> {
    it.next().transpose().map_err(|e| sh.err(e))
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
                for (k, v) in map.range::<[u8], _>(range) {
                    if !k.starts_with(prefix) {
                        break;
                    }
                    pending.insert(k.clone(), v.clone());
                }
            }
        }
        let mut it = sh.trees[i].scan_prefix(prefix);
        let mut on_disk = next_entry(&mut it, sh)?;
        let mut pending = pending.into_iter();
        let mut next_pending = pending.next();
        loop {
            let from_pending = match (&on_disk, &next_pending) {
                (None, None) => return Ok(()),
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some((dk, _)), Some((pk, _))) => pk.as_slice() <= dk.as_ref(),
            };
            if from_pending {
                let Some((k, v)) = next_pending.take() else {
                    return Ok(());
                };
                next_pending = pending.next();
                if on_disk
                    .as_ref()
                    .is_some_and(|(dk, _)| dk.as_ref() == k.as_slice())
                {
                    on_disk = next_entry(&mut it, sh)?;
                }
                if let Some(v) = v {
                    if !f(&k, &v)? {
                        return Ok(());
                    }
                }
            } else {
                let Some((k, v)) = on_disk.take() else {
                    return Ok(());
                };
                on_disk = next_entry(&mut it, sh)?;
                if !f(&k, &v)? {
                    return Ok(());
                }
            }
        }
    }

    fn transact<T>(&self, f: impl Fn(&dyn TxView) -> TxResult<T>) -> Result<T> {
        let st = self.shared.writable()?;
        let tx = LoggedTx {
            state: &st,
            shared: &self.shared,
            staged: RefCell::new(empty_overlay()),
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
        let target = lock(&self.shared.state).log.appended;
        self.shared.sync(target)
    }

    fn path(&self) -> &Path {
        &self.shared.path
    }
}

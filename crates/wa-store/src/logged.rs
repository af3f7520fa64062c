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

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::engine::{Engine, ReadView, ScanFn, TxError, TxResult, TxView};
use crate::error::{Error, Result};
use crate::keys::TreeId;
use crate::wal;

/// A pending write: the new value (`None` = removal), and whether the key is known to be absent
/// *below* the overlay holding it (in the frozen overlay and sled). Removing a fresh key just
/// drops the entry: an outbox entry created and acknowledged, or a due-index key inserted and
/// removed, within one checkpoint interval never costs sled anything.
#[derive(Clone, Debug)]
struct Pending {
    value: Option<Vec<u8>>,
    fresh: bool,
}

/// Pending writes per tree.
type Overlay = Vec<BTreeMap<Vec<u8>, Pending>>;

fn empty_overlay() -> Overlay {
    vec![BTreeMap::new(); TreeId::ALL.len()]
}

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

fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(g).unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
struct Log {
    /// Encoded records not yet taken by the log writer.
    buf: Vec<u8>,
    /// Sequence number of the last record appended to `buf`.
    appended: u64,
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
    /// Consistent views open: the checkpointer does not change sled while there are any.
    pinned: usize,
}

type Frozen = Option<(Arc<Overlay>, u64)>;

impl State {
    fn lookup(&self, tree: TreeId, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        let i = tree.index();
        self.active[i]
            .get(key)
            .or_else(|| self.frozen.as_ref().and_then(|(f, _)| f[i].get(key)))
            .map(|p| &p.value)
    }

    /// Appends the write set to the log buffer and the active overlay (under the mutex: log order
    /// is commit order). Returns whether a checkpoint should be started.
    fn commit(&mut self, staged: Overlay) -> bool {
        if staged.iter().all(BTreeMap::is_empty) {
            return false;
        }
        let seq = self.log.appended + 1;
        let before = self.log.buf.len();
        let active = &self.active;
        let ops = TreeId::ALL.iter().zip(&staged).flat_map(|(t, m)| {
            let current = &active[t.index()];
            m.iter().map(move |(k, p)| {
                let old = current.get(k).and_then(|c| c.value.as_deref());
                let write = match (&p.value, old) {
                    (None, _) => wal::Write::Remove,
                    (Some(new), Some(old)) => wal::Patch::between(old, new)
                        .map_or(wal::Write::Put(new), wal::Write::Patch),
                    (Some(new), _) => wal::Write::Put(new),
                };
                (*t, k.as_slice(), write)
            })
        });
        wal::encode_record(&mut self.log.buf, seq, ops);
        self.log.since_rotation += self.log.buf.len() - before;
        self.log.appended = seq;
        let size = |key_len: usize, v: &Option<Vec<u8>>| {
            key_len + v.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD
        };
        for (map, writes) in self.active.iter_mut().zip(staged) {
            for (k, p) in writes {
                // What lies below the active overlay does not change while the key stays in it.
                let fresh = map.get(&k).map_or(p.fresh, |e| e.fresh);
                let key_len = k.len();
                let replaced = if p.value.is_none() && fresh {
                    map.remove(&k)
                } else {
                    self.active_bytes += size(key_len, &p.value);
                    map.insert(
                        k,
                        Pending {
                            value: p.value,
                            fresh,
                        },
                    )
                };
                if let Some(o) = replaced {
                    self.active_bytes = self.active_bytes.saturating_sub(size(key_len, &o.value));
                }
            }
        }
        !self.checkpoint_wanted
            && (self.active_bytes >= CHECKPOINT_BYTES
                || self.log.since_rotation >= CHECKPOINT_LOG_BYTES)
    }
}

/// The segment being appended to, owned by the log writer thread.
struct Segment {
    file: File,
    number: u64,
}

/// A rotation asked of the log writer, and its answer.
enum Rotation {
    Idle,
    Wanted,
    Running,
    Done(Result<Frozen>),
}

/// What the log writer is told to do besides syncing.
struct WriterCtl {
    rotation: Rotation,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Release of the frozen overlay (writers stalled on memory wait on it).
    progress: Condvar,
    /// Wakes the checkpointer.
    wake: Condvar,
    /// `log.appended`, readable without the state lock.
    appended: AtomicU64,
    /// Highest record some waiter needs durable.
    requested: AtomicU64,
    /// Frozen overlays released so far (sled values read before the lock are still current
    /// when this has not moved: sled only changes by applying a frozen overlay).
    released: AtomicU64,
    /// Highest record known durable.
    synced: AtomicU64,
    /// Why the log failed, once it has (then nothing may be written any more).
    failed: OnceLock<String>,
    /// Durable waiters: the record they need, and whom to wake.
    waiters: Mutex<Vec<(u64, Waker)>>,
    /// The log writer is asleep on `writer_cv` (nothing to do).
    writer_idle: AtomicBool,
    writer: Mutex<WriterCtl>,
    writer_cv: Condvar,
    /// A rotation finished (the checkpointer waits on it, with `writer`).
    rotated: Condvar,
    db: sled::Db,
    trees: Vec<sled::Tree>,
    path: PathBuf,
}

/// Wakes a parked thread (blocking durable waits use the same waiter list as futures).
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

impl Shared {
    fn err(&self, e: sled::Error) -> Error {
        map_sled(e, &self.path)
    }

    fn failed_err(&self, cause: &str) -> Error {
        Error::FlushFailed {
            cause: cause.to_string(),
        }
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
            && self.failed.get().is_none()
        {
            st = wait(&self.progress, st);
        }
        if let Some(cause) = self.failed.get() {
            return Err(self.failed_err(cause));
        }
        Ok(st)
    }

    fn committed(&self, mut st: MutexGuard<'_, State>, staged: Overlay) {
        let want_checkpoint = st.commit(staged);
        self.appended.store(st.log.appended, Ordering::Release);
        if want_checkpoint {
            st.checkpoint_wanted = true;
            drop(st);
            self.wake.notify_one();
        }
    }

    // ----- durable waits -----

    /// The outcome for a waiter on `target`, if there is one yet.
    fn outcome(&self, target: u64) -> Option<Result<()>> {
        if self.synced.load(Ordering::Acquire) >= target {
            return Some(Ok(()));
        }
        self.failed.get().map(|c| Err(self.failed_err(c)))
    }

    /// Registers `waker` for `target` and asks the log writer for a sync; returns the outcome
    /// instead when there already is one.
    fn register(&self, target: u64, waker: &Waker) -> Option<Result<()>> {
        {
            let mut w = lock(&self.waiters);
            // Checked under the waiter lock: `publish` and `fail` update the atomics before
            // draining this list, so a waiter either sees the news or is in the list.
            if let Some(r) = self.outcome(target) {
                return Some(r);
            }
            w.push((target, waker.clone()));
        }
        self.requested.fetch_max(target, Ordering::SeqCst);
        // Pairs with the writer's `writer_idle` store and `requested` load (both SeqCst): the
        // writer either sees the request or is seen idle and woken.
        if self.writer_idle.load(Ordering::SeqCst) {
            let _ctl = lock(&self.writer);
            self.writer_cv.notify_one();
        }
        None
    }

    /// Blocks until `target` is durable or the log failed.
    fn wait_durable(&self, target: u64) -> Result<()> {
        if let Some(r) = self.outcome(target) {
            return r;
        }
        let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
        if let Some(r) = self.register(target, &waker) {
            return r;
        }
        loop {
            if let Some(r) = self.outcome(target) {
                return r;
            }
            std::thread::park();
        }
    }

    /// Publishes `upto` as durable and wakes the waiters it covers.
    fn publish(&self, upto: u64) {
        self.synced.fetch_max(upto, Ordering::SeqCst);
        let mut ready = Vec::new();
        {
            let mut w = lock(&self.waiters);
            let mut i = 0;
            while i < w.len() {
                if w[i].0 <= upto {
                    ready.push(w.swap_remove(i).1);
                } else {
                    i += 1;
                }
            }
        }
        for waker in ready {
            waker.wake();
        }
    }

    /// Poisons the log and wakes every waiter with the failure.
    fn fail(&self, e: &Error) {
        let _ = self.failed.set(e.to_string());
        let all = std::mem::take(&mut *lock(&self.waiters));
        for (_, waker) in all {
            waker.wake();
        }
        let _st = lock(&self.state);
        self.progress.notify_all();
    }

    // ----- the log writer thread -----

    /// Whether some waiter needs records that are not durable yet.
    fn sync_wanted(&self) -> bool {
        self.requested.load(Ordering::SeqCst) > self.synced.load(Ordering::SeqCst)
            && self.failed.get().is_none()
    }

    fn run_writer(&self, mut seg: Segment) {
        let mut spare = Vec::new();
        loop {
            let rotate = {
                let mut ctl = lock(&self.writer);
                loop {
                    if matches!(ctl.rotation, Rotation::Wanted) {
                        ctl.rotation = Rotation::Running;
                        break true;
                    }
                    if self.sync_wanted() {
                        break false;
                    }
                    if ctl.stop {
                        return;
                    }
                    self.writer_idle.store(true, Ordering::SeqCst);
                    if !self.sync_wanted() {
                        ctl = wait(&self.writer_cv, ctl);
                    }
                    self.writer_idle.store(false, Ordering::SeqCst);
                }
            };
            if rotate {
                let r = self.rotate_now(&mut seg);
                lock(&self.writer).rotation = Rotation::Done(r);
                self.rotated.notify_all();
            } else {
                self.sync_once(&mut seg, &mut spare);
            }
        }
    }

    /// Appends every pending record to the segment and syncs it once (group commit).
    fn sync_once(&self, seg: &mut Segment, spare: &mut Vec<u8>) {
        let (mut buf, upto) = {
            let mut st = lock(&self.state);
            let buf = std::mem::replace(&mut st.log.buf, std::mem::take(spare));
            (buf, st.log.appended)
        };
        let r = (&seg.file)
            .write_all(&buf)
            .and_then(|()| seg.file.sync_data());
        match r {
            Ok(()) => self.publish(upto),
            Err(source) => self.fail(&Error::Io {
                path: wal::segment_path(&self.path, seg.number),
                source,
            }),
        }
        buf.clear();
        *spare = buf;
    }

    /// Cuts the log (run by the log writer): the active overlay becomes the frozen one, the old
    /// segment is completed and synced, and a new segment takes further records. Returns the
    /// frozen overlay and the number of the segment holding it, or `None` when there is nothing
    /// to checkpoint.
    fn rotate_now(&self, seg: &mut Segment) -> Result<Frozen> {
        let mut st = lock(&self.state);
        if let Some(f) = &st.frozen {
            // A previous checkpoint failed after rotating: finish that one first.
            return Ok(Some(f.clone()));
        }
        if let Some(cause) = self.failed.get() {
            return Err(self.failed_err(cause));
        }
        // Records whose writes all cancelled out (a fresh key created and removed) leave the
        // overlay empty but still fill the segment: those rotate too.
        if st.active.iter().all(BTreeMap::is_empty) && st.log.since_rotation == 0 {
            return Ok(None);
        }
        let frozen = Arc::new(std::mem::replace(&mut st.active, empty_overlay()));
        st.active_bytes = 0;
        let buf = std::mem::take(&mut st.log.buf);
        let upto = st.log.appended;
        st.log.since_rotation = 0;
        let old = seg.number;
        st.frozen = Some((frozen.clone(), old));
        drop(st);
        let r = (&seg.file)
            .write_all(&buf)
            .and_then(|()| seg.file.sync_data())
            .map_err(|source| Error::Io {
                path: wal::segment_path(&self.path, old),
                source,
            })
            .and_then(|()| wal::create_segment(&self.path, old + 1));
        match r {
            Ok(file) => {
                *seg = Segment {
                    file,
                    number: old + 1,
                };
                self.publish(upto);
                Ok(Some((frozen, old)))
            }
            Err(e) => {
                self.fail(&e);
                Err(e)
            }
        }
    }

    // ----- checkpoints -----

    /// Asks the log writer to rotate and waits for its answer.
    fn rotate(&self) -> Result<Frozen> {
        let mut ctl = lock(&self.writer);
        ctl.rotation = Rotation::Wanted;
        self.writer_cv.notify_one();
        loop {
            match std::mem::replace(&mut ctl.rotation, Rotation::Idle) {
                Rotation::Done(r) => return r,
                other => {
                    ctl.rotation = other;
                    ctl = wait(&self.rotated, ctl);
                }
            }
        }
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
        {
            // An open consistent view reads sled under its own copy of the overlays: sled may
            // only receive values that copy already holds, so this overlay waits.
            let mut st = lock(&self.state);
            while st.pinned > 0 {
                st = wait(&self.progress, st);
            }
        }
        // One write at a time, not `apply_batch`: a sled batch holds sled's global write lock
        // for its whole length (tens of ms for a busy interval), stalling every sled read, and
        // atomicity is not needed here: readers see the frozen overlay until sled is flushed,
        // and after a crash the log re-applies every image (replay is idempotent).
        for (tree, writes) in self.trees.iter().zip(frozen.iter()) {
            for (k, p) in writes {
                match &p.value {
                    Some(v) => tree.insert(k.as_slice(), v.as_slice()).map(drop),
                    None => tree.remove(k.as_slice()).map(drop),
                }
                .map_err(|e| self.err(e))?;
            }
        }
        self.db.flush().map_err(|e| self.err(e))?;
        // Older segments first (there are none left normally; never leave an older one behind).
        for n in wal::segments(&self.path)? {
            if n <= segment {
                wal::remove_segment(&self.path, n)?;
            }
        }
        let mut st = lock(&self.state);
        st.frozen = None;
        self.released.fetch_add(1, Ordering::Release);
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
                    None => st = wait(&self.wake, st),
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

/// Resolves once every write the store completed before it was taken is durable (the log is
/// `fdatasync`ed past it), or with the log's failure.
///
/// Take one with [`Store::durable`](crate::Store::durable) after [`Durability::Buffered`]
/// writes: `.await` it in async code (no thread waits per pending write; many writers share one
/// sync), or call [`wait`](Self::wait) to block. Dropping it cancels nothing: the writes stay
/// committed and become durable with the next sync.
///
/// [`Durability::Buffered`]: crate::Durability::Buffered
#[must_use = "a DurableWait does nothing unless awaited or waited on"]
pub struct DurableWait {
    log: Option<Arc<Shared>>,
    target: u64,
    /// The waker registered last (re-registered only when the task's waker changes).
    registered: Option<Waker>,
}

impl std::fmt::Debug for DurableWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableWait")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl DurableWait {
    /// A wait that is already over (stores without a log: everything is as durable as it gets).
    pub(crate) fn ready() -> Self {
        Self {
            log: None,
            target: 0,
            registered: None,
        }
    }

    /// Whether the writes it covers are durable already (never blocks).
    pub fn is_durable(&self) -> bool {
        self.log
            .as_ref()
            .is_none_or(|l| l.synced.load(Ordering::Acquire) >= self.target)
    }

    /// Blocks the calling thread until the writes are durable.
    pub fn wait(self) -> Result<()> {
        match &self.log {
            None => Ok(()),
            Some(l) => l.wait_durable(self.target),
        }
    }
}

impl Future for DurableWait {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        let Some(log) = &this.log else {
            return Poll::Ready(Ok(()));
        };
        if let Some(r) = log.outcome(this.target) {
            return Poll::Ready(r);
        }
        if this
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        match log.register(this.target, cx.waker()) {
            Some(r) => Poll::Ready(r),
            None => {
                this.registered = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

pub(crate) struct SledEngine {
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
                pinned: 0,
            }),
            progress: Condvar::new(),
            wake: Condvar::new(),
            appended: AtomicU64::new(0),
            requested: AtomicU64::new(0),
            released: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            failed: OnceLock::new(),
            waiters: Mutex::new(Vec::new()),
            writer_idle: AtomicBool::new(false),
            writer: Mutex::new(WriterCtl {
                rotation: Rotation::Idle,
                stop: false,
            }),
            writer_cv: Condvar::new(),
            rotated: Condvar::new(),
            db,
            trees,
            path: path.to_path_buf(),
        });
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
            .spawn(move || bg.run_checkpointer(interval))
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
        DurableWait {
            target: self.shared.appended.load(Ordering::Acquire),
            log: Some(self.shared.clone()),
            registered: None,
        }
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
    /// Keys this transaction read and found absent below the active overlay.
    absent: RefCell<Vec<(TreeId, Vec<u8>)>>,
    /// sled values read before the lock, valid while `released` still equals the generation.
    prefetched: Vec<Prefetched<'a>>,
}

/// A sled value read before the write lock: tree, key, value.
type Prefetched<'a> = (TreeId, &'a [u8], Option<Vec<u8>>);

impl LoggedTx<'_> {
    fn stage(&self, tree: TreeId, key: &[u8], value: Option<Vec<u8>>, fresh: bool) {
        let fresh = fresh
            || self
                .absent
                .borrow()
                .iter()
                .any(|(t, k)| *t == tree && k.as_slice() == key);
        self.staged.borrow_mut()[tree.index()].insert(key.to_vec(), Pending { value, fresh });
    }
}

impl TxView for LoggedTx<'_> {
    fn get(&self, tree: TreeId, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        if let Some(p) = self.staged.borrow()[tree.index()].get(key) {
            return Ok(p.value.clone());
        }
        if let Some(p) = self.state.active[tree.index()].get(key) {
            return Ok(p.value.clone());
        }
        let below = match self.state.lookup(tree, key) {
            Some(v) => v.clone(),
            None => match self
                .prefetched
                .iter()
                .find(|(t, k, _)| *t == tree && *k == key)
            {
                Some((_, _, v)) => v.clone(),
                None => self.shared.sled_get(tree, key)?,
            },
        };
        if below.is_none() {
            self.absent.borrow_mut().push((tree, key.to_vec()));
        }
        Ok(below)
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> TxResult<()> {
        self.stage(tree, key, Some(value), false);
        Ok(())
    }

    fn insert_new(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> TxResult<()> {
        self.stage(tree, key, Some(value), true);
        Ok(())
    }

    fn remove(&self, tree: TreeId, key: &[u8]) -> TxResult<()> {
        self.stage(tree, key, None, false);
        Ok(())
    }
}

fn next_entry(it: &mut sled::Iter, sh: &Shared) -> Result<Option<(sled::IVec, sled::IVec)>> {
    it.next().transpose().map_err(|e| sh.err(e))
}

/// Releases a consistent view's pin (and lets a waiting checkpoint go on).
struct Unpin<'a>(&'a Shared);

impl Drop for Unpin<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).pinned -= 1;
        self.0.progress.notify_all();
    }
}

/// A consistent view: the overlays as they were when it was taken, over sled (which the
/// checkpointer leaves alone meanwhile, apart from values this copy already holds).
struct Snapshot<'a> {
    shared: &'a Shared,
    pending: Vec<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl ReadView for Snapshot<'_> {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.pending[tree.index()].get(key) {
            Some(v) => Ok(v.clone()),
            None => self.shared.sled_get(tree, key),
        }
    }

    fn scan(&self, tree: TreeId, prefix: &[u8], f: &mut ScanFn<'_>) -> Result<()> {
        let range = (Bound::Included(prefix), Bound::Unbounded);
        let pending = self.pending[tree.index()]
            .range::<[u8], _>(range)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()));
        merged_scan(self.shared, tree, prefix, pending, f)
    }
}

/// Merges pending entries (ascending, `None` = removed) with sled's entries under `prefix`;
/// pending wins on equal keys. No lock is held while `f` runs.
fn merged_scan(
    sh: &Shared,
    tree: TreeId,
    prefix: &[u8],
    mut pending: impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)>,
    f: &mut ScanFn<'_>,
) -> Result<()> {
    let i = tree.index();
    let mut it = sh.trees[i].scan_prefix(prefix);
    let mut on_disk = next_entry(&mut it, sh)?;
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

    fn path(&self) -> &Path {
        &self.shared.path
    }
}

//! What the store's threads share: the state under its mutex, the log writer's controls, the
//! durable waiters, and sled.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use crate::durable::DurableLog;
use crate::error::{Error, Result};
use crate::keys::TreeId;

use super::state::{empty_overlay, lock, wait, Frozen, Log, Overlay, State, STALL_BYTES};

/// A rotation asked of the log writer, and its answer.
pub(super) enum Rotation {
    Idle,
    Wanted,
    Running,
    Done(Result<Frozen>),
}

/// What the log writer is told to do besides syncing.
pub(super) struct WriterCtl {
    pub(super) rotation: Rotation,
    pub(super) stop: bool,
}

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// Release of the frozen overlay (writers stalled on memory wait on it).
    pub(super) progress: Condvar,
    /// Wakes the checkpointer.
    pub(super) wake: Condvar,
    /// `log.appended`, readable without the state lock.
    pub(super) appended: AtomicU64,
    /// Highest record some waiter needs durable.
    pub(super) requested: AtomicU64,
    /// Frozen overlays released so far (sled values read before the lock are still current
    /// when this has not moved: sled only changes by applying a frozen overlay).
    pub(super) released: AtomicU64,
    /// Highest record known durable.
    pub(super) synced: AtomicU64,
    /// Why the log failed, once it has (then nothing may be written any more).
    pub(super) failed: OnceLock<Arc<Error>>,
    /// Durable waiters: the record they need, and whom to wake.
    pub(super) waiters: Mutex<Vec<(u64, Waker)>>,
    /// Patient waiters (also in `waiters`): the record they need, and when their sync must
    /// start at the latest.
    pub(super) patient: Mutex<Vec<(u64, Instant)>>,
    /// `fdatasync`s of the log so far.
    pub(super) syncs: AtomicU64,
    /// Group-commit window: a sync wanted less than this long after the previous one ended
    /// waits until this long after it (syncs back to back = load), gathering more records.
    pub(super) window: Duration,
    /// The log writer is asleep on `writer_cv` (nothing to do).
    pub(super) writer_idle: AtomicBool,
    pub(super) writer: Mutex<WriterCtl>,
    pub(super) writer_cv: Condvar,
    /// A rotation finished (the checkpointer waits on it, with `writer`).
    pub(super) rotated: Condvar,
    pub(super) db: sled::Db,
    pub(super) trees: Vec<sled::Tree>,
    pub(super) path: PathBuf,
}

/// Wakes a parked thread (blocking durable waits use the same waiter list as futures).
pub(super) struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

impl Shared {
    /// The shared state of a freshly opened log (nothing appended, nothing synced).
    pub(super) fn new(db: sled::Db, trees: Vec<sled::Tree>, path: &Path, window: Duration) -> Self {
        Self {
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
            patient: Mutex::new(Vec::new()),
            syncs: AtomicU64::new(0),
            window,
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
        }
    }

    pub(super) fn err(&self, e: sled::Error) -> Error {
        map_sled(e, &self.path)
    }

    pub(super) fn failed_err(&self, cause: &Arc<Error>) -> Error {
        Error::FlushFailed {
            cause: Arc::clone(cause),
        }
    }

    pub(super) fn sled_get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.trees[tree.index()]
            .get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.to_vec()))
    }

    /// Locks the state, waiting while the overlay is over its memory bound and a checkpoint is
    /// draining it.
    pub(super) fn writable(&self) -> Result<MutexGuard<'_, State>> {
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

    pub(super) fn committed(&self, mut st: MutexGuard<'_, State>, staged: Overlay) {
        let want_checkpoint = st.commit(staged);
        self.appended.store(st.log.appended, Ordering::Release);
        if want_checkpoint {
            st.checkpoint_wanted = true;
            drop(st);
            self.wake.notify_one();
        }
    }

    /// Publishes `upto` as durable and wakes the waiters it covers.
    pub(super) fn publish(&self, upto: u64) {
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

    /// Poisons the log and wakes every waiter with the failure; returns the cause kept (the
    /// first failure).
    pub(super) fn fail(&self, e: Error) -> Arc<Error> {
        let cause = Arc::clone(self.failed.get_or_init(|| Arc::new(e)));
        let all = std::mem::take(&mut *lock(&self.waiters));
        for (_, waker) in all {
            waker.wake();
        }
        let _st = lock(&self.state);
        self.progress.notify_all();
        cause
    }
}

// ----- durable waits -----

impl DurableLog for Shared {
    fn is_synced(&self, target: u64) -> bool {
        self.synced.load(Ordering::Acquire) >= target
    }

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

    fn register_patient(
        &self,
        target: u64,
        waker: &Waker,
        deadline: Instant,
    ) -> Option<Result<()>> {
        {
            let mut w = lock(&self.waiters);
            if let Some(r) = self.outcome(target) {
                return Some(r);
            }
            w.push((target, waker.clone()));
        }
        lock(&self.patient).push((target, deadline));
        // An idle writer sleeps without a timeout: it must learn the deadline (same pairing of
        // `writer_idle` as in `register`).
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
}

pub(super) fn map_sled(e: sled::Error, path: &Path) -> Error {
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

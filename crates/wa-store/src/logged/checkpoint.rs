//! Checkpoints: rotate the log, apply the frozen overlay to sled, flush sled, drop the segment.

use std::sync::atomic::Ordering;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::wal;

use super::shared::{Rotation, Shared};
use super::state::{lock, wait, Frozen};

impl Shared {
    /// Asks the log writer to rotate and waits for its answer.
    pub(super) fn rotate(&self) -> Result<Frozen> {
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
    pub(super) fn checkpoint(&self) -> Result<()> {
        let r = self.checkpoint_inner();
        let mut st = lock(&self.state);
        st.checkpoint_failing = r.is_err();
        self.progress.notify_all();
        r
    }

    pub(super) fn checkpoint_inner(&self) -> Result<()> {
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

    /// Every `interval`: a checkpoint when `every` has passed since the last one (`None`: each
    /// time), else a sync of the buffered writes (so they are durable within `interval`
    /// either way, without a log rotation each time). A growing overlay or log asks for a
    /// checkpoint at once.
    pub(super) fn run_checkpointer(&self, interval: Option<Duration>, every: Option<Duration>) {
        let mut last = Instant::now();
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
                        if t.timed_out() && every.is_none_or(|e| last.elapsed() >= e) {
                            break;
                        }
                        if t.timed_out() {
                            drop(st);
                            self.sync_buffered();
                            st = lock(&self.state);
                        }
                    }
                    None => st = wait(&self.wake, st),
                }
            }
            st.checkpoint_wanted = false;
            drop(st);
            last = Instant::now();
            // A failure leaves the frozen overlay and its segment in place; the next round
            // retries, and the log keeps every acknowledged write meanwhile.
            let _ = self.checkpoint();
        }
    }

    /// Asks the log writer to sync every record committed so far (buffered writes), without
    /// waiting for it.
    fn sync_buffered(&self) {
        let all = self.appended.load(Ordering::SeqCst);
        if all > self.synced.load(Ordering::SeqCst) {
            self.requested.fetch_max(all, Ordering::SeqCst);
            if self.writer_idle.load(Ordering::SeqCst) {
                let _ctl = lock(&self.writer);
                self.writer_cv.notify_one();
            }
        }
    }
}

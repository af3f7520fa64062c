//! Group commit: concurrent durable writers share flushes.
//!
//! A durable write is covered by any flush that *starts* after the write completed. Writers wait
//! for the next flush epoch; the first one to find no flush running becomes the leader and flushes
//! for everyone who arrived before it started. With N writers blocked on one fsync, one fsync
//! serves them all, so throughput grows with concurrency instead of being capped at 1/fsync.

use std::sync::{Condvar, Mutex, PoisonError};

use crate::error::{Error, Result};

#[derive(Default)]
struct State {
    /// Epochs started (the running one included).
    started: u64,
    /// Last epoch finished.
    completed: u64,
    /// Last epoch that finished successfully.
    last_ok: u64,
    running: bool,
}

#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<State>,
    cv: Condvar,
}

impl GroupCommit {
    /// Returns once a flush that started after this call has succeeded.
    pub(crate) fn sync(&self, flush: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut flush = Some(flush);
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let need = s.started + 1;
        loop {
            if s.completed >= need {
                return if s.last_ok >= need {
                    Ok(())
                } else {
                    Err(Error::FlushFailed)
                };
            }
            if !s.running {
                if let Some(f) = flush.take() {
                    s.running = true;
                    s.started += 1;
                    let epoch = s.started;
                    drop(s);
                    let r = f();
                    s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                    s.running = false;
                    s.completed = epoch;
                    if r.is_ok() {
                        s.last_ok = epoch;
                    }
                    self.cv.notify_all();
                    if epoch >= need {
                        return r;
                    }
                    continue;
                }
            }
            s = self.cv.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

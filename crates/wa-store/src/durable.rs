//! [`DurableWait`]: a wait (future or blocking) on the durability of committed writes, over any
//! log that implements [`DurableLog`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::error::Result;

/// A log that makes committed records durable in order and tells waiters when it has.
pub(crate) trait DurableLog: Send + Sync {
    /// Whether record `target` is durable already (never blocks, never fails).
    fn is_synced(&self, target: u64) -> bool;
    /// The outcome for a waiter on `target`, if there is one yet.
    fn outcome(&self, target: u64) -> Option<Result<()>>;
    /// Registers `waker` for `target` and asks for a sync; returns the outcome instead when
    /// there already is one.
    fn register(&self, target: u64, waker: &Waker) -> Option<Result<()>>;
    /// Registers `waker` for `target` without asking for a sync of its own: a sync asked by
    /// someone else covers it, or one runs at `deadline` at the latest.
    fn register_patient(&self, target: u64, waker: &Waker, deadline: Instant)
        -> Option<Result<()>>;
    /// Blocks until `target` is durable or the log failed.
    fn wait_durable(&self, target: u64) -> Result<()>;
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
    log: Option<Arc<dyn DurableLog>>,
    target: u64,
    /// The waker registered last (re-registered only when the task's waker changes).
    registered: Option<Waker>,
    /// A patient wait: the latest moment its sync may start.
    deadline: Option<Instant>,
}

impl std::fmt::Debug for DurableWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableWait")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl DurableWait {
    /// A wait on record `target` of `log`.
    pub(crate) fn new(log: Arc<dyn DurableLog>, target: u64) -> Self {
        Self {
            log: Some(log),
            target,
            registered: None,
            deadline: None,
        }
    }

    /// A patient wait on record `target` of `log`: it asks for no sync of its own before
    /// `deadline` (another writer's sync, which covers every earlier record, usually comes
    /// first).
    pub(crate) fn patient(log: Arc<dyn DurableLog>, target: u64, deadline: Instant) -> Self {
        Self {
            deadline: Some(deadline),
            ..Self::new(log, target)
        }
    }

    /// A wait that is already over (stores without a log: everything is as durable as it gets).
    pub(crate) fn ready() -> Self {
        Self {
            log: None,
            target: 0,
            registered: None,
            deadline: None,
        }
    }

    /// Whether the writes it covers are durable already (never blocks).
    pub fn is_durable(&self) -> bool {
        self.log.as_ref().is_none_or(|l| l.is_synced(self.target))
    }

    /// Blocks the calling thread until the writes are durable (a patient wait asks for its
    /// sync at once here).
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
        let registered = match this.deadline {
            Some(deadline) => log.register_patient(this.target, cx.waker(), deadline),
            None => log.register(this.target, cx.waker()),
        };
        match registered {
            Some(r) => Poll::Ready(r),
            None => {
                this.registered = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

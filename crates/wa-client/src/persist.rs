//! The ordered queue of one account's pending persistence, polled inside its `select!` loop.
//!
//! ```text
//!  protocol event ─▶ Job { work, durable, gates_output, after } ─▶ queue (FIFO)
//!     head batch (every queued job, at most MAX_BATCH): its writes applied in order (a small
//!     batch of light writes on the loop, else one spawn_blocking) ─▶ one
//!     store.durable().await for the batch ─▶ Finished{after} each
//! ```
//!
//! A batch of up to `INLINE_MAX` light writes (sends, status updates) runs on the loop
//! itself: a thread hop cost more than the write. Other batches run on a blocking thread, and
//! the durability wait is always an `.await` on the store's shared sync, while the loop keeps
//! serving socket input, timers and commands. Jobs queued while a batch runs form the next
//! batch (group commit: one durability wait covers them all, instead of one wait per job in turn). Jobs
//! finish in the order they were queued (so events leave in protocol order, and writes to one
//! record apply in order); no job of a batch finishes before the batch is durable. A job that `gates_output`
//! holds every transmit back until it finishes: the bytes that depend on its state (the
//! pair-success reply) are already queued in the connection, and Noise frames cannot be
//! reordered.

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rand::rngs::StdRng;
use wa_protocol::binary::Jid;
use wa_protocol::signal::PublicKey;
use wa_protocol::stanza::{MessageStanza, PrivacyTokens};
use wa_protocol::MessageId;
use wa_store::{
    AccountId, DeviceIdentity, Durability, MessageStatus, StatusEvent, StatusOutcome, Store,
};

use crate::error::Error;
use crate::event::EventKind;
use crate::messaging::device_cache::forget;
use crate::messaging::group_events::complete_members;
use crate::messaging::group_recv::receive_group;
use crate::messaging::keys::Keys;
use crate::messaging::privacy::save_tokens;
use crate::messaging::receive::{receive, Received};
use crate::messaging::send_job::{self, Ran, SendJob};
use crate::persist_wait::{self, Hurry};

/// A store write.
pub(crate) enum Work {
    /// Nothing to write: the job only keeps its place in the order.
    Nothing,
    /// Save the device identity.
    SaveDevice(Box<DeviceIdentity>),
    /// Logged in: save the device identity and set the account's autostart flag (the session
    /// reached Working, so it comes back after a restart until disconnected or logged out).
    LoggedIn(Box<DeviceIdentity>),
    /// Generate and store one-time prekeys.
    AddPreKeys {
        /// How many.
        count: u32,
        /// Randomness for the keys.
        rng: Box<StdRng>,
    },
    /// Mark prekeys uploaded.
    MarkUploaded(Vec<u32>),
    /// Wipe the account's keys.
    Logout,
    /// Decrypt and commit an incoming message (`messaging::receive`).
    Receive {
        /// The stanza.
        stanza: Box<MessageStanza>,
        /// Our keys.
        keys: Box<Keys>,
        /// Now (ms).
        now_ms: u64,
        /// The account's send lock, held while the job runs (`WeakHandle::send_lock`): 1:1
        /// sends run in this pipeline (in order with this job, so they never race it), but
        /// group sends and retry answers read, encrypt and commit sessions outside it under
        /// that lock, and a receive must not overwrite their ratchet step (nor they its).
        lock: Option<Arc<tokio::sync::Mutex<()>>>,
    },
    /// Keep the privacy tokens of a `privacy_token` notification (`messaging::privacy`).
    PrivacyTokens {
        /// The notification's tokens.
        tokens: PrivacyTokens,
        /// Now (ms).
        now_ms: u64,
    },
    /// Drop the cached device lists of these users (`messaging::device_cache::forget`).
    ForgetDevices(Vec<Jid>),
    /// Complete group-change events from the PN ↔ LID map (`messaging::group_events`); the
    /// others pass through.
    GroupChanges(Vec<EventKind>),
    /// A 1:1 send: sessions, encryption, commit (`messaging::send_job`).
    Send(Box<SendJob>),
    /// Feed acks and receipts to outbound statuses; the ones that moved come back.
    Status {
        /// Per message id, what happened.
        events: Vec<(MessageId, StatusEvent)>,
        /// Now (ms).
        now_ms: u64,
    },
}

/// What a write produced.
#[derive(Debug)]
pub(crate) enum Output {
    /// Written.
    Done,
    /// The prekeys created.
    PreKeys(Vec<(u32, PublicKey)>),
    /// What to send and announce for an incoming message.
    Received(Box<Received>),
    /// The statuses that moved forward.
    Statuses(Vec<(MessageId, MessageStatus)>),
    /// What a send job came to.
    Sent(Ran),
    /// Events to announce.
    Events(Vec<EventKind>),
}

impl Work {
    fn apply(self, store: &dyn Store, id: &AccountId) -> Result<Output, Error> {
        let b = Durability::Buffered;
        let written: wa_store::Result<Output> = match self {
            Work::Send(job) => return send_job::run(store, *id, job).map(Output::Sent),
            Work::Nothing => Ok(Output::Done),
            Work::SaveDevice(device) => store.save_device(id, &device, b).map(|()| Output::Done),
            Work::LoggedIn(device) => {
                store.save_device(id, &device, b)?;
                if let Some(mut account) = store.account(id)?.filter(|a| !a.autostart) {
                    account.autostart = true;
                    store.update_account(&account, b)?;
                }
                Ok(Output::Done)
            }
            Work::AddPreKeys { count, mut rng } => store
                .add_prekeys(id, count, rng.as_mut(), b)
                .map(Output::PreKeys),
            Work::MarkUploaded(ids) => store
                .mark_prekeys_uploaded(id, &ids, b)
                .map(|()| Output::Done),
            Work::Logout => store.logout(id, b).map(|()| Output::Done),
            // The caller holds the send lock (`Work::lock`).
            Work::Receive {
                stanza,
                keys,
                now_ms,
                lock: _,
            } => if stanza.from.as_ref().is_some_and(Jid::is_group) {
                receive_group(store, *id, &keys, &stanza, now_ms)
            } else {
                receive(store, *id, &keys, &stanza, now_ms)
            }
            .map(|r| Output::Received(Box::new(r))),
            Work::ForgetDevices(users) => forget(store, *id, &users).map(|()| Output::Done),
            Work::GroupChanges(events) => Ok(Output::Events(complete_members(store, *id, events))),
            Work::Status { events, now_ms } => {
                Ok(Output::Statuses(statuses(store, id, events, now_ms)))
            }
            Work::PrivacyTokens { tokens, now_ms } => {
                save_tokens(store, *id, &tokens, now_ms).map(|_| Output::Done)
            }
        };
        Ok(written?)
    }

    /// The account's send lock this write runs under (a send job, a receive job).
    fn lock(&self) -> Option<Arc<tokio::sync::Mutex<()>>> {
        match self {
            Work::Send(job) => Some(Arc::clone(&job.lock)),
            Work::Receive { lock, .. } => lock.clone(),
            _ => None,
        }
    }

    /// Whether the write may run on the account's loop when its batch is small: a send (a
    /// few point reads, one encryption per device, one commit) or a status update (one read
    /// and one write per id). Receives, prekeys, logout and the rest keep to a blocking
    /// thread: a burst of incoming messages (an offline batch) must leave the loop free to
    /// yield, and those writes are not on a send's path.
    fn is_light(&self) -> bool {
        matches!(self, Work::Nothing | Work::Send(_) | Work::Status { .. })
    }

    /// [`apply`](Self::apply) under the work's send lock, its panic caught (blocking: on a
    /// blocking thread only).
    fn apply_locked(self, store: &dyn Store, id: &AccountId) -> Applied {
        let lock = self.lock();
        let _serial = lock.as_ref().map(|l| l.blocking_lock());
        std::panic::catch_unwind(AssertUnwindSafe(|| self.apply(store, id)))
    }
}

/// Records each event; the statuses that moved (an id not in the outbox, or an event the
/// store refuses, is logged and skipped: a receipt for a message sent elsewhere is normal).
fn statuses(
    store: &dyn Store,
    id: &AccountId,
    events: Vec<(MessageId, StatusEvent)>,
    now_ms: u64,
) -> Vec<(MessageId, MessageStatus)> {
    let mut moved = Vec::new();
    for (message, event) in events {
        match store.record_status(id, message.as_str(), event, now_ms, Durability::Buffered) {
            Ok(StatusOutcome::Advanced { entry, .. }) => {
                moved.push((message, entry.message_status()))
            }
            Ok(StatusOutcome::Unchanged(_)) => {}
            Err(error) => {
                tracing::debug!(account = %id, id = message.as_str(), %error, "status not recorded")
            }
        }
    }
    moved
}

/// One queued piece of persistence and what to do once it is done.
pub(crate) struct Job<A> {
    /// The write.
    pub(crate) work: Work,
    /// Wait until the write is durable before finishing.
    pub(crate) durable: bool,
    /// The durability wait may be patient (`persist_wait`).
    pub(crate) patient: bool,
    /// Hold every transmit back until this job finishes.
    pub(crate) gates_output: bool,
    /// What the driver does next (emit, answer the connection, end).
    pub(crate) after: A,
}

impl<A> Job<A> {
    /// A write that finishes once written (durable with a later sync).
    pub(crate) fn buffered(work: Work, after: A) -> Self {
        Self {
            work,
            durable: false,
            patient: false,
            gates_output: false,
            after,
        }
    }

    /// A write that finishes only once it is durable.
    pub(crate) fn durable(work: Work, after: A) -> Self {
        Self {
            durable: true,
            ..Self::buffered(work, after)
        }
    }

    /// The same job, its durability wait patient (`persist_wait`: receipt statuses).
    pub(crate) fn patiently(self) -> Self {
        Self {
            patient: true,
            ..self
        }
    }

    /// The same job, holding every transmit back until it finishes.
    pub(crate) fn gating_output(self) -> Self {
        Self {
            gates_output: true,
            ..self
        }
    }

    /// A job that only keeps `after` in order behind the writes queued before it.
    pub(crate) fn in_order(after: A) -> Self {
        Self::buffered(Work::Nothing, after)
    }
}

/// A finished job.
pub(crate) struct Finished<A> {
    /// The write's outcome.
    pub(crate) result: Result<Output, Error>,
    /// What to do next.
    pub(crate) after: A,
}

/// A finished job and whether it gated output.
type Done<A> = (Finished<A>, bool);

type Running<A> = Pin<Box<dyn Future<Output = Vec<Done<A>>> + Send>>;

/// The most jobs one batch takes (one blocking call, one durability wait). A pipelined send
/// is three jobs (its own, the server ack's status, the delivery receipt's), so with a
/// thousand sends in flight on one account a smaller cap made several durability waits per
/// round trip and capped one account's rate (README "Benchmarks").
const MAX_BATCH: usize = 1024;

/// The queue of one account's pending persistence.
pub(crate) struct Pipeline<A> {
    store: Arc<dyn Store>,
    id: AccountId,
    queue: VecDeque<Job<A>>,
    running: Option<Running<A>>,
    /// Jobs of the last batch not yet handed out.
    done: VecDeque<Done<A>>,
    gates: usize,
    /// Set once a blocking call was refused (the runtime is shutting down): later batches go
    /// to the blocking pool too and are refused the same way, so nothing is written on the
    /// loop after a job that was not.
    stopped: Arc<AtomicBool>,
    /// Hurries a running patient durability wait when a job is queued.
    hurry: Arc<Hurry>,
}

impl<A: Send + 'static> Pipeline<A> {
    /// An empty queue for account `id`.
    pub(crate) fn new(store: Arc<dyn Store>, id: AccountId) -> Self {
        Self {
            store,
            id,
            queue: VecDeque::new(),
            running: None,
            done: VecDeque::new(),
            gates: 0,
            stopped: Arc::new(AtomicBool::new(false)),
            hurry: Arc::default(),
        }
    }

    /// Queues a job behind every earlier one.
    pub(crate) fn push(&mut self, job: Job<A>) {
        if job.gates_output {
            self.gates += 1;
        }
        self.hurry.nudge();
        self.queue.push_back(job);
    }

    /// Whether nothing is queued or running.
    pub(crate) fn is_idle(&self) -> bool {
        self.running.is_none() && self.queue.is_empty() && self.done.is_empty()
    }

    /// Whether transmits must wait (a gating job has not finished).
    pub(crate) fn holds_output(&self) -> bool {
        self.gates > 0
    }

    /// The next finished job, in queue order; pending forever when idle. Cancel safe: the
    /// running batch stays in the pipeline when this future is dropped.
    pub(crate) async fn next(&mut self) -> Finished<A> {
        if self.done.is_empty() {
            if self.running.is_none() {
                if self.queue.is_empty() {
                    std::future::pending::<()>().await;
                }
                let n = self.queue.len().min(MAX_BATCH);
                let batch: Vec<Job<A>> = self.queue.drain(..n).collect();
                let stopped = Arc::clone(&self.stopped);
                let (store, hurry) = (Arc::clone(&self.store), Arc::clone(&self.hurry));
                self.running = Some(Box::pin(run(store, stopped, hurry, self.id, batch)));
            }
            let Some(running) = self.running.as_mut() else {
                return std::future::pending().await;
            };
            let finished = running.await;
            self.running = None;
            self.done.extend(finished);
        }
        let Some((finished, gated)) = self.done.pop_front() else {
            return std::future::pending().await;
        };
        if gated {
            self.gates = self.gates.saturating_sub(1);
        }
        finished
    }
}

/// One batch: every write in order (`apply_all`), then one durability wait for the
/// jobs that asked for it and whose write succeeded.
async fn run<A>(
    store: Arc<dyn Store>,
    stopped: Arc<AtomicBool>,
    hurry: Arc<Hurry>,
    id: AccountId,
    batch: Vec<Job<A>>,
) -> Vec<Done<A>> {
    let mut works = Vec::with_capacity(batch.len());
    let mut rest = Vec::with_capacity(batch.len());
    let patient = batch.iter().all(|job| job.patient || !job.durable);
    for job in batch {
        works.push(job.work);
        rest.push((job.durable, job.gates_output, job.after));
    }
    let results = apply_all(&store, &stopped, id, works).await;
    let mut synced = false;
    let mut out = Vec::with_capacity(rest.len());
    for (mut result, (durable, gated, after)) in results.into_iter().zip(rest) {
        if durable && result.is_ok() && !synced {
            // One wait covers every write applied so far; after a failed wait the next job
            // waits again (a failed store stays failed, a transient failure may pass).
            match persist_wait::durable(store.as_ref(), patient, &hurry).await {
                Ok(()) => synced = true,
                Err(e) => result = Err(e.into()),
            }
        }
        out.push((Finished { result, after }, gated));
    }
    out
}

/// What one write came to (on the loop or a blocking thread): its panic is carried out.
type Applied = std::thread::Result<Result<Output, Error>>;

/// The largest batch of light writes ([`Work::is_light`]) applied on the account's loop
/// itself. A batch of one send (or one status update) is a few microseconds of store work;
/// handing it to a blocking thread and back cost two thread wake-ups and more CPU than the
/// write (the HTTP benchmark at 1,000 sends/s: batches of one, README "HTTP benchmark").
/// Larger batches (saturation) keep the loop free for socket input and run on a blocking
/// thread.
const INLINE_MAX: usize = 4;

/// Applies `works` in order: a small batch of light writes on the loop (each under its send
/// lock, when that is free), the rest in one blocking call. A write that panics fails its own
/// job with the task error it would have had on its own blocking thread.
async fn apply_all(
    store: &Arc<dyn Store>,
    stopped: &AtomicBool,
    id: AccountId,
    works: Vec<Work>,
) -> Vec<Result<Output, Error>> {
    if works.iter().all(|w| matches!(w, Work::Nothing)) {
        return works.iter().map(|_| Ok(Output::Done)).collect();
    }
    let n = works.len();
    // Once the runtime refused a blocking call, every batch asks it again (and is refused the
    // same way): no write on the loop of a runtime that is going away.
    let inline =
        !stopped.load(Ordering::Acquire) && n <= INLINE_MAX && works.iter().all(Work::is_light);
    let (mut applied, rest) = if inline {
        apply_inline(store.as_ref(), &id, works)
    } else {
        (Vec::new(), works)
    };
    if !rest.is_empty() {
        let writer = Arc::clone(store);
        let blocking = tokio::task::spawn_blocking(move || {
            rest.into_iter()
                .map(|work| work.apply_locked(writer.as_ref(), &id))
                .collect::<Vec<Applied>>()
        })
        .await;
        match blocking {
            Ok(more) => applied.extend(more),
            Err(join) => {
                // Cancelled (the runtime is shutting down): the first job not applied gets the
                // task error, the others the account's end, and later batches write nothing.
                stopped.store(true, Ordering::Release);
                let mut out = results(applied, id).await;
                out.push(Err(Error::Task(join)));
                out.extend((out.len()..n).map(|_| Err(Error::NotRunning(id))));
                return out;
            }
        }
    }
    results(applied, id).await
}

/// Applies `works` in order on the calling thread while each one's send lock is free; the
/// writes not applied (from the first whose lock is held elsewhere: a group send or a retry
/// answer is encrypting) come back.
fn apply_inline(store: &dyn Store, id: &AccountId, works: Vec<Work>) -> (Vec<Applied>, Vec<Work>) {
    let mut applied = Vec::with_capacity(works.len());
    let mut works = works.into_iter();
    while let Some(work) = works.next() {
        let lock = work.lock();
        let serial = match lock.as_ref().map(|l| l.try_lock()) {
            Some(Err(_)) => {
                let mut rest = vec![work];
                rest.extend(works);
                return (applied, rest);
            }
            Some(Ok(guard)) => Some(guard),
            None => None,
        };
        applied.push(std::panic::catch_unwind(AssertUnwindSafe(|| {
            work.apply(store, id)
        })));
        drop(serial);
    }
    (applied, Vec::new())
}

/// Each write's result, a panic turned into its task error.
async fn results(applied: Vec<Applied>, id: AccountId) -> Vec<Result<Output, Error>> {
    let mut out = Vec::with_capacity(applied.len());
    for a in applied {
        out.push(match a {
            Ok(result) => result,
            Err(payload) => Err(rethrown(payload, id).await),
        });
    }
    out
}

/// The task error of a write that panicked: its panic resumed on a blocking thread, so the
/// caller sees the same `Error::Task` (with the panic's payload) as before batching.
async fn rethrown(payload: Box<dyn Any + Send>, id: AccountId) -> Error {
    let task =
        tokio::task::spawn_blocking(move || -> Output { std::panic::resume_unwind(payload) });
    match task.await {
        Err(join) => Error::Task(join),
        Ok(_) => Error::NotRunning(id),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use wa_store::MemStore;

    use super::*;

    #[tokio::test]
    async fn jobs_finish_in_order_and_gates_release_with_their_job() {
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let id = AccountId::from_bytes([3; 16]);
        let mut pipeline = Pipeline::new(Arc::clone(&store), id);
        assert!(pipeline.is_idle() && !pipeline.holds_output());
        let rng = Box::new(StdRng::seed_from_u64(1));
        pipeline.push(Job::durable(Work::AddPreKeys { count: 3, rng }, 1).gating_output());
        pipeline.push(Job::in_order(2));
        pipeline.push(Job::buffered(Work::MarkUploaded(vec![1, 2]), 3));
        assert!(pipeline.holds_output() && !pipeline.is_idle());

        let first = pipeline.next().await;
        assert_eq!(first.after, 1);
        let Ok(Output::PreKeys(keys)) = first.result else {
            panic!("prekeys expected: {:?}", first.result);
        };
        assert_eq!(keys.len(), 3);
        assert!(!pipeline.holds_output(), "the gate opens with its job");
        assert_eq!(pipeline.next().await.after, 2);
        let third = pipeline.next().await;
        assert_eq!(third.after, 3);
        assert!(third.result.is_ok(), "{:?}", third.result);
        assert!(pipeline.is_idle());
        let counts = store.prekey_counts(&id).expect("counts");
        assert_eq!((counts.total, counts.uploaded), (3, 2));
    }

    #[tokio::test]
    async fn batches_keep_the_order_of_many_jobs_and_release_each_gate_with_its_job() {
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let id = AccountId::from_bytes([4; 16]);
        let mut pipeline = Pipeline::new(Arc::clone(&store), id);
        let rng = Box::new(StdRng::seed_from_u64(2));
        pipeline.push(Job::durable(Work::AddPreKeys { count: 2, rng }, 0).gating_output());
        for i in 1..(2 * MAX_BATCH + 3) {
            pipeline.push(Job::durable(Work::Nothing, i));
        }
        let mut last = None;
        while !pipeline.is_idle() {
            let finished = pipeline.next().await;
            assert!(finished.result.is_ok(), "{:?}", finished.result);
            assert_eq!(finished.after, last.map_or(0, |l| l + 1), "in queue order");
            assert!(
                !pipeline.holds_output(),
                "the gate opened with the first job"
            );
            last = Some(finished.after);
        }
        assert_eq!(last, Some(2 * MAX_BATCH + 2));
    }
}

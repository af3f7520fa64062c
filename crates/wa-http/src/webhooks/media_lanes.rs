//! Per-chat lanes for received messages whose webhook waits on a media download (issue 13
//! item 4): the event reader never waits for a download, chats do not wait for each other, and
//! the webhooks of one chat still leave in the order the messages arrived.
//!
//! ```text
//! event ─▶ media to fetch, or its chat's lane busy? ─ yes ─▶ lane (account, chat): jobs one by one
//!                                                  └─ no ──▶ delivered inline (as before)
//! ```
//!
//! A lane exists only while it has work: its task runs the jobs in order and removes the lane
//! when the last one is done. Only the event reader creates lanes, so "not busy" seen by the
//! reader cannot turn into "busy" behind its back; a lane ending while the reader pushes is
//! handled under the one lock. How many downloads run at once is bounded by the caller
//! (`media_delivery`'s semaphore), not here.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use wa_store::AccountId;

/// One message's delivery work.
pub(crate) type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A lane's name: the account and the chat.
pub(crate) type LaneKey = (AccountId, String);

/// The busy lanes and their waiting jobs.
#[derive(Default)]
pub(crate) struct Lanes {
    busy: Mutex<HashMap<LaneKey, VecDeque<Job>>>,
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes")
            .field("busy", &self.busy_count())
            .finish()
    }
}

impl Lanes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LaneKey, VecDeque<Job>>> {
        self.busy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `key`'s lane has work (a message of that chat must then queue behind it).
    pub(crate) fn is_busy(&self, key: &LaneKey) -> bool {
        self.lock().contains_key(key)
    }

    /// How many lanes have work.
    pub(crate) fn busy_count(&self) -> usize {
        self.lock().len()
    }

    /// Runs `job` after the jobs already in `key`'s lane (at once when it is idle).
    pub(crate) fn push(self: &Arc<Self>, key: LaneKey, job: Job) {
        let mut busy = self.lock();
        if let Some(waiting) = busy.get_mut(&key) {
            waiting.push_back(job);
            return;
        }
        busy.insert(key.clone(), VecDeque::new());
        drop(busy);
        tokio::spawn(run(Arc::clone(self), key, job));
    }
}

/// A lane's task: its jobs in order; the lane is removed once empty.
async fn run(lanes: Arc<Lanes>, key: LaneKey, first: Job) {
    let mut next = Some(first);
    while let Some(job) = next {
        job.await;
        let mut busy = lanes.lock();
        next = match busy.get_mut(&key).and_then(VecDeque::pop_front) {
            Some(job) => Some(job),
            None => {
                busy.remove(&key);
                None
            }
        };
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::sync::{mpsc, oneshot};

    fn key(chat: &str) -> LaneKey {
        (AccountId::from_bytes([7; 16]), chat.to_owned())
    }

    #[tokio::test]
    async fn one_chat_stays_in_order_and_another_chat_does_not_wait() {
        let lanes = Arc::new(Lanes::default());
        let (done, mut finished) = mpsc::unbounded_channel::<&'static str>();
        let (release, held) = oneshot::channel::<()>();
        let d = done.clone();
        lanes.push(
            key("a"),
            Box::pin(async move {
                held.await.unwrap();
                d.send("a1").unwrap();
            }),
        );
        let d = done.clone();
        lanes.push(key("a"), Box::pin(async move { d.send("a2").unwrap() }));
        assert!(lanes.is_busy(&key("a")));
        let d = done.clone();
        lanes.push(key("b"), Box::pin(async move { d.send("b1").unwrap() }));
        // Chat b finishes while chat a's first job is still held.
        assert_eq!(finished.recv().await, Some("b1"));
        release.send(()).unwrap();
        assert_eq!(finished.recv().await, Some("a1"));
        assert_eq!(finished.recv().await, Some("a2"));
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while lanes.busy_count() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "lanes end when idle"
            );
            tokio::task::yield_now().await;
        }
    }
}

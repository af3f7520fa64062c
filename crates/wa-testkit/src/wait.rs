//! Waiting for an event with a deadline, over any stream of events.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};

use crate::error::Error;

/// The deadline tests give one awaited event by default: generous, as a loaded CI machine can
/// be slow; a passing test never waits this long.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A stream of events a test can wait on.
pub trait EventSource {
    /// One event.
    type Event;

    /// The next event, or `None` once the stream has ended. Broadcast receivers skip over a
    /// lag (the events missed are gone; the wait goes on with the next).
    fn next_event(&mut self) -> impl Future<Output = Option<Self::Event>> + Send;
}

impl<E: Clone + Send> EventSource for broadcast::Receiver<E> {
    type Event = E;

    async fn next_event(&mut self) -> Option<E> {
        loop {
            match self.recv().await {
                Ok(e) => return Some(e),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl<E: Send> EventSource for mpsc::Receiver<E> {
    type Event = E;

    async fn next_event(&mut self) -> Option<E> {
        self.recv().await
    }
}

impl<E: Send> EventSource for mpsc::UnboundedReceiver<E> {
    type Event = E;

    async fn next_event(&mut self) -> Option<E> {
        self.recv().await
    }
}

/// Waits up to `deadline` for the first event of `source` that `pick` maps to `Some`, and
/// returns that. Events before it are passed to `pick` and dropped. `what` names the awaited
/// event in the error: [`Error::Timeout`] after the deadline, [`Error::Closed`] if the stream
/// ends first. `pick` may panic to fail a test on an event that must not come.
pub async fn wait_for<S: EventSource, T>(
    source: &mut S,
    deadline: Duration,
    what: &str,
    mut pick: impl FnMut(&S::Event) -> Option<T>,
) -> Result<T, Error> {
    let wait = async {
        while let Some(event) = source.next_event().await {
            if let Some(t) = pick(&event) {
                return Ok(t);
            }
        }
        Err(Error::Closed {
            what: what.to_owned(),
        })
    };
    tokio::time::timeout(deadline, wait)
        .await
        .unwrap_or_else(|_| {
            Err(Error::Timeout {
                what: what.to_owned(),
                deadline,
            })
        })
}

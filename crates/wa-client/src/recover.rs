//! Sends that wait for their session (issue 12 item 2): a send on a session whose socket is
//! down does not fail at once. The session is brought back (a `Reconnecting` one restarted to
//! skip its backoff, a stopped one that is linked and active started), and the send waits
//! until it is logged in, up to the caller's bound; a message that was committed but not
//! confirmed is followed through its outbox entry until its status moves (the resend after
//! login sends it again, same id, once).
//!
//! ```text
//!  ready(): running + logged in ─▶ go (no store read: the fast path)
//!           not running: linked and autostart ─▶ start (at most once per KICK_EVERY)
//!           Reconnecting ─▶ restart now (at most once per KICK_EVERY), wait for the login
//!           unlinked, logged out ─▶ fail at once; the bound passes ─▶ Error::SessionDown
//!  await_outcome(): the entry Acked/Delivered/Read ─▶ the first outcome (id, server t);
//!           Failed ─▶ the server's code; else wait for its MessageStatus event (and keep the
//!           session coming back) ─▶ the bound passes ─▶ Error::NotConfirmed
//! ```

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;
use wa_protocol::MessageId;
use wa_store::{AccountId, OutboxEntry, OutboxStatus};

use crate::error::Error;
use crate::event::{Event, EventKind};
use crate::gateway::Gateway;
use crate::handle::AccountHandle;
use crate::messaging::types::SentMessage;
use crate::status::SessionState;

/// How often a waiting send looks at the session (and the entry) again without an event.
const RECHECK: Duration = Duration::from_millis(500);

/// What a bound came to: its deadline and its length in whole seconds (for the errors).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    pub(crate) deadline: Instant,
    pub(crate) secs: u64,
}

impl Bound {
    pub(crate) fn new(bound: Duration) -> Self {
        Self {
            deadline: Instant::now() + bound,
            secs: bound.as_secs(),
        }
    }

    fn passed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Sleeps until the next recheck (never past the deadline).
    pub(crate) async fn pause(&self) {
        tokio::time::sleep_until(self.recheck()).await;
    }

    /// The next recheck, never past the deadline.
    fn recheck(&self) -> Instant {
        self.deadline.min(Instant::now() + RECHECK)
    }
}

impl Gateway {
    /// A running, logged-in session of `id` within `bound` (see the module doc).
    pub(crate) async fn ready(&self, id: &AccountId, bound: Bound) -> Result<AccountHandle, Error> {
        let mut announced = false;
        loop {
            let handle = match self.handle(id) {
                Some(h) => h,
                None => match self.revive(id).await? {
                    Some(h) => h,
                    None => {
                        self.pause(id, bound).await?;
                        continue;
                    }
                },
            };
            let status = handle.status();
            if status.logged_in {
                return Ok(handle);
            }
            match status.state {
                SessionState::LoggedOut | SessionState::AwaitingQr | SessionState::Pairing => {
                    return Err(Error::NotLoggedIn(*id))
                }
                SessionState::Reconnecting { .. } if self.recovery.may_kick(id) => {
                    self.restart_session(id).await?;
                    continue;
                }
                _ => {}
            }
            if bound.passed() {
                return Err(Error::SessionDown {
                    account: *id,
                    secs: bound.secs,
                });
            }
            if !announced {
                tracing::info!(account = %id, state = ?status.state, "a send waits for the session to log in again");
                announced = true;
            }
            let mut watch = handle.watch_status();
            let ended = {
                let up = watch.wait_for(|s| s.logged_in);
                matches!(
                    tokio::time::timeout_at(bound.recheck(), up).await,
                    Ok(Err(_))
                )
            };
            if ended {
                // The task ended meanwhile: the next round starts it again if it may.
                self.pause(id, bound).await?;
            }
        }
    }

    /// Starts a stopped session that is linked and active (autostart); `None` when it may
    /// not be restarted yet; [`Error::NotRunning`] when it is not linked or not active.
    async fn revive(&self, id: &AccountId) -> Result<Option<AccountHandle>, Error> {
        let account = self.account(id).await?;
        let key = *id;
        let store = Arc::clone(self.store());
        let device = tokio::task::spawn_blocking(move || store.device(&key)).await??;
        let linked = device.is_some_and(|d| d.jid.is_some());
        if !linked || !account.autostart {
            return Err(Error::NotRunning(*id));
        }
        if !self.recovery.may_kick(id) {
            return Ok(None);
        }
        tracing::info!(account = %id, "a send starts the stopped session");
        self.connect(id).await.map(Some)
    }

    /// Waits a recheck period; [`Error::SessionDown`] once the bound has passed.
    async fn pause(&self, id: &AccountId, bound: Bound) -> Result<(), Error> {
        if bound.passed() {
            return Err(Error::SessionDown {
                account: *id,
                secs: bound.secs,
            });
        }
        bound.pause().await;
        Ok(())
    }

    /// The outcome of a message already in the outbox (or being committed): the first
    /// outcome once the server confirmed or refused it, within `bound` (see the module doc).
    pub(crate) async fn await_outcome(
        &self,
        id: &AccountId,
        message: &MessageId,
        bound: Bound,
    ) -> Result<SentMessage, Error> {
        let mut events = self.subscribe();
        let not_confirmed = || Error::NotConfirmed {
            id: message.as_str().to_owned(),
            secs: bound.secs,
        };
        loop {
            let (key, m) = (*id, message.as_str().to_owned());
            let store = Arc::clone(self.store());
            let entry = tokio::task::spawn_blocking(move || store.outbox_entry(&key, &m)).await??;
            if let Some(outcome) = entry.and_then(|e| outcome(message, e)) {
                return outcome;
            }
            if bound.passed() {
                return Err(not_confirmed());
            }
            // Its login resends it: keep the session coming back.
            match self.ready(id, bound).await {
                Ok(_) => {}
                Err(Error::SessionDown { .. }) => return Err(not_confirmed()),
                Err(error) => return Err(error),
            }
            let moved = wait_status(&mut events, id, message);
            if tokio::time::timeout_at(bound.recheck(), moved)
                .await
                .is_err()
                && bound.passed()
            {
                return Err(not_confirmed());
            }
        }
    }
}

/// What a settled entry answers (`None` while it is on its way).
fn outcome(message: &MessageId, e: OutboxEntry) -> Option<Result<SentMessage, Error>> {
    match e.status {
        OutboxStatus::Queued | OutboxStatus::Sent => None,
        OutboxStatus::Acked | OutboxStatus::Delivered | OutboxStatus::Read => {
            Some(Ok(SentMessage {
                id: message.clone(),
                server_t: e.server_t,
            }))
        }
        OutboxStatus::Failed => Some(Err(match e.fail_code {
            Some(code) => Error::Rejected {
                id: e.message_id,
                code,
            },
            None => Error::AlreadyAccepted(Box::new(e)),
        })),
    }
}

/// Resolves on the next status event of `message` (or a lag: the caller reads the entry).
async fn wait_status(events: &mut broadcast::Receiver<Event>, id: &AccountId, message: &MessageId) {
    loop {
        match events.recv().await {
            Ok(Event {
                account,
                kind: EventKind::MessageStatus { id: m, .. },
                ..
            }) if account == *id && m == *message => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

//! The handle of a running account: commands to its task, its status, its events.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use wa_protocol::binary::Node;
use wa_protocol::connection::Command;
use wa_protocol::stanza::{IqRequest, IqResponse, MessageStanza};
use wa_protocol::PhoneNumber;
use wa_store::AccountId;

use crate::command::{AccountCommand, SendReply};
use crate::error::Error;
use crate::event::Event;
use crate::messaging::send_cache::SendCache;
use crate::messaging::send_job::{Need, SendJob};
use crate::messaging::types::RetryLog;
use crate::metrics::ClientMetrics;
use crate::status::Status;

/// A running account: send commands, read its status, subscribe to events.
#[derive(Debug, Clone)]
pub struct AccountHandle {
    id: AccountId,
    commands: mpsc::UnboundedSender<AccountCommand>,
    events: broadcast::Sender<Event>,
    status: watch::Receiver<Status>,
    /// Serializes the read-encrypt-commit step of sends (never two encryptions from one
    /// session state); the waits for acks are not serialized.
    send_lock: Arc<tokio::sync::Mutex<()>>,
    /// Retry receipts answered (`messaging.md` §11).
    retries: Arc<std::sync::Mutex<RetryLog>>,
    /// Our device and the device lists sends read (`messaging::send_cache`).
    cache: Arc<SendCache>,
    /// The gateway's counters (`metrics.rs`).
    metrics: Arc<ClientMetrics>,
}

/// An [`AccountHandle`] that does not keep the account's command channel open: the task
/// holds one to start its own background sends (resends after login, retry answers).
#[derive(Debug, Clone)]
pub(crate) struct WeakHandle {
    id: AccountId,
    commands: mpsc::WeakUnboundedSender<AccountCommand>,
    events: broadcast::Sender<Event>,
    status: watch::Receiver<Status>,
    send_lock: Arc<tokio::sync::Mutex<()>>,
    retries: Arc<std::sync::Mutex<RetryLog>>,
    cache: Arc<SendCache>,
    metrics: Arc<ClientMetrics>,
}

impl AccountHandle {
    /// The handle of the task reading `commands`.
    pub(crate) fn new(
        id: AccountId,
        commands: mpsc::UnboundedSender<AccountCommand>,
        events: broadcast::Sender<Event>,
        status: watch::Receiver<Status>,
        metrics: Arc<ClientMetrics>,
    ) -> Self {
        Self {
            id,
            commands,
            events,
            status,
            send_lock: Arc::new(tokio::sync::Mutex::new(())),
            retries: Arc::default(),
            cache: Arc::default(),
            metrics,
        }
    }
}

/// A send queued by [`AccountHandle::submit_send`].
pub(crate) struct Submitted {
    queued: bool,
    verdict: oneshot::Receiver<Result<Option<u64>, Error>>,
    bundles: oneshot::Receiver<(Box<SendJob>, Need)>,
}

impl Submitted {
    /// The job and what it lacks when it comes back (nothing was written); `None` once
    /// committed (or failed: the verdict then tells).
    pub(crate) async fn needs(&mut self) -> Option<(Box<SendJob>, Need)> {
        if !self.queued {
            return None;
        }
        (&mut self.bundles).await.ok()
    }

    /// The server's verdict.
    pub(crate) async fn verdict(self, id: AccountId, message: &str) -> Result<Option<u64>, Error> {
        if !self.queued {
            return Err(Error::NotRunning(id));
        }
        self.verdict
            .await
            .unwrap_or_else(|_| Err(Error::Unconfirmed(message.to_owned())))
    }
}

impl WeakHandle {
    /// The account's send lock: the receive job holds it too, from loading a session to
    /// committing it, so neither overwrites the other's ratchet step (a send step lost that
    /// way would make the next send reuse a message key).
    pub(crate) fn send_lock(&self) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(&self.send_lock)
    }

    /// The account's send cache.
    pub(crate) fn cache(&self) -> &Arc<SendCache> {
        &self.cache
    }

    /// The handle, while someone else still holds one.
    pub(crate) fn upgrade(&self) -> Option<AccountHandle> {
        Some(AccountHandle {
            id: self.id,
            commands: self.commands.upgrade()?,
            events: self.events.clone(),
            status: self.status.clone(),
            send_lock: Arc::clone(&self.send_lock),
            retries: Arc::clone(&self.retries),
            cache: Arc::clone(&self.cache),
            metrics: Arc::clone(&self.metrics),
        })
    }
}

impl AccountHandle {
    /// A handle that does not keep the task's command channel open.
    pub(crate) fn downgrade(&self) -> WeakHandle {
        WeakHandle {
            id: self.id,
            commands: self.commands.downgrade(),
            events: self.events.clone(),
            status: self.status.clone(),
            send_lock: Arc::clone(&self.send_lock),
            retries: Arc::clone(&self.retries),
            cache: Arc::clone(&self.cache),
            metrics: Arc::clone(&self.metrics),
        }
    }

    /// The gateway's counters.
    pub(crate) fn metrics(&self) -> &ClientMetrics {
        &self.metrics
    }

    /// The account's id.
    pub fn id(&self) -> &AccountId {
        &self.id
    }

    /// Events of this registry (all accounts; filter by [`Event::account`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The session's status now.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// A receiver of every status change (for waiting on one with a deadline).
    pub fn watch_status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Announces `kind` on the account's event bus (a change made outside the task, e.g. an
    /// accepted message given up).
    pub(crate) fn emit(&self, at: wa_protocol::time::Millis, kind: crate::event::EventKind) {
        let event = Event {
            account: self.id,
            at,
            kind,
        };
        if self.events.send(event).is_err() {
            tracing::trace!(account = %self.id, "nobody listens");
        }
    }

    /// Sends a node as is.
    pub fn send(&self, node: Node) -> bool {
        self.commands
            .send(AccountCommand::Protocol(Command::Send(node)))
            .is_ok()
    }

    /// Sends an IQ and waits for its answer (`None`: timeout or disconnect).
    pub async fn iq(&self, request: IqRequest) -> Option<IqResponse> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(AccountCommand::Iq(request, tx)).ok()?;
        rx.await.ok().flatten()
    }

    /// The retry receipts answered so far.
    pub(crate) fn retries(&self) -> Arc<std::sync::Mutex<RetryLog>> {
        Arc::clone(&self.retries)
    }

    /// The account's send lock.
    pub(crate) fn send_lock(&self) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(&self.send_lock)
    }

    /// The account's send cache.
    pub(crate) fn cache(&self) -> &Arc<SendCache> {
        &self.cache
    }

    /// Queues a 1:1 send in the account's persistence pipeline (`messaging::send_job`); the
    /// [`Submitted`] tells whether the job came back for bundles, then the server's verdict.
    pub(crate) fn submit_send(&self, job: Box<SendJob>) -> Submitted {
        let (verdict, verdict_rx) = oneshot::channel();
        let (bundles, bundles_rx) = oneshot::channel();
        let reply = SendReply { verdict, bundles };
        let queued = self.commands.send(AccountCommand::Send(job, reply)).is_ok();
        Submitted {
            queued,
            verdict: verdict_rx,
            bundles: bundles_rx,
        }
    }

    /// Hands a committed message to the task (at once, so sends leave in commit order); the
    /// future resolves with the server's verdict.
    pub(crate) fn submit_message(
        &self,
        stanza: MessageStanza,
    ) -> impl std::future::Future<Output = Result<Option<u64>, Error>> {
        let (tx, rx) = oneshot::channel();
        let message_id = stanza.id.as_str().to_owned();
        let queued = self
            .commands
            .send(AccountCommand::SendMessage(Box::new(stanza), tx))
            .is_ok();
        let id = self.id;
        async move {
            if !queued {
                return Err(Error::NotRunning(id));
            }
            rx.await.unwrap_or(Err(Error::Unconfirmed(message_id)))
        }
    }

    /// Asks for a phone-number pair code; it is sent as soon as a registration connection is
    /// up, and the code arrives as [`EventKind::PairCode`] (and in [`Status::pair_code`]).
    pub fn pair_phone(&self, phone: &PhoneNumber) -> bool {
        self.commands
            .send(AccountCommand::PairPhone(phone.clone()))
            .is_ok()
    }

    /// Unlinks this companion and wipes its keys.
    pub fn logout(&self) -> bool {
        self.commands
            .send(AccountCommand::Protocol(Command::Logout))
            .is_ok()
    }

    /// Stops the task (graceful; keys stay).
    pub fn shutdown(&self) -> bool {
        self.commands.send(AccountCommand::Shutdown).is_ok()
    }

    /// Whether the task is still running.
    pub fn is_running(&self) -> bool {
        !self.commands.is_closed()
    }

    /// Resolves once the task has ended (its last store write done).
    pub async fn stopped(&self) {
        self.commands.closed().await;
    }
}

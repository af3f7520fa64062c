//! What an account's task carries from one connection to the next: its id, store, settings,
//! randomness, the event bus and the status it keeps true.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{broadcast, watch};
use wa_protocol::connection::Phase;
use wa_protocol::time::Millis;
use wa_protocol::PhoneNumber;
use wa_store::{AccountId, Store};

use crate::config::ClientConfig;
use crate::error::Error;
use crate::event::{Event, EventKind};
use crate::handle::WeakHandle;
use crate::metrics::ClientMetrics;
use crate::status::{FailReason, SessionState, Status};

/// One account task's context.
pub(crate) struct Ctx {
    pub(crate) id: AccountId,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: ClientConfig,
    pub(crate) rng: StdRng,
    /// A pair-code request waiting for a registration connection.
    pub(crate) pending_pair: Option<PhoneNumber>,
    /// The account's own handle (weak), for background sends the task starts.
    pub(crate) handle: Option<WeakHandle>,
    /// The gateway's counters (`metrics.rs`).
    pub(crate) metrics: Arc<ClientMetrics>,
    events: broadcast::Sender<Event>,
    status: watch::Sender<Status>,
}

impl Ctx {
    pub(crate) fn new(
        id: AccountId,
        store: Arc<dyn Store>,
        config: ClientConfig,
        events: broadcast::Sender<Event>,
        status: watch::Sender<Status>,
    ) -> Self {
        Self {
            id,
            store,
            config,
            rng: StdRng::from_entropy(),
            pending_pair: None,
            handle: None,
            metrics: Arc::default(),
            events,
            status,
        }
    }

    /// Now, from the configured clock.
    pub(crate) fn now(&self) -> Millis {
        self.config.clock.now()
    }

    /// A child RNG seeded from the task's.
    pub(crate) fn child_rng(&mut self) -> StdRng {
        StdRng::from_rng(&mut self.rng).unwrap_or_else(|_| StdRng::from_entropy())
    }

    /// Updates the status, then tells the subscribers (who thus never see a stale status).
    pub(crate) fn emit(&self, kind: EventKind) {
        match &kind {
            EventKind::Message(_) => self.metrics.received_one(),
            EventKind::Disconnected {
                reconnect_in: Some(_),
                ..
            } => self.metrics.reconnect(),
            _ => {}
        }
        self.status.send_modify(|s| s.apply(&kind));
        let event = Event {
            account: self.id,
            at: self.now(),
            kind,
        };
        // No subscriber is not an error: the status still tells.
        if self.events.send(event).is_err() {
            tracing::trace!(account = %self.id, "event without subscribers");
        }
    }

    /// Records the live facts of the current connection in `phase`. A closed connection's
    /// facts fall with its `Disconnected` event instead, in one change with the state it leads
    /// to: the snapshot never reads `Working` with the socket down (CONTRACTS §F).
    pub(crate) fn set_phase(&self, phase: Phase) {
        if phase == Phase::Closed {
            return;
        }
        let connected = matches!(
            phase,
            Phase::AwaitingServer | Phase::Unpaired | Phase::LoggedIn
        );
        let logged_in = phase == Phase::LoggedIn;
        self.status
            .send_if_modified(|s| s.set_link(connected, logged_in));
    }

    /// Records the credentials found at start.
    pub(crate) fn set_ids(
        &self,
        jid: Option<wa_protocol::binary::Jid>,
        lid: Option<wa_protocol::binary::Jid>,
    ) {
        self.status.send_modify(|s| {
            s.jid = jid;
            s.lid = lid;
        });
    }

    /// Marks the session failed (the task is about to end).
    pub(crate) fn fail(&self, reason: FailReason) {
        self.status
            .send_modify(|s| s.state = SessionState::Failed(reason));
    }

    /// Runs a store call on a blocking thread.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> wa_store::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        let store = Arc::clone(&self.store);
        Ok(tokio::task::spawn_blocking(move || f(store.as_ref())).await??)
    }

    /// Runs a `Buffered` write on a blocking thread, then waits (async, no thread held) until
    /// it is durable: the store shares one `fdatasync` among every writer waiting meanwhile.
    pub(crate) async fn durably<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> wa_store::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        let out = self.blocking(f).await?;
        self.store.durable().await?;
        Ok(out)
    }
}

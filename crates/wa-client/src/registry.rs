//! The registry of running accounts: start, stop, look up, and restore every account whose
//! `autostart` flag is set when the gateway starts (sessions come back by themselves).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use wa_store::{AccountId, Store};

use crate::account::{spawn_counted, AccountHandle};
use crate::config::ClientConfig;
use crate::event::{Event, EventKind};
use crate::metrics::ClientMetrics;
use crate::status::Status;

/// All account tasks of one gateway process, sharing one store and one event bus.
pub struct Registry {
    store: Arc<dyn Store>,
    config: ClientConfig,
    events: broadcast::Sender<Event>,
    running: Mutex<HashMap<AccountId, AccountHandle>>,
    metrics: Arc<ClientMetrics>,
}

impl core::fmt::Debug for Registry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Registry")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry over `store`; nothing runs until [`Registry::start`] or
    /// [`Registry::restore`].
    pub fn new(store: Arc<dyn Store>, config: ClientConfig) -> Self {
        let (events, _) = broadcast::channel(1 << 14);
        Self {
            store,
            config,
            events,
            running: Mutex::new(HashMap::new()),
            metrics: Arc::default(),
        }
    }

    /// The counters of every account.
    pub fn metrics(&self) -> &Arc<ClientMetrics> {
        &self.metrics
    }

    /// Events of every account.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, AccountHandle>> {
        match self.running.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Starts account `id` (or returns its running handle).
    pub fn start(&self, id: &AccountId) -> AccountHandle {
        let mut running = self.running();
        if let Some(h) = running.get(id).filter(|h| h.is_running()) {
            return h.clone();
        }
        let handle = spawn_counted(
            Arc::clone(&self.store),
            *id,
            self.config.clone(),
            self.events.clone(),
            Arc::clone(&self.metrics),
        );
        running.insert(*id, handle.clone());
        handle
    }

    /// The running handle of `id`, if any.
    pub fn get(&self, id: &AccountId) -> Option<AccountHandle> {
        self.running().get(id).filter(|h| h.is_running()).cloned()
    }

    /// The last status of `id`'s task in this process (running or ended), if it was started.
    pub fn status(&self, id: &AccountId) -> Option<Status> {
        self.running().get(id).map(AccountHandle::status)
    }

    /// Stops account `id` (keys stay).
    pub fn stop(&self, id: &AccountId) -> bool {
        self.running().remove(id).is_some_and(|h| h.shutdown())
    }

    /// Stops every account (returns at once; see [`Registry::shutdown_and_wait`]).
    pub fn shutdown(&self) {
        for (_, h) in self.running().drain() {
            h.shutdown();
        }
    }

    /// Stops every account and waits (up to `timeout`) until each task has closed its socket
    /// and finished its last store write; returns how many did not stop in time.
    pub async fn shutdown_and_wait(&self, timeout: std::time::Duration) -> usize {
        let mut events = self.subscribe();
        let mut waiting: std::collections::HashSet<AccountId> = self
            .running()
            .iter()
            .filter(|(_, h)| h.is_running())
            .map(|(id, _)| *id)
            .collect();
        self.shutdown();
        let wait = async {
            while !waiting.is_empty() {
                match events.recv().await {
                    Ok(Event {
                        account,
                        kind: EventKind::Stopped,
                        ..
                    }) => {
                        waiting.remove(&account);
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        };
        if tokio::time::timeout(timeout, wait).await.is_err() {
            tracing::warn!(waiting = waiting.len(), "accounts still stopping");
        }
        waiting.len()
    }
}

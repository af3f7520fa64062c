//! wagate's client set up for tests: its configuration against a sim, an account in a store,
//! and one account's events.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::broadcast;
use wa_client::{Backoff, ClientConfig, Event, EventKind};
use wa_protocol::connection::Config;
use wa_sim::SimServer;
use wa_store::{Account, AccountId, Durability, Store};

use crate::wait::EventSource;

/// The client configuration for `sim`: its URL and trust root, default protocol settings, and
/// a short reconnect backoff (50 ms doubling to 400 ms, 20 % jitter) so reconnects are quick.
pub fn client_config(sim: &SimServer) -> ClientConfig {
    ClientConfig {
        url: sim.url(),
        connection: Config {
            trust: sim.trust_root(),
            ..Config::default()
        },
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(400),
            jitter: 0.2,
        },
        ..ClientConfig::default()
    }
}

/// Creates a gateway account (autostart on, token `token-{seed}`) whose id is drawn from
/// `seed`, and returns its id.
///
/// # Panics
/// If the store refuses the account.
pub fn new_account(store: &dyn Store, seed: u64) -> AccountId {
    let id = AccountId::generate(&mut StdRng::seed_from_u64(seed));
    let mut account = Account::new(id, "test", format!("token-{seed}"), 0);
    account.autostart = true;
    store
        .create_account(&account, Durability::Durable)
        .unwrap_or_else(|e| panic!("account {seed} not created: {e}"));
    id
}

/// The events of one account, out of a registry's event bus (the others' are skipped).
#[derive(Debug)]
pub struct AccountEvents {
    id: AccountId,
    bus: broadcast::Receiver<Event>,
}

impl AccountEvents {
    /// Events of account `id` from `bus` (`Registry::subscribe`).
    pub fn new(bus: broadcast::Receiver<Event>, id: AccountId) -> Self {
        Self { id, bus }
    }

    /// The account whose events these are.
    pub fn id(&self) -> &AccountId {
        &self.id
    }
}

impl EventSource for AccountEvents {
    type Event = EventKind;

    async fn next_event(&mut self) -> Option<EventKind> {
        loop {
            let event = self.bus.next_event().await?;
            if event.account == self.id {
                return Some(event.kind);
            }
        }
    }
}

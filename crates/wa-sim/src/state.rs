//! What every part of the simulator shares, apart from the listener: the server's keys, the
//! [`World`] of accounts and devices, the stanza counters, the open connections' outboxes, the
//! clock and the event stream.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::sync::{broadcast, mpsc};
use wa_protocol::binary::Node;
use wa_protocol::signal::KeyPair;
use wa_protocol::time::Millis;

use crate::config::SimConfig;
use crate::event::{ConnId, SimEvent};
use crate::media_store::MediaStore;
use crate::world::World;

/// Counters of stanzas by kind (`in:<tag>[:<xmlns>]`, `out:<tag>`), for tests and benchmarks.
pub type Counters = BTreeMap<String, u64>;

/// What a role (or the harness, from outside) asks a connection to do.
#[derive(Debug)]
pub(crate) enum Action {
    /// Send a node to the client.
    Send(Node),
    /// Close the connection (gracefully, after what was sent before).
    Close,
}

/// The server's shared state.
pub(crate) struct Shared {
    rng: Mutex<StdRng>,
    /// The server's Noise static key.
    pub(crate) static_key: KeyPair,
    /// The certificate chain for `static_key`, sent in every ServerHello.
    pub(crate) cert_chain: Vec<u8>,
    /// How the server runs.
    pub(crate) config: SimConfig,
    /// The media server's tokens and files.
    pub(crate) media: MediaStore,
    /// This state itself, for work that outlives the call that starts it (a phone downloading
    /// the media it received).
    this: Weak<Shared>,
    events: broadcast::Sender<SimEvent>,
    conns: Mutex<HashMap<ConnId, mpsc::UnboundedSender<Action>>>,
    next_conn: AtomicU64,
    next_iq: AtomicU64,
    world: Mutex<World>,
    counters: Mutex<Counters>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Shared {
    /// Shared state around the server's keys and media store; `rng` seeds every later key.
    pub(crate) fn new(
        config: SimConfig,
        media: MediaStore,
        rng: StdRng,
        static_key: KeyPair,
        cert_chain: Vec<u8>,
    ) -> Arc<Self> {
        let (events, _) = broadcast::channel(1 << 16);
        Arc::new_cyclic(|this| Self {
            this: this.clone(),
            rng: Mutex::new(rng),
            static_key,
            cert_chain,
            config,
            media,
            events,
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            next_iq: AtomicU64::new(1),
            world: Mutex::new(World::default()),
            counters: Mutex::new(Counters::new()),
        })
    }

    /// A handle on this state for a task of its own (`None` once the server is gone).
    pub(crate) fn handle(&self) -> Option<Arc<Shared>> {
        self.this.upgrade()
    }

    /// Reports an event to every subscriber.
    pub(crate) fn emit(&self, event: SimEvent) {
        // No subscriber is fine: events are for harnesses that ask.
        let _ = self.events.send(event);
    }

    /// A receiver of every event from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<SimEvent> {
        self.events.subscribe()
    }

    /// A generator seeded from the server's (reproducible when the server is seeded).
    pub(crate) fn fork_rng(&self) -> StdRng {
        let mut seed = [0u8; 32];
        lock(&self.rng).fill_bytes(&mut seed);
        StdRng::from_seed(seed)
    }

    /// Runs `f` on the world, under its lock.
    pub(crate) fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut lock(&self.world))
    }

    /// Now, from the configured clock.
    pub(crate) fn now(&self) -> Millis {
        self.config.clock.now()
    }

    /// Now in unix seconds, as `t` attributes carry it.
    pub(crate) fn now_secs(&self) -> u64 {
        self.now().unix_secs()
    }

    /// A fresh id for an IQ or notification the server sends.
    pub(crate) fn next_iq_id(&self) -> String {
        format!("sim-{}", self.next_iq.fetch_add(1, Ordering::Relaxed))
    }

    /// Bumps a stanza counter.
    pub(crate) fn count(&self, key: impl AsRef<str> + Into<String>) {
        let mut counters = lock(&self.counters);
        // A known key is bumped in place: no key string is built per routed stanza.
        match counters.get_mut(key.as_ref()) {
            Some(n) => *n += 1,
            None => {
                counters.insert(key.into(), 1);
            }
        }
    }

    /// A copy of the counters.
    pub(crate) fn counters(&self) -> Counters {
        lock(&self.counters).clone()
    }

    /// Registers a new connection's outbox; returns its id.
    pub(crate) fn open_conn(&self, outbox: mpsc::UnboundedSender<Action>) -> ConnId {
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        lock(&self.conns).insert(conn, outbox);
        conn
    }

    /// Forgets a connection that ended, and everything the world tied to it.
    pub(crate) fn close_conn(&self, conn: ConnId) {
        lock(&self.conns).remove(&conn);
        self.with_world(|w| w.forget_conn(conn));
    }

    /// Hands an action to a connection's loop; `false` if the connection is gone.
    pub(crate) fn push(&self, conn: ConnId, action: Action) -> bool {
        lock(&self.conns)
            .get(&conn)
            .is_some_and(|tx| tx.send(action).is_ok())
    }

    /// Closes every connection.
    pub(crate) fn close_all(&self) {
        for (_, tx) in lock(&self.conns).drain() {
            let _ = tx.send(Action::Close);
        }
    }
}

//! How to run the simulator: [`SimConfig`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use wa_protocol::noise::MAX_FRAME_LEN;
use wa_protocol::time::{Clock, SystemClock};

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; port 0 lets the OS choose.
    pub bind: SocketAddr,
    /// Seed for every key the server makes (root, certificates, ephemerals, phones): a given
    /// seed gives a reproducible server identity. `None` draws from the OS.
    pub seed: Option<u64>,
    /// Time a client has for each handshake message.
    pub handshake_timeout: Duration,
    /// Largest frame accepted from a client.
    pub max_frame: usize,
    /// Where every role reads the time it puts on the wire (`t` attributes, pair-success,
    /// certificate validity): the system clock by default, a
    /// [`ManualClock`](wa_protocol::time::ManualClock) for runs on virtual time. Timeouts on
    /// sockets (such as [`handshake_timeout`](Self::handshake_timeout)) stay on tokio's timer.
    pub clock: Arc<dyn Clock>,
    /// Report every stanza a client sends as a [`SimEvent::Stanza`](crate::SimEvent::Stanza)
    /// (a copy of the node per stanza; on by default, the tests wait on them). A standalone
    /// sim that does not look at them turns them off to spare that work per message.
    pub stanza_events: bool,
    /// Report every message a simulated phone records as a
    /// [`SimEvent::PhoneReceived`](crate::SimEvent::PhoneReceived) (on by default, the tests
    /// wait on them). Each one wakes every subscriber, so a standalone sim that only logs
    /// connection events turns them off; the phone's inbox records the message either way.
    pub phone_events: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: None,
            handshake_timeout: Duration::from_secs(20),
            max_frame: MAX_FRAME_LEN,
            clock: Arc::new(SystemClock),
            stanza_events: true,
            phone_events: true,
        }
    }
}

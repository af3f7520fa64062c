//! How to run the simulator: [`SimConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;
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
    /// The media server's limits and lifetimes (`media_conn`, upload and download).
    pub media: MediaConfig,
}

/// How the simulated media server (`media.md` §3: `media_conn`, `/mms/…` uploads, downloads by
/// direct path) behaves. The numbers are the simulator's own choices: the references give the
/// attributes, not the values the real server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Where uploaded ciphertexts are kept: a directory of the harness's, or (`None`) a
    /// temporary directory removed when the server stops.
    pub dir: Option<PathBuf>,
    /// The host (`name:port`) `media_conn` names and upload URLs carry; by default the
    /// listening address (`127.0.0.1` in place of an unspecified IP).
    pub host: Option<String>,
    /// Largest upload accepted (ciphertext and MAC): larger ones are refused with 413. Also
    /// announced as the hosts' `maxContentLengthBytes`.
    pub max_file_bytes: u64,
    /// Most bytes kept at once over all files: an upload that would pass it is refused (413).
    pub max_total_bytes: u64,
    /// How long a stored file can be downloaded: after that it is gone (410), which is what a
    /// client's media retry is for. A realism switch: short for tests of expiry (with a
    /// [`ManualClock`](wa_protocol::time::ManualClock)), or expire one file at once with
    /// `POST /admin/media/expire`.
    pub file_ttl: Duration,
    /// `media_conn`'s `ttl`: how long a client may cache the answer.
    pub conn_ttl: Duration,
    /// `media_conn`'s `auth_ttl`: how long its `auth` token opens uploads.
    pub auth_ttl: Duration,
    /// `media_conn`'s `max_buckets`.
    pub max_buckets: u32,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            dir: None,
            host: None,
            max_file_bytes: 256 << 20,
            max_total_bytes: 4 << 30,
            file_ttl: Duration::from_secs(30 * 24 * 3600),
            conn_ttl: Duration::from_secs(300),
            auth_ttl: Duration::from_secs(3600),
            max_buckets: 12,
        }
    }
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
            media: MediaConfig::default(),
        }
    }
}

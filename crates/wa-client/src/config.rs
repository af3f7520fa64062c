//! What every account task needs to know: server, protocol settings, reconnect policy, clock.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use wa_protocol::connection::Config;
use wa_protocol::time::{Clock, SystemClock};

use crate::media_config::MediaConfig;

/// Reconnect delays: exponential from `initial` to `max`, with ±`jitter` (fraction) randomness.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Upper bound.
    pub max: Duration,
    /// Random spread, 0.0..=1.0 of the delay.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// The delay before attempt `n` (0-based).
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let spread = base.as_secs_f64() * self.jitter.clamp(0.0, 1.0);
        let offset = if spread > 0.0 {
            rng.gen_range(-spread..=spread)
        } else {
            0.0
        };
        Duration::from_secs_f64((base.as_secs_f64() + offset).max(0.0))
    }
}

/// What every account task needs to know.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// WebSocket URL of the server.
    pub url: String,
    /// The protocol settings (trust root, client version, timers).
    pub connection: Config,
    /// Reconnect policy for transient drops.
    pub backoff: Backoff,
    /// Where the time comes from (the system clock by default; tests may inject another).
    pub clock: Arc<dyn Clock>,
    /// Media upload and download settings (`media.md` §3).
    pub media: MediaConfig,
    /// Who marks a received message reported (`Store::mark_reported`) once its
    /// [`crate::EventKind::Message`] is out: the client at once (default), or the consumer that
    /// persists it, through [`crate::Gateway::ack_report`] (see `reports.rs`).
    pub reports: ReportAcks,
}

/// Who marks a received message reported ([`ClientConfig::reports`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportAcks {
    /// The client, right after it emits the event: a consumer that misses the event (a crash
    /// before it persisted it) loses it. For embedders with no durable consumer.
    #[default]
    Client,
    /// The consumer, once it has persisted the event (the webhook worker after queueing its
    /// deliveries): until then the report stays pending and is emitted again after a restart
    /// (at-least-once).
    Consumer,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            url: crate::socket::PRODUCTION_URL.to_owned(),
            connection: Config::default(),
            backoff: Backoff::default(),
            clock: Arc::new(SystemClock),
            media: MediaConfig::default(),
            reports: ReportAcks::Client,
        }
    }
}

//! The webhook queue's counters (issue 14 item 3), kept by [`crate::webhooks::queue`] and
//! written by [`super`] at `/metrics`: lock-free `prometheus` counters whose label children are
//! resolved once, here.

use prometheus::core::Collector;
use prometheus::{IntCounter, IntCounterVec, Opts};

/// What the webhook queue did since the process started.
#[derive(Debug, Clone)]
pub struct WebhookCounters {
    deliveries: IntCounterVec,
    /// `deliveries{outcome="delivered"}`.
    pub(crate) delivered: IntCounter,
    /// `deliveries{outcome="failed"}` (one per failed attempt).
    pub(crate) failed: IntCounter,
    /// Deliveries scheduled for another attempt.
    pub(crate) retries: IntCounter,
    /// Deliveries moved to the dead letters after their last attempt.
    pub(crate) dead_letters: IntCounter,
}

impl Default for WebhookCounters {
    fn default() -> Self {
        Self::new()
    }
}

fn counter(name: &str, help: &str) -> IntCounter {
    // Constant names and helps: valid by construction.
    IntCounter::with_opts(Opts::new(name, help)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

impl WebhookCounters {
    /// Fresh counters, all zero.
    pub fn new() -> Self {
        let deliveries = IntCounterVec::new(
            Opts::new(
                "wagate_webhook_deliveries_total",
                "Webhook POST attempts, by outcome (delivered: a 2xx answer; failed: anything else).",
            ),
            &["outcome"],
        )
        .unwrap_or_else(|e| panic!("deliveries: {e}"));
        Self {
            delivered: deliveries.with_label_values(&["delivered"]),
            failed: deliveries.with_label_values(&["failed"]),
            deliveries,
            retries: counter(
                "wagate_webhook_retries_total",
                "Webhook deliveries scheduled for another attempt after a failure.",
            ),
            dead_letters: counter(
                "wagate_webhook_dead_letters_total",
                "Webhook deliveries moved to the dead letters after their last attempt.",
            ),
        }
    }

    /// Successful deliveries so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.get()
    }

    /// Every metric, for a registry (clones share the counters).
    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.deliveries.clone()),
            Box::new(self.retries.clone()),
            Box::new(self.dead_letters.clone()),
        ]
    }
}

//! The client's counters (issue 14 item 3): messages sent, received and failed by reason, the
//! send latency from the call to the server's ack, and reconnects. Each is a lock-free
//! `prometheus` metric (atomics; the label children are resolved once, here), so the send path
//! pays a few atomic adds per message. wa-http registers them ([`ClientMetrics::collectors`])
//! and writes the exposition; the names carry the `wagate_` prefix.
//!
//! ```text
//!  Gateway::send / send_and_settle ─▶ sent | failed{reason} (+ rejected{code}) · latency
//!  Ctx::emit(Message) ─▶ received      Ctx::emit(Disconnected, reconnect scheduled) ─▶ reconnects
//! ```

use std::time::Instant;

use prometheus::core::Collector;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts};

use crate::error::Error;

/// Upper bounds of the send latency buckets, in seconds (a LAN server acks in milliseconds;
/// a send that waits for a reconnect takes seconds).
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Why a send attempt failed: the `reason` label of `wagate_messages_failed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendFailure {
    /// The server refused the message (its code is in `wagate_messages_rejected_total`).
    Rejected,
    /// No answer in time.
    Timeout,
    /// The session was not running, not logged in, or its socket closed.
    NotConnected,
    /// Written but never acknowledged (it stays in the outbox).
    Unconfirmed,
    /// The caller's request could not be sent (bad recipient, bad media, unknown account, …).
    BadRequest,
    /// The server or the peer broke the protocol, or has no devices for the recipient.
    Peer,
    /// The network or a proxy failed.
    Network,
    /// The session store failed.
    Storage,
    /// A bug of ours.
    Internal,
}

impl SendFailure {
    /// Every reason, in label order.
    pub const ALL: [SendFailure; 9] = [
        SendFailure::Rejected,
        SendFailure::Timeout,
        SendFailure::NotConnected,
        SendFailure::Unconfirmed,
        SendFailure::BadRequest,
        SendFailure::Peer,
        SendFailure::Network,
        SendFailure::Storage,
        SendFailure::Internal,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SendFailure::Rejected => "rejected",
            SendFailure::Timeout => "timeout",
            SendFailure::NotConnected => "not_connected",
            SendFailure::Unconfirmed => "unconfirmed",
            SendFailure::BadRequest => "bad_request",
            SendFailure::Peer => "peer",
            SendFailure::Network => "network",
            SendFailure::Storage => "storage",
            SendFailure::Internal => "internal",
        }
    }

    /// The reason of `error`: the send-specific variants by name, the rest by their
    /// [`crate::Fault`].
    pub fn of(error: &Error) -> Self {
        use crate::error::Fault;
        match error {
            Error::Rejected { .. } => SendFailure::Rejected,
            Error::Timeout(_) => SendFailure::Timeout,
            Error::NotRunning(_)
            | Error::NotLoggedIn(_)
            | Error::Closed
            | Error::SessionDown { .. } => SendFailure::NotConnected,
            Error::Unconfirmed(_) | Error::NotConfirmed { .. } => SendFailure::Unconfirmed,
            Error::BadUrl(_)
            | Error::BadProxy(_)
            | Error::UnknownAccount(_)
            | Error::AlreadyLinked(_)
            | Error::BadRecipient(_)
            | Error::UnknownMessage(_)
            | Error::BadSubject(_)
            | Error::BadTopic(_)
            | Error::AlreadyAccepted(_)
            | Error::IdConflict(_)
            | Error::BadMedia(_)
            | Error::IqRefused { .. }
            | Error::NoDevices(_)
            | Error::NoLid(_)
            | Error::Protocol(_)
            | Error::WebSocket(_)
            | Error::Socks(_)
            | Error::ProxyIo(_)
            | Error::ProxyRefused(_)
            | Error::ProxyHeadTooLong
            | Error::Media(_)
            | Error::Store(_)
            | Error::Task(_) => match error.fault() {
                Fault::Caller => SendFailure::BadRequest,
                Fault::Peer => SendFailure::Peer,
                Fault::Network => SendFailure::Network,
                Fault::Storage => SendFailure::Storage,
                Fault::Internal => SendFailure::Internal,
            },
        }
    }
}

/// The counters of one [`crate::Gateway`] (every account of it).
#[derive(Debug, Clone)]
pub struct ClientMetrics {
    sent: IntCounter,
    received: IntCounter,
    reconnects: IntCounter,
    failed: IntCounterVec,
    /// `failed`'s children, one per [`SendFailure::ALL`] entry (no label lookup per failure).
    failed_by: Vec<IntCounter>,
    rejected: IntCounterVec,
    latency: Histogram,
}

impl Default for ClientMetrics {
    fn default() -> Self {
        Self::new()
    }
}

fn counter(name: &str, help: &str) -> IntCounter {
    // The names and helps are constants of this file: valid by construction.
    IntCounter::with_opts(Opts::new(name, help)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn counter_vec(name: &str, help: &str, label: &str) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), &[label]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

impl ClientMetrics {
    /// Fresh counters, all zero.
    pub fn new() -> Self {
        let failed = counter_vec(
            "wagate_messages_failed_total",
            "Send attempts that failed, by reason (a send that waits for its session may fail \
             an attempt and succeed on the next).",
            "reason",
        );
        let failed_by = SendFailure::ALL
            .iter()
            .map(|r| failed.with_label_values(&[r.as_str()]))
            .collect();
        let latency = HistogramOpts::new(
            "wagate_send_latency_seconds",
            "Time from a send's start to the server's ack, in seconds.",
        )
        .buckets(LATENCY_BUCKETS.to_vec());
        Self {
            sent: counter(
                "wagate_messages_sent_total",
                "Messages the server acknowledged.",
            ),
            received: counter(
                "wagate_messages_received_total",
                "Messages received and handed over as events.",
            ),
            reconnects: counter(
                "wagate_reconnects_total",
                "Reconnects scheduled after a session's connection dropped.",
            ),
            failed,
            failed_by,
            rejected: counter_vec(
                "wagate_messages_rejected_total",
                "Messages the server refused, by its error code.",
                "code",
            ),
            latency: Histogram::with_opts(latency).unwrap_or_else(|e| panic!("latency: {e}")),
        }
    }

    /// Every metric, for a registry (clones share the counters).
    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.sent.clone()),
            Box::new(self.received.clone()),
            Box::new(self.reconnects.clone()),
            Box::new(self.failed.clone()),
            Box::new(self.rejected.clone()),
            Box::new(self.latency.clone()),
        ]
    }

    /// Messages acknowledged so far.
    pub fn sent(&self) -> u64 {
        self.sent.get()
    }

    /// Messages received so far.
    pub fn received(&self) -> u64 {
        self.received.get()
    }

    /// Counts a send attempt started at `started` that ended with `result`.
    pub(crate) fn send_ended<T>(&self, started: Instant, result: &Result<T, Error>) {
        match result {
            Ok(_) => {
                self.sent.inc();
                self.latency.observe(started.elapsed().as_secs_f64());
            }
            Err(error) => self.failed(error),
        }
    }

    fn failed(&self, error: &Error) {
        let reason = SendFailure::of(error);
        if let Some(i) = SendFailure::ALL.iter().position(|r| *r == reason) {
            self.failed_by[i].inc();
        }
        if let Error::Rejected { code, .. } = error {
            // Rare: one label lookup is fine here.
            self.rejected.with_label_values(&[&code.to_string()]).inc();
        }
    }

    /// Counts a message handed over.
    pub(crate) fn received_one(&self) {
        self.received.inc();
    }

    /// Counts a reconnect scheduled.
    pub(crate) fn reconnect(&self) {
        self.reconnects.inc();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_by_reason() {
        let m = ClientMetrics::new();
        let started = Instant::now();
        m.send_ended::<()>(started, &Err(Error::Closed));
        m.send_ended::<()>(started, &Err(Error::Timeout("ack")));
        m.send_ended(started, &Ok(()));
        assert_eq!(m.sent(), 1);
        assert_eq!(m.failed.with_label_values(&["not_connected"]).get(), 1);
        assert_eq!(m.failed.with_label_values(&["timeout"]).get(), 1);
        assert_eq!(m.latency.get_sample_count(), 1);
    }

    #[test]
    fn every_reason_has_its_own_label() {
        let labels: std::collections::HashSet<_> =
            SendFailure::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels.len(), SendFailure::ALL.len());
    }
}

//! `GET /metrics` (issue 14 item 3): the Prometheus text exposition format 0.0.4, for the admin
//! token (`Authorization`, as on `/admin/**`, compared in constant time) or for a client whose
//! address is in [`HttpConfig::metrics_allow`] (`--metrics-allow`). Not in the OpenAPI document:
//! it is an operator's endpoint, not part of the API.
//!
//! ```text
//!  counters (lock-free, kept where things happen)     gauges (read at scrape time)
//!  wa-client ClientMetrics: sent, received,           sessions{state} from the gateway (§F)
//!    failed{reason}, rejected{code}, latency,         outbox depth, store bytes, log syncs,
//!    reconnects                                       webhook queue and dead letters,
//!  webhooks WebhookCounters: deliveries{outcome},     uptime, build info
//!    retries, dead letters
//!                 └──────────── one Registry per scrape ─▶ TextEncoder ─▶ text/plain 0.0.4
//! ```
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `wagate_sessions` | gauge | `state`: stopped, starting, scan_qr, pairing, working, reconnecting, failed, logged_out |
//! | `wagate_messages_sent_total` | counter | |
//! | `wagate_messages_received_total` | counter | |
//! | `wagate_messages_failed_total` | counter | `reason` ([`wa_client::SendFailure`]) |
//! | `wagate_messages_rejected_total` | counter | `code` (the server's) |
//! | `wagate_send_latency_seconds` | histogram | |
//! | `wagate_reconnects_total` | counter | |
//! | `wagate_webhook_deliveries_total` | counter | `outcome`: delivered, failed |
//! | `wagate_webhook_retries_total`, `wagate_webhook_dead_letters_total` | counter | |
//! | `wagate_webhook_queued`, `wagate_webhook_dead_letters` | gauge | |
//! | `wagate_outbox_depth` | gauge | |
//! | `wagate_store_size_bytes`, `wagate_store_log_syncs_total` | gauge, counter | |
//! | `wagate_uptime_seconds` | gauge | |
//! | `wagate_build_info` | gauge (1) | `version` |

pub mod counters;
pub mod store_stats;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus::core::Collector;
use prometheus::{Encoder, IntCounter, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use wa_client::SessionState;
use wa_store::OutboxStatus;

pub use store_stats::StoreStats;

use crate::auth::secret_eq;
use crate::error::ApiError;
use crate::state::AppState;

/// The exposition's content type (Prometheus text format 0.0.4).
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The §F states, as `wagate_sessions`' `state` label values (each always present).
const STATES: [&str; 8] = [
    "stopped",
    "starting",
    "scan_qr",
    "pairing",
    "working",
    "reconnecting",
    "failed",
    "logged_out",
];

/// `/metrics`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

/// The `state` label of a session state (CONTRACTS §F).
pub fn state_label(state: &SessionState) -> &'static str {
    match state {
        SessionState::Stopped => "stopped",
        SessionState::Starting => "starting",
        SessionState::AwaitingQr => "scan_qr",
        SessionState::Pairing => "pairing",
        SessionState::Working => "working",
        SessionState::Reconnecting { .. } => "reconnecting",
        SessionState::LoggedOut => "logged_out",
        // `SessionState` is non-exhaustive: a state added later counts as failed until named.
        SessionState::Failed(_) | _ => "failed",
    }
}

async fn scrape(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    authorize(&state, &request)?;
    let text = exposition(&state).await?;
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], text).into_response())
}

/// The admin token in `Authorization`, or a client address in the allow-list.
fn authorize(state: &AppState, request: &Request) -> Result<(), ApiError> {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if token.is_some_and(|t| secret_eq(t, &state.config.admin_token)) {
        return Ok(());
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let allowed = peer.is_some_and(|ip| {
        let ip = ip.to_canonical();
        state
            .config
            .metrics_allow
            .iter()
            .any(|net| net.contains(&ip))
    });
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Every metric, as text.
pub async fn exposition(state: &AppState) -> Result<String, ApiError> {
    let registry = Registry::new();
    let mut collectors = state.gateway.metrics().collectors();
    if let Some(queue) = &state.webhooks {
        collectors.extend(queue.counters().collectors());
        collectors.push(gauge(
            "wagate_webhook_queued",
            "Webhook deliveries waiting to be sent.",
            queue.queued_count(),
        ));
        collectors.push(gauge(
            "wagate_webhook_dead_letters",
            "Webhook deliveries in the dead letters now.",
            queue.dead_count(),
        ));
    }
    collectors.push(sessions(state).await?);
    collectors.push(gauge(
        "wagate_outbox_depth",
        "Messages in the durable outbox not acknowledged by the server yet (queued or sent).",
        outbox_depth(state).await?,
    ));
    collectors.extend(store_gauges(state).await);
    collectors.push(gauge(
        "wagate_uptime_seconds",
        "Seconds since the HTTP server started.",
        state.started.elapsed().as_secs(),
    ));
    collectors.push(build_info());
    for c in collectors {
        registry
            .register(c)
            .map_err(|e| ApiError::Internal(format!("metrics registry: {e}").into()))?;
    }
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .map_err(|e| ApiError::Internal(format!("metrics encoding: {e}").into()))?;
    String::from_utf8(out).map_err(|e| ApiError::Internal(format!("metrics encoding: {e}").into()))
}

/// A gauge set to `value`.
fn gauge(name: &str, help: &str, value: impl TryInto<i64>) -> Box<dyn Collector> {
    let g = IntGauge::with_opts(Opts::new(name, help)).unwrap_or_else(|e| panic!("{name}: {e}"));
    g.set(value.try_into().unwrap_or(i64::MAX));
    Box::new(g)
}

/// A counter read from elsewhere (its value now).
fn counter(name: &str, help: &str, value: u64) -> Box<dyn Collector> {
    let c = IntCounter::with_opts(Opts::new(name, help)).unwrap_or_else(|e| panic!("{name}: {e}"));
    c.inc_by(value);
    Box::new(c)
}

fn build_info() -> Box<dyn Collector> {
    let opts = Opts::new("wagate_build_info", "The running build (always 1).")
        .const_label("version", env!("CARGO_PKG_VERSION"));
    gauge_with(opts, 1)
}

fn gauge_with(opts: Opts, value: i64) -> Box<dyn Collector> {
    let g = IntGauge::with_opts(opts).unwrap_or_else(|e| panic!("gauge: {e}"));
    g.set(value);
    Box::new(g)
}

/// The store's size and log syncs (none when the state has no [`StoreStats`]).
async fn store_gauges(state: &AppState) -> Vec<Box<dyn Collector>> {
    let Some(stats) = state.store_stats.clone() else {
        return Vec::new();
    };
    let skip = state.objects.media_dir().map(std::path::Path::to_path_buf);
    let read = tokio::task::spawn_blocking(move || stats.read(skip.as_deref())).await;
    let Ok((size, syncs)) = read else {
        return Vec::new();
    };
    vec![
        gauge(
            "wagate_store_size_bytes",
            "Bytes the session store takes on disk.",
            size,
        ),
        counter(
            "wagate_store_log_syncs_total",
            "fdatasyncs of the store's write-ahead log since it opened.",
            syncs,
        ),
    ]
}

/// Sessions by state: every account of the store, live or stored.
async fn sessions(state: &AppState) -> Result<Box<dyn Collector>, ApiError> {
    let by_state = IntGaugeVec::new(
        Opts::new("wagate_sessions", "Sessions by state (CONTRACTS §F)."),
        &["state"],
    )
    .unwrap_or_else(|e| panic!("sessions: {e}"));
    for s in STATES {
        by_state.with_label_values(&[s]).set(0);
    }
    let store = std::sync::Arc::clone(state.gateway.store());
    let accounts = tokio::task::spawn_blocking(move || store.accounts())
        .await
        .map_err(|e| ApiError::Internal(format!("metrics: {e}").into()))??;
    for account in accounts {
        let status = state.gateway.status(&account.id).await?;
        by_state
            .with_label_values(&[state_label(&status.state)])
            .inc();
    }
    Ok(Box::new(by_state))
}

/// Entries of every account's durable outbox the server has not acknowledged yet (queued, or
/// on the wire); acknowledged ones stay for their receipts and are not counted.
async fn outbox_depth(state: &AppState) -> Result<usize, ApiError> {
    let store = std::sync::Arc::clone(state.gateway.store());
    let depth = tokio::task::spawn_blocking(move || -> wa_store::Result<usize> {
        let mut depth = 0;
        for account in store.accounts()? {
            depth += store
                .outbox_entries(&account.id)?
                .iter()
                .filter(|e| matches!(e.status, OutboxStatus::Queued | OutboxStatus::Sent))
                .count();
        }
        Ok(depth)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("metrics: {e}").into()))??;
    Ok(depth)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_listed_label() {
        use wa_client::FailReason;
        for s in [
            SessionState::Stopped,
            SessionState::Starting,
            SessionState::AwaitingQr,
            SessionState::Pairing,
            SessionState::Working,
            SessionState::Reconnecting { attempt: 1 },
            SessionState::Failed(FailReason::QrTimeout),
            SessionState::LoggedOut,
        ] {
            assert!(STATES.contains(&state_label(&s)), "{s:?}");
        }
    }
}

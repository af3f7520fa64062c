//! The session page's JSON calls: send a test text, the recent events, the webhook settings
//! with the session's waiting deliveries and dead letters (and retrying one), and the pools.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use wa_store::WebhookDelivery;

use super::api_sessions::account;
use super::guard::{Checked, Viewer};
use super::recent::Entry;
use crate::error::ApiError;
use crate::gotime::rfc3339;
use crate::phone::parse_recipient;
use crate::pool::dto::PoolView;
use crate::pool::lookup::{blocking, pool_view};
use crate::state::AppState;
use crate::webhooks::recent::Attempt;
use crate::webhooks::ssrf::check_url;
use crate::wuzapi::event_types::parse_list;

/// How many deliveries and dead letters are looked at.
const LIST_LIMIT: usize = 1000;

/// How many of them one session's page shows.
const SHOWN: usize = 50;

/// `POST /dashboard/api/sessions/{id}/send`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SendText {
    phone: String,
    text: String,
}

/// `POST /dashboard/api/sessions/{id}/send`: sends a text; answers its event-list entry
/// (status `sent` once the server acknowledged it; later statuses follow on the stream).
pub(crate) async fn send(
    _: Checked,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<SendText>,
) -> Result<Json<Entry>, ApiError> {
    let account = account(&state, &id).await?;
    crate::phone::use_session_country_code(&account);
    if body.phone.trim().is_empty() {
        return Err(ApiError::missing("Phone"));
    }
    if body.text.is_empty() {
        return Err(ApiError::missing("Body"));
    }
    let to = parse_recipient(body.phone.trim(), "Phone")?;
    let sent = state
        .gateway
        .send_text(&account.id, to.clone(), body.text.clone())
        .await
        .map_err(ApiError::Send)?;
    let entry = state.dashboard.recent.outgoing(
        account.id,
        crate::pool::send::now_ms(),
        sent.id.as_str(),
        &to.to_string(),
        &body.text,
        "sent",
    );
    Ok(Json(entry))
}

/// `GET /dashboard/api/sessions/{id}/events`: the recent events, oldest first.
pub(crate) async fn recent(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Entry>>, ApiError> {
    state.dashboard.follow(&state.gateway);
    let account = account(&state, &id).await?;
    Ok(Json(state.dashboard.recent.list(account.id)))
}

/// A session's webhook settings.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Webhook {
    /// The URL (`""`: none).
    url: String,
    /// The event types, comma-separated (`Message,ReadReceipt`, `All`).
    events: String,
}

/// `GET /dashboard/api/sessions/{id}/webhook`.
pub(crate) async fn webhook(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Webhook>, ApiError> {
    let account = account(&state, &id).await?;
    Ok(Json(Webhook {
        url: account.webhook,
        events: account.events.join(","),
    }))
}

/// `POST /dashboard/api/sessions/{id}/webhook`: stores the URL (checked by the SSRF guard)
/// and the event types (each must be known).
pub(crate) async fn set_webhook(
    _: Checked,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Webhook>,
) -> Result<Json<Webhook>, ApiError> {
    let mut account = account(&state, &id).await?;
    let url = body.url.trim().to_owned();
    if !url.is_empty() {
        check_url(&url, state.config.webhook_allow_private).await?;
    }
    let events = parse_list(&body.events).map_err(ApiError::InvalidEvent)?;
    account.webhook = url;
    account.events = events;
    state.gateway.save_account(account.clone()).await?;
    Ok(Json(Webhook {
        url: account.webhook,
        events: account.events.join(","),
    }))
}

/// One delivery (waiting or dead).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Delivery {
    /// Its id (what a retry takes).
    id: u64,
    /// The receiver URL.
    receiver: String,
    /// The event type.
    kind: String,
    /// Failed attempts so far.
    attempts: u32,
    /// Why the last attempt failed.
    last_error: String,
    /// When it was queued (RFC 3339).
    enqueued_at: String,
}

impl Delivery {
    fn new(d: &WebhookDelivery) -> Self {
        Self {
            id: d.seq,
            receiver: d.receiver.clone(),
            kind: d.kind.clone(),
            attempts: d.attempts,
            last_error: d.last_error.clone(),
            enqueued_at: rfc3339(Some(d.enqueued_ms / 1000)),
        }
    }
}

/// `GET /dashboard/api/sessions/{id}/deliveries`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Deliveries {
    /// Whether webhook delivery runs at all.
    running: bool,
    /// The session's last attempts (delivered or failed), newest first.
    recent: Vec<Attempt>,
    /// The session's deliveries waiting to be sent (first tries and retries), oldest first.
    queued: Vec<Delivery>,
    /// The session's dead letters, newest first.
    dead: Vec<Delivery>,
}

/// `GET /dashboard/api/sessions/{id}/deliveries`.
pub(crate) async fn deliveries(
    _: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Deliveries>, ApiError> {
    let account = account(&state, &id).await?;
    let Some(queue) = state.webhooks.clone() else {
        return Ok(Json(Deliveries {
            running: false,
            recent: Vec::new(),
            queued: Vec::new(),
            dead: Vec::new(),
        }));
    };
    let mine = move |d: &&WebhookDelivery| d.account == Some(account.id);
    let recent = queue.recent_deliveries(&account.id);
    let queued = blocking(&state, |s| s.webhook_queued(LIST_LIMIT)).await?;
    let dead = tokio::task::spawn_blocking(move || queue.dead_letters(LIST_LIMIT))
        .await
        .map_err(|e| ApiError::Internal(format!("dead letters: {e}").into()))??;
    Ok(Json(Deliveries {
        running: true,
        recent,
        queued: queued
            .iter()
            .filter(mine)
            .take(SHOWN)
            .map(Delivery::new)
            .collect(),
        dead: dead
            .iter()
            .rev()
            .filter(mine)
            .take(SHOWN)
            .map(Delivery::new)
            .collect(),
    }))
}

/// `POST /dashboard/api/deadletters/{seq}/retry`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Retried {
    /// The delivery's id in the queue now.
    new_id: u64,
}

/// `POST /dashboard/api/deadletters/{seq}/retry`: queues one dead letter again.
pub(crate) async fn retry(
    _: Checked,
    State(state): State<AppState>,
    Path(seq): Path<u64>,
) -> Result<Json<Retried>, ApiError> {
    let queue = state
        .webhooks
        .clone()
        .ok_or_else(|| ApiError::NotImplemented("webhook delivery is not running".into()))?;
    let done = tokio::task::spawn_blocking(move || queue.replay(Some(&[seq])))
        .await
        .map_err(|e| ApiError::Internal(format!("replay: {e}").into()))??;
    let new_id = done
        .queued
        .first()
        .map(|&(_, new)| new)
        .ok_or_else(|| ApiError::NotFound(format!("no dead letter {seq}").into()))?;
    Ok(Json(Retried { new_id }))
}

/// Every pool with its members' health (read-only; pool tokens are not shown).
pub(crate) async fn pool_views(state: &AppState) -> Result<Vec<PoolView>, ApiError> {
    let pools = blocking(state, |s| s.pools()).await?;
    let mut out = Vec::with_capacity(pools.len());
    for p in &pools {
        out.push(pool_view(state, p, false).await);
    }
    Ok(out)
}

/// `GET /dashboard/api/pools`.
pub(crate) async fn pools(
    _: Viewer,
    State(state): State<AppState>,
) -> Result<Json<Vec<PoolView>>, ApiError> {
    Ok(Json(pool_views(&state).await?))
}

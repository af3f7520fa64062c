//! The dead-letter routes (issue 12 item 1; our extension, wuzapi has none): webhook deliveries
//! that failed their last attempt, listed and replayed by the admin.
//!
//! - `GET /admin/webhooks/deadletters?limit=N` → `{"DeadLetters": [{Id, Receiver, UserID,
//!   Type, Attempts, LastError, EnqueuedAt}], "Count", "Queued"}` (oldest first, at most
//!   `limit`, default 1000; `Queued`: deliveries still waiting to be sent);
//! - `POST /admin/webhooks/deadletters/replay` `{"Ids": [..]}` or `{"All": true}` → each one goes
//!   back at the end of its receiver's queue with fresh attempts: `{"Replayed": [{Id, NewId}],
//!   "Missing": [..]}`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use wa_store::WebhookDelivery;

use crate::auth::Admin;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::gotime::rfc3339;
use crate::json::GoJson;
use crate::state::AppState;
use crate::webhooks::queue::WebhookQueue;

const DEFAULT_LIMIT: usize = 1000;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/webhooks/deadletters", get(list))
        .route("/admin/webhooks/deadletters/replay", post(replay))
}

/// One dead letter.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct DeadLetter {
    /// Its id (what replay takes).
    Id: u64,
    /// The receiver URL.
    Receiver: String,
    /// The user whose event it is (`""` for a gateway-wide alert).
    UserID: String,
    /// The event's `type`.
    Type: String,
    /// Attempts made.
    Attempts: u32,
    /// Why the last one failed.
    LastError: String,
    /// When it was queued (RFC 3339).
    EnqueuedAt: String,
}

impl DeadLetter {
    fn new(d: &WebhookDelivery) -> Self {
        Self {
            Id: d.seq,
            Receiver: d.receiver.clone(),
            UserID: d.account.map(|a| a.to_string()).unwrap_or_default(),
            Type: d.kind.clone(),
            Attempts: d.attempts,
            LastError: d.last_error.clone(),
            EnqueuedAt: rfc3339(Some(d.enqueued_ms / 1000)),
        }
    }
}

/// The list.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct DeadLetters {
    /// Oldest first.
    DeadLetters: Vec<DeadLetter>,
    /// How many dead letters there are (all of them, not only those listed).
    Count: usize,
    /// How many deliveries wait to be sent (first tries and retries).
    Queued: usize,
}

/// `limit`.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// At most this many (default 1000).
    limit: Option<usize>,
}

/// The replay request: ids, or all.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ReplayRequest {
    /// The ids to replay (`Ids`; names match in any case).
    ids: Vec<u64>,
    /// Replay every dead letter (`All`; the ids are then ignored).
    all: bool,
}

/// One replayed dead letter.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct ReplayedOne {
    /// Its dead-letter id.
    Id: u64,
    /// Its id in the queue now.
    NewId: u64,
}

/// What a replay did.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct ReplayAnswer {
    /// Queued again.
    Replayed: Vec<ReplayedOne>,
    /// Ids that are not dead letters.
    Missing: Vec<u64>,
}

fn queue(state: &AppState) -> Result<std::sync::Arc<WebhookQueue>, ApiError> {
    state
        .webhooks
        .clone()
        .ok_or_else(|| ApiError::NotImplemented("webhook delivery is not running".into()))
}

/// `GET /admin/webhooks/deadletters`.
#[utoipa::path(get, path = "/admin/webhooks/deadletters", tag = "admin", params(ListQuery),
    description = "Our extension (wuzapi has none): webhook deliveries that failed their last \
        attempt (WEBHOOK_RETRY_COUNT, exponential backoff from WEBHOOK_RETRY_DELAY_SECONDS), \
        oldest first.",
    responses((status = 200, body = DeadLetters), (status = 401),
        (status = 400, description = "limit must be a number"),
        (status = 501, description = "webhook delivery is not running")),
    security(("admin" = [])))]
async fn list(
    _: Admin,
    State(state): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Envelope<DeadLetters>, ApiError> {
    let Query(q) = q.map_err(|_| ApiError::bad_request("limit must be a number"))?;
    let queue = queue(&state)?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    let listed = tokio::task::spawn_blocking({
        let queue = std::sync::Arc::clone(&queue);
        move || queue.dead_letters(limit)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string().into()))??;
    Ok(Envelope::ok(DeadLetters {
        DeadLetters: listed.iter().map(DeadLetter::new).collect(),
        Count: queue.dead_count(),
        Queued: queue.queued_count(),
    }))
}

/// `POST /admin/webhooks/deadletters/replay`.
#[utoipa::path(post, path = "/admin/webhooks/deadletters/replay", tag = "admin",
    request_body = ReplayRequest,
    description = "Our extension (wuzapi has none): queues dead letters again, each at the end \
        of its receiver's queue with fresh attempts.",
    responses((status = 200, body = ReplayAnswer), (status = 401),
        (status = 400, description = "could not decode Payload, or neither Ids nor All"),
        (status = 501, description = "webhook delivery is not running")),
    security(("admin" = [])))]
async fn replay(
    _: Admin,
    State(state): State<AppState>,
    body: Result<GoJson<ReplayRequest>, ApiError>,
) -> Result<Envelope<ReplayAnswer>, ApiError> {
    let GoJson(body) = body?;
    if !body.all && body.ids.is_empty() {
        return Err(ApiError::bad_request("missing Ids (or All) in Payload"));
    }
    let queue = queue(&state)?;
    let done = tokio::task::spawn_blocking(move || {
        let ids = (!body.all).then_some(body.ids);
        queue.replay(ids.as_deref())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string().into()))??;
    Ok(Envelope::ok(ReplayAnswer {
        Replayed: done
            .queued
            .iter()
            .map(|&(id, new)| ReplayedOne { Id: id, NewId: new })
            .collect(),
        Missing: done.missing,
    }))
}

#[derive(OpenApi)]
#[openapi(
    paths(list, replay),
    components(schemas(DeadLetter, DeadLetters, ReplayRequest, ReplayedOne, ReplayAnswer))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

//! `GET /chat/status/{id}` (our extension, issue 12 item 3): an outbound message's durable
//! status and its timeline, so an OTP flow can ask "did it arrive?" without keeping state of
//! its own: `queued` (accepted), `sent` (the server's ack, with its timestamp), `delivered`,
//! `read`, or `failed` with WhatsApp's error code (463, 479, … from the server's ack;
//! `messaging.md` §8, §16). Timelines are kept after the message is done for
//! [`wa_store::STATUS_LOG_RETENTION_MS`] (7 days) after their last change.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use wa_store::{MessageStatus, StatusTimeline};

use crate::auth::User;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::state::AppState;
use crate::webhooks::status_event::status_parts;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/chat/status/{id}", get(status))
}

/// One status of a message (keys in Go's sorted order).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct StatusStepView {
    /// When the gateway recorded it (unix milliseconds).
    #[serde(rename = "At")]
    pub at: u64,
    /// WhatsApp's error code of a `failed` step (none when the gateway gave up itself).
    #[serde(rename = "ErrorCode", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u16>,
    /// `queued`, `sent`, `delivered`, `read` or `failed`.
    #[serde(rename = "Status")]
    pub status: &'static str,
    /// The server's timestamp (unix seconds): the ack's for `sent`, the receipt's for
    /// `delivered` and `read`.
    #[serde(rename = "Timestamp", skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
}

/// A message's status and timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct MessageStatusView {
    /// The chat it was sent to (JID).
    #[serde(rename = "Chat")]
    pub chat: String,
    /// WhatsApp's error code when it `failed`.
    #[serde(rename = "ErrorCode", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u16>,
    /// The message id.
    #[serde(rename = "Id")]
    pub id: String,
    /// The status now.
    #[serde(rename = "Status")]
    pub status: &'static str,
    /// Every status so far, oldest first (starting with `queued`).
    #[serde(rename = "Timeline")]
    pub timeline: Vec<StatusStepView>,
    /// The server's timestamp of the status now (unix seconds), when it has one.
    #[serde(rename = "Timestamp", skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
}

impl From<&StatusTimeline> for MessageStatusView {
    fn from(t: &StatusTimeline) -> Self {
        let step = |status, at| {
            let (status, timestamp, error_code) = status_parts(status);
            StatusStepView {
                at,
                error_code,
                status,
                timestamp,
            }
        };
        let mut timeline = vec![step(MessageStatus::Queued, t.queued_ms)];
        timeline.extend(t.steps.iter().map(|s| step(s.status, s.at_ms)));
        let (status, timestamp, error_code) = status_parts(t.status());
        Self {
            chat: t.chat.to_string(),
            error_code,
            id: t.message_id.clone(),
            status,
            timeline,
            timestamp,
        }
    }
}

/// `GET /chat/status/{id}`.
#[utoipa::path(get, path = "/chat/status/{id}", tag = "chat",
    params(("id" = String, Path, description = "The message id (the send's `Id`)")),
    responses(
        (status = 200, description = "The message's status and timeline (envelope `data`)", body = MessageStatusView),
        (status = 401, description = "Unknown token"),
        (status = 404, description = "`no outbound message <id>`: never accepted by this user, or older than the retention (7 days)")))]
async fn status(
    State(state): State<AppState>,
    User(account): User,
    Path(id): Path<String>,
) -> Result<Envelope<MessageStatusView>, ApiError> {
    let timeline = state.gateway.message_timeline(&account.id, &id).await?;
    Ok(Envelope::ok(MessageStatusView::from(&timeline)))
}

#[derive(OpenApi)]
#[openapi(paths(status), components(schemas(MessageStatusView, StatusStepView)))]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

//! Webhook settings (CONTRACTS §A.3): the user's URL and subscribed event types, read by the
//! delivery (`crate::webhooks`) at each event, so a change applies to the next event.
//!
//! - `GET /webhook` → `{"webhook", "subscribe": [..]}` (`[""]` when nothing is subscribed: wuzapi
//!   splits its stored comma string);
//! - `POST /webhook` `{webhookURL, events?}` → `{"webhook"}` (invalid event names dropped);
//! - `PUT /webhook` `{webhook, events?, active}` → `{"webhook", "events", "active"}`;
//!   `active: false` clears the URL and the events;
//! - `DELETE /webhook` → `{"Details": "Webhook and events deleted successfully"}`.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use wa_store::{Account, Durability};

use crate::auth::User;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::json::GoJson;
use crate::state::AppState;
use crate::webhooks::ssrf::check_url;
use crate::wuzapi::event_types::known_only;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/webhook",
        get(get_webhook)
            .post(set_webhook)
            .put(update_webhook)
            .delete(delete_webhook),
    )
}

/// `POST /webhook`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SetWebhook {
    /// The URL events are POSTed to (`webhookURL`, `WebhookURL`, … match).
    #[serde(rename = "webhookurl")]
    webhook_url: String,
    /// The event types to receive (`Message`, `ReadReceipt`, `All`, …); absent: unchanged.
    events: Option<Vec<String>>,
}

/// `PUT /webhook`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct UpdateWebhook {
    /// The URL.
    webhook: String,
    /// The event types; absent: unchanged.
    events: Option<Vec<String>>,
    /// `false` clears the URL and the events.
    active: bool,
}

/// `GET /webhook`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookView {
    /// The URL (`""`: none).
    webhook: String,
    /// The subscribed types (`[""]` when none).
    subscribe: Vec<String>,
}

/// `POST /webhook`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookSet {
    /// The URL stored.
    webhook: String,
}

/// `PUT /webhook`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookUpdated {
    /// The URL stored.
    webhook: String,
    /// The types stored.
    events: Vec<String>,
    /// Whether a webhook is active.
    active: bool,
}

/// `DELETE /webhook`'s answer.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct WebhookDeleted {
    /// `Webhook and events deleted successfully`.
    Details: &'static str,
}

/// wuzapi's `could not decode payload` (lowercase, as its webhook handlers spell it).
fn lower_decode<T>(body: Result<GoJson<T>, ApiError>) -> Result<T, ApiError> {
    match body {
        Ok(GoJson(t)) => Ok(t),
        Err(ApiError::Decode) => Err(ApiError::bad_request("could not decode payload")),
        Err(e) => Err(e),
    }
}

/// Applies `change` to the stored account (read fresh, written durably) and returns it.
async fn update(
    state: &AppState,
    account: &Account,
    change: impl FnOnce(&mut Account) + Send + 'static,
) -> Result<Account, ApiError> {
    let store = std::sync::Arc::clone(state.gateway.store());
    let id = account.id;
    let updated = tokio::task::spawn_blocking(move || {
        let mut current = store
            .account(&id)?
            .ok_or(wa_store::Error::AccountNotFound(id))?;
        change(&mut current);
        current.updated_ms = now_ms();
        store.update_account(&current, Durability::Durable)?;
        Ok::<_, wa_store::Error>(current)
    })
    .await
    .map_err(|e| ApiError::Client(e.into()))??;
    Ok(updated)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `GET /webhook`.
#[utoipa::path(get, path = "/webhook", tag = "webhook",
    responses((status = 200, description = "`data`: the URL and the subscribed types", body = WebhookView),
              (status = 401, description = "unauthorized")))]
async fn get_webhook(User(account): User) -> Envelope<WebhookView> {
    let subscribe = if account.events.is_empty() {
        vec![String::new()]
    } else {
        account.events
    };
    Envelope::ok(WebhookView {
        webhook: account.webhook,
        subscribe,
    })
}

/// `POST /webhook`.
#[utoipa::path(post, path = "/webhook", tag = "webhook", request_body = SetWebhook,
    responses((status = 200, description = "`data`: the URL stored", body = WebhookSet),
              (status = 400, description = "could not decode payload; or the URL is refused: not http(s), or (unless --webhook-allow-private) a loopback, private, link-local, CGNAT, multicast or unspecified address (SSRF guard, our addition)")))]
async fn set_webhook(
    State(state): State<AppState>,
    User(account): User,
    body: Result<GoJson<SetWebhook>, ApiError>,
) -> Result<Envelope<WebhookSet>, ApiError> {
    let body = lower_decode(body)?;
    let url = body.webhook_url.trim().to_owned();
    check_url(&url, state.config.webhook_allow_private).await?;
    let events = body.events.map(|e| known_only(&e));
    let stored = update(&state, &account, move |a| {
        a.webhook = url;
        if let Some(events) = events {
            a.events = events;
        }
    })
    .await?;
    Ok(Envelope::ok(WebhookSet {
        webhook: stored.webhook,
    }))
}

/// `PUT /webhook`.
#[utoipa::path(put, path = "/webhook", tag = "webhook", request_body = UpdateWebhook,
    responses((status = 200, description = "`data`: what is stored", body = WebhookUpdated),
              (status = 400, description = "could not decode payload; or the URL is refused (SSRF guard, see POST /webhook)")))]
async fn update_webhook(
    State(state): State<AppState>,
    User(account): User,
    body: Result<GoJson<UpdateWebhook>, ApiError>,
) -> Result<Envelope<WebhookUpdated>, ApiError> {
    let body = lower_decode(body)?;
    let active = body.active;
    let url = body.webhook.trim().to_owned();
    if active {
        check_url(&url, state.config.webhook_allow_private).await?;
    }
    let events = body.events.map(|e| known_only(&e));
    let stored = update(&state, &account, move |a| {
        if active {
            a.webhook = url;
            if let Some(events) = events {
                a.events = events;
            }
        } else {
            a.webhook.clear();
            a.events.clear();
        }
    })
    .await?;
    Ok(Envelope::ok(WebhookUpdated {
        active,
        webhook: stored.webhook,
        events: stored.events,
    }))
}

/// `DELETE /webhook`.
#[utoipa::path(delete, path = "/webhook", tag = "webhook",
    responses((status = 200, description = "`data`: `{\"Details\":\"Webhook and events deleted successfully\"}`", body = WebhookDeleted)))]
async fn delete_webhook(
    State(state): State<AppState>,
    User(account): User,
) -> Result<Envelope<WebhookDeleted>, ApiError> {
    update(&state, &account, |a| {
        a.webhook.clear();
        a.events.clear();
    })
    .await?;
    Ok(Envelope::ok(WebhookDeleted {
        Details: "Webhook and events deleted successfully",
    }))
}

#[derive(OpenApi)]
#[openapi(
    paths(get_webhook, set_webhook, update_webhook, delete_webhook),
    components(schemas(
        SetWebhook,
        UpdateWebhook,
        WebhookView,
        WebhookSet,
        WebhookUpdated,
        WebhookDeleted
    ))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_fragment_has_the_four_methods() {
        let doc = super::openapi();
        let item = doc.paths.paths.get("/webhook").expect("/webhook");
        assert!(item.get.is_some() && item.post.is_some());
        assert!(item.put.is_some() && item.delete.is_some());
    }
}

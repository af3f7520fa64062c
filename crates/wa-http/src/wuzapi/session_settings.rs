//! The session's settings routes (CONTRACTS §A.2, §B.8, §B.9): `proxy`, `hmac/config`
//! (answered raw, outside the envelope, as wuzapi's Jan-2026 build does) and `history` (its
//! `GET`, the on-demand sync, is `session_history.rs`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use wa_client::Proxy;
use wa_store::{ProxyConfig, Secret};

use crate::auth::User;
use crate::envelope::{Envelope, RawJson};
use crate::error::ApiError;
use crate::json::GoJson;
use crate::state::AppState;
use crate::wuzapi::session_history;

/// The shortest HMAC key accepted (CONTRACTS §A.1, §A.2).
pub(crate) const HMAC_KEY_MIN: usize = 32;

/// The text of a too-short HMAC key.
pub(crate) const HMAC_KEY_SHORT: &str = "HMAC key must be at least 32 characters long";

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/session/proxy", post(proxy))
        .route(
            "/session/hmac/config",
            get(hmac_get).post(hmac_set).delete(hmac_delete),
        )
        .route(
            "/session/history",
            get(session_history::history_sync).post(history_set),
        )
}

/// `POST /session/proxy`'s body (snake_case wire names).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ProxyRequest {
    /// `http://[user:pass@]host:port` or `socks5://…`.
    proxy_url: String,
    /// `false` turns the proxy off.
    enable: bool,
}

/// `POST /session/proxy`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProxyAnswer {
    #[serde(rename = "Details")]
    details: &'static str,
    #[serde(rename = "ProxyURL", skip_serializing_if = "Option::is_none")]
    proxy_url: Option<String>,
}

/// Checks a proxy URL as wuzapi does (§A.2 errors), then with the client's own parser.
pub(crate) fn check_proxy_url(url: &str) -> Result<(), ApiError> {
    let invalid = || ApiError::bad_request("invalid proxy URL format");
    let (scheme, _) = url.split_once("://").ok_or_else(invalid)?;
    if !matches!(
        scheme.to_ascii_lowercase().as_str(),
        "http" | "socks5" | "socks5h"
    ) {
        return Err(ApiError::bad_request(
            "only HTTP and SOCKS5 proxies are supported",
        ));
    }
    url.parse::<Proxy>().map(|_| ()).map_err(|_| invalid())
}

/// `POST /session/proxy`: sets (or turns off) the proxy used from the next connect.
#[utoipa::path(post, path = "/session/proxy", tag = "session", request_body = ProxyRequest,
    responses((status = 200, body = ProxyAnswer),
        (status = 400, description = "connected / missing or bad proxy_url"), (status = 401)),
    security(("token" = [])))]
async fn proxy(
    State(state): State<AppState>,
    User(mut account): User,
    GoJson(body): GoJson<ProxyRequest>,
) -> Result<Envelope<ProxyAnswer>, ApiError> {
    let status = state.gateway.session_status(&account.id).await?;
    if status.connected {
        return Err(ApiError::bad_request(
            "cannot set proxy while connected. Please disconnect first",
        ));
    }
    if !body.enable {
        account.proxy = ProxyConfig::default();
        state.gateway.save_account(account).await?;
        return Ok(Envelope::ok(ProxyAnswer {
            details: "Proxy disabled successfully",
            proxy_url: None,
        }));
    }
    let url = body.proxy_url.trim().to_owned();
    if url.is_empty() {
        return Err(ApiError::bad_request("missing proxy_url in payload"));
    }
    check_proxy_url(&url)?;
    account.proxy = ProxyConfig {
        enabled: true,
        url: url.clone(),
    };
    state.gateway.save_account(account).await?;
    Ok(Envelope::ok(ProxyAnswer {
        details: "Proxy configured successfully",
        proxy_url: Some(url),
    }))
}

/// `POST /session/hmac/config`'s body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct HmacRequest {
    /// At least 32 characters; signs this user's webhooks (`x-hmac-signature`).
    hmac_key: String,
}

/// A raw `{"Details": …}` answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RawDetails {
    #[serde(rename = "Details")]
    details: &'static str,
}

/// `GET /session/hmac/config`'s raw answer: `***` when a key is set, never the key.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HmacView {
    hmac_key: &'static str,
}

/// `POST /session/hmac/config`: stores the webhook signing key (raw answer).
#[utoipa::path(post, path = "/session/hmac/config", tag = "session", request_body = HmacRequest,
    responses((status = 200, body = RawDetails),
        (status = 400, description = "HMAC key must be at least 32 characters long"),
        (status = 401)),
    security(("token" = [])))]
async fn hmac_set(
    State(state): State<AppState>,
    User(mut account): User,
    GoJson(body): GoJson<HmacRequest>,
) -> Result<RawJson<RawDetails>, ApiError> {
    if body.hmac_key.chars().count() < HMAC_KEY_MIN {
        return Err(ApiError::bad_request(HMAC_KEY_SHORT));
    }
    account.hmac_key = Some(Secret::new(body.hmac_key.into_bytes()));
    state.gateway.save_account(account).await?;
    Ok(RawJson(
        StatusCode::OK,
        RawDetails {
            details: "HMAC configuration saved successfully",
        },
    ))
}

/// `GET /session/hmac/config`: whether a key is set (raw answer).
#[utoipa::path(get, path = "/session/hmac/config", tag = "session",
    responses((status = 200, body = HmacView), (status = 401)),
    security(("token" = [])))]
async fn hmac_get(User(account): User) -> RawJson<HmacView> {
    let hmac_key = if account.hmac_key.is_some() {
        "***"
    } else {
        ""
    };
    RawJson(StatusCode::OK, HmacView { hmac_key })
}

/// `DELETE /session/hmac/config`: removes the key (raw answer).
#[utoipa::path(delete, path = "/session/hmac/config", tag = "session",
    responses((status = 200, body = RawDetails), (status = 401)),
    security(("token" = [])))]
async fn hmac_delete(
    State(state): State<AppState>,
    User(mut account): User,
) -> Result<RawJson<RawDetails>, ApiError> {
    account.hmac_key = None;
    state.gateway.save_account(account).await?;
    Ok(RawJson(
        StatusCode::OK,
        RawDetails {
            details: "HMAC configuration deleted successfully",
        },
    ))
}

/// `POST /session/history`'s body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct HistoryRequest {
    /// Messages kept per chat (0 = off).
    history: i64,
}

/// `POST /session/history`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryAnswer {
    #[serde(rename = "Details")]
    details: &'static str,
    #[serde(rename = "History")]
    history: u32,
}

/// `POST /session/history`: how many messages per chat the history store keeps.
#[utoipa::path(post, path = "/session/history", tag = "session", request_body = HistoryRequest,
    responses((status = 200, body = HistoryAnswer),
        (status = 400, description = "history cannot be negative"), (status = 401)),
    security(("token" = [])))]
async fn history_set(
    State(state): State<AppState>,
    User(mut account): User,
    GoJson(body): GoJson<HistoryRequest>,
) -> Result<Envelope<HistoryAnswer>, ApiError> {
    if body.history < 0 {
        return Err(ApiError::bad_request("history cannot be negative"));
    }
    let history =
        u32::try_from(body.history).map_err(|_| ApiError::bad_request("history is too large"))?;
    account.history = history;
    state.gateway.save_account(account).await?;
    Ok(Envelope::ok(HistoryAnswer {
        details: "History configured successfully",
        history,
    }))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        proxy,
        hmac_set,
        hmac_get,
        hmac_delete,
        history_set,
        session_history::history_sync
    ),
    components(schemas(
        ProxyRequest,
        ProxyAnswer,
        HmacRequest,
        RawDetails,
        HmacView,
        HistoryRequest,
        HistoryAnswer,
        session_history::HistorySyncAnswer
    ))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

//! What the in-process tests of the HTTP API share: the router over a gateway on a `MemStore`
//! against a wa-sim, one user, and the rule every answer must follow.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use wa_client::Gateway;
use wa_http::error::SessionRefusal;
use wa_http::{AppState, HttpConfig};
use wa_sim::SimServer;
use wa_store::{MemStore, Store};

/// The admin token (and x-api-key) of the in-process server.
pub const ADMIN: &str = "in-process-admin-token-0123456789";
/// The user's token (`wa_testkit::new_account` with seed 1).
pub const USER: &str = "token-1";

/// A gateway over a fresh `MemStore` with one user ([`USER`]), against `sim`.
pub fn state(sim: &SimServer, config: impl FnOnce(&mut HttpConfig)) -> AppState {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    wa_testkit::new_account(&*store, 1);
    let gateway = Arc::new(Gateway::new(store, wa_testkit::client_config(sim)));
    let mut http = HttpConfig::new(ADMIN);
    config(&mut http);
    AppState::new(gateway, http)
}

/// A request with the credentials its security scheme asks for.
pub fn request(method: &str, path: &str, scheme: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    builder = match scheme {
        Some("admin") => builder.header("authorization", ADMIN),
        Some("apiKey") => builder.header("x-api-key", ADMIN),
        Some(_) => builder.header("token", USER),
        None => builder,
    };
    builder.body(Body::from(body)).unwrap()
}

/// The 5xx answers the contract documents: wuzapi's session refusals (HTTP 500 with their exact
/// texts, CONTRACTS §A.0) and `501` for what this build does not do.
pub fn documented_5xx(status: StatusCode, json: &Value) -> bool {
    let refusals = [
        SessionRefusal::NoSession,
        SessionRefusal::AlreadyConnected,
        SessionRefusal::NotConnected,
        SessionRefusal::AlreadyLoggedIn,
        SessionRefusal::DisconnectNotLoggedIn,
        SessionRefusal::LogoutNotLoggedIn,
        SessionRefusal::LogoutNotConnected,
    ];
    let text = json["error"].as_str().unwrap_or_default();
    status == StatusCode::NOT_IMPLEMENTED
        || (status == StatusCode::INTERNAL_SERVER_ERROR
            && refusals.iter().any(|r| text == r.text()))
}

/// Whether an answer is acceptable for an arbitrary body: no 5xx but the documented ones, and
/// every refusal is JSON with `success: false` and an `error` text. Returns why not.
pub fn check_answer(status: StatusCode, body: &[u8]) -> Result<(), String> {
    if status.is_success() || status.is_redirection() {
        return Ok(());
    }
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "{status} with a body that is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    })?;
    if json["success"] != Value::Bool(false) || !json["error"].is_string() {
        // whatsapp-web.js answers some refusals as {"success": false, "message"} (CONTRACTS §C.2).
        if !(json["success"] == Value::Bool(false) && json["message"].is_string()) {
            return Err(format!("{status} without success:false and a text: {json}"));
        }
    }
    if status.is_server_error() && !documented_5xx(status, &json) {
        return Err(format!("undocumented {status}: {json}"));
    }
    Ok(())
}

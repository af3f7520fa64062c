//! What the in-process tests of the HTTP API share: the router over a gateway on a `MemStore`
//! against a wa-sim, one user, and the rule every answer must follow.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
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

/// wuzapi's session refusals: the documented 500s (CONTRACTS §A.0).
pub fn refusals() -> Vec<&'static str> {
    SessionRefusal::ALL.iter().map(|r| r.text()).collect()
}

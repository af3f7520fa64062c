//! # wa-http
//!
//! The HTTP face of wagate: axum routes in the wuzapi dialect (`token` header, the
//! `{code, data, success}` envelope, webhooks) and the whatsapp-web.js REST dialect (`x-api-key`,
//! `/session/start/{id}`), with every error mapped to an HTTP status in exactly one place
//! ([`error::ApiError`]).
//!
//! ```text
//! app backend ──HTTP──▶ auth (admin / user token / x-api-key) ─▶ GoJson body ─▶ handler (thin)
//!      ▲                                                                 │ Gateway facade
//!      │                                   wa-client (accounts, sessions, sends, events)
//!      └── Envelope / RawJson ◀── handler result ── ApiError::status_and_text (one mapping)
//! ```
//!
//! Files: `state` (what handlers share), `error` (the one mapping), `envelope` (wuzapi's
//! answer shape), `json` (Go's decoding rules), `auth`, `phone` (recipients), `qr` (QR PNGs and
//! data URLs), `session_view` (CONTRACTS §F's state machine in each dialect), `wuzapi/` and
//! `wwebjs/` (the routes), `webhooks/` (event delivery, started by `wagate serve`), `gotime`
//! (Go's JSON times), `openapi` and `docs` (the OpenAPI document, Swagger UI at `/api`),
//! `limits` (body size, timeouts, the server loop), `pool/` (session pools, session metadata and
//! the default session: issue 12), `objects/` (media in S3 or the media directory: issue 13),
//! `dashboard/` (the web dashboard under `/dashboard`: issue 14).

pub mod auth;
pub mod dashboard;
mod docs;
pub mod envelope;
pub mod error;
pub mod gotime;
pub mod json;
pub mod limits;
pub mod media_input;
pub mod metrics;
pub mod objects;
pub mod openapi;
mod pair_code;
pub mod phone;
pub mod phone_number;
pub mod pool;
pub mod qr;
pub mod session_view;
pub mod state;
pub mod webhooks;
mod wuzapi;
mod wwebjs;

use axum::Router;

pub use error::ApiError;
pub use limits::serve;
pub use state::{AppState, HttpConfig};

/// Every route of the gateway's HTTP API over `state`. Unknown paths answer `404` and known paths
/// with another method `405`, both in the wuzapi envelope (wuzapi's text `404 page not found` is
/// a known defect, fixed here). Every route runs under [`limits`] (body size, request timeout);
/// serve it with [`serve`] for the header-read timeout.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .merge(wuzapi::routes())
        .merge(wwebjs::routes())
        .merge(webhooks::deadletter::routes())
        .merge(pool::routes())
        .merge(objects::routes::routes())
        .merge(docs::routes())
        .merge(dashboard::routes())
        .merge(metrics::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::clone(&state.config),
            country_scope,
        ));
    limits::apply(routes, &state.config).with_state(state)
}

/// Every request runs with the server's default country code for phone numbers (a session's
/// own code replaces it once the caller's account is known: [`phone::use_session_country_code`]).
async fn country_scope(
    axum::extract::State(config): axum::extract::State<std::sync::Arc<HttpConfig>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    phone::with_country_code(config.default_country_code.clone(), next.run(request)).await
}

async fn not_found() -> ApiError {
    ApiError::NotFound("not found".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

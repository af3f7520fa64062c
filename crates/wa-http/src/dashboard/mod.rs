//! The web dashboard (issue 14 item 2), served by `wagate serve` under `/dashboard`: sign in
//! with the admin token (or a one-time link from `wagate demo`), see every session with a live
//! state badge, create, delete, connect, disconnect and log out sessions, link them by QR
//! (a modal that follows the rotating codes and closes itself once the session works) or by
//! pair code, send a test message, follow each session's messages and statuses, edit its
//! webhook and see its deliveries and dead letters, and list the pools.
//!
//! ```text
//!  browser ── cookie (HttpOnly, SameSite=Strict) ─▶ guard (login table, CSRF + same origin)
//!     │  pages: server-rendered HTML, our own CSS and JS (CSP: no inline script, no framing)
//!     │  /dashboard/api/...: JSON ─▶ Gateway facade          (errors: ApiError, one mapping)
//!     └─ /dashboard/events: SSE ◀── Gateway::subscribe()     (badges, QR codes, statuses)
//! ```
//!
//! Files: `logins` (the login table, one-time codes), `guard` (cookie, CSRF, headers),
//! `login` (sign in and out), `view` (badges, what the script receives), `recent` (each
//! session's recent events), `shared` ([`Dashboard`], in `AppState`), `api_sessions` and
//! `api_detail` (the JSON calls), `stream` (the event stream), `pages` (the HTML), `assets`
//! (the embedded CSS and JS). None of these routes is in the OpenAPI document: they take the
//! login cookie, not a token.

pub mod logins;
pub mod recent;
pub mod shared;

mod api_detail;
mod api_sessions;
mod assets;
mod guard;
mod login;
#[cfg(test)]
mod once_tests;
mod pages;
mod stream;
mod view;

use axum::routing::{delete, get, post};
use axum::Router;

pub use shared::Dashboard;

use crate::state::AppState;

/// The dashboard's routes, each answer with the security headers.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(pages::sessions))
        .route("/dashboard/", get(pages::sessions))
        .route("/dashboard/sessions/{id}", get(pages::session))
        .route("/dashboard/pools", get(pages::pools))
        .route("/dashboard/login", get(login::form).post(login::submit))
        .route("/dashboard/login/once/{code}", get(login::once))
        .route("/dashboard/logout", post(login::logout))
        .route("/dashboard/events", get(stream::events))
        .route("/dashboard/assets/{file}", get(assets::asset))
        .merge(api())
        .layer(axum::middleware::from_fn(guard::security_headers))
}

fn api() -> Router<AppState> {
    use api_detail as d;
    use api_sessions as s;
    Router::new()
        .route("/dashboard/api/sessions", get(s::list).post(s::create))
        .route("/dashboard/api/sessions/{id}", delete(s::delete))
        .route("/dashboard/api/sessions/{id}/connect", post(s::connect))
        .route(
            "/dashboard/api/sessions/{id}/disconnect",
            post(s::disconnect),
        )
        .route("/dashboard/api/sessions/{id}/logout", post(s::logout))
        .route("/dashboard/api/sessions/{id}/qr", post(s::qr))
        .route("/dashboard/api/sessions/{id}/paircode", post(s::paircode))
        .route("/dashboard/api/sessions/{id}/send", post(d::send))
        .route("/dashboard/api/sessions/{id}/events", get(d::recent))
        .route(
            "/dashboard/api/sessions/{id}/webhook",
            get(d::webhook).post(d::set_webhook),
        )
        .route(
            "/dashboard/api/sessions/{id}/deliveries",
            get(d::deliveries),
        )
        .route("/dashboard/api/deadletters/{seq}/retry", post(d::retry))
        .route("/dashboard/api/pools", get(d::pools))
}

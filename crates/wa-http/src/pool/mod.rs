//! Session pools, session metadata and the default session (issue 12 item 4; our extension to
//! the wuzapi dialect, documented in the OpenAPI spec under the tags `pools` and `sessions`).
//!
//! Files: `health` (what sends learnt about each member; the choice of a member), `send` (a
//! send through a pool: failover and the never-twice rule), `sender` (whom a chat send route
//! acts for: a session, a pool, or the default session), `lookup` (store calls, sessions by
//! id or name, the views), `dto`, `routes` (`/admin/pools`, `/pool/status`), `sessions`
//! (`/admin/sessions`, `/admin/default-session`).

pub(crate) mod dto;
pub mod health;
pub(crate) mod lookup;
pub(crate) mod routes;
pub(crate) mod send;
pub(crate) mod sender;
pub(crate) mod sessions;

use axum::Router;

use crate::state::AppState;

/// Every pool and session-metadata route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(routes::routes())
        .merge(sessions::routes())
}

/// Their OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = routes::openapi();
    doc.merge(sessions::openapi());
    doc
}

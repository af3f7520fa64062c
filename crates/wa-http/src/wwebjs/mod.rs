//! The whatsapp-web.js REST dialect (CONTRACTS §C: chrishubert/whatsapp-api and its avoylenko
//! fork, `x-api-key`): `session` (start, status, QR, restart, stop, terminate, flushes, pairing
//! code, `/ping`), `client` (`getState`, `sendMessage`), `dto` (request and response shapes,
//! the session id), `lookup` (a session id is a gateway account's name, shared with the wuzapi
//! dialect's users).

mod client;
mod dto;
mod lookup;
mod session;

use axum::Router;

use crate::state::AppState;

/// Every route of the dialect.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(session::routes())
        .merge(client::routes())
}

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = session::openapi();
    doc.merge(client::openapi());
    doc
}

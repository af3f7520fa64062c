//! The whatsapp-web.js REST dialect (CONTRACTS §C: chrishubert/whatsapp-api and its avoylenko
//! fork, `x-api-key`): `session` (start, status, QR, restart, stop, terminate, flushes, pairing
//! code, `/ping`), `client` (`getState`, `sendMessage`), `dto` (request and response shapes,
//! the session id), `lookup` (a session id is a gateway account's name, shared with the wuzapi
//! dialect's users).

mod client;
mod dto;
mod lookup;
mod media;
mod send_options;
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_lists_every_route_of_the_dialect() {
        let doc = super::openapi();
        for path in [
            "/ping",
            "/session/start/{id}",
            "/session/status/{id}",
            "/session/qr/{id}",
            "/session/qr/{id}/image",
            "/session/restart/{id}",
            "/session/stop/{id}",
            "/session/terminate/{id}",
            "/session/terminateInactive",
            "/session/terminateAll",
            "/session/getSessions",
            "/session/requestPairingCode/{id}",
            "/client/getState/{id}",
            "/client/sendMessage/{id}",
        ] {
            assert!(doc.paths.paths.contains_key(path), "{path}");
        }
        let schemas = doc.components.expect("schemas").schemas;
        for name in [
            "SessionStatus",
            "SendMessageRequest",
            "Message",
            "WwebjsQrAnswer",
        ] {
            assert!(schemas.contains_key(name), "{name}");
        }
    }
}

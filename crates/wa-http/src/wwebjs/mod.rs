//! The whatsapp-web.js REST dialect (CONTRACTS §C: chrishubert/whatsapp-api, `x-api-key`).

use axum::Router;

use crate::state::AppState;

/// Every route of the dialect.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

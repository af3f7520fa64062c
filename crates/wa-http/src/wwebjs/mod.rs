//! The whatsapp-web.js REST dialect (CONTRACTS §C: chrishubert/whatsapp-api, `x-api-key`).

use axum::Router;
use utoipa::OpenApi;

use crate::state::AppState;

/// Every route of the dialect.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

#[derive(OpenApi)]
#[openapi()]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

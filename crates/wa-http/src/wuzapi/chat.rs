//! Chat sends and actions (CONTRACTS §A.4, §A.5).

use axum::Router;
use utoipa::OpenApi;

use crate::state::AppState;

/// This group's routes.
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

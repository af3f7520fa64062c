//! Admin users (CONTRACTS §A.1), `/health` (§A.8).

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::envelope::RawJson;
use crate::state::AppState;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

#[derive(Debug, Serialize, ToSchema)]
struct Health {
    status: &'static str,
    version: &'static str,
}

/// `GET /health`: raw JSON, no envelope, no auth.
#[utoipa::path(get, path = "/health", tag = "admin",
    responses((status = 200, description = "The gateway is up", body = Health)))]
async fn health() -> RawJson<Health> {
    RawJson(
        StatusCode::OK,
        Health {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
        },
    )
}

#[derive(OpenApi)]
#[openapi(paths(health))]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

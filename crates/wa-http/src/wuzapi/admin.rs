//! Admin users (CONTRACTS §A.1), `/health` (§A.8).

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use crate::envelope::RawJson;
use crate::state::AppState;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

/// `GET /health`: raw JSON, no envelope, no auth.
async fn health() -> RawJson<Health> {
    RawJson(
        StatusCode::OK,
        Health {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
        },
    )
}

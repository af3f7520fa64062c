//! Webhook settings (CONTRACTS §A.3).

use axum::Router;

use crate::state::AppState;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

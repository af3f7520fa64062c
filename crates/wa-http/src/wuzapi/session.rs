//! Session routes (CONTRACTS §A.2).

use axum::Router;

use crate::state::AppState;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

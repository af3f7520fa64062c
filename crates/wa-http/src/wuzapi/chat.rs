//! Chat sends and actions (CONTRACTS §A.4, §A.5).

use axum::Router;

use crate::state::AppState;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

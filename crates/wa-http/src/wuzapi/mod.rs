//! The wuzapi dialect (CONTRACTS §A): one file per route group, each giving its `routes()`.

mod account_view;
mod admin;
mod admin_dto;
mod chat;
mod chat_dto;
mod event_types;
mod group;
mod group_view;
mod session;
mod session_settings;
mod user;
mod user_dto;
mod webhook;

use axum::Router;

use crate::state::AppState;

/// The dialect's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = admin::openapi();
    for part in [
        session::openapi(),
        chat::openapi(),
        user::openapi(),
        group::openapi(),
        webhook::openapi(),
    ] {
        doc.merge(part);
    }
    doc
}

/// Every wuzapi route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(admin::routes())
        .merge(session::routes())
        .merge(chat::routes())
        .merge(user::routes())
        .merge(group::routes())
        .merge(webhook::routes())
}

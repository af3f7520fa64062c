//! The wuzapi dialect (CONTRACTS §A): one file per route group, each giving its `routes()`.

pub(crate) mod account_view;
mod admin;
mod admin_dto;
mod chat;
mod chat_download;
mod chat_dto;
mod chat_media;
mod chat_status;
pub(crate) mod event_types;
mod group;
mod group_view;
mod media_dto;
mod send_mode;
mod session;
mod session_history;
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
        chat_media::openapi(),
        chat_download::openapi(),
        chat_status::openapi(),
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
        .merge(chat_media::routes())
        .merge(chat_download::routes())
        .merge(chat_status::routes())
        .merge(user::routes())
        .merge(group::routes())
        .merge(webhook::routes())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{
        admin, chat, chat_download, chat_media, chat_status, group, session, user, webhook,
    };

    /// utoipa's merge keeps one schema per name: two route files declaring different schemas
    /// under one name would document one of them wrongly (schemathesis found wwebjs's and
    /// wuzapi's QR answers sharing a name).
    #[test]
    fn no_schema_name_has_two_shapes() {
        let mut seen: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        for part in [
            admin::openapi(),
            session::openapi(),
            chat::openapi(),
            chat_media::openapi(),
            chat_download::openapi(),
            chat_status::openapi(),
            user::openapi(),
            group::openapi(),
            webhook::openapi(),
            crate::wwebjs::openapi(),
            crate::pool::openapi(),
            crate::objects::routes::openapi(),
        ] {
            let Some(components) = part.components else {
                continue;
            };
            for (name, schema) in components.schemas {
                let json = serde_json::to_value(&schema).expect("schema");
                if let Some(other) = seen.insert(name.clone(), json.clone()) {
                    assert_eq!(other, json, "two schemas named {name}");
                }
            }
        }
    }
}

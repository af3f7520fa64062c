//! The admin routes of the media server (`WA-SIM.md`'s admin API, additions of the media
//! issue): what a test sees of the stored files, and the expiry switch that makes a download
//! gone (410) so a client's media retry can be exercised.
//!
//! | route | does |
//! |---|---|
//! | `GET /admin/media` | every stored file: `[{"direct_path", "mms_type", "size", "file_enc_sha256" (hex), "expires" (unix s), "expired"}]` |
//! | `POST /admin/media/expire` `{"direct_path": "…"}` or `{"all": true}` → `{"expired": n}` | the file (any query on the path is ignored), or every file, expires now |
//! | `POST /admin/media/forget` → `{"forgotten": n}` | the phones drop their own copies (`media_gallery`): a media retry is answered "not on phone" (`<error code="2"/>`) |
//! | `POST /admin/media/revoke-auth` → `{"revoked": n}` | every `media_conn` auth token stops opening uploads (401) until a client asks again |
//!
//! Files also expire by themselves [`MediaConfig::file_ttl`](crate::MediaConfig::file_ttl)
//! after their upload, on the simulator's clock.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::admin::body;
use crate::error::SimError;
use crate::state::Shared;

/// The media admin routes, over the shared state.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/admin/media", get(list))
        .route("/admin/media/expire", post(expire))
        .route("/admin/media/forget", post(forget))
        .route("/admin/media/revoke-auth", post(revoke_auth))
}

async fn forget(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(json!({ "forgotten": shared.media.gallery.forget_all() }))
}

async fn revoke_auth(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(json!({ "revoked": shared.media.revoke_auths() }))
}

async fn list(State(shared): State<Arc<Shared>>) -> Json<Vec<crate::media_store::MediaInfo>> {
    Json(shared.media.list(shared.now()))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpireBody {
    #[serde(default)]
    direct_path: Option<String>,
    #[serde(default)]
    all: bool,
}

async fn expire(
    State(shared): State<Arc<Shared>>,
    json: Result<Json<ExpireBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, SimError> {
    let request = body(json)?;
    let expired = match (request.direct_path, request.all) {
        (Some(path), false) => {
            shared.media.expire(&path)?;
            1
        }
        (None, true) => shared.media.expire_all(),
        _ => return Err(SimError::BadMedia("name a direct_path, or all: true")),
    };
    Ok(Json(json!({ "expired": expired })))
}

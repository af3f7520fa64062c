//! The object storage routes: wuzapi's `/session/s3/config` (`POST`, `GET`, `DELETE`) and
//! `/session/s3/test` (CONTRACTS §A.2, exact bodies and texts), and `GET /media/<key>`, which
//! serves the media directory's files to their owner's token. The secret key is never logged
//! and never returned.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use utoipa::{OpenApi, ToSchema};
use wa_store::{MediaDelivery, S3Config, Secret};

use crate::auth::User;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::json::GoJson;
use crate::objects::key::user_prefix;
use crate::state::AppState;
use crate::wuzapi::account_view::S3ConfigView;

/// How long `POST /session/s3/test`'s round trip may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/session/s3/config",
            get(config_get).post(config_set).delete(config_delete),
        )
        .route("/session/s3/test", post(test))
        .route("/media/{*key}", get(media))
}

/// `POST /session/s3/config`'s body (snake_case wire names; absent fields take wuzapi's
/// defaults: path style on, `base64`, 30 days).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct S3ConfigBody {
    enabled: bool,
    endpoint: String,
    region: String,
    bucket: String,
    access_key: String,
    secret_key: String,
    path_style: bool,
    public_url: String,
    /// `base64`, `s3` or `both` (empty: `base64`).
    media_delivery: String,
    retention_days: i64,
}

impl Default for S3ConfigBody {
    fn default() -> Self {
        let d = S3Config::default();
        Self {
            enabled: d.enabled,
            endpoint: String::new(),
            region: String::new(),
            bucket: String::new(),
            access_key: String::new(),
            secret_key: String::new(),
            path_style: d.path_style,
            public_url: String::new(),
            media_delivery: String::new(),
            retention_days: i64::from(d.retention_days),
        }
    }
}

impl S3ConfigBody {
    fn into_config(self) -> Result<S3Config, ApiError> {
        let media_delivery = match self.media_delivery.as_str() {
            "" | "base64" => MediaDelivery::Base64,
            "s3" => MediaDelivery::S3,
            "both" => MediaDelivery::Both,
            _ => {
                return Err(ApiError::bad_request(
                    "media_delivery must be 'base64', 's3', or 'both'",
                ))
            }
        };
        let retention_days = u32::try_from(self.retention_days).map_err(|_| {
            ApiError::bad_request("retention_days must be between 0 and 4294967295")
        })?;
        Ok(S3Config {
            enabled: self.enabled,
            endpoint: self.endpoint.trim().to_owned(),
            region: self.region.trim().to_owned(),
            bucket: self.bucket.trim().to_owned(),
            access_key: self.access_key.trim().to_owned(),
            secret_key: Secret::new(self.secret_key.trim().to_owned()),
            path_style: self.path_style,
            public_url: self.public_url.trim().to_owned(),
            media_delivery,
            retention_days,
        })
    }
}

/// `POST /session/s3/config`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct S3Saved {
    #[serde(rename = "Details")]
    details: &'static str,
    #[serde(rename = "Enabled")]
    enabled: bool,
}

/// A `{"Details": …}` answer in the envelope.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct S3Deleted {
    #[serde(rename = "Details")]
    details: &'static str,
}

/// `POST /session/s3/test`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct S3Tested {
    #[serde(rename = "Details")]
    details: &'static str,
    #[serde(rename = "Bucket")]
    bucket: String,
    #[serde(rename = "Region")]
    region: String,
}

/// `POST /session/s3/config`: stores the user's S3 settings (an enabled configuration must
/// make a client first).
#[utoipa::path(post, path = "/session/s3/config", tag = "session", request_body = S3ConfigBody,
    responses((status = 200, body = S3Saved),
        (status = 400, description = "media_delivery must be 'base64', 's3', or 'both'"),
        (status = 401),
        (status = 500, description = "failed to initialize S3 client: …")),
    security(("token" = [])))]
async fn config_set(
    State(state): State<AppState>,
    User(mut account): User,
    GoJson(body): GoJson<S3ConfigBody>,
) -> Result<Envelope<S3Saved>, ApiError> {
    let config = body.into_config()?;
    if config.enabled {
        state.objects.s3(&account.id, &config)?;
    } else {
        state.objects.forget(&account.id);
    }
    let enabled = config.enabled;
    account.s3 = config;
    state.gateway.save_account(account).await?;
    Ok(Envelope::ok(S3Saved {
        details: "S3 configuration saved successfully",
        enabled,
    }))
}

/// `GET /session/s3/config`: the settings, the access key as `***`, never the secret.
#[utoipa::path(get, path = "/session/s3/config", tag = "session",
    responses((status = 200, body = S3ConfigView), (status = 401)),
    security(("token" = [])))]
async fn config_get(User(account): User) -> Envelope<S3ConfigView> {
    Envelope::ok(S3ConfigView::new(&account.s3))
}

/// `DELETE /session/s3/config`: back to the defaults (off, path style, `base64`, 30 days).
#[utoipa::path(delete, path = "/session/s3/config", tag = "session",
    responses((status = 200, body = S3Deleted), (status = 401)),
    security(("token" = [])))]
async fn config_delete(
    State(state): State<AppState>,
    User(mut account): User,
) -> Result<Envelope<S3Deleted>, ApiError> {
    state.objects.forget(&account.id);
    account.s3 = S3Config::default();
    state.gateway.save_account(account).await?;
    Ok(Envelope::ok(S3Deleted {
        details: "S3 configuration deleted successfully",
    }))
}

/// `POST /session/s3/test`: a real round trip to the bucket (put, get, compare, delete a small
/// object below the user's prefix).
#[utoipa::path(post, path = "/session/s3/test", tag = "session",
    responses((status = 200, body = S3Tested),
        (status = 400, description = "S3 is not enabled for this user"), (status = 401),
        (status = 500, description = "S3 connection test failed: …")),
    security(("token" = [])))]
async fn test(
    State(state): State<AppState>,
    User(account): User,
) -> Result<Envelope<S3Tested>, ApiError> {
    if !account.s3.enabled {
        return Err(ApiError::bad_request("S3 is not enabled for this user"));
    }
    let bucket = match state.objects.s3(&account.id, &account.s3) {
        Ok(bucket) => bucket,
        Err(ApiError::S3Init(e)) => return Err(ApiError::S3Test(e)),
        Err(e) => return Err(e),
    };
    let key = format!(
        "{}s3-test/{:016x}.txt",
        user_prefix(&account.id.to_string()),
        rand::random::<u64>()
    );
    let body = format!("wagate S3 connection test {key}");
    let round_trip = bucket.round_trip(&key, body.into_bytes());
    match tokio::time::timeout(TEST_TIMEOUT, round_trip).await {
        Ok(result) => result.map_err(ApiError::S3Test)?,
        Err(_) => {
            return Err(ApiError::S3Test(object_store::Error::Generic {
                store: "S3",
                source: format!("no answer within {}s", TEST_TIMEOUT.as_secs()).into(),
            }))
        }
    }
    Ok(Envelope::ok(S3Tested {
        details: "S3 connection test successful",
        bucket: account.s3.bucket.clone(),
        region: account.s3.region.clone(),
    }))
}

/// `GET /media/<key>`: a file of the media directory, to the token of the user it belongs to
/// (any other key is not found).
#[utoipa::path(get, path = "/media/{key}", tag = "session",
    params(("key" = String, Path, description = "users/<id>/… as given in the webhook's s3.key")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 401), (status = 404, description = "not found")),
    security(("token" = [])))]
async fn media(
    State(state): State<AppState>,
    User(account): User,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    if !key.starts_with(&user_prefix(&account.id.to_string())) {
        return Err(ApiError::NotFound("not found".into()));
    }
    let path = state.objects.local()?.path_of(&key)?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(ApiError::MediaDir)?;
    let stream = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Ok((
        [(CONTENT_TYPE, content_type(&key))],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The MIME type of a stored file, from the extension `key.rs` gave it.
fn content_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map_or("", |(_, ext)| ext);
    match ext {
        "jpg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "ogg" => "audio/ogg",
        "opus" => "audio/opus",
        "pdf" => "application/pdf",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xls" => "application/vnd.ms-excel",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "doc" => "application/msword",
        _ => "application/octet-stream",
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(config_set, config_get, config_delete, test, media),
    components(schemas(S3ConfigBody, S3Saved, S3Deleted, S3Tested, S3ConfigView))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

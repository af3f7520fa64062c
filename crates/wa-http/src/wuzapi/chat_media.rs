//! wuzapi media sends (CONTRACTS §A.4; issue 13 item 6): `POST /chat/send/image|audio|
//! document|video|sticker`. The file (a base64 data URL, or an http(s) URL for images and
//! videos) is staged to disk with the kind's size limit enforced as it arrives
//! ([`crate::media_input`]); the gateway checks it against its bytes, reads its fields and
//! uploads it ([`wa_client::Gateway::prepare_media`]); the message then goes out like a text
//! (`Sender`: a session or a pool; at once within the send bound, or `?async=true`: the upload
//! is done before the answer, the send is queued durably). Any refusal is a 4xx in the
//! envelope and nothing is uploaded or sent.
//!
//! The uploading account: the session's own; for a pool, its first healthy member (the media
//! is then sent by whichever member the pool picks: an upload is not tied to its uploader).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::routing::post;
use axum::Router;
use utoipa::OpenApi;
use wa_client::MediaLimits;
use wa_store::AccountId;

use super::chat::send_plan;
use super::chat_dto::{SendPlan, SentData};
use super::media_dto::{
    MediaInput, MediaPlan, SendAudioBody, SendDocumentBody, SendImageBody, SendStickerBody,
    SendVideoBody,
};
use super::send_mode::is_async;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::json::GoJson;
use crate::media_input::{fetch_url, stage_base64, MediaInputError};
use crate::pool::send::healthy;
use crate::pool::sender::Sender;
use crate::state::AppState;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/chat/send/image", post(send_image))
        .route("/chat/send/audio", post(send_audio))
        .route("/chat/send/document", post(send_document))
        .route("/chat/send/video", post(send_video))
        .route("/chat/send/sticker", post(send_sticker))
}

/// The account that uploads for `sender`.
async fn uploader(state: &AppState, sender: &Sender) -> Result<AccountId, ApiError> {
    match sender {
        Sender::Session(account) => Ok(account.id),
        Sender::Pool(pool) => {
            for member in &pool.members {
                if healthy(state, member).await {
                    return Ok(*member);
                }
            }
            Err(ApiError::PoolUnavailable(pool.name.clone()))
        }
    }
}

/// Stages, prepares, uploads and sends `plan` for `sender`.
async fn send_media(
    state: AppState,
    sender: Sender,
    plan: MediaPlan,
    asynchronous: bool,
) -> Result<Envelope<SentData>, ApiError> {
    if asynchronous && matches!(sender, Sender::Pool(_)) {
        // Refused before the upload (`send_plan` refuses it too, after).
        return Err(ApiError::bad_request(
            "async sends are not supported through a pool",
        ));
    }
    let account = uploader(&state, &sender).await?;
    state.gateway.can_upload(&account).map_err(ApiError::Send)?;
    let max = MediaLimits::whatsapp().of(plan.request.class);
    let what = plan.what;
    let staged = match plan.input {
        MediaInput::Data {
            media_type,
            payload,
        } => {
            tokio::task::spawn_blocking(move || stage_base64(&payload, Some(media_type), what, max))
                .await
                .map_err(|e| MediaInputError::Staging(std::io::Error::other(e)))??
        }
        MediaInput::Url(url) => {
            fetch_url(&url, what, max, state.config.media_allow_private).await?
        }
    };
    let request = plan.request.into_request(staged.source());
    let content = state
        .gateway
        .prepare_media(&account, request)
        .await
        .map_err(ApiError::Send)?;
    drop(staged);
    let send = SendPlan {
        to: plan.to,
        content,
        id: plan.id,
    };
    send_plan(&state, sender, send, asynchronous).await
}

macro_rules! media_route {
    ($name:ident, $path:literal, $body:ty, $errors:literal) => {
        #[doc = concat!("`POST ", $path, "`.")]
        #[utoipa::path(post, path = $path, tag = "chat", request_body = $body,
            params(("async" = Option<bool>, Query, description = "Upload, then queue the send durably and answer 202 (issue 12)")),
            responses(
                (status = 200, description = "Uploaded and acknowledged by the server (envelope `data`)", body = SentData),
                (status = 202, description = "`?async=true` or `Async`: uploaded and durably queued, `{\"Details\":\"Queued\",\"Id\",\"Timestamp\"}`", body = SentData),
                (status = 400, description = $errors),
                (status = 401, description = "Unknown token"),
                (status = 404, description = "The admin token with no user token and no default session set (`no default session`)"),
                (status = 409, description = "`Id` already used for another message, or a message with this `Id` failed before; `session is not active`"),
                (status = 413, description = "The file is larger than its kind's limit (16 MB image and audio; 2 GB video and documents; 100 KB static and 500 KB animated stickers), or the request body is larger than the body limit"),
                (status = 500, description = "`no session`, `not logged in`; `error sending message: server returned error <code>`; the media host refused the upload"),
                (status = 503, description = "No healthy pool member; the session did not come back within the send bound; the media host is unreachable")))]
        async fn $name(
            State(state): State<AppState>,
            sender: Sender,
            Query(query): Query<HashMap<String, String>>,
            GoJson(body): GoJson<$body>,
        ) -> Result<Envelope<SentData>, ApiError> {
            let asynchronous = is_async(&query, body.is_async)?;
            let plan = body.plan()?;
            send_media(state, sender, plan, asynchronous).await
        }
    };
}

media_route!(
    send_image,
    "/chat/send/image",
    SendImageBody,
    "`missing Phone in Payload`, `missing Image in Payload`, `Image data should start with \"data:image/png;base64,\"`, `could not parse Phone`, `could not decode base64 encoded data from payload`, `failed to fetch image from url: …` (unreachable, not 200, or an internal address without `--media-allow-private`), `error sending message: bad media: …` (not a JPEG/PNG/WebP/GIF, a `MimeType` the bytes contradict, undecodable)"
);
media_route!(
    send_audio,
    "/chat/send/audio",
    SendAudioBody,
    "`missing Phone in Payload`, `missing Audio in Payload`, `audio data should start with \"data:audio/\"`, `could not decode Waveform: not base64`, `could not decode base64 encoded data from payload`, `error sending message: bad media: …` (not AAC/MP4/MPEG/AMR/Ogg audio, a `MimeType` the bytes contradict)"
);
media_route!(
    send_document,
    "/chat/send/document",
    SendDocumentBody,
    "`missing Phone in Payload`, `missing Document in Payload`, `missing FileName in Payload`, `document data should start with \"data:application/octet-stream;base64,\"`, `could not decode base64 encoded data from payload`, `error sending message: bad media: …` (a declared type the bytes contradict: e.g. a PNG declared as `application/pdf`)"
);
media_route!(
    send_video,
    "/chat/send/video",
    SendVideoBody,
    "`missing Phone in Payload`, `missing Video in Payload`, `data should start with \"data:mime/type;base64,\"`, `could not decode JPEGThumbnail: not base64`, `failed to fetch video from url: …`, `error sending message: bad media: …` (not MP4/3GPP/QuickTime, a thumbnail that is not a JPEG)"
);
media_route!(
    send_sticker,
    "/chat/send/sticker",
    SendStickerBody,
    "`missing Phone in Payload`, `missing Sticker in Payload`, `data should start with \"data:mime/type;base64,\"`, `error sending message: bad media: …` (not WebP: no conversion without ffmpeg)"
);

#[derive(OpenApi)]
#[openapi(
    paths(send_image, send_audio, send_document, send_video, send_sticker),
    components(schemas(
        SendImageBody,
        SendAudioBody,
        SendDocumentBody,
        SendVideoBody,
        SendStickerBody
    ))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

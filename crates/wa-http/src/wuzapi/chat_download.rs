//! `POST /chat/downloadimage|downloadvideo|downloadaudio|downloaddocument|downloadsticker`
//! (CONTRACTS §A.5, §B.7 "Downloads come back as data URLs"): the media fields of a received
//! message (as the `Message` webhook shows them: `Url`, `DirectPath`, `MediaKey`, `Mimetype`,
//! `FileEncSHA256`, `FileSHA256`, `FileLength`; bytes in standard base64) → the file, verified
//! (MAC, then hashes, [`wa_client::Gateway::download_media`]), as
//! `{"Data": "data:<mimetype>;base64,…", "Mimetype"}`.
//!
//! Refusals: bytes that are not base64 → 400 `could not decode Payload` (Go's decoder); a
//! missing key, hash or path, or a key or hash of the wrong length → 400 naming the field; a
//! file the media server no longer has → 410; other failures → `failed to download <kind>: …`
//! with the gateway error's status (`ApiError::Download`). A caller's `Url` is used (after the
//! direct path on the account's media hosts) only when the SSRF guard lets it through.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use wa_protocol::media::MediaKey;
use wa_protocol::message::{
    AudioInfo, DocumentInfo, ImageInfo, Media, MediaFile, MediaKind, StickerInfo, VideoInfo,
};

use crate::auth::User;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::json::GoJson;
use crate::state::AppState;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/chat/downloadimage", post(download_image))
        .route("/chat/downloadvideo", post(download_video))
        .route("/chat/downloadaudio", post(download_audio))
        .route("/chat/downloaddocument", post(download_document))
        .route("/chat/downloadsticker", post(download_sticker))
}

/// The media fields of a received message (wuzapi's download body; names match any case).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct DownloadBody {
    /// The message's `URL` (tried last, and only if it is a public address).
    #[serde(rename = "url")]
    pub url: String,
    /// The message's `directPath`.
    #[serde(rename = "directpath")]
    pub direct_path: String,
    /// The message's `mediaKey` (32 bytes, standard base64).
    #[serde(rename = "mediakey")]
    pub media_key: String,
    /// The message's `mimetype` (the answer's type).
    #[serde(rename = "mimetype")]
    pub mimetype: String,
    /// The message's `fileEncSHA256` (32 bytes, standard base64).
    #[serde(rename = "fileencsha256")]
    pub file_enc_sha256: String,
    /// The message's `fileSHA256` (32 bytes, standard base64).
    #[serde(rename = "filesha256")]
    pub file_sha256: String,
    /// The message's `fileLength` (plaintext bytes; 0 = not checked).
    #[serde(rename = "filelength")]
    pub file_length: u64,
}

/// The file as a data URL (Go's key order).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct DownloadData {
    /// `data:<mimetype>;base64,<file>`.
    #[serde(rename = "Data")]
    pub data: String,
    /// The `Mimetype` asked for.
    #[serde(rename = "Mimetype")]
    pub mimetype: String,
}

/// Standard base64 (Go's `[]byte` decoding: anything else fails the whole body); empty is
/// `None`.
fn b64(text: &str) -> Result<Option<Vec<u8>>, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    STANDARD
        .decode(text)
        .map(Some)
        .map_err(|_| ApiError::Decode)
}

fn hash(text: &str, field: &str) -> Result<[u8; 32], ApiError> {
    let bytes = b64(text)?.ok_or_else(|| ApiError::missing(field))?;
    bytes
        .try_into()
        .map_err(|_| ApiError::bad_request(format!("{field} must be 32 bytes")))
}

impl DownloadBody {
    /// The message these fields describe, as `kind`; 400 for what cannot be downloaded.
    fn media(&self, kind: MediaKind, url: Option<String>) -> Result<Media, ApiError> {
        let key = b64(&self.media_key)?.ok_or_else(|| ApiError::missing("MediaKey"))?;
        let key = MediaKey::from_slice(&key)
            .map_err(|_| ApiError::bad_request("MediaKey must be 32 bytes"))?;
        let file_enc_sha256 = hash(&self.file_enc_sha256, "FileEncSHA256")?;
        let file_sha256 = hash(&self.file_sha256, "FileSHA256")?;
        let direct_path = Some(self.direct_path.trim().to_owned()).filter(|p| !p.is_empty());
        if direct_path.as_deref().is_some_and(|p| !p.starts_with('/')) {
            return Err(ApiError::bad_request("DirectPath must start with /"));
        }
        if direct_path.is_none() && url.is_none() {
            return Err(ApiError::missing("DirectPath"));
        }
        Ok(Media {
            kind,
            file: MediaFile {
                url,
                direct_path,
                media_key: Some(key),
                file_sha256: Some(file_sha256),
                file_enc_sha256: Some(file_enc_sha256),
                file_length: (self.file_length > 0).then_some(self.file_length),
                mimetype: Some(self.mimetype.clone()).filter(|m| !m.is_empty()),
                media_key_timestamp: None,
            },
            reply: None,
            mentions: Vec::new(),
        })
    }
}

/// The caller's `Url` when the SSRF guard lets it through (it is only a fallback).
async fn guarded_url(state: &AppState, url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() {
        return None;
    }
    let allow_private = state.config.webhook_allow_private;
    match crate::webhooks::ssrf::check_url(url, allow_private).await {
        Ok(()) => Some(url.to_owned()),
        Err(refusal) => {
            tracing::info!(%refusal, "download: the caller's Url is not used");
            None
        }
    }
}

/// Downloads `body` for `account` as `kind` (`word` names it in errors).
async fn download(
    state: &AppState,
    account: &wa_store::Account,
    body: &DownloadBody,
    kind: MediaKind,
    word: &'static str,
) -> Result<Envelope<DownloadData>, ApiError> {
    let url = guarded_url(state, &body.url).await;
    let media = body.media(kind, url)?;
    let file = state
        .gateway
        .download_media(&account.id, &media)
        .await
        .map_err(|source| ApiError::Download { kind: word, source })?;
    let path = file.path().to_path_buf();
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .map_err(|e| ApiError::Internal(format!("reading a download: {e}").into()))?
        .map_err(|e| ApiError::Internal(format!("reading a download: {e}").into()))?;
    drop(file);
    let mimetype = body.mimetype.clone();
    Ok(Envelope::ok(DownloadData {
        data: format!("data:{mimetype};base64,{}", STANDARD.encode(bytes)),
        mimetype,
    }))
}

/// One download route per kind.
macro_rules! download_route {
    ($name:ident, $path:literal, $word:literal, $kind:expr) => {
        #[doc = concat!("`POST ", $path, "`: the ", $word, " of a received message as a data URL.")]
        #[utoipa::path(post, path = $path, tag = "chat", request_body = DownloadBody,
            responses(
                (status = 200, description = "The verified file: `{\"Data\": \"data:<Mimetype>;base64,…\", \"Mimetype\"}`", body = DownloadData),
                (status = 400, description = "`could not decode Payload` (bytes not in base64), `missing MediaKey in Payload`, `missing FileEncSHA256 in Payload`, `missing FileSHA256 in Payload`, `missing DirectPath in Payload`, `… must be 32 bytes`, `DirectPath must start with /`; a file that does not verify"),
                (status = 401, description = "Unknown token"),
                (status = 404, description = "The admin token with no user token and no default session set"),
                (status = 410, description = "The media server no longer has the file (`failed to download …: the file is gone from the media server`)"),
                (status = 500, description = "`no session`, `not logged in`; `failed to download …`"),
                (status = 503, description = "The media hosts did not answer (`failed to download …`); try again")))]
        async fn $name(
            State(state): State<AppState>,
            User(account): User,
            GoJson(body): GoJson<DownloadBody>,
        ) -> Result<Envelope<DownloadData>, ApiError> {
            download(&state, &account, &body, $kind, $word).await
        }
    };
}

download_route!(
    download_image,
    "/chat/downloadimage",
    "image",
    MediaKind::Image(ImageInfo::default())
);
download_route!(
    download_video,
    "/chat/downloadvideo",
    "video",
    MediaKind::Video(VideoInfo::default())
);
download_route!(
    download_audio,
    "/chat/downloadaudio",
    "audio",
    MediaKind::Audio(AudioInfo::default())
);
download_route!(
    download_document,
    "/chat/downloaddocument",
    "document",
    MediaKind::Document(DocumentInfo::default())
);
download_route!(
    download_sticker,
    "/chat/downloadsticker",
    "sticker",
    MediaKind::Sticker(StickerInfo::default())
);

#[derive(OpenApi)]
#[openapi(
    paths(
        download_image,
        download_video,
        download_audio,
        download_document,
        download_sticker
    ),
    components(schemas(DownloadBody, DownloadData))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn body() -> DownloadBody {
        DownloadBody {
            direct_path: "/v/t62.sim-image/x.enc".into(),
            media_key: STANDARD.encode([1u8; 32]),
            file_enc_sha256: STANDARD.encode([2u8; 32]),
            file_sha256: STANDARD.encode([3u8; 32]),
            file_length: 5,
            mimetype: "image/png".into(),
            ..DownloadBody::default()
        }
    }

    fn image() -> MediaKind {
        MediaKind::Image(ImageInfo::default())
    }

    fn text(e: ApiError) -> String {
        e.status_and_text().1.into_owned()
    }

    #[test]
    fn the_fields_become_the_message_to_download() {
        let m = body().media(image(), None).unwrap();
        assert_eq!(m.file.file_sha256, Some([3; 32]));
        assert_eq!(m.file.file_length, Some(5));
        assert_eq!(
            m.file.direct_path.as_deref(),
            Some("/v/t62.sim-image/x.enc")
        );
    }

    #[test]
    fn bad_fields_are_refused_by_name() {
        let mut b = body();
        b.media_key = "not base64!".into();
        assert!(matches!(b.media(image(), None), Err(ApiError::Decode)));
        let mut b = body();
        b.media_key = STANDARD.encode([1u8; 5]);
        assert_eq!(
            text(b.media(image(), None).unwrap_err()),
            "MediaKey must be 32 bytes"
        );
        let mut b = body();
        b.file_sha256.clear();
        assert_eq!(
            text(b.media(image(), None).unwrap_err()),
            "missing FileSHA256 in Payload"
        );
        let mut b = body();
        b.direct_path.clear();
        assert_eq!(
            text(b.media(image(), None).unwrap_err()),
            "missing DirectPath in Payload"
        );
        b.direct_path = "v/x".into();
        assert!(b.media(image(), None).is_err());
    }
}

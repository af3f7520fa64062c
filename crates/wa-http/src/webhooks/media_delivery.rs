//! Received media in the `Message` webhook (CONTRACTS §B.6 "Extras", §B.7 "Inbound"; issue 13
//! item 4). Unless downloads are off (`--skip-media`, wuzapi's `-skipmedia`), the file of an
//! image, audio, document, video or sticker message is downloaded and verified on arrival
//! ([`wa_client::Gateway::download_media`]: MAC, then hashes, streamed to a temporary file) and
//! handed on by the account's stored `media_delivery`:
//!
//! | `media_delivery` | extras on the `Message` payload |
//! |---|---|
//! | `base64` (default) | `base64` (raw, no data-URL prefix), `mimeType`, `fileName` = `<message id><.ext>` |
//! | `s3` (with S3 enabled) | `s3{url,key,bucket,size,mimeType,fileName}` ([`store_object`]) |
//! | `both` | both of the above |
//!
//! Stickers add `isSticker: true` and `stickerAnimated`. The message's own fields
//! (`imageMessage{URL, directPath, mediaKey, fileSHA256, …}`) are always in `event.Message`.
//!
//! Deliberate differences from wuzapi (README): a download that fails never drops the
//! webhook: it goes out with [`MEDIA_ERROR`] naming why (wuzapi drops the whole event); an
//! object-storage failure is named in [`S3_ERROR`] (the base64 of `both` still goes out);
//! `mimeType` is the type the message declares (wuzapi sniffs the bytes); a file larger than
//! [`InboundMediaConfig::base64_max_bytes`] is not inlined (the error says so; the download
//! routes fetch it on demand).

use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use wa_client::{DownloadedMedia, Gateway, MediaOrigin, ReceivedText};
use wa_protocol::message::{Content, Media, MediaKind};
use wa_store::{Account, MediaDelivery};

use crate::error::ApiError;
use crate::objects::{store_media, Direction, Objects, StoredObject};

use super::types::InboundMediaConfig;

/// The payload key naming why a received file is not in the webhook (our extension).
pub const MEDIA_ERROR: &str = "mediaError";

/// The payload key naming why a received file is not in object storage (our extension).
pub const S3_ERROR: &str = "s3Error";

/// The one hand-off to object storage: writes the verified file at `file` for `msg` of
/// `account` through [`store_media`] (the user's bucket when S3 is enabled, the gateway's media
/// directory otherwise), under wuzapi's `inbox` key for the message's chat.
///
/// # Errors
/// The object could not be stored.
pub async fn store_object(
    downloads: &MediaDownloads,
    account: &Account,
    msg: &ReceivedText,
    file: &Path,
    mimetype: &str,
) -> Result<StoredObject, ApiError> {
    store_media(
        &downloads.objects,
        account,
        Direction::Inbox,
        &msg.chat,
        msg.id.as_str(),
        file,
        mimetype,
    )
    .await
}

/// What fetches received files for the webhooks: the gateway and a bound on downloads.
pub struct MediaDownloads {
    gateway: Arc<Gateway>,
    config: InboundMediaConfig,
    permits: Semaphore,
    objects: Arc<Objects>,
}

impl std::fmt::Debug for MediaDownloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaDownloads")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The media of a received message, if it is one.
pub(crate) fn media_of(m: &ReceivedText) -> Option<&Media> {
    match &m.content {
        Content::Media(media) => Some(media),
        _ => None,
    }
}

/// `image`, `video`, `audio`, `document` or `sticker` (a voice note is `audio`).
pub(crate) fn kind_word(kind: &MediaKind) -> &'static str {
    match kind {
        MediaKind::Image(_) => "image",
        MediaKind::Video(_) => "video",
        MediaKind::Audio(_) => "audio",
        MediaKind::Document(_) => "document",
        MediaKind::Sticker(_) => "sticker",
    }
}

/// The extension of a MIME type (parameters ignored), as Go's built-in table and the common
/// system tables name it (wuzapi takes the first of `mime.ExtensionsByType`).
fn extension_of(mimetype: &str) -> Option<&'static str> {
    let essence = mimetype.split(';').next().unwrap_or_default().trim();
    Some(match essence.to_ascii_lowercase().as_str() {
        "image/jpeg" => ".jpeg",
        "image/png" => ".png",
        "image/webp" => ".webp",
        "image/gif" => ".gif",
        "video/mp4" => ".mp4",
        "video/3gpp" => ".3gp",
        "video/quicktime" => ".mov",
        "video/webm" => ".webm",
        "audio/ogg" => ".ogg",
        "audio/mpeg" => ".mp3",
        "audio/mp4" => ".m4a",
        "audio/aac" => ".aac",
        "audio/amr" => ".amr",
        "application/pdf" => ".pdf",
        "application/zip" => ".zip",
        "application/json" => ".json",
        "text/plain" => ".txt",
        "text/csv" => ".csv",
        "application/msword" => ".doc",
        "application/vnd.ms-excel" => ".xls",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => ".docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => ".xlsx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => ".pptx",
        _ => return None,
    })
}

/// wuzapi's `fileName`: the message id and the extension of the declared MIME type; else the
/// document's own extension, `.ogg` for audio, `.webp` for stickers, `.bin` otherwise.
pub(crate) fn file_name(id: &str, media: &Media) -> String {
    let declared = media.file.mimetype.as_deref().unwrap_or_default();
    let ext = match (extension_of(declared), &media.kind) {
        (Some(ext), _) => ext.to_owned(),
        (None, MediaKind::Document(d)) => d
            .file_name
            .as_deref()
            .and_then(|n| Path::new(n).extension())
            .and_then(|e| e.to_str())
            .filter(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_alphanumeric()))
            .map_or_else(|| ".bin".to_owned(), |e| format!(".{e}")),
        (None, MediaKind::Audio(_)) => ".ogg".to_owned(),
        (None, MediaKind::Sticker(_)) => ".webp".to_owned(),
        (None, MediaKind::Image(_) | MediaKind::Video(_)) => ".bin".to_owned(),
    };
    format!("{id}{ext}")
}

impl MediaDownloads {
    /// Downloads through `gateway` as `config` says, storing objects in `objects`.
    pub fn new(gateway: Arc<Gateway>, config: InboundMediaConfig, objects: Arc<Objects>) -> Self {
        let permits = Semaphore::new(config.concurrency.max(1));
        Self {
            gateway,
            config,
            permits,
            objects,
        }
    }

    /// Whether `m` is media whose file is fetched on arrival (its webhook then waits for it).
    pub(crate) fn fetches(&self, m: &ReceivedText) -> bool {
        self.config.download && media_of(m).is_some()
    }

    /// One bounded download within the time limit: the account's login (a message emitted
    /// again after a restart arrives before it), a permit, then the verified download.
    /// A file the media server no longer has is asked again from the sender's phone (media
    /// retry, [`Gateway::download_media_with_retry`]).
    async fn download(
        &self,
        account: &Account,
        m: &ReceivedText,
        media: &Media,
        from_me: bool,
    ) -> Result<DownloadedMedia, String> {
        let fetch = async {
            if let Some(handle) = self.gateway.handle(&account.id) {
                // Ends early when the account stops: the download then names why.
                let _ = handle.watch_status().wait_for(|s| s.logged_in).await;
            }
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| "the gateway is stopping".to_owned())?;
            let origin = MediaOrigin::received(m, from_me);
            self.gateway
                .download_media_with_retry(&account.id, media, &origin)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.config.timeout, fetch).await {
            Ok(done) => done,
            Err(_) => Err(format!(
                "not done within {} s",
                self.config.timeout.as_secs_f64()
            )),
        }
    }

    /// The media extras of `m`'s `Message` payload for `account` (empty when `m` is not media
    /// or downloads are off). Never fails: what went wrong is named in the extras.
    /// `from_me`: `m` is our own other device's send.
    pub(crate) async fn extras(
        &self,
        account: &Account,
        m: &ReceivedText,
        from_me: bool,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        let Some(media) = media_of(m).filter(|_| self.config.download) else {
            return out;
        };
        if let MediaKind::Sticker(s) = &media.kind {
            out.insert("isSticker".into(), Value::Bool(true));
            out.insert("stickerAnimated".into(), Value::Bool(s.is_animated));
        }
        let mode = account.s3.media_delivery;
        let inline = matches!(mode, MediaDelivery::Base64 | MediaDelivery::Both);
        // `s3`/`both` without S3 enabled: the gateway's media directory (the embedded default).
        let stored = matches!(mode, MediaDelivery::S3 | MediaDelivery::Both);
        let kind = kind_word(&media.kind);
        let max = self.config.base64_max_bytes;
        let too_big = |len: u64| {
            format!("the {kind} has {len} bytes, over the {max}-byte limit for base64 in webhooks; fetch it with /chat/download{kind}")
        };
        let declared = media.file.file_length.filter(|l| *l > max);
        if let (true, false, Some(len)) = (inline, stored, declared) {
            out.insert(MEDIA_ERROR.into(), Value::from(too_big(len)));
            return out;
        }
        if !inline && !stored {
            return out;
        }
        let file = match self.download(account, m, media, from_me).await {
            Ok(file) => file,
            Err(why) => {
                tracing::warn!(account = %account.id, id = %m.id.as_str(), %why, "received media not downloaded");
                out.insert(
                    MEDIA_ERROR.into(),
                    Value::from(format!("failed to download {kind}: {why}")),
                );
                return out;
            }
        };
        let name = file_name(m.id.as_str(), media);
        let mimetype = media
            .file
            .mimetype
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        if inline {
            match inline_base64(&file, max).await {
                Ok(Ok(b64)) => {
                    out.insert("base64".into(), Value::from(b64));
                    out.insert("mimeType".into(), Value::from(mimetype.clone()));
                    out.insert("fileName".into(), Value::from(name.clone()));
                }
                Ok(Err(len)) => {
                    out.insert(MEDIA_ERROR.into(), Value::from(too_big(len)));
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading a downloaded file failed");
                    out.insert(
                        MEDIA_ERROR.into(),
                        Value::from(format!("failed to read the downloaded {kind}")),
                    );
                }
            }
        }
        if stored {
            self.store_extra(&mut out, account, m, &file, &mimetype)
                .await;
        }
        out
    }

    /// Hands the verified `file` to object storage and names the object (`s3`) or the failure
    /// (`s3Error`) in `out`.
    async fn store_extra(
        &self,
        out: &mut Map<String, Value>,
        account: &Account,
        m: &ReceivedText,
        file: &DownloadedMedia,
        mimetype: &str,
    ) {
        match store_object(self, account, m, file.path(), mimetype).await {
            Ok(object) => {
                out.insert(
                    "s3".into(),
                    serde_json::to_value(&object).unwrap_or_default(),
                );
            }
            Err(e) => {
                out.insert(S3_ERROR.into(), Value::from(e.status_and_text().1));
            }
        }
    }
}

/// The verified file as standard base64 (`Err(len)` when it is over `max`), read off the
/// async threads.
async fn inline_base64(file: &DownloadedMedia, max: u64) -> std::io::Result<Result<String, u64>> {
    let len = file.verified.file_length;
    if len > max {
        return Ok(Err(len));
    }
    let path = file.path().to_path_buf();
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .map_err(std::io::Error::other)??;
    Ok(Ok(STANDARD.encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wa_protocol::message::{AudioInfo, DocumentInfo, ImageInfo, MediaFile, StickerInfo};

    fn media(kind: MediaKind, mimetype: Option<&str>) -> Media {
        Media {
            kind,
            file: MediaFile {
                mimetype: mimetype.map(str::to_owned),
                ..MediaFile::default()
            },
            reply: None,
            mentions: Vec::new(),
        }
    }

    #[test]
    fn file_names_are_the_id_and_the_extension_of_the_type() {
        let id = "3EB0AABBCCDD";
        let jpeg = media(MediaKind::Image(ImageInfo::default()), Some("image/jpeg"));
        assert_eq!(file_name(id, &jpeg), "3EB0AABBCCDD.jpeg");
        let voice = media(
            MediaKind::Audio(AudioInfo::default()),
            Some("audio/ogg; codecs=opus"),
        );
        assert_eq!(file_name(id, &voice), "3EB0AABBCCDD.ogg");
        let odd_audio = media(MediaKind::Audio(AudioInfo::default()), Some("audio/x-odd"));
        assert_eq!(file_name(id, &odd_audio), "3EB0AABBCCDD.ogg");
        let doc = media(
            MediaKind::Document(DocumentInfo {
                file_name: Some("report.odt".into()),
                ..DocumentInfo::default()
            }),
            Some("application/x-odd"),
        );
        assert_eq!(file_name(id, &doc), "3EB0AABBCCDD.odt");
        let sticker = media(MediaKind::Sticker(StickerInfo::default()), None);
        assert_eq!(file_name(id, &sticker), "3EB0AABBCCDD.webp");
        let pdf = media(
            MediaKind::Document(DocumentInfo::default()),
            Some("application/pdf"),
        );
        assert_eq!(file_name(id, &pdf), "3EB0AABBCCDD.pdf");
    }

    #[test]
    fn the_s3_extra_has_wuzapis_keys() {
        let o = StoredObject {
            url: "https://bucket.example/k".into(),
            key: "k".into(),
            bucket: "bucket".into(),
            size: 3,
            mime_type: "image/png".into(),
            file_name: "X.png".into(),
        };
        let v = serde_json::to_value(&o).expect("a StoredObject serialises");
        for key in ["url", "key", "bucket", "size", "mimeType", "fileName"] {
            assert!(v.get(key).is_some(), "{key}");
        }
    }
}

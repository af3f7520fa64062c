//! Media on `POST /client/sendMessage/{id}` (CONTRACTS §C.3; issue 13 item 6):
//! `contentType: "MessageMedia"` with `content: {mimetype, data (base64, no data-URL prefix),
//! filename}`, `"MessageMediaFromURL"` with a URL string (fetched through the SSRF guard), and
//! `options.media` (`{mimetype, data, filename}`) on a `string` content, whose text becomes the
//! caption.
//!
//! The kind follows whatsapp-web.js's options: `sendMediaAsSticker` a sticker (which must
//! already be WebP here: no conversion), `sendMediaAsDocument` a document, else the mimetype's
//! family (`image/*`, `video/*`, `audio/*`, a voice note with `sendAudioAsVoice`; anything else
//! a document). `caption` sets the caption; `quotedMessageId` and `mentions` go into the
//! message's `contextInfo`. The declared mimetype is checked against the bytes (a PNG declared
//! as `application/pdf` is a 400); a URL's type is the one detected from its bytes.

use std::io::Read;

use serde_json::Value;
use wa_client::{detect_mimetype, MediaClass, MediaLimits, MediaRequest};
use wa_protocol::message::Content;
use wa_store::AccountId;

use super::dto::SendMessageRequest;
use super::send_options::SendOptions;
use crate::error::ApiError;
use crate::media_input::{fetch_url, stage_base64, MediaInputError, Staged};
use crate::state::AppState;

/// Where a media file of the request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MediaAsk {
    /// `{mimetype, data, filename}`.
    Inline {
        /// Declared mimetype.
        mimetype: String,
        /// Base64 bytes.
        data: String,
        /// File name, if any.
        filename: Option<String>,
        /// Caption from the text content (`options.media`).
        caption: Option<String>,
    },
    /// A URL to fetch.
    Url(String),
}

fn text_field(object: &Value, name: &str) -> Option<String> {
    object
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `{mimetype, data, filename}` read (both first required).
fn inline(object: &Value, what: &str, caption: Option<String>) -> Result<MediaAsk, ApiError> {
    match (text_field(object, "mimetype"), text_field(object, "data")) {
        (Some(mimetype), Some(data)) => Ok(MediaAsk::Inline {
            mimetype,
            data,
            filename: text_field(object, "filename"),
            caption,
        }),
        _ => Err(ApiError::bad_request(format!(
            "{what} must be {{mimetype, data, filename}} with base64 data"
        ))),
    }
}

/// The media the request asks to send, if any.
pub(crate) fn requested(request: &SendMessageRequest) -> Result<Option<MediaAsk>, ApiError> {
    match request.content_type.as_str() {
        "MessageMedia" => inline(&request.content, "content", None).map(Some),
        "MessageMediaFromURL" => match &request.content {
            Value::String(url) if crate::media_input::is_http_url(url) => {
                Ok(Some(MediaAsk::Url(url.trim().to_owned())))
            }
            _ => Err(ApiError::bad_request(
                "content must be an http(s) URL for contentType MessageMediaFromURL",
            )),
        },
        "string" => match request.options.get("media") {
            None | Some(Value::Null) => Ok(None),
            Some(media) => {
                let caption = request.content.as_str().map(str::to_owned);
                inline(media, "options.media", caption).map(Some)
            }
        },
        _ => Ok(None),
    }
}

/// The kind whatsapp-web.js sends for `mimetype` under `options`.
fn class_of(mimetype: &str, options: &Value) -> MediaClass {
    let flag = |name: &str| options.get(name).and_then(Value::as_bool).unwrap_or(false);
    if flag("sendMediaAsSticker") {
        MediaClass::Sticker
    } else if flag("sendMediaAsDocument") {
        MediaClass::Document
    } else {
        MediaClass::for_mimetype(mimetype, flag("sendAudioAsVoice"))
    }
}

/// The first bytes of a staged file (for the type of a fetched URL).
fn head_of(staged: &Staged) -> Result<Vec<u8>, MediaInputError> {
    let wa_client::MediaSource::Path(path) = staged.source() else {
        return Ok(Vec::new());
    };
    let mut head = Vec::with_capacity(8192);
    std::fs::File::open(path)
        .and_then(|f| f.take(8192).read_to_end(&mut head))
        .map_err(MediaInputError::Staging)?;
    Ok(head)
}

/// Stages `ask`, then checks, uploads (from `account`) and returns the media message.
pub(crate) async fn prepare(
    state: &AppState,
    account: &AccountId,
    ask: MediaAsk,
    request: &SendMessageRequest,
    options: SendOptions,
) -> Result<Content, ApiError> {
    state.gateway.can_upload(account).map_err(ApiError::Send)?;
    let limits = MediaLimits::whatsapp();
    let (staged, class, declared, filename, caption) = match ask {
        MediaAsk::Inline {
            mimetype,
            data,
            filename,
            caption,
        } => {
            let class = class_of(&mimetype, &request.options);
            let max = limits.of(class);
            let staged =
                tokio::task::spawn_blocking(move || stage_base64(&data, None, "media", max))
                    .await
                    .map_err(|e| MediaInputError::Staging(std::io::Error::other(e)))??;
            (staged, class, Some(mimetype), filename, caption)
        }
        MediaAsk::Url(url) => {
            let allow = state.config.media_allow_private;
            let staged = fetch_url(&url, "media", limits.largest(), allow).await?;
            let detected = detect_mimetype(&head_of(&staged)?);
            let named = detected.or_else(|| staged.named_type.clone());
            let class = class_of(named.as_deref().unwrap_or(""), &request.options);
            let filename = url
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty())
                .map(str::to_owned);
            (staged, class, None, filename, None)
        }
    };
    let mut media = MediaRequest::new(class, staged.source());
    media.mimetype = declared;
    media.caption = text_field(&request.options, "caption").or(caption);
    media.file_name = filename;
    media.reply = options.reply;
    media.mentions = options.mentions;
    let content = state
        .gateway
        .prepare_media(account, media)
        .await
        .map_err(ApiError::Send)?;
    drop(staged);
    Ok(content)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(content_type: &str, content: Value, options: Value) -> SendMessageRequest {
        SendMessageRequest {
            chat_id: "5511999990001@c.us".into(),
            content_type: content_type.into(),
            content,
            options,
        }
    }

    #[test]
    fn media_asks() {
        let media = json!({"mimetype": "image/png", "data": "AAAA", "filename": "a.png"});
        let ask = requested(&request("MessageMedia", media.clone(), Value::Null)).unwrap();
        assert!(
            matches!(ask, Some(MediaAsk::Inline { ref mimetype, .. }) if mimetype == "image/png")
        );
        let ask = requested(&request("string", json!("look"), json!({ "media": media }))).unwrap();
        assert!(matches!(ask, Some(MediaAsk::Inline { caption: Some(ref c), .. }) if c == "look"));
        assert!(requested(&request(
            "MessageMedia",
            json!({"data": "AAAA"}),
            Value::Null
        ))
        .is_err());
        let url = request(
            "MessageMediaFromURL",
            json!("http://example.com/a.png"),
            Value::Null,
        );
        assert_eq!(
            requested(&url).unwrap(),
            Some(MediaAsk::Url("http://example.com/a.png".into()))
        );
        assert!(requested(&request(
            "MessageMediaFromURL",
            json!("file:///etc/passwd"),
            Value::Null
        ))
        .is_err());
        assert_eq!(
            requested(&request("string", json!("hi"), Value::Null)).unwrap(),
            None
        );
    }

    #[test]
    fn kinds_follow_the_options() {
        assert_eq!(class_of("image/png", &Value::Null), MediaClass::Image);
        assert_eq!(
            class_of("image/png", &json!({"sendMediaAsDocument": true})),
            MediaClass::Document
        );
        assert_eq!(
            class_of("image/webp", &json!({"sendMediaAsSticker": true})),
            MediaClass::Sticker
        );
        assert_eq!(
            class_of("audio/ogg", &json!({"sendAudioAsVoice": true})),
            MediaClass::VoiceNote
        );
        assert_eq!(class_of("audio/mpeg", &Value::Null), MediaClass::Audio);
        assert_eq!(class_of("video/mp4", &Value::Null), MediaClass::Video);
        assert_eq!(
            class_of("application/pdf", &Value::Null),
            MediaClass::Document
        );
    }
}

//! The wuzapi media send bodies (CONTRACTS §A.4 `/chat/send/image|audio|document|video|
//! sticker`) and their validation into a [`MediaPlan`]. Field names are the contract's
//! (lowercase here: [`crate::json::GoJson`] folds key case as Go does); refusals use its texts.
//!
//! Differences from wuzapi, each on the safe side: the type sent is the one detected from the
//! bytes (wa-client's preparation; a declared `MimeType` that disagrees is a 400); a document
//! may be any `data:<type>;base64,` URL (its type counts as declared unless it is
//! `application/octet-stream`); a sticker must already be WebP (no ffmpeg conversion: other
//! images are a 400); `PackId`, `PackName`, `PackPublisher`, `Emojis` and `QuotedMessage` are
//! accepted and ignored.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wa_client::{MediaClass, MediaRequest, MediaSource};
use wa_protocol::binary::Jid;
use wa_protocol::message::Reply;
use wa_protocol::MessageId;

use super::chat_dto::{context, optional_id, ContextInfoBody};
use crate::error::ApiError;
use crate::phone::parse_phone;

/// Where the file is: a data URL's type and payload, or a URL to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MediaInput {
    /// `data:<type>;base64,<payload>`.
    Data {
        /// The data URL's media type.
        media_type: String,
        /// The base64 payload.
        payload: String,
    },
    /// An http(s) URL fetched server-side.
    Url(String),
}

/// A validated media send.
#[derive(Debug)]
pub(crate) struct MediaPlan {
    /// The chat.
    pub to: Jid,
    /// The caller's id.
    pub id: Option<MessageId>,
    /// The field's name in texts (`image`, `audio`, …).
    pub what: &'static str,
    /// The file.
    pub input: MediaInput,
    /// Everything but the source (filled once the file is staged).
    pub request: RequestFields,
}

/// The [`MediaRequest`] fields a body gives.
#[derive(Debug)]
pub(crate) struct RequestFields {
    pub class: MediaClass,
    pub mimetype: Option<String>,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    pub seconds: Option<u32>,
    pub waveform: Option<Vec<u8>>,
    pub jpeg_thumbnail: Option<Vec<u8>>,
    pub reply: Option<Reply>,
    pub mentions: Vec<Jid>,
}

impl RequestFields {
    /// The request over the staged `source`.
    pub(crate) fn into_request(self, source: MediaSource) -> MediaRequest {
        let mut r = MediaRequest::new(self.class, source);
        r.mimetype = self.mimetype;
        r.caption = self.caption;
        r.file_name = self.file_name;
        r.seconds = self.seconds;
        r.waveform = self.waveform;
        r.jpeg_thumbnail = self.jpeg_thumbnail;
        r.reply = self.reply;
        r.mentions = self.mentions;
        r
    }
}

fn non_empty(v: &str) -> Option<String> {
    (!v.trim().is_empty()).then(|| v.trim().to_owned())
}

/// A base64 field (`Waveform`, `JPEGThumbnail`): empty is none, bad base64 a 400.
fn base64_field(value: &str, field: &str) -> Result<Option<Vec<u8>>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    STANDARD
        .decode(value.trim())
        .map(Some)
        .map_err(|_| ApiError::bad_request(format!("could not decode {field}: not base64")))
}

/// How a route takes its file: which data URL types, whether URLs, the wrong-prefix text.
struct Accepts {
    what: &'static str,
    field: &'static str,
    data_prefix: &'static str,
    urls: bool,
    wrong: &'static str,
}

/// The file field checked as the route takes it.
fn input(value: &str, accepts: &Accepts) -> Result<MediaInput, ApiError> {
    if value.is_empty() {
        return Err(ApiError::missing(accepts.field));
    }
    if accepts.urls && crate::media_input::is_http_url(value) {
        return Ok(MediaInput::Url(value.trim().to_owned()));
    }
    match crate::media_input::split_data_url(value) {
        Some((media_type, payload)) if value.starts_with(accepts.data_prefix) => {
            Ok(MediaInput::Data {
                media_type: media_type.to_owned(),
                payload: payload.to_owned(),
            })
        }
        _ => Err(ApiError::bad_request(accepts.wrong)),
    }
}

/// The fields every media body shares.
struct Common<'a> {
    phone: &'a str,
    id: &'a str,
    context_info: Option<&'a ContextInfoBody>,
}

impl Common<'_> {
    fn plan(
        &self,
        input: MediaInput,
        what: &'static str,
        fields: impl FnOnce(Option<Reply>, Vec<Jid>) -> RequestFields,
    ) -> Result<MediaPlan, ApiError> {
        let to = parse_phone(self.phone)?;
        let (reply, mentions) = context(self.context_info, "")?;
        Ok(MediaPlan {
            to,
            id: optional_id(self.id)?,
            what,
            input,
            request: fields(reply, mentions),
        })
    }
}

macro_rules! media_body {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty = $wire:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
        #[serde(default)]
        pub(crate) struct $name {
            /// Recipient: phone number (with or without `+`) or JID.
            #[serde(rename = "phone")]
            pub phone: String,
            $($(#[$fdoc])* #[serde(rename = $wire)] pub $field: $ty,)*
            /// Caller-chosen message id (else a new one).
            #[serde(rename = "id")]
            pub id: String,
            /// Reply and mentions.
            #[serde(rename = "contextinfo")]
            pub context_info: Option<ContextInfoBody>,
            /// Upload now, queue the send durably and answer `202` (also `?async=true`).
            #[serde(rename = "async")]
            pub is_async: bool,
        }

        impl $name {
            fn common(&self) -> Common<'_> {
                Common { phone: &self.phone, id: &self.id, context_info: self.context_info.as_ref() }
            }
        }
    };
}

media_body!(
    /// `POST /chat/send/image`.
    SendImageBody {
        /// `data:image/…;base64,…` or an http(s) URL (fetched through the SSRF guard).
        image: String = "image",
        /// Caption.
        caption: String = "caption",
        /// Declared mimetype: refused when the bytes say otherwise.
        mime_type: String = "mimetype",
    }
);

media_body!(
    /// `POST /chat/send/audio`.
    SendAudioBody {
        /// `data:audio/…;base64,…`.
        audio: String = "audio",
        /// Voice note (default true).
        ptt: Option<bool> = "ptt",
        /// Declared mimetype: refused when the bytes say otherwise.
        mime_type: String = "mimetype",
        /// Duration in seconds (read from Ogg Opus files; used for other formats).
        seconds: u32 = "seconds",
        /// Voice-note waveform, base64 (up to 64 samples 0–100).
        waveform: String = "waveform",
        /// Ignored (audio messages have no caption).
        caption: String = "caption",
    }
);

media_body!(
    /// `POST /chat/send/document`.
    SendDocumentBody {
        /// `data:application/octet-stream;base64,…` (any data URL type is taken).
        document: String = "document",
        /// File name shown.
        file_name: String = "filename",
        /// Caption.
        caption: String = "caption",
        /// Declared mimetype: refused when the bytes say otherwise.
        mime_type: String = "mimetype",
    }
);

media_body!(
    /// `POST /chat/send/video`.
    SendVideoBody {
        /// `data:video/…;base64,…` or an http(s) URL (fetched through the SSRF guard).
        video: String = "video",
        /// Caption.
        caption: String = "caption",
        /// Poster, base64 JPEG (none is made without a video decoder).
        jpeg_thumbnail: String = "jpegthumbnail",
        /// Declared mimetype: refused when the bytes say otherwise.
        mime_type: String = "mimetype",
        /// Duration in seconds.
        seconds: u32 = "seconds",
    }
);

media_body!(
    /// `POST /chat/send/sticker`.
    SendStickerBody {
        /// `data:image/webp;base64,…`.
        sticker: String = "sticker",
        /// Declared mimetype: refused when the bytes say otherwise.
        mime_type: String = "mimetype",
    }
);

/// A data URL's type as a declaration (documents): none for octet-stream.
fn declared(mime_type: &str, input: &MediaInput) -> Option<String> {
    non_empty(mime_type).or(match input {
        MediaInput::Data { media_type, .. } => non_empty(media_type),
        MediaInput::Url(_) => None,
    })
}

/// Fields of a kind without caption, file name or extras.
fn plain(class: MediaClass, mimetype: Option<String>) -> RequestFields {
    RequestFields {
        class,
        mimetype,
        caption: None,
        file_name: None,
        seconds: None,
        waveform: None,
        jpeg_thumbnail: None,
        reply: None,
        mentions: Vec::new(),
    }
}

impl SendImageBody {
    /// Validates into a send.
    pub(crate) fn plan(&self) -> Result<MediaPlan, ApiError> {
        if self.phone.is_empty() {
            return Err(ApiError::missing("Phone"));
        }
        let accepts = Accepts {
            what: "image",
            field: "Image",
            data_prefix: "data:image/",
            urls: true,
            wrong: "Image data should start with \"data:image/png;base64,\"",
        };
        let input = input(&self.image, &accepts)?;
        self.common()
            .plan(input, accepts.what, |reply, mentions| RequestFields {
                caption: non_empty(&self.caption),
                reply,
                mentions,
                ..plain(MediaClass::Image, non_empty(&self.mime_type))
            })
    }
}

impl SendAudioBody {
    /// Validates into a send (`ptt` defaults to a voice note, as wuzapi).
    pub(crate) fn plan(&self) -> Result<MediaPlan, ApiError> {
        if self.phone.is_empty() {
            return Err(ApiError::missing("Phone"));
        }
        let accepts = Accepts {
            what: "audio",
            field: "Audio",
            data_prefix: "data:audio/",
            urls: false,
            wrong: "audio data should start with \"data:audio/\"",
        };
        let input = input(&self.audio, &accepts)?;
        let waveform = base64_field(&self.waveform, "Waveform")?;
        let class = if self.ptt.unwrap_or(true) {
            MediaClass::VoiceNote
        } else {
            MediaClass::Audio
        };
        self.common()
            .plan(input, accepts.what, |reply, mentions| RequestFields {
                seconds: (self.seconds > 0).then_some(self.seconds),
                waveform,
                reply,
                mentions,
                ..plain(class, non_empty(&self.mime_type))
            })
    }
}

impl SendDocumentBody {
    /// Validates into a send.
    pub(crate) fn plan(&self) -> Result<MediaPlan, ApiError> {
        if self.phone.is_empty() {
            return Err(ApiError::missing("Phone"));
        }
        let accepts = Accepts {
            what: "document",
            field: "Document",
            data_prefix: "data:",
            urls: false,
            wrong: "document data should start with \"data:application/octet-stream;base64,\"",
        };
        let input = input(&self.document, &accepts)?;
        if self.file_name.trim().is_empty() {
            return Err(ApiError::missing("FileName"));
        }
        let mimetype = declared(&self.mime_type, &input);
        self.common()
            .plan(input, accepts.what, |reply, mentions| RequestFields {
                caption: non_empty(&self.caption),
                file_name: non_empty(&self.file_name),
                reply,
                mentions,
                ..plain(MediaClass::Document, mimetype)
            })
    }
}

impl SendVideoBody {
    /// Validates into a send.
    pub(crate) fn plan(&self) -> Result<MediaPlan, ApiError> {
        if self.phone.is_empty() {
            return Err(ApiError::missing("Phone"));
        }
        let accepts = Accepts {
            what: "video",
            field: "Video",
            data_prefix: "data:",
            urls: true,
            wrong: "data should start with \"data:mime/type;base64,\"",
        };
        let input = input(&self.video, &accepts)?;
        let thumbnail = base64_field(&self.jpeg_thumbnail, "JPEGThumbnail")?;
        self.common()
            .plan(input, accepts.what, |reply, mentions| RequestFields {
                caption: non_empty(&self.caption),
                seconds: (self.seconds > 0).then_some(self.seconds),
                jpeg_thumbnail: thumbnail,
                reply,
                mentions,
                ..plain(MediaClass::Video, non_empty(&self.mime_type))
            })
    }
}

impl SendStickerBody {
    /// Validates into a send.
    pub(crate) fn plan(&self) -> Result<MediaPlan, ApiError> {
        if self.phone.is_empty() {
            return Err(ApiError::missing("Phone"));
        }
        let accepts = Accepts {
            what: "sticker",
            field: "Sticker",
            data_prefix: "data:",
            urls: false,
            wrong: "data should start with \"data:mime/type;base64,\"",
        };
        let input = input(&self.sticker, &accepts)?;
        self.common()
            .plan(input, accepts.what, |reply, mentions| RequestFields {
                reply,
                mentions,
                ..plain(MediaClass::Sticker, non_empty(&self.mime_type))
            })
    }
}

//! [`Media`]: an uploaded image, video, audio or voice note, document or sticker as a message
//! refers to it (`media.md` §4; field numbers in `proto/e2e.proto`, each cited there), with a
//! quoted reply and mentions in its `contextInfo`.
//!
//! Parsing is lenient about the file fields (a hash or key of the wrong length reads as absent):
//! the message is still delivered, and the download refuses what it cannot verify.

use crate::binary::Jid;
use crate::media::{MediaKey, MediaType};
use crate::pb::e2e as pb;

use super::plaintext::ContentError;
use super::reply::{context_info, read_context, Reply};

/// The fields every media message carries about its file (`media.md` §4, §2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaFile {
    /// `url`: the upload answer's `url`.
    pub url: Option<String>,
    /// `directPath`: the upload answer's `direct_path` (what downloads use).
    pub direct_path: Option<String>,
    /// `mediaKey`.
    pub media_key: Option<MediaKey>,
    /// `fileSHA256`: SHA-256 of the plaintext.
    pub file_sha256: Option<[u8; 32]>,
    /// `fileEncSHA256`: SHA-256 of the uploaded body.
    pub file_enc_sha256: Option<[u8; 32]>,
    /// `fileLength`: plaintext bytes.
    pub file_length: Option<u64>,
    /// `mimetype`.
    pub mimetype: Option<String>,
    /// `mediaKeyTimestamp`: upload time, unix seconds.
    pub media_key_timestamp: Option<i64>,
}

/// `imageMessage`=3 extras.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageInfo {
    /// `caption`=3.
    pub caption: Option<String>,
    /// `width`=7.
    pub width: Option<u32>,
    /// `height`=6.
    pub height: Option<u32>,
    /// `JPEGThumbnail`=16.
    pub jpeg_thumbnail: Option<Vec<u8>>,
}

/// `videoMessage`=9 extras.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VideoInfo {
    /// `caption`=7.
    pub caption: Option<String>,
    /// `seconds`=5.
    pub seconds: Option<u32>,
    /// `width`=10.
    pub width: Option<u32>,
    /// `height`=9.
    pub height: Option<u32>,
    /// `gifPlayback`=8: a GIF (`mediatype="gif"`).
    pub gif_playback: bool,
    /// `JPEGThumbnail`=16.
    pub jpeg_thumbnail: Option<Vec<u8>>,
    /// `streamingSidecar`=18.
    pub streaming_sidecar: Option<Vec<u8>>,
}

/// `audioMessage`=8 extras.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AudioInfo {
    /// `PTT`=6: a voice note (`mediatype="ptt"`).
    pub ptt: bool,
    /// `seconds`=5.
    pub seconds: Option<u32>,
    /// `waveform`=19.
    pub waveform: Option<Vec<u8>>,
    /// `streamingSidecar`=18.
    pub streaming_sidecar: Option<Vec<u8>>,
}

/// `documentMessage`=7 extras.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DocumentInfo {
    /// `caption`=20.
    pub caption: Option<String>,
    /// `fileName`=8.
    pub file_name: Option<String>,
    /// `title`=3.
    pub title: Option<String>,
    /// `pageCount`=6.
    pub page_count: Option<u32>,
    /// `JPEGThumbnail`=16.
    pub jpeg_thumbnail: Option<Vec<u8>>,
}

/// `stickerMessage`=26 extras.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StickerInfo {
    /// `width`=7.
    pub width: Option<u32>,
    /// `height`=6.
    pub height: Option<u32>,
    /// `isAnimated`=13.
    pub is_animated: bool,
    /// `pngThumbnail`=16.
    pub png_thumbnail: Option<Vec<u8>>,
}

/// Which media message, with its own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKind {
    /// `imageMessage`=3.
    Image(ImageInfo),
    /// `videoMessage`=9.
    Video(VideoInfo),
    /// `audioMessage`=8 (a voice note when `ptt`).
    Audio(AudioInfo),
    /// `documentMessage`=7.
    Document(DocumentInfo),
    /// `stickerMessage`=26.
    Sticker(StickerInfo),
}

impl MediaKind {
    /// A short name: `image`, `video`, `audio`, `ptt`, `document` or `sticker`.
    pub fn name(&self) -> &'static str {
        match self {
            MediaKind::Image(_) => "image",
            MediaKind::Video(_) => "video",
            MediaKind::Audio(a) if a.ptt => "ptt",
            MediaKind::Audio(_) => "audio",
            MediaKind::Document(_) => "document",
            MediaKind::Sticker(_) => "sticker",
        }
    }

    /// The `<enc mediatype>` of the stanza (`messaging.md` §7, `media.md` §4): `image`,
    /// `video`, `gif`, `audio`, `ptt`, `document` or `sticker`.
    pub fn enc_mediatype(&self) -> &'static str {
        match self {
            MediaKind::Video(v) if v.gif_playback => "gif",
            other => other.name(),
        }
    }

    /// The key-expansion and upload type of the file (`media.md` §1).
    pub fn media_type(&self) -> MediaType {
        match self {
            MediaKind::Image(_) => MediaType::Image,
            MediaKind::Video(v) if v.gif_playback => MediaType::Gif,
            MediaKind::Video(_) => MediaType::Video,
            MediaKind::Audio(a) if a.ptt => MediaType::Ptt,
            MediaKind::Audio(_) => MediaType::Audio,
            MediaKind::Document(_) => MediaType::Document,
            MediaKind::Sticker(_) => MediaType::Sticker,
        }
    }

    /// The caption, for the kinds that have one (image, video, document).
    pub fn caption(&self) -> Option<&str> {
        match self {
            MediaKind::Image(i) => i.caption.as_deref(),
            MediaKind::Video(v) => v.caption.as_deref(),
            MediaKind::Document(d) => d.caption.as_deref(),
            MediaKind::Audio(_) | MediaKind::Sticker(_) => None,
        }
    }
}

/// A media message.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    /// Which kind, with its own fields.
    pub kind: MediaKind,
    /// The uploaded file.
    pub file: MediaFile,
    /// The message this one replies to.
    pub reply: Option<Reply>,
    /// Users mentioned (`contextInfo.mentionedJID`), in order.
    pub mentions: Vec<Jid>,
}

impl Media {
    /// The key-expansion and upload type of the file.
    pub fn media_type(&self) -> MediaType {
        self.kind.media_type()
    }
}

fn key_bytes(k: &Option<MediaKey>) -> Option<Vec<u8>> {
    k.as_ref().map(|k| k.as_bytes().to_vec())
}

fn hash32(b: &Option<Vec<u8>>) -> Option<[u8; 32]> {
    b.as_deref().and_then(|b| b.try_into().ok())
}

fn read_key(b: &Option<Vec<u8>>) -> Option<MediaKey> {
    b.as_deref().and_then(|b| MediaKey::from_slice(b).ok())
}

/// Sets the media field of `m` that `media` is.
pub(crate) fn media_into(media: &Media, m: &mut pb::Message) {
    let f = &media.file;
    let ctx = context_info(media.reply.as_ref(), &media.mentions);
    match &media.kind {
        MediaKind::Image(i) => {
            m.image_message = Some(Box::new(pb::ImageMessage {
                url: f.url.clone(),
                mimetype: f.mimetype.clone(),
                caption: i.caption.clone(),
                file_sha256: f.file_sha256.map(Vec::from),
                file_length: f.file_length,
                height: i.height,
                width: i.width,
                media_key: key_bytes(&f.media_key),
                file_enc_sha256: f.file_enc_sha256.map(Vec::from),
                direct_path: f.direct_path.clone(),
                media_key_timestamp: f.media_key_timestamp,
                jpeg_thumbnail: i.jpeg_thumbnail.clone(),
                context_info: ctx,
            }));
        }
        MediaKind::Video(v) => {
            m.video_message = Some(Box::new(pb::VideoMessage {
                url: f.url.clone(),
                mimetype: f.mimetype.clone(),
                file_sha256: f.file_sha256.map(Vec::from),
                file_length: f.file_length,
                seconds: v.seconds,
                media_key: key_bytes(&f.media_key),
                caption: v.caption.clone(),
                gif_playback: v.gif_playback.then_some(true),
                height: v.height,
                width: v.width,
                file_enc_sha256: f.file_enc_sha256.map(Vec::from),
                direct_path: f.direct_path.clone(),
                media_key_timestamp: f.media_key_timestamp,
                jpeg_thumbnail: v.jpeg_thumbnail.clone(),
                context_info: ctx,
                streaming_sidecar: v.streaming_sidecar.clone(),
            }));
        }
        MediaKind::Audio(a) => m.audio_message = Some(Box::new(audio_pb(f, a, ctx))),
        MediaKind::Document(d) => m.document_message = Some(Box::new(document_pb(f, d, ctx))),
        MediaKind::Sticker(s) => m.sticker_message = Some(Box::new(sticker_pb(f, s, ctx))),
    }
}

fn audio_pb(f: &MediaFile, a: &AudioInfo, ctx: Option<Box<pb::ContextInfo>>) -> pb::AudioMessage {
    pb::AudioMessage {
        url: f.url.clone(),
        mimetype: f.mimetype.clone(),
        file_sha256: f.file_sha256.map(Vec::from),
        file_length: f.file_length,
        seconds: a.seconds,
        ptt: Some(a.ptt),
        media_key: key_bytes(&f.media_key),
        file_enc_sha256: f.file_enc_sha256.map(Vec::from),
        direct_path: f.direct_path.clone(),
        media_key_timestamp: f.media_key_timestamp,
        context_info: ctx,
        streaming_sidecar: a.streaming_sidecar.clone(),
        waveform: a.waveform.clone(),
    }
}

fn document_pb(
    f: &MediaFile,
    d: &DocumentInfo,
    ctx: Option<Box<pb::ContextInfo>>,
) -> pb::DocumentMessage {
    pb::DocumentMessage {
        url: f.url.clone(),
        mimetype: f.mimetype.clone(),
        title: d.title.clone(),
        file_sha256: f.file_sha256.map(Vec::from),
        file_length: f.file_length,
        page_count: d.page_count,
        media_key: key_bytes(&f.media_key),
        file_name: d.file_name.clone(),
        file_enc_sha256: f.file_enc_sha256.map(Vec::from),
        direct_path: f.direct_path.clone(),
        media_key_timestamp: f.media_key_timestamp,
        jpeg_thumbnail: d.jpeg_thumbnail.clone(),
        context_info: ctx,
        caption: d.caption.clone(),
    }
}

fn sticker_pb(
    f: &MediaFile,
    s: &StickerInfo,
    ctx: Option<Box<pb::ContextInfo>>,
) -> pb::StickerMessage {
    pb::StickerMessage {
        url: f.url.clone(),
        file_sha256: f.file_sha256.map(Vec::from),
        file_enc_sha256: f.file_enc_sha256.map(Vec::from),
        media_key: key_bytes(&f.media_key),
        mimetype: f.mimetype.clone(),
        height: s.height,
        width: s.width,
        direct_path: f.direct_path.clone(),
        file_length: f.file_length,
        media_key_timestamp: f.media_key_timestamp,
        is_animated: s.is_animated.then_some(true),
        png_thumbnail: s.png_thumbnail.clone(),
        context_info: ctx,
    }
}

/// The media of `m`, if it holds any (image, video, audio, document, sticker, in that order).
pub(crate) fn media_from_pb(m: &pb::Message) -> Option<Result<Media, ContentError>> {
    if let Some(i) = m.image_message.as_deref() {
        return Some(image_from_pb(i));
    }
    if let Some(v) = m.video_message.as_deref() {
        return Some(video_from_pb(v));
    }
    if let Some(a) = m.audio_message.as_deref() {
        return Some(audio_from_pb(a));
    }
    if let Some(d) = m.document_message.as_deref() {
        return Some(document_from_pb(d));
    }
    m.sticker_message.as_deref().map(sticker_from_pb)
}

fn media(
    kind: MediaKind,
    file: MediaFile,
    ctx: Option<&pb::ContextInfo>,
) -> Result<Media, ContentError> {
    let (reply, mentions) = read_context(ctx)?;
    Ok(Media {
        kind,
        file,
        reply,
        mentions,
    })
}

fn image_from_pb(i: &pb::ImageMessage) -> Result<Media, ContentError> {
    let file = MediaFile {
        url: i.url.clone(),
        direct_path: i.direct_path.clone(),
        media_key: read_key(&i.media_key),
        file_sha256: hash32(&i.file_sha256),
        file_enc_sha256: hash32(&i.file_enc_sha256),
        file_length: i.file_length,
        mimetype: i.mimetype.clone(),
        media_key_timestamp: i.media_key_timestamp,
    };
    let kind = MediaKind::Image(ImageInfo {
        caption: i.caption.clone(),
        width: i.width,
        height: i.height,
        jpeg_thumbnail: i.jpeg_thumbnail.clone(),
    });
    media(kind, file, i.context_info.as_deref())
}

fn video_from_pb(v: &pb::VideoMessage) -> Result<Media, ContentError> {
    let file = MediaFile {
        url: v.url.clone(),
        direct_path: v.direct_path.clone(),
        media_key: read_key(&v.media_key),
        file_sha256: hash32(&v.file_sha256),
        file_enc_sha256: hash32(&v.file_enc_sha256),
        file_length: v.file_length,
        mimetype: v.mimetype.clone(),
        media_key_timestamp: v.media_key_timestamp,
    };
    let kind = MediaKind::Video(VideoInfo {
        caption: v.caption.clone(),
        seconds: v.seconds,
        width: v.width,
        height: v.height,
        gif_playback: v.gif_playback.unwrap_or(false),
        jpeg_thumbnail: v.jpeg_thumbnail.clone(),
        streaming_sidecar: v.streaming_sidecar.clone(),
    });
    media(kind, file, v.context_info.as_deref())
}

fn audio_from_pb(a: &pb::AudioMessage) -> Result<Media, ContentError> {
    let file = MediaFile {
        url: a.url.clone(),
        direct_path: a.direct_path.clone(),
        media_key: read_key(&a.media_key),
        file_sha256: hash32(&a.file_sha256),
        file_enc_sha256: hash32(&a.file_enc_sha256),
        file_length: a.file_length,
        mimetype: a.mimetype.clone(),
        media_key_timestamp: a.media_key_timestamp,
    };
    let kind = MediaKind::Audio(AudioInfo {
        ptt: a.ptt.unwrap_or(false),
        seconds: a.seconds,
        waveform: a.waveform.clone(),
        streaming_sidecar: a.streaming_sidecar.clone(),
    });
    media(kind, file, a.context_info.as_deref())
}

fn document_from_pb(d: &pb::DocumentMessage) -> Result<Media, ContentError> {
    let file = MediaFile {
        url: d.url.clone(),
        direct_path: d.direct_path.clone(),
        media_key: read_key(&d.media_key),
        file_sha256: hash32(&d.file_sha256),
        file_enc_sha256: hash32(&d.file_enc_sha256),
        file_length: d.file_length,
        mimetype: d.mimetype.clone(),
        media_key_timestamp: d.media_key_timestamp,
    };
    let kind = MediaKind::Document(DocumentInfo {
        caption: d.caption.clone(),
        file_name: d.file_name.clone(),
        title: d.title.clone(),
        page_count: d.page_count,
        jpeg_thumbnail: d.jpeg_thumbnail.clone(),
    });
    media(kind, file, d.context_info.as_deref())
}

fn sticker_from_pb(s: &pb::StickerMessage) -> Result<Media, ContentError> {
    let file = MediaFile {
        url: s.url.clone(),
        direct_path: s.direct_path.clone(),
        media_key: read_key(&s.media_key),
        file_sha256: hash32(&s.file_sha256),
        file_enc_sha256: hash32(&s.file_enc_sha256),
        file_length: s.file_length,
        mimetype: s.mimetype.clone(),
        media_key_timestamp: s.media_key_timestamp,
    };
    let kind = MediaKind::Sticker(StickerInfo {
        width: s.width,
        height: s.height,
        is_animated: s.is_animated.unwrap_or(false),
        png_thumbnail: s.png_thumbnail.clone(),
    });
    media(kind, file, s.context_info.as_deref())
}

//! What a caller asks to send ([`MediaRequest`]) and the size limits it is held to
//! ([`MediaLimits`]).

use wa_protocol::binary::Jid;
use wa_protocol::message::Reply;

use crate::messaging::media::upload::MediaSource;

/// Which kind of media message the caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaClass {
    /// `imageMessage`: JPEG, PNG, WebP or GIF bytes (a JPEG thumbnail is made).
    Image,
    /// `videoMessage`: MP4, 3GPP or QuickTime bytes.
    Video,
    /// `audioMessage` without `ptt`.
    Audio,
    /// `audioMessage` with `ptt`: a voice note.
    VoiceNote,
    /// `documentMessage`: any bytes.
    Document,
    /// `stickerMessage`: WebP bytes.
    Sticker,
}

impl MediaClass {
    /// The kind a mimetype names on its own (whatsapp-web.js's rule): `image/*` an image,
    /// `video/*` a video, `audio/*` audio (a voice note when `voice`), anything else a
    /// document.
    pub fn for_mimetype(mime: &str, voice: bool) -> Self {
        let top = mime.split('/').next().unwrap_or("").trim();
        match top.to_ascii_lowercase().as_str() {
            "image" => MediaClass::Image,
            "video" => MediaClass::Video,
            "audio" if voice => MediaClass::VoiceNote,
            "audio" => MediaClass::Audio,
            _ => MediaClass::Document,
        }
    }

    /// A short name: `image`, `video`, `audio`, `ptt`, `document` or `sticker`.
    pub fn name(self) -> &'static str {
        match self {
            MediaClass::Image => "image",
            MediaClass::Video => "video",
            MediaClass::Audio => "audio",
            MediaClass::VoiceNote => "ptt",
            MediaClass::Document => "document",
            MediaClass::Sticker => "sticker",
        }
    }
}

/// Largest plaintext accepted per kind, in bytes.
///
/// The defaults ([`MediaLimits::whatsapp`]) are WhatsApp's own:
/// - image, audio and voice notes: 16 MB — WhatsApp Help Center, "About sending and
///   receiving media": "The maximum file size for all media (photos, videos or voice messages)
///   that can be sent or forwarded through WhatsApp is 16 MB" (the Business Cloud API's
///   "Supported media types" table also says 16 MB for audio and video, 5 MB for images; the
///   app's 16 MB is used here).
/// - video: 2 GB, as documents — current WhatsApp clients send media files up to 2 GB (the
///   2022 raise from 100 MB), and issue 13 requires a 100 MB video to be sent through the
///   video routes; the older 16 MB figure above would refuse it.
/// - documents: 2 GB — WhatsApp's announcement of 2 GB documents (2022; the Cloud API allows
///   100 MB).
/// - stickers: 100 KB static, 500 KB animated — Cloud API "Supported media types"
///   ("Static sticker image/webp 100 KB", "Animated sticker image/webp 500 KB").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLimits {
    /// Images.
    pub image: u64,
    /// Videos.
    pub video: u64,
    /// Audio and voice notes.
    pub audio: u64,
    /// Documents.
    pub document: u64,
    /// Static stickers.
    pub sticker: u64,
    /// Animated stickers.
    pub animated_sticker: u64,
}

impl MediaLimits {
    /// WhatsApp's limits (see the type's docs for the sources).
    pub const fn whatsapp() -> Self {
        Self {
            image: 16 << 20,
            video: 2 << 30,
            audio: 16 << 20,
            document: 2 << 30,
            sticker: 100 << 10,
            animated_sticker: 500 << 10,
        }
    }

    /// The limit of `class` (stickers: the animated one, the larger).
    pub fn of(&self, class: MediaClass) -> u64 {
        match class {
            MediaClass::Image => self.image,
            MediaClass::Video => self.video,
            MediaClass::Audio | MediaClass::VoiceNote => self.audio,
            MediaClass::Document => self.document,
            MediaClass::Sticker => self.animated_sticker.max(self.sticker),
        }
    }

    /// The largest limit of all: what a fetch of an unknown kind may read at most.
    pub fn largest(&self) -> u64 {
        [
            self.image,
            self.video,
            self.audio,
            self.document,
            self.sticker,
            self.animated_sticker,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }
}

impl Default for MediaLimits {
    fn default() -> Self {
        Self::whatsapp()
    }
}

/// A media message to prepare and send: the caller's declarations (kind, mimetype, fields),
/// which are checked against the bytes, never trusted.
#[derive(Debug)]
pub struct MediaRequest {
    /// The file (a path is read in chunks; thumbnails decode only files under the limit).
    pub source: MediaSource,
    /// The kind asked for.
    pub class: MediaClass,
    /// The caller's mimetype, if any: refused when the bytes say otherwise.
    pub mimetype: Option<String>,
    /// Caption (image, video, document).
    pub caption: Option<String>,
    /// File name (documents; also the title).
    pub file_name: Option<String>,
    /// Duration in seconds (audio, video) when it cannot be read from the file.
    pub seconds: Option<u32>,
    /// Voice-note waveform (`waveform`, up to 64 samples 0–100), as given.
    pub waveform: Option<Vec<u8>>,
    /// JPEG thumbnail for a video (no poster is made without a video decoder).
    pub jpeg_thumbnail: Option<Vec<u8>>,
    /// The message this one replies to.
    pub reply: Option<Reply>,
    /// Users mentioned.
    pub mentions: Vec<Jid>,
    /// Size limits.
    pub limits: MediaLimits,
}

impl MediaRequest {
    /// A request for `class` from `source` with no other field and WhatsApp's limits.
    pub fn new(class: MediaClass, source: MediaSource) -> Self {
        Self {
            source,
            class,
            mimetype: None,
            caption: None,
            file_name: None,
            seconds: None,
            waveform: None,
            jpeg_thumbnail: None,
            reply: None,
            mentions: Vec::new(),
            limits: MediaLimits::whatsapp(),
        }
    }
}

//! A simulated phone receiving media (`media.md`), with wa-protocol's media crypto.
//!
//! [`read`] tells a media message (one of the five media fields of `Message`, §4) from the
//! modelled kinds. The inbox records it at once (kind, caption as its text, MIME type, length);
//! [`start_fetch`] then fetches the file by its direct path from the sim's media store (on a
//! blocking thread), decrypts it in 64 KiB pieces and verifies it in whatsmeow's order (§2: MAC,
//! `fileEncSha256`, padding, `fileSha256`, `fileLength`). The inbox entry gets the hex SHA-256
//! of the verified plaintext as `sha256`, or the reason as `media_error` (an expired file, a
//! bad MAC, a hash that differs, a message without keys); the plaintext itself is not kept.
//! Only then is [`SimEvent::PhoneReceived`] reported, so a harness waiting for it sees the hash.

use std::io::Read;

use wa_protocol::media::{Expected, MediaDecryptor, MediaKey};
use wa_protocol::message::Content;
use wa_protocol::pb::e2e as pb;
use wa_protocol::PhoneNumber;

use crate::error::SimError;
use crate::event::SimEvent;
use crate::media_gallery::Kept;
use crate::media_kind::MediaKind;
use crate::phone_media::media_type;
use crate::state::Shared;

/// Body bytes decrypted at a time.
const CHUNK: usize = 64 * 1024;

/// What a phone received: a modelled kind, or media to fetch.
#[derive(Debug, Clone)]
pub(crate) enum Received {
    /// Text, reaction, edit, revoke, location, contact, unsupported.
    Content(Content),
    /// A media message.
    Media(MediaIn),
}

impl Received {
    /// The inbox's `kind`: `Content::kind()`, or the media kind.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Received::Content(c) => c.kind(),
            Received::Media(m) => m.kind.as_str(),
        }
    }
}

/// Reads a decrypted message: media when one of the five media fields is set (`media.md` §4),
/// else the modelled content (`None` when that does not parse).
pub(crate) fn read(message: &pb::Message) -> Option<Received> {
    match media_of(message) {
        Some(media) => Some(Received::Media(media)),
        None => Content::from_message(message).ok().map(Received::Content),
    }
}

/// A received media message's fields: what the inbox shows and what fetching needs.
#[derive(Debug, Clone)]
pub(crate) struct MediaIn {
    /// The kind (an audio message with `PTT` is a voice note, `ptt`).
    pub(crate) kind: MediaKind,
    /// Declared MIME type.
    pub(crate) mimetype: Option<String>,
    /// Caption (image, video, document).
    pub(crate) caption: Option<String>,
    /// Declared plaintext length (`fileLength`).
    pub(crate) file_length: Option<u64>,
    /// A document's `fileName`.
    pub(crate) file_name: Option<String>,
    direct_path: Option<String>,
    url: Option<String>,
    media_key: Option<Vec<u8>>,
    file_sha256: Option<Vec<u8>>,
    file_enc_sha256: Option<Vec<u8>>,
}

/// The media fields of a message, if it is one (the §4 field numbers are in the protobufs).
fn media_of(m: &pb::Message) -> Option<MediaIn> {
    if let Some(i) = &m.image_message {
        return Some(MediaIn {
            kind: MediaKind::Image,
            mimetype: i.mimetype.clone(),
            caption: i.caption.clone(),
            file_length: i.file_length,
            file_name: None,
            direct_path: i.direct_path.clone(),
            url: i.url.clone(),
            media_key: i.media_key.clone(),
            file_sha256: i.file_sha256.clone(),
            file_enc_sha256: i.file_enc_sha256.clone(),
        });
    }
    if let Some(v) = &m.video_message {
        return Some(MediaIn {
            kind: MediaKind::Video,
            mimetype: v.mimetype.clone(),
            caption: v.caption.clone(),
            file_length: v.file_length,
            file_name: None,
            direct_path: v.direct_path.clone(),
            url: v.url.clone(),
            media_key: v.media_key.clone(),
            file_sha256: v.file_sha256.clone(),
            file_enc_sha256: v.file_enc_sha256.clone(),
        });
    }
    if let Some(a) = &m.audio_message {
        return Some(MediaIn {
            kind: if a.ptt == Some(true) {
                MediaKind::Ptt
            } else {
                MediaKind::Audio
            },
            mimetype: a.mimetype.clone(),
            caption: None,
            file_length: a.file_length,
            file_name: None,
            direct_path: a.direct_path.clone(),
            url: a.url.clone(),
            media_key: a.media_key.clone(),
            file_sha256: a.file_sha256.clone(),
            file_enc_sha256: a.file_enc_sha256.clone(),
        });
    }
    file_media_of(m)
}

/// A document's or a sticker's fields.
fn file_media_of(m: &pb::Message) -> Option<MediaIn> {
    if let Some(d) = &m.document_message {
        return Some(MediaIn {
            kind: MediaKind::Document,
            mimetype: d.mimetype.clone(),
            caption: d.caption.clone(),
            file_length: d.file_length,
            file_name: d.file_name.clone(),
            direct_path: d.direct_path.clone(),
            url: d.url.clone(),
            media_key: d.media_key.clone(),
            file_sha256: d.file_sha256.clone(),
            file_enc_sha256: d.file_enc_sha256.clone(),
        });
    }
    let s = m.sticker_message.as_ref()?;
    Some(MediaIn {
        kind: MediaKind::Sticker,
        mimetype: s.mimetype.clone(),
        caption: None,
        file_length: s.file_length,
        file_name: None,
        direct_path: s.direct_path.clone(),
        url: s.url.clone(),
        media_key: s.media_key.clone(),
        file_sha256: s.file_sha256.clone(),
        file_enc_sha256: s.file_enc_sha256.clone(),
    })
}

/// A 32-byte hash field, which a media message must carry.
fn hash32(field: Option<&Vec<u8>>, what: &'static str) -> Result<[u8; 32], SimError> {
    field
        .and_then(|h| <[u8; 32]>::try_from(h.as_slice()).ok())
        .ok_or(SimError::MediaMessage(what))
}

/// The direct path to fetch: the message's `directPath`, else the path of its `url`.
fn path_of(media: &MediaIn) -> Result<&str, SimError> {
    if let Some(path) = media.direct_path.as_deref() {
        return Ok(path);
    }
    let url = media
        .url
        .as_deref()
        .ok_or(SimError::MediaMessage("no directPath or url"))?;
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .map(|at| &rest[at..])
        .ok_or(SimError::MediaMessage("url without a path"))
}

/// Fetches, decrypts and verifies the file; the SHA-256 of its plaintext.
pub(crate) fn fetch(shared: &Shared, media: &MediaIn) -> Result<[u8; 32], SimError> {
    let key = MediaKey::from_slice(media.media_key.as_deref().unwrap_or_default())
        .map_err(SimError::MediaVerify)?;
    let expected = Expected {
        file_enc_sha256: Some(hash32(media.file_enc_sha256.as_ref(), "no fileEncSha256")?),
        file_sha256: Some(hash32(media.file_sha256.as_ref(), "no fileSha256")?),
        file_length: media.file_length,
    };
    let path = path_of(media)?;
    let oh = path.split(['?', '&']).find_map(|kv| kv.strip_prefix("oh="));
    let (mut file, _) = shared.media.open(path, oh, shared.now())?;
    let mut decryptor = MediaDecryptor::new(&key, media_type(media.kind), expected);
    let mut buf = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(CHUNK + 32);
    loop {
        let n = file.read(&mut buf).map_err(SimError::MediaIo)?;
        if n == 0 {
            break;
        }
        // Unverified plaintext until `finish`: only counted, never kept.
        out.clear();
        decryptor.update(&buf[..n], &mut out);
    }
    out.clear();
    let verified = decryptor.finish(&mut out).map_err(SimError::MediaVerify)?;
    Ok(verified.file_sha256)
}

/// Keeps `phone`'s own copy of the body of message `id` (`media_gallery`): the store's file
/// while it is live, with the message's key, type and `fileEncSha256`.
pub(crate) fn keep(
    shared: &Shared,
    phone: &PhoneNumber,
    id: &str,
    media: &MediaIn,
) -> Result<(), SimError> {
    let key = MediaKey::from_slice(media.media_key.as_deref().unwrap_or_default())
        .map_err(SimError::MediaVerify)?;
    let file_enc_sha256 = hash32(media.file_enc_sha256.as_ref(), "no fileEncSha256")?;
    let file = shared.media.keep_copy(path_of(media)?)?;
    let kept = Kept {
        file,
        key,
        ty: media_type(media.kind),
        file_enc_sha256,
    };
    shared.media.gallery.insert(phone, id, kept);
    Ok(())
}

/// A fetch to run for one inbox entry.
struct FetchJob {
    phone: PhoneNumber,
    from: String,
    id: String,
    media: MediaIn,
}

impl FetchJob {
    /// Fetches, records the outcome in the inbox entry and reports the message.
    fn run(self, shared: &Shared) {
        let outcome = fetch(shared, &self.media).map(hex::encode);
        if outcome.is_ok() {
            if let Err(error) = keep(shared, &self.phone, &self.id, &self.media) {
                tracing::debug!(%error, "wa-sim: phone keeps no copy of the media");
            }
        }
        shared.count(if outcome.is_ok() {
            "phone:media-fetched"
        } else {
            "phone:media-failed"
        });
        let outcome = outcome.map_err(|e| e.to_string());
        let settled = shared.with_world(|w| {
            w.account_mut(&self.phone)
                .is_ok_and(|a| a.phone_state.settle_media(&self.from, &self.id, outcome))
        });
        if settled && shared.config.phone_events {
            shared.emit(SimEvent::PhoneReceived {
                phone: self.phone,
                id: self.id,
            });
        }
    }
}

/// Fetches the media of inbox entry (`from`, `id`) of `phone` on a blocking thread (inline when
/// no runtime runs the caller).
pub(crate) fn start_fetch(
    shared: &Shared,
    phone: &PhoneNumber,
    from: &str,
    id: &str,
    media: MediaIn,
) {
    let job = FetchJob {
        phone: phone.clone(),
        from: from.to_owned(),
        id: id.to_owned(),
        media,
    };
    match (shared.handle(), tokio::runtime::Handle::try_current()) {
        (Some(shared), Ok(runtime)) => {
            runtime.spawn_blocking(move || job.run(&shared));
        }
        _ => job.run(shared),
    }
}

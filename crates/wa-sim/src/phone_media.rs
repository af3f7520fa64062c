//! A simulated phone sending media (`media.md`), with wa-protocol's media crypto (receiving is
//! `phone_media_in`).
//!
//! [`prepare`]: the file gets a fresh 32-byte `mediaKey` (§1), is encrypted in
//! 64 KiB pieces (AES-256-CBC, the 10-byte MAC appended, §2) straight into the sim's own media
//! store (the phone's upload: checked against its `fileEncSha256` as an HTTP upload is), and
//! the message of its kind is built with the §4 fields: `url`, `directPath`, `mediaKey`,
//! `fileSha256`, `fileEncSha256`, `fileLength`, `mediaKeyTimestamp`, the `mimetype`, and the
//! caption, file name, duration, `PTT` and streaming sidecar where the kind has them.

use rand::rngs::StdRng;
use wa_protocol::media::{EncryptedMedia, MediaEncryptor, MediaKey, MediaType};
use wa_protocol::pb::e2e as pb;

use crate::error::SimError;
use crate::media_kind::{MediaBody, MediaKind, MediaRequest};
use crate::media_store::Uploaded;
use crate::phone_outgoing::Outgoing;
use crate::state::Shared;

/// Plaintext bytes encrypted at a time.
const CHUNK: usize = 64 * 1024;

/// The key expansion and upload path of a kind (`media.md` §1).
pub(crate) fn media_type(kind: MediaKind) -> MediaType {
    match kind {
        MediaKind::Image => MediaType::Image,
        MediaKind::Video => MediaType::Video,
        MediaKind::Audio => MediaType::Audio,
        MediaKind::Ptt => MediaType::Ptt,
        MediaKind::Document => MediaType::Document,
        MediaKind::Sticker => MediaType::Sticker,
    }
}

/// Encrypts and stores the file of `body`; the media message to send.
pub(crate) fn prepare(shared: &Shared, body: &MediaBody) -> Result<Outgoing, SimError> {
    let request = body.check()?;
    let ty = media_type(request.kind);
    let mut rng = shared.fork_rng();
    let key = MediaKey::generate(&mut rng);
    let (info, uploaded) = upload(shared, &key, ty, &request.data, &mut rng)?;
    let fields = Fields {
        request: &request,
        key: &key,
        info,
        uploaded,
        t: i64::try_from(shared.now_secs()).unwrap_or(i64::MAX),
    };
    shared.count(format!("phone:media-uploaded:{}", request.kind.as_str()));
    Ok(Outgoing::Media {
        kind: request.kind,
        message: Box::new(fields.message()),
    })
}

/// Encrypts `data` piece by piece into a new store file and commits it under its hash.
fn upload(
    shared: &Shared,
    key: &MediaKey,
    ty: MediaType,
    data: &[u8],
    rng: &mut StdRng,
) -> Result<(EncryptedMedia, Uploaded), SimError> {
    let mut encryptor = MediaEncryptor::new(key, ty);
    let mut incoming = shared.media.begin()?;
    let mut out = Vec::with_capacity(CHUNK + 32);
    for piece in data.chunks(CHUNK) {
        out.clear();
        encryptor.update(piece, &mut out);
        incoming.write(&out)?;
    }
    out.clear();
    let info = encryptor.finish(&mut out);
    incoming.write(&out)?;
    let hash = Some(info.file_enc_sha256);
    let uploaded = shared
        .media
        .commit(incoming, ty.mms_type(), hash, shared.now(), rng)?;
    Ok((info, uploaded))
}

/// What every media message carries (`media.md` §4).
struct Fields<'a> {
    request: &'a MediaRequest<'a>,
    key: &'a MediaKey,
    info: EncryptedMedia,
    uploaded: Uploaded,
    t: i64,
}

impl Fields<'_> {
    /// The `Message` with the kind's field set.
    fn message(self) -> pb::Message {
        let body = self.request.body;
        let url = Some(self.uploaded.url.clone());
        let direct_path = Some(self.uploaded.direct_path.clone());
        let mimetype = Some(body.mimetype.clone());
        let media_key = Some(self.key.as_bytes().to_vec());
        let file_sha256 = Some(self.info.file_sha256.to_vec());
        let file_enc_sha256 = Some(self.info.file_enc_sha256.to_vec());
        let file_length = Some(self.info.file_length);
        let media_key_timestamp = Some(self.t);
        let sidecar = self.info.streaming_sidecar.clone();
        match self.request.kind {
            MediaKind::Image => pb::Message {
                image_message: Some(Box::new(pb::ImageMessage {
                    url,
                    mimetype,
                    caption: body.caption.clone(),
                    file_sha256,
                    file_length,
                    media_key,
                    file_enc_sha256,
                    direct_path,
                    media_key_timestamp,
                    ..pb::ImageMessage::default()
                })),
                ..pb::Message::default()
            },
            MediaKind::Video => pb::Message {
                video_message: Some(Box::new(pb::VideoMessage {
                    url,
                    mimetype,
                    file_sha256,
                    file_length,
                    seconds: body.seconds,
                    media_key,
                    caption: body.caption.clone(),
                    file_enc_sha256,
                    direct_path,
                    media_key_timestamp,
                    streaming_sidecar: sidecar,
                    ..pb::VideoMessage::default()
                })),
                ..pb::Message::default()
            },
            MediaKind::Audio | MediaKind::Ptt => pb::Message {
                audio_message: Some(Box::new(pb::AudioMessage {
                    url,
                    mimetype,
                    file_sha256,
                    file_length,
                    seconds: body.seconds,
                    ptt: Some(self.request.kind == MediaKind::Ptt),
                    media_key,
                    file_enc_sha256,
                    direct_path,
                    media_key_timestamp,
                    streaming_sidecar: sidecar,
                    ..pb::AudioMessage::default()
                })),
                ..pb::Message::default()
            },
            MediaKind::Document | MediaKind::Sticker => self.file_message(),
        }
    }

    /// A document or a sticker.
    fn file_message(self) -> pb::Message {
        let body = self.request.body;
        let url = Some(self.uploaded.url);
        let direct_path = Some(self.uploaded.direct_path);
        let mimetype = Some(body.mimetype.clone());
        let media_key = Some(self.key.as_bytes().to_vec());
        let file_sha256 = Some(self.info.file_sha256.to_vec());
        let file_enc_sha256 = Some(self.info.file_enc_sha256.to_vec());
        let file_length = Some(self.info.file_length);
        let media_key_timestamp = Some(self.t);
        if self.request.kind == MediaKind::Sticker {
            return pb::Message {
                sticker_message: Some(Box::new(pb::StickerMessage {
                    url,
                    file_sha256,
                    file_enc_sha256,
                    media_key,
                    mimetype,
                    direct_path,
                    file_length,
                    media_key_timestamp,
                    ..pb::StickerMessage::default()
                })),
                ..pb::Message::default()
            };
        }
        pb::Message {
            document_message: Some(Box::new(pb::DocumentMessage {
                url,
                mimetype,
                title: body.file_name.clone(),
                file_sha256,
                file_length,
                media_key,
                file_name: body.file_name.clone(),
                file_enc_sha256,
                direct_path,
                media_key_timestamp,
                caption: body.caption.clone(),
                ..pb::DocumentMessage::default()
            })),
            ..pb::Message::default()
        }
    }
}

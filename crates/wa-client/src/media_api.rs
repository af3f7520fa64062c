//! The media methods of [`Gateway`] (issue 13): upload a file, send it as an image, video,
//! audio or voice note, document or sticker through the ordinary send path, and download a
//! received one with verification before it is handed on (`media.md` §2–§4).

use wa_protocol::binary::Jid;
use wa_protocol::media::MediaType;
use wa_protocol::message::{Content, Media, MediaKind, Reply};
use wa_store::AccountId;

use crate::error::Error;
use crate::gateway::Gateway;
use crate::messaging::media::download::{download, DownloadedMedia, Wanted};
use crate::messaging::media::upload::{hosts, upload, MediaSource, UploadedMedia};
use crate::messaging::types::{SendOptions, SentMessage};

/// A media message to send: the file, what kind it is (with caption, dimensions, duration,
/// `ptt`, file name…), its mimetype, and an optional reply and mentions.
#[derive(Debug)]
pub struct OutgoingMedia {
    /// The plaintext file.
    pub source: MediaSource,
    /// Which kind, with its own fields (the file fields are filled by the upload; a sidecar
    /// given here is replaced by the upload's).
    pub kind: MediaKind,
    /// `mimetype` of the message.
    pub mimetype: String,
    /// The message this one replies to.
    pub reply: Option<Reply>,
    /// Users mentioned.
    pub mentions: Vec<Jid>,
}

impl Gateway {
    /// Encrypts `source` with a fresh media key and uploads it as `ty` from account `id`
    /// (which must be logged in: the upload token comes from its `media_conn`). The file is
    /// streamed from a staging file; it never sits whole in memory.
    pub async fn upload_media(
        &self,
        id: &AccountId,
        source: MediaSource,
        ty: MediaType,
    ) -> Result<UploadedMedia, Error> {
        let handle = self.logged_in(id)?;
        let now = self.now();
        upload(&self.media, &self.config.media, &handle, now, source, ty).await
    }

    /// Uploads `media.source` and sends the media message to `to` (user or group) through
    /// [`Gateway::send`]: same ids, acks and status as any other message.
    pub async fn send_media(
        &self,
        id: &AccountId,
        to: Jid,
        media: OutgoingMedia,
        options: SendOptions,
    ) -> Result<SentMessage, Error> {
        let ty = media.kind.media_type();
        let uploaded = self.upload_media(id, media.source, ty).await?;
        let content = Content::Media(Box::new(message_of(
            media.kind,
            media.mimetype,
            media.reply,
            media.mentions,
            uploaded,
        )));
        self.send(id, to, content, options).await
    }

    /// Downloads a received media message and verifies it (MAC, `fileEncSha256`,
    /// `fileSha256`, `fileLength`) before returning the plaintext in a temporary file. The
    /// hosts come from account `id`'s `media_conn` (or the configured override); the
    /// message's `url` is the last resort.
    pub async fn download_media(
        &self,
        id: &AccountId,
        media: &Media,
    ) -> Result<DownloadedMedia, Error> {
        let config = &self.config.media;
        let wanted = Wanted::from_media(media, config)?;
        let conn = if config.host_override.is_some() {
            None
        } else {
            let handle = self.logged_in(id)?;
            Some(self.media.media_conn(&handle, self.now(), false).await?)
        };
        let urls = wanted.urls(&hosts(conn.as_ref(), config), &config.scheme);
        let http = self.media.http()?;
        Ok(download(&http, config, wanted, urls).await?)
    }
}

/// The message of an uploaded file: the caller's kind fields, the upload's file fields and
/// sidecar.
pub(crate) fn message_of(
    mut kind: MediaKind,
    mimetype: String,
    reply: Option<Reply>,
    mentions: Vec<Jid>,
    uploaded: UploadedMedia,
) -> Media {
    match &mut kind {
        MediaKind::Video(v) => v.streaming_sidecar = uploaded.streaming_sidecar,
        MediaKind::Audio(a) => a.streaming_sidecar = uploaded.streaming_sidecar,
        MediaKind::Image(_) | MediaKind::Document(_) | MediaKind::Sticker(_) => {}
    }
    let mut file = uploaded.file;
    file.mimetype = Some(mimetype);
    Media {
        kind,
        file,
        reply,
        mentions,
    }
}

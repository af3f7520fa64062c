//! Sending media the caller only declares (issue 13 item 3): [`Gateway::prepare_media`] checks
//! the file against its bytes, reads its message fields and uploads it, giving the message
//! [`Content`] any send path takes (at once, within a bound, queued, through a pool);
//! [`Gateway::send_prepared_media`] also sends it.

use wa_protocol::binary::Jid;
use wa_protocol::message::Content;
use wa_store::AccountId;

use crate::error::Error;
use crate::gateway::Gateway;
use crate::media_api::message_of;
use crate::media_prepare::prepare::{prepare, PrepareError};
use crate::media_prepare::types::MediaRequest;
use crate::messaging::types::{SendOptions, SentMessage};

impl Gateway {
    /// Whether account `id` can upload now (its session runs and is logged in): callers that
    /// stage a large file first ask this, so a session that is down refuses before any byte
    /// is read ([`Error::NotRunning`], [`Error::NotLoggedIn`]).
    pub fn can_upload(&self, id: &AccountId) -> Result<(), Error> {
        self.logged_in(id).map(|_| ())
    }

    /// Checks `request`'s file (type detected from the bytes and matched against the declared
    /// kind and mimetype, size within the kind's limit; a refusal is
    /// [`Error::BadMedia`] and nothing is uploaded), reads its fields (thumbnail, dimensions,
    /// duration) and uploads it from account `id` (which must be logged in). The answer is the
    /// media message, not yet sent.
    pub async fn prepare_media(
        &self,
        id: &AccountId,
        request: MediaRequest,
    ) -> Result<Content, Error> {
        // Refuse early, before the file is read, when the session cannot upload.
        self.logged_in(id)?;
        let temp_dir = self.config.media.temp_dir.clone();
        let prepared = tokio::task::spawn_blocking(move || prepare(request, temp_dir.as_deref()))
            .await?
            .map_err(|e| match e {
                PrepareError::Rejected(r) => Error::BadMedia(r),
                PrepareError::Failed(f) => Error::Media(f),
            })?;
        let ty = prepared.kind.media_type();
        let uploaded = self.upload_media(id, prepared.source, ty).await?;
        drop(prepared.staged);
        Ok(Content::Media(Box::new(message_of(
            prepared.kind,
            prepared.mimetype,
            prepared.reply,
            prepared.mentions,
            uploaded,
        ))))
    }

    /// [`Gateway::prepare_media`], then [`Gateway::send`] to `to` (user or group): the sent
    /// message, or a typed refusal ([`Error::BadMedia`]) with nothing sent.
    pub async fn send_prepared_media(
        &self,
        id: &AccountId,
        to: Jid,
        request: MediaRequest,
        options: SendOptions,
    ) -> Result<SentMessage, Error> {
        let content = self.prepare_media(id, request).await?;
        self.send(id, to, content, options).await
    }
}

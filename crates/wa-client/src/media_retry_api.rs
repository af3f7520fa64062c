//! Media retry (issue 13: "media-retry requests when a download is gone"): when a media host
//! answers 404 or 410 for a received file, the account asks its own phone to upload its copy
//! again and downloads from the new direct path. Stanzas and crypto are wa-protocol's
//! `stanza::MediaRetryRequest` / `MediaRetryNotice` and `media::{seal_retry_request,
//! open_retry_outcome}` (facts from whatsmeow `mediaretry.go` and Baileys `messages-media.ts`):
//!
//! 1. `<receipt id to=<own user> type="server-error">` with the sealed `ServerErrorReceipt`
//!    and `<rmr jid from_me [participant]>` naming the message;
//! 2. the phone answers `<notification type="mediaretry" id>`: a sealed
//!    `MediaRetryNotification` (`SUCCESS` with the new `directPath`) or `<error code>` (2: not
//!    on the phone any more);
//! 3. the download is tried again with the same key and hashes from the new path.
//!
//! The answer is awaited for [`crate::MediaConfig::retry_timeout`]. The sending side: wagate
//! keeps no copy of the files it sent (the encrypted staging file is deleted once uploaded), and
//! the references address the request to the account's own user, answered by its phone
//! (whatsmeow's `ErrMediaNotAvailableOnPhone`); a companion has nothing to answer with.

use rand::rngs::OsRng;
use rand::RngCore;
use tokio::sync::broadcast;
use wa_protocol::binary::{Jid, Node};
use wa_protocol::ids::MessageId;
use wa_protocol::media::{open_retry_outcome, seal_retry_request, RetryResult, MEDIA_RETRY_IV_LEN};
use wa_protocol::message::Media;
use wa_protocol::stanza::{
    MediaRetryBody, MediaRetryNotice, MediaRetryRequest, RetryMessageRef, Sealed,
};
use wa_store::AccountId;

use crate::error::Error;
use crate::event::{Event, EventKind};
use crate::gateway::Gateway;
use crate::messaging::media::download::DownloadedMedia;
use crate::messaging::media::failure::MediaFailure;
use crate::messaging::types::ReceivedText;

/// The message a media file belongs to: what a media retry request names (`<rmr>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaOrigin {
    /// The message id.
    pub id: MessageId,
    /// The chat (the contact, or the group).
    pub chat: Jid,
    /// Whether this account sent the message.
    pub from_me: bool,
    /// The sender in a group.
    pub participant: Option<Jid>,
}

impl MediaOrigin {
    /// The origin of a received media message: its chat, and in a group its sender (as user
    /// JID). `from_me`: the message is our own other device's send (a copy whose sender is
    /// this account).
    pub fn received(message: &ReceivedText, from_me: bool) -> Self {
        Self {
            id: message.id.clone(),
            chat: message.chat.clone(),
            from_me,
            participant: message
                .chat
                .is_group()
                .then(|| message.sender.device.to_non_ad()),
        }
    }
}

impl Gateway {
    /// [`Gateway::download_media`], and when every host answered 404 or 410 (the file is gone),
    /// a media retry: the phone uploads its copy again ([`Gateway::request_media_retry`]) and
    /// the file is downloaded from the new path, verified against the message's hashes as
    /// before.
    pub async fn download_media_with_retry(
        &self,
        id: &AccountId,
        media: &Media,
        origin: &MediaOrigin,
    ) -> Result<DownloadedMedia, Error> {
        match self.download_media(id, media).await {
            Err(Error::Media(failure)) if failure.is_gone() => {
                tracing::debug!(account = %id, message = %origin.id, "media gone: asking the phone");
            }
            other => return other,
        }
        let direct_path = self.request_media_retry(id, media, origin).await?;
        let mut again = media.clone();
        again.file.direct_path = Some(direct_path);
        again.file.url = None;
        self.download_media(id, &again).await
    }

    /// Asks account `id`'s phone to upload the file of `media` (message `origin`) again; the new
    /// `directPath`. Refused with [`MediaFailure::RetryRefused`] (`<error code>`),
    /// [`MediaFailure::RetryUnsuccessful`] (a result other than `SUCCESS`), a
    /// [`MediaFailure::Verify`] when the answer does not open, or [`Error::Timeout`] when no
    /// answer came within [`crate::MediaConfig::retry_timeout`].
    pub async fn request_media_retry(
        &self,
        id: &AccountId,
        media: &Media,
        origin: &MediaOrigin,
    ) -> Result<String, Error> {
        let key = media
            .file
            .media_key
            .as_ref()
            .ok_or(MediaFailure::MissingField("mediaKey"))?;
        let handle = self.logged_in(id)?;
        let own = handle.status().jid.ok_or(Error::NotLoggedIn(*id))?;
        let mut iv = [0u8; MEDIA_RETRY_IV_LEN];
        OsRng.fill_bytes(&mut iv);
        let request = MediaRetryRequest {
            id: origin.id.clone(),
            to: Some(own.to_non_ad()),
            from: None,
            sealed: Sealed {
                ciphertext: seal_retry_request(key, &origin.id, &iv),
                iv: iv.to_vec(),
            },
            rmr: RetryMessageRef {
                chat: origin.chat.clone(),
                from_me: origin.from_me,
                participant: origin.participant.clone(),
            },
        };
        // Subscribed before sending: the answer cannot slip past.
        let mut events = handle.subscribe();
        if !handle.send(request.to_node()) {
            return Err(Error::NotRunning(*id));
        }
        let deadline = self.config.media.retry_timeout;
        let notice = tokio::time::timeout(deadline, answer(&mut events, &origin.id))
            .await
            .map_err(|_| Error::Timeout("media retry"))??;
        let sealed = match notice.body {
            MediaRetryBody::Error { code } => {
                return Err(MediaFailure::RetryRefused { code }.into())
            }
            MediaRetryBody::Sealed(sealed) => sealed,
        };
        let outcome = open_retry_outcome(key, &origin.id, &sealed.iv, &sealed.ciphertext)
            .map_err(MediaFailure::Verify)?;
        match (outcome.result, outcome.direct_path) {
            (RetryResult::Success, Some(path)) => Ok(path),
            (RetryResult::Success, None) => {
                Err(MediaFailure::BadAnswer("media retry success without directPath".into()).into())
            }
            (result, _) => Err(MediaFailure::RetryUnsuccessful(result).into()),
        }
    }
}

/// The first `mediaretry` notification for message `id` among the account's events.
async fn answer(
    events: &mut broadcast::Receiver<Event>,
    id: &MessageId,
) -> Result<MediaRetryNotice, Error> {
    loop {
        match events.recv().await {
            Ok(Event {
                kind: EventKind::Stanza(node),
                ..
            }) => {
                if let Some(notice) = notice_for(&node, id) {
                    return Ok(notice);
                }
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "media retry: events lagged");
            }
            Err(broadcast::error::RecvError::Closed) => return Err(Error::Closed),
        }
    }
}

fn notice_for(node: &Node, id: &MessageId) -> Option<MediaRetryNotice> {
    if !MediaRetryNotice::is_notice(node) {
        return None;
    }
    match MediaRetryNotice::from_node(node) {
        Ok(notice) if notice.id == *id => Some(notice),
        Ok(_) => None,
        Err(error) => {
            tracing::debug!(%error, "malformed mediaretry notification");
            None
        }
    }
}

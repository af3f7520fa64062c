//! A simulated phone answering a media retry request from one of its companions (issue 13:
//! "media-retry requests when a download is gone"; stanzas and crypto in wa-protocol's
//! `stanza::media_retry` and `media::retry`, whose docs cite whatsmeow `mediaretry.go` and
//! Baileys `messages-media.ts`).
//!
//! A companion that cannot download a file (404/410) sends `<receipt type="server-error">` to
//! its own user. The sim acks it (`class="receipt"`) and hands it to that account's phone
//! (device 0), which has its own copy of every media message it sent or received and verified
//! (`media_gallery`): it opens the sealed `ServerErrorReceipt` with the message's key, uploads
//! its copy again (a new direct path, the same `fileEncSha256`) and answers the requesting
//! device with `<notification type="mediaretry">` sealing `MediaRetryNotification { result:
//! SUCCESS, directPath }`. Without a copy it answers `<error code="2"/>` (whatsmeow: "media no
//! longer available on phone"); a request that does not open is answered `DECRYPTION_ERROR`,
//! a failed re-upload `GENERAL_ERROR`.

use rand::RngCore;
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::media::{open_retry_request, seal_retry_outcome, RetryOutcome, RetryResult};
use wa_protocol::stanza::{
    nack, AckClass, MediaRetryBody, MediaRetryNotice, MediaRetryRequest, Sealed, ServerAck,
    MEDIA_NOT_ON_PHONE, SERVER_ERROR_RECEIPT_TYPE,
};
use wa_protocol::PhoneNumber;

use crate::mailbox::DeviceKey;
use crate::phone_media_in::{self, Received};
use crate::phone_outgoing::Outgoing;
use crate::roles::messages;
use crate::state::{Action, Shared};

/// Keeps the phone's copy of media it sends as message `id` (nothing for other kinds).
pub(crate) fn keep_sent(shared: &Shared, phone: &PhoneNumber, id: &str, content: &Outgoing) {
    if !matches!(content, Outgoing::Media { .. }) {
        return;
    }
    if let Some(Received::Media(media)) = phone_media_in::read(&content.to_message()) {
        if let Err(error) = phone_media_in::keep(shared, phone, id, &media) {
            tracing::debug!(%error, "wa-sim: phone keeps no copy of its media");
        }
    }
}

/// A companion's `<receipt type="server-error">`: acked, answered by its phone.
pub(crate) fn companion_request(shared: &Shared, sender: &DeviceKey, node: &Node) -> Vec<Action> {
    let t = shared.now_secs();
    let request = match MediaRetryRequest::from_node(node) {
        Ok(r) if own_user(shared, sender, r.to.as_ref()) => r,
        _ => {
            shared.count("route:refused");
            let ack = Node::new("ack")
                .with_attr("class", "receipt")
                .with_attr("id", node.attr_str("id").unwrap_or_default())
                .with_attr("type", SERVER_ERROR_RECEIPT_TYPE)
                .with_attr("error", nack::STANZA_VALIDATION.to_string());
            return vec![Action::Send(ack)];
        }
    };
    let mut ack = ServerAck::message(request.id.clone(), request.to.clone(), t);
    ack.class = AckClass::Receipt;
    ack.kind = Some(SERVER_ERROR_RECEIPT_TYPE.to_owned());
    let body = answer(shared, &sender.0, &request);
    let notice = MediaRetryNotice {
        id: request.id,
        from: Jid::user(sender.0.as_str(), Server::WhatsApp),
        t: Some(t),
        rmr: request.rmr,
        body,
    };
    messages::dispatch(shared, vec![(sender.clone(), notice.to_node())]);
    vec![Action::Send(ack.to_node())]
}

/// Whether `to` is the sender's own user (by phone number or LID).
fn own_user(shared: &Shared, sender: &DeviceKey, to: Option<&Jid>) -> bool {
    let Some(to) = to else { return false };
    shared.with_world(|w| {
        w.account(&sender.0).is_ok_and(|a| {
            to.device_id() == 0 && (to.user_part() == a.phone.as_str() || to.user_part() == a.lid)
        })
    })
}

/// What `phone` answers: its copy uploaded again, or why not.
fn answer(shared: &Shared, phone: &PhoneNumber, request: &MediaRetryRequest) -> MediaRetryBody {
    let Some(kept) = shared.media.gallery.get(phone, request.id.as_str()) else {
        shared.count("phone:media-retry:not-on-phone");
        return MediaRetryBody::Error {
            code: MEDIA_NOT_ON_PHONE,
        };
    };
    let mut rng = shared.fork_rng();
    let sealed = &request.sealed;
    let opened = open_retry_request(&kept.key, &request.id, &sealed.iv, &sealed.ciphertext);
    let (result, direct_path) = match opened {
        Ok(Some(id)) if id == request.id.as_str() => {
            let mms = kept.ty.mms_type();
            match shared.media.reupload(
                &kept.file,
                mms,
                kept.file_enc_sha256,
                shared.now(),
                &mut rng,
            ) {
                Ok(up) => (RetryResult::Success, Some(up.direct_path)),
                Err(error) => {
                    tracing::warn!(%error, "wa-sim: phone re-upload failed");
                    (RetryResult::GeneralError, None)
                }
            }
        }
        Ok(_) | Err(_) => (RetryResult::DecryptionError, None),
    };
    shared.count(format!("phone:media-retry:{result:?}"));
    let outcome = RetryOutcome {
        stanza_id: Some(request.id.as_str().to_owned()),
        direct_path,
        result,
        message_secret: None,
    };
    let mut iv = [0u8; 12];
    rng.fill_bytes(&mut iv);
    MediaRetryBody::Sealed(Sealed {
        ciphertext: seal_retry_outcome(&kept.key, &request.id, &outcome, &iv),
        iv: iv.to_vec(),
    })
}

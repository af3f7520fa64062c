//! The caller's message id as an idempotency key (issue 12 item 2): a message whose id is in
//! the outbox already is never encrypted or sent again. Checked inside the send job's blocking
//! call, where the outbox entry is written anyway (no extra store round trip), and in the one
//! ordered pipeline, so two sends with one id (also concurrent ones) resolve to one entry: the
//! second finds the first's and answers with its outcome (`send_api.rs`).

use wa_store::{AccountId, Durability, Enqueued, NewOutbound, OutboxEntry, OutboxStatus, Store};

use crate::error::Error;
use wa_protocol::message::{decode_padded, Content, EncVersion};

/// Enqueues a new message; [`Error::AlreadyAccepted`] (nothing written) when its id is in the
/// outbox for the same chat and content (the stored payload's random padding differs, so the
/// messages are compared unpadded), [`Error::IdConflict`] when it names another message.
pub(crate) fn enqueue_new(
    s: &dyn Store,
    id: AccountId,
    outbound: &NewOutbound<'_>,
) -> Result<(), Error> {
    match s.enqueue(&id, outbound, Durability::Buffered) {
        Ok(Enqueued::Inserted) => Ok(()),
        Ok(Enqueued::AlreadyPresent(entry)) => Err(Error::AlreadyAccepted(Box::new(entry))),
        Err(wa_store::Error::OutboxConflict { .. }) => {
            let entry = s
                .outbox_entry(&id, outbound.message_id)?
                .ok_or_else(|| Error::UnknownMessage(outbound.message_id.to_owned()))?;
            same_message(entry, outbound)
        }
        Err(e) => Err(e.into()),
    }
}

/// The content of a stored padded `Message` (`None`: not one).
fn content_of(payload: &[u8]) -> Option<Content> {
    let message = decode_padded(payload, EncVersion::V2).ok()?;
    Content::from_message(&message).ok()
}

/// The stored entry is the same message as `outbound`: [`Error::AlreadyAccepted`]; another
/// one: [`Error::IdConflict`].
pub(crate) fn same_message(entry: OutboxEntry, outbound: &NewOutbound<'_>) -> Result<(), Error> {
    let same = entry.chat == *outbound.chat
        && matches!(
            (content_of(&entry.payload), content_of(outbound.payload)),
            (Some(a), Some(b)) if a == b
        );
    if same {
        Err(Error::AlreadyAccepted(Box::new(entry)))
    } else {
        Err(Error::IdConflict(outbound.message_id.to_owned()))
    }
}

/// An entry accepted by an async send goes out only while it is `Queued` with no attempt;
/// otherwise [`Error::AlreadyAccepted`] with its state (sent meanwhile, nothing written).
pub(crate) fn check_accepted(s: &dyn Store, id: AccountId, message_id: &str) -> Result<(), Error> {
    match s.outbox_entry(&id, message_id)? {
        Some(e) if e.status == OutboxStatus::Queued && e.attempts == 0 => Ok(()),
        Some(e) => Err(Error::AlreadyAccepted(Box::new(e))),
        None => Err(Error::UnknownMessage(message_id.to_owned())),
    }
}

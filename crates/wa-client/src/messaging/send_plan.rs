//! What a 1:1 send encrypts and commits, on a blocking thread (the send job of the
//! persistence pipeline, `send_job.rs`, and the async wrappers of `send.rs`): the stored
//! sessions, the `<message>` built from a fan-out (`messaging.md` §7), the commit of the
//! outbox entry with the advanced sessions (§8).

use wa_protocol::binary::Jid;
use wa_protocol::message::fanout::Fanout;
use wa_protocol::message::Content;
use wa_protocol::signal::{PublicKey, SessionRecord};
use wa_protocol::stanza::{DeviceEnc, Enc, MessageStanza};
use wa_protocol::time::Millis;
use wa_protocol::MessageId;
use wa_store::{
    AccountId, DeviceIdentity, Durability, NewOutbound, OutboxStatus, OutboxUpdate, SendStep,
    SessionUpdate, Store,
};

use super::address::signal_address;
use crate::error::Error;

/// One device to encrypt for: its JID, stored session and identity.
pub(crate) struct Stored {
    pub(crate) jid: Jid,
    pub(crate) record: Option<SessionRecord>,
    pub(crate) identity: Option<PublicKey>,
}

/// What one send encrypts.
pub(crate) struct Plan {
    /// The message id.
    pub(crate) id: MessageId,
    /// The chat (a user JID).
    pub(crate) to: Jid,
    /// What is sent.
    pub(crate) content: Content,
    /// The chat's devices.
    pub(crate) peer_devices: Vec<Jid>,
    /// Our other devices (they get the DeviceSentMessage copy).
    pub(crate) own_devices: Vec<Jid>,
    /// Our device record.
    pub(crate) device: DeviceIdentity,
    /// The contact's privacy token, when a valid one is stored (§16).
    pub(crate) tctoken: Option<Vec<u8>>,
}

/// Whether a commit puts a new message in the outbox or sends one already there again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `enqueue` (idempotent by id), then `commit_send`.
    New,
    /// An entry committed before but never acknowledged: back to `Queued` (a retry), then
    /// `commit_send` with the new ratchet step.
    Again,
    /// An entry accepted by an async send and never attempted (`Queued`, no attempt): straight
    /// to `commit_send`; one attempted meanwhile is not sent again.
    Accepted,
}

/// The stored session and identity of each of `devices` (a session without a current state
/// counts as none), on the calling (blocking) thread.
pub(crate) fn load_blocking(
    s: &dyn Store,
    id: AccountId,
    devices: Vec<Jid>,
) -> Result<Vec<Stored>, Error> {
    devices
        .into_iter()
        .map(|jid| {
            let address = signal_address(&jid);
            let record = s
                .load_session(&id, &address)?
                .map(|b| SessionRecord::from_bytes(&b))
                .transpose()
                .map_err(wa_protocol::Error::from)?
                .filter(SessionRecord::has_current_session);
            let identity = s.identity(&id, &address)?;
            Ok(Stored {
                jid,
                record,
                identity,
            })
        })
        .collect()
}

/// `<message id to type><participants><to jid><enc/></to>…</participants>
/// [<device-identity/>]</message>` (§7).
pub(crate) fn build_stanza(plan: &Plan, fanout: &Fanout) -> MessageStanza {
    let mut stanza = MessageStanza::new(plan.id.clone(), plan.content.stanza_type());
    stanza.to = Some(plan.to.clone());
    stanza.edit = plan.content.edit_attr();
    stanza.participants = fanout
        .encrypted
        .iter()
        .map(|c| {
            let mut enc = Enc::new(c.enc_type, c.ciphertext.clone());
            enc.mediatype = plan.content.media_type().map(str::to_owned);
            enc.decrypt_fail_hide = plan.content.hides_decrypt_failure();
            DeviceEnc {
                jid: c.jid.clone(),
                enc,
            }
        })
        .collect();
    if fanout.needs_device_identity() {
        stanza.device_identity = plan.device.adv_signed_identity.clone();
    }
    stanza.tctoken.clone_from(&plan.tctoken);
    stanza
}

/// A session to save after an encryption: the device's address, the record, the device's
/// identity and whether the session is new (its identity is then trusted on first use).
pub(crate) type SessionSave = (String, Vec<u8>, PublicKey, bool);

/// The sessions `fanout` advanced, to save.
pub(crate) fn session_updates(fanout: &Fanout) -> Vec<SessionSave> {
    fanout
        .encrypted
        .iter()
        .map(|c| {
            (
                signal_address(&c.jid),
                c.record.to_bytes(),
                c.remote_identity,
                c.new_session,
            )
        })
        .collect()
}

/// The outbox side of a commit, before `commit_send` (1:1 and group sends): a new entry is
/// enqueued; one sent before but never acknowledged goes back to `Queued`. The id is the
/// idempotency key (issue 12 item 2): a new message whose id is in the outbox already is not
/// sent again ([`Error::AlreadyAccepted`], nothing written), nor is an accepted entry that
/// was attempted meanwhile.
pub(crate) fn outbox_step(
    s: &dyn Store,
    id: AccountId,
    outbound: &NewOutbound<'_>,
    step: Step,
) -> Result<(), Error> {
    let b = Durability::Buffered;
    match step {
        Step::New => super::idempotent::enqueue_new(s, id, outbound)?,
        Step::Accepted => super::idempotent::check_accepted(s, id, outbound.message_id)?,
        Step::Again => {
            let sent = s
                .outbox_entry(&id, outbound.message_id)?
                .is_some_and(|e| e.status == OutboxStatus::Sent);
            if sent {
                let retry = OutboxUpdate::Retry {
                    at_ms: outbound.now_ms,
                };
                s.update_outbox(&id, outbound.message_id, retry, outbound.now_ms, b)?;
            }
        }
    }
    Ok(())
}

/// One blocking call: the outbox entry (new: idempotent by id; again: back to `Queued`), the
/// peers' identities (trust on first use), then `commit_send` (sessions + `Queued → Sent`).
/// Durability is awaited by the pipeline before the bytes leave.
pub(crate) fn commit_blocking(
    s: &dyn Store,
    id: AccountId,
    message_id: &MessageId,
    chat: &Jid,
    (updates, payload): (Vec<SessionSave>, &[u8]),
    step: Step,
    now: Millis,
) -> Result<(), Error> {
    let b = Durability::Buffered;
    let message_id = message_id.as_str();
    let outbound = NewOutbound {
        message_id,
        chat,
        payload,
        now_ms: now.0,
    };
    outbox_step(s, id, &outbound, step)?;
    for (address, _, identity, new) in &updates {
        if *new {
            s.save_identity(&id, address, identity, b)?;
        }
    }
    let sessions: Vec<SessionUpdate<'_>> = updates
        .iter()
        .map(|(address, record, _, _)| SessionUpdate { address, record })
        .collect();
    let step = SendStep {
        message_id,
        sessions: &sessions,
        sender_key: None,
        now_ms: now.0,
    };
    Ok(s.commit_send(&id, &step, b)?)
}

//! The durable step of a group send (issue 10 item 8): in one blocking call, the outbox entry
//! (the padded `Message`, for a later resend), the identities of new pairwise sessions (trust on
//! first use), then `commit_send` with the advanced sessions and our advanced sender key, so
//! neither a message key nor a sender-key iteration ever reaches the wire twice. A resend of an
//! entry never acknowledged (`resend.rs`) commits the same way with [`Step::Again`]: a new
//! sender-key iteration, the same id.

use std::sync::Arc;

use wa_protocol::binary::Jid;
use wa_protocol::message::fanout::Fanout;
use wa_protocol::time::Millis;
use wa_protocol::MessageId;
use wa_store::{
    AccountId, Durability, NewOutbound, SendStep, SenderKeyUpdate, SessionUpdate, Store,
};

use super::address::signal_address;
use super::send_plan::{outbox_step, Step};
use crate::error::Error;

/// What one group send commits.
pub(crate) struct GroupCommit<'a> {
    /// The message id (the outbox key).
    pub(crate) message_id: &'a MessageId,
    /// The group (the outbox chat).
    pub(crate) group: &'a Jid,
    /// The pairwise SKDM encryptions (their sessions advanced).
    pub(crate) fanout: &'a Fanout,
    /// The padded `Message` (the outbox payload).
    pub(crate) payload: Vec<u8>,
    /// Our sender key after encrypting the `skmsg`.
    pub(crate) sender_key: SenderKeyUpdate<'a>,
    /// A first send (the entry is enqueued) or a resend of an unacknowledged one (`resend.rs`:
    /// the entry goes back to `Queued` first).
    pub(crate) step: Step,
}

/// Commits `c` (Buffered; the account task awaits durability before the bytes leave).
pub(crate) async fn commit_group(
    store: &Arc<dyn Store>,
    account: AccountId,
    c: GroupCommit<'_>,
    now: Millis,
) -> Result<(), Error> {
    let s = Arc::clone(store);
    let message_id = c.message_id.as_str().to_owned();
    let chat = c.group.clone();
    let payload = c.payload;
    let step = c.step;
    let sessions: Vec<(String, Vec<u8>, bool, _)> = c
        .fanout
        .encrypted
        .iter()
        .map(|e| {
            (
                signal_address(&e.jid),
                e.record.to_bytes(),
                e.new_session,
                e.remote_identity,
            )
        })
        .collect();
    let (group, sender, record) = (
        c.sender_key.group.to_owned(),
        c.sender_key.sender.to_owned(),
        c.sender_key.record.to_vec(),
    );
    tokio::task::spawn_blocking(move || -> Result<(), Error> {
        let b = Durability::Buffered;
        let outbound = NewOutbound {
            message_id: &message_id,
            chat: &chat,
            payload: &payload,
            now_ms: now.0,
        };
        outbox_step(s.as_ref(), account, &outbound, step)?;
        for (address, _, new, identity) in &sessions {
            if *new {
                s.save_identity(&account, address, identity, b)?;
            }
        }
        let updates: Vec<SessionUpdate<'_>> = sessions
            .iter()
            .map(|(address, record, _, _)| SessionUpdate { address, record })
            .collect();
        let step = SendStep {
            message_id: &message_id,
            sessions: &updates,
            sender_key: Some(SenderKeyUpdate {
                group: &group,
                sender: &sender,
                record: &record,
            }),
            now_ms: now.0,
        };
        Ok(s.commit_send(&account, &step, b)?)
    })
    .await??;
    Ok(())
}

//! Outbox entries committed but never acknowledged (issue 10 item 8): the connection dropped
//! between the commit and the write, or before the server's ack. After the next login each is
//! encrypted again (a new ratchet step: a message key never goes out twice) and sent with the
//! same id; the receiver deduplicates by id (`messaging.md` §10), so a copy that did arrive the
//! first time is not reported twice.
//!
//! ```text
//! Connected ─▶ unacked(): entries `Sent` (or re-queued) and last changed before this login
//!            ─▶ per 1:1 entry, under the send lock: devices, sessions | bundles, encrypt the
//!               stored padded Message, entry back to Queued + commit_send (durable before the
//!               write)
//!            ─▶ per group entry (`group_send::resend_group`): metadata and devices of now,
//!               SKDM to devices lacking our key, a new sender-key iteration for the `skmsg`,
//!               entry back to Queued + commit_send with the advanced key (durable first)
//!            ─▶ submit; the ack moves the status like any send's
//! ```
//!
//! Once resent, an entry was last changed after this login: it is not picked again before the
//! next one, so each connection resends it at most once.

use std::sync::Arc;

use futures_util::future::join_all;
use wa_protocol::binary::Server;
use wa_protocol::message::Content;
use wa_protocol::time::{Clock, Millis};
use wa_protocol::MessageId;
use wa_store::{AccountId, OutboxEntry, OutboxStatus, Store};

use super::group_retry::content_of;
use super::group_send::resend_group;
use super::send::{own_device, own_jid, submit};
use super::send_plan::{Plan, Step};
use crate::error::Error;
use crate::handle::{AccountHandle, WeakHandle};

/// Starts the resend of what the last connection left unacknowledged (in the background, so
/// the connection goes on); `login` is when this connection logged in.
pub(crate) fn after_login(
    handle: Option<&WeakHandle>,
    store: &Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    login: Millis,
) {
    let Some(handle) = handle.and_then(WeakHandle::upgrade) else {
        return;
    };
    let store = Arc::clone(store);
    // In the session span of the account task that spawns it.
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        let account = *handle.id();
        match resend_unacked(&handle, &store, clock.as_ref(), login).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(account = %account, count = n, "resent unacknowledged messages")
            }
            Err(error) => tracing::warn!(account = %account, %error, "cannot resend the outbox"),
        }
        // Then what async sends accepted and never attempted (issue 12 item 2).
        super::accepted::after_resend(&handle, &store, clock.as_ref()).await;
    }));
}

/// Sends every unacknowledged entry again; how many were accepted by the server.
async fn resend_unacked(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    clock: &dyn Clock,
    login: Millis,
) -> Result<usize, Error> {
    let account = *handle.id();
    let entries = unacked(store, account, login).await?;
    let (groups, users): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.chat.is_group());
    let mut outcomes = Vec::with_capacity(users.len());
    for entry in users {
        let id = entry.message_id.clone();
        match resubmit(handle, store, entry, clock.now()).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => tracing::warn!(account = %account, message = %id, %error, "not resent"),
        }
    }
    let mut accepted = 0;
    for entry in groups {
        let id = entry.message_id.clone();
        let resent = match stored_message(&entry) {
            Ok((message_id, content)) => {
                let what = (message_id, entry.chat, content);
                resend_group(handle, store, clock.now(), what).await
            }
            Err(error) => Err(error),
        };
        match resent {
            Ok(_) => accepted += 1,
            Err(error) => tracing::warn!(account = %account, message = %id, %error, "not resent"),
        }
    }
    let users = join_all(outcomes).await.into_iter().filter(Result::is_ok);
    Ok(accepted + users.count())
}

/// The entries to send again: to a user or a group, committed
/// (`Sent`, or put back to `Queued` after an attempt) and last changed before `login`, so a
/// send of this connection still waiting for its ack is left alone.
async fn unacked(
    store: &Arc<dyn Store>,
    account: AccountId,
    login: Millis,
) -> Result<Vec<OutboxEntry>, Error> {
    let s = Arc::clone(store);
    let entries = tokio::task::spawn_blocking(move || s.outbox_entries(&account)).await??;
    Ok(entries
        .into_iter()
        .filter(|e| {
            matches!(
                e.chat.server(),
                Server::WhatsApp | Server::Lid | Server::Group
            )
        })
        .filter(|e| {
            e.status == OutboxStatus::Sent || (e.status == OutboxStatus::Queued && e.attempts > 0)
        })
        .filter(|e| e.updated_ms < login.0)
        .collect())
}

/// Encrypts one entry again and hands it to the task; the future resolves on the server's
/// verdict.
async fn resubmit(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    entry: OutboxEntry,
    now: Millis,
) -> Result<impl std::future::Future<Output = Result<Option<u64>, Error>>, Error> {
    let (id, content) = stored_message(&entry)?;
    let device = own_device(handle, store).await?;
    let own = own_jid(&device, &entry.chat).ok_or(Error::NotRunning(*handle.id()))?;
    let plan = Plan {
        id,
        to: entry.chat,
        content,
        peer_devices: Vec::new(),
        own_devices: Vec::new(),
        device,
        tctoken: None,
    };
    submit(handle, store, (plan, own), entry.payload, Step::Again, now).await
}

/// The id and content of an outbox entry (its padded `Message`).
fn stored_message(entry: &OutboxEntry) -> Result<(MessageId, Content), Error> {
    let content = content_of(&entry.payload)?;
    // Every stored id was a MessageId when it was committed.
    let id = entry
        .message_id
        .parse()
        .map_err(|_| Error::UnknownMessage(entry.message_id.clone()))?;
    Ok((id, content))
}

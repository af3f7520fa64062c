//! Async sends (issue 12 item 2): a message accepted into the durable outbox before the caller
//! got its answer (`Queued`, no attempt yet) goes out at once when the session is logged in,
//! else after the next login (also after a restart or a crash: the outbox is durable).
//!
//! ```text
//!  Gateway::send_async ─▶ enqueue (durable) ─▶ 202 ─▶ send_accepted now, if logged in
//!  login ─▶ resend.rs (unacknowledged) ─▶ drain(): every Queued entry without an attempt,
//!           DRAIN_CONCURRENCY at a time ─▶ send_accepted
//!  send_accepted ─▶ the send job with Step::Accepted: commit_send only while the entry is
//!                   still Queued with no attempt (checked in the ordered pipeline), so an entry
//!                   sent by the immediate attempt is not sent again by a drain, nor twice by
//!                   two drains
//! ```
//!
//! A permanent failure (no devices, a bad recipient, …) marks the entry `Failed` (its timeline
//! and a `MessageStatus` event say so); a transient one leaves it queued for the next login;
//! a server refusal is recorded by its ack like any send's.

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use wa_protocol::binary::Jid;
use wa_protocol::time::{Clock, Millis};
use wa_protocol::MessageId;
use wa_store::{Durability, MessageStatus, OutboxUpdate, Store};

use super::group_retry::content_of;
use super::group_send::send_accepted_group;
use super::send::{own_device, own_jid, submit};
use super::send_plan::{Plan, Step};
use super::types::SentMessage;
use super::{lid_route, privacy};
use crate::error::Error;
use crate::event::EventKind;
use crate::handle::AccountHandle;

/// How many accepted entries a drain has in flight at once.
const DRAIN_CONCURRENCY: usize = 256;

/// An accepted message: its id, chat and stored padded `Message`.
pub(crate) type Accepted = (MessageId, Jid, Vec<u8>);

/// Sends one accepted entry; resolves on the server's verdict.
pub(crate) async fn send_accepted(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    now: Millis,
    (id, chat, payload): Accepted,
) -> Result<SentMessage, Error> {
    let content = content_of(&payload)?;
    if chat.is_group() {
        return send_accepted_group(handle, store, now, (id, chat, content)).await;
    }
    let device = own_device(handle, store).await?;
    let to = lid_route::chat_for(handle, store, &device, chat, now).await?;
    let own = own_jid(&device, &to).ok_or(Error::NotRunning(*handle.id()))?;
    let plan = Plan {
        id: id.clone(),
        to: to.clone(),
        content,
        peer_devices: Vec::new(),
        own_devices: Vec::new(),
        device,
        tctoken: None,
    };
    let outcome = submit(handle, store, (plan, own), payload, Step::Accepted, now).await?;
    let server_t = outcome.await?;
    privacy::issue_if_due(handle, store, &to, now);
    Ok(SentMessage { id, server_t })
}

/// Sends one accepted entry and settles a permanent failure (see the module doc); whether the
/// server accepted it.
pub(crate) async fn send_and_settle(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    clock: &dyn Clock,
    accepted: Accepted,
) -> bool {
    let id = accepted.0.clone();
    let started = std::time::Instant::now();
    let result = send_accepted(handle, store, clock.now(), accepted).await;
    handle.metrics().send_ended(started, &result);
    let error = match result {
        Ok(_) => return true,
        Err(error) => error,
    };
    let permanent = !error.is_transient()
        && !matches!(
            error,
            Error::AlreadyAccepted(_) | Error::Rejected { .. } | Error::NotRunning(_)
        );
    if !permanent {
        tracing::debug!(account = %handle.id(), message = %id, %error, "accepted message waits");
        return false;
    }
    tracing::warn!(account = %handle.id(), message = %id, %error, "accepted message failed");
    let (s, account, now) = (Arc::clone(store), *handle.id(), clock.now());
    let key = id.as_str().to_owned();
    let failed = tokio::task::spawn_blocking(move || {
        s.update_outbox(
            &account,
            &key,
            OutboxUpdate::Failed,
            now.0,
            Durability::Buffered,
        )
    })
    .await;
    match failed {
        Ok(Ok(_)) => handle.emit(
            now,
            EventKind::MessageStatus {
                id,
                status: MessageStatus::Failed { code: None },
            },
        ),
        Ok(Err(error)) => tracing::warn!(account = %account, %error, "cannot mark it failed"),
        Err(error) => tracing::warn!(account = %account, %error, "cannot mark it failed"),
    }
    false
}

/// Sends every accepted entry not attempted yet (after a login); how many the server
/// accepted.
pub(crate) async fn drain(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    clock: &dyn Clock,
) -> Result<usize, Error> {
    let account = *handle.id();
    let s = Arc::clone(store);
    let due =
        tokio::task::spawn_blocking(move || s.outbox_due(&account, u64::MAX, usize::MAX)).await??;
    let accepted: Vec<Accepted> = due
        .into_iter()
        .filter(|e| e.attempts == 0)
        .filter_map(|e| Some((e.message_id.parse().ok()?, e.chat, e.payload)))
        .collect();
    let sent = stream::iter(accepted)
        .map(|a| send_and_settle(handle, store, clock, a))
        .buffer_unordered(DRAIN_CONCURRENCY)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    Ok(sent)
}

/// After a login's resend: the drain, then the account's status timelines older than the
/// retention are pruned ([`wa_store::STATUS_LOG_RETENTION_MS`]).
pub(crate) async fn after_resend(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    clock: &dyn Clock,
) {
    let account = *handle.id();
    match drain(handle, store, clock).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(account = %account, count = n, "sent accepted messages"),
        Err(error) => tracing::warn!(account = %account, %error, "cannot drain accepted messages"),
    }
    let before = clock
        .now()
        .0
        .saturating_sub(wa_store::STATUS_LOG_RETENTION_MS);
    let s = Arc::clone(store);
    let pruned = tokio::task::spawn_blocking(move || {
        s.prune_status_log(&account, before, Durability::Buffered)
    })
    .await;
    match pruned {
        Ok(Ok(n)) if n > 0 => tracing::debug!(account = %account, count = n, "pruned timelines"),
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::warn!(account = %account, %error, "cannot prune timelines"),
        Err(error) => tracing::warn!(account = %account, %error, "cannot prune timelines"),
    }
}

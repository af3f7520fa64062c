//! The facade's delivery calls (issue 12 items 2 and 3): a send that waits for its session
//! within a bound, an async send accepted into the durable outbox, and a message's status
//! timeline. The waiting itself is `recover.rs`; the async sending `messaging/accepted.rs`;
//! the idempotency by id `messaging/idempotent.rs`.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::OsRng;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::{encode_padded, Content};
use wa_protocol::MessageId;
use wa_store::{AccountId, Durability, Enqueued, NewOutbound, StatusTimeline, Store};

use crate::error::Error;
use crate::gateway::Gateway;
use crate::messaging::accepted::{send_and_settle, Accepted};
use crate::messaging::idempotent::same_message;
use crate::messaging::types::{SendOptions, SentMessage};
use crate::recover::Bound;

impl Gateway {
    /// [`Gateway::send`] that recovers (issue 12 item 2): on a session whose socket is down
    /// it waits (reconnecting it at once, or starting a stopped one that is linked and has
    /// autostart) until the session is logged in, then sends, all within `bound`. Failures:
    /// [`Error::SessionDown`] (nothing was sent), [`Error::NotConfirmed`] (the message is in
    /// the outbox and goes out, once, when the session is back), [`Error::NotRunning`] (not
    /// linked, or stopped by the user), and the send's own errors. The id (`options.id` or a
    /// new one, fixed before the first attempt) is an idempotency key: a message whose id was
    /// accepted before is not sent again; the call answers with that message's outcome (its
    /// id and server timestamp, or its refusal), waiting for it within `bound` if it is on
    /// its way.
    pub async fn send_within(
        &self,
        id: &AccountId,
        to: Jid,
        content: Content,
        options: SendOptions,
        bound: Duration,
    ) -> Result<SentMessage, Error> {
        let bound = Bound::new(bound);
        let handle = self.ready(id, bound).await?;
        let message = match options.id {
            Some(m) => m,
            None => new_id(&handle.status().jid, self.now()),
        };
        let options = SendOptions {
            id: Some(message.clone()),
        };
        loop {
            let send = self.send(id, to.clone(), content.clone(), options.clone());
            let error = match tokio::time::timeout_at(bound.deadline, send).await {
                Ok(Ok(sent)) => return Ok(sent),
                Ok(Err(error)) => error,
                // The attempt may still commit: what the outbox says decides.
                Err(_) => return self.await_outcome(id, &message, bound).await,
            };
            match error {
                Error::AlreadyAccepted(_) | Error::Unconfirmed(_) => {
                    return self.await_outcome(id, &message, bound).await
                }
                // Not committed, or committed and never written (then the next attempt finds
                // it in the outbox): once the session is back, again.
                Error::NotRunning(_)
                | Error::NotLoggedIn(_)
                | Error::Closed
                | Error::Timeout(_) => {
                    self.again(id, bound, error).await?;
                }
                other => return Err(other),
            }
        }
    }

    /// Before another attempt after `error`: waits for the session to be logged in again.
    /// A session that is logged in did not cause it: a session refusal is returned as it is,
    /// a drop or timeout is retried after a recheck period (no busy loop).
    async fn again(&self, id: &AccountId, bound: Bound, error: Error) -> Result<(), Error> {
        let up = self.handle(id).is_some_and(|h| h.status().logged_in);
        match error {
            Error::NotRunning(_) | Error::NotLoggedIn(_) if up => return Err(error),
            _ if up => bound.pause().await,
            _ => {}
        }
        self.ready(id, bound).await.map(drop)
    }

    /// Accepts `content` for `to` into the durable outbox and returns its id at once (issue 12
    /// item 2, `?async=true`): durable before this returns; sent now if the session is logged
    /// in, else after its next login (also after a restart or crash); the outcome arrives as
    /// [`crate::EventKind::MessageStatus`] events. The id (`options.id` or a new one) is an
    /// idempotency key: an id accepted before for the same chat and content is answered
    /// with that id and nothing new is queued; for another message, [`Error::IdConflict`].
    /// A stopped session that is linked and has autostart is started.
    pub async fn send_async(
        &self,
        id: &AccountId,
        to: Jid,
        content: Content,
        options: SendOptions,
    ) -> Result<MessageId, Error> {
        let user = matches!(to.server(), Server::WhatsApp | Server::Lid)
            && to.device_id() == 0
            && !to.user_part().is_empty();
        if !user && !to.is_group() {
            return Err(Error::BadRecipient(to));
        }
        let account = self.account(id).await?;
        let key = *id;
        let store = Arc::clone(self.store());
        let device = tokio::task::spawn_blocking(move || store.device(&key)).await??;
        let own = device.and_then(|d| d.jid).ok_or(Error::NotLoggedIn(*id))?;
        let now = self.now();
        let message = options.id.unwrap_or_else(|| new_id(&Some(own), now));
        let padded = encode_padded(&content.to_message(), &mut rand::thread_rng());
        let what = (message.clone(), to, padded);
        if !self.accept(id, &what, now.0).await? {
            return Ok(message);
        }
        match self.handle(id) {
            Some(handle) if handle.status().logged_in => {
                let (store, clock) = (Arc::clone(self.store()), Arc::clone(&self.config.clock));
                tokio::spawn(async move {
                    send_and_settle(&handle, &store, clock.as_ref(), what).await;
                });
            }
            // Its login drains the outbox.
            Some(_) => {}
            None if account.autostart => {
                self.connect(id).await?;
            }
            None => {}
        }
        Ok(message)
    }

    /// Enqueues an accepted message durably; whether it is new (`false`: the same message
    /// was accepted before).
    async fn accept(&self, id: &AccountId, what: &Accepted, now_ms: u64) -> Result<bool, Error> {
        let (key, store) = (*id, Arc::clone(self.store()));
        let (message, chat, payload) = (what.0.as_str().to_owned(), what.1.clone(), what.2.clone());
        tokio::task::spawn_blocking(move || {
            let outbound = NewOutbound {
                message_id: &message,
                chat: &chat,
                payload: &payload,
                now_ms,
            };
            enqueue_durable(store.as_ref(), key, &outbound)
        })
        .await?
    }

    /// The durable status of an outbound message and its timeline (issue 12 item 3):
    /// [`Error::UnknownMessage`] for an id never accepted, or pruned.
    pub async fn message_timeline(
        &self,
        id: &AccountId,
        message: &str,
    ) -> Result<StatusTimeline, Error> {
        let (key, m) = (*id, message.to_owned());
        let store = Arc::clone(self.store());
        tokio::task::spawn_blocking(move || store.status_timeline(&key, &m))
            .await??
            .ok_or_else(|| Error::UnknownMessage(message.to_owned()))
    }
}

fn enqueue_durable(
    s: &dyn Store,
    id: AccountId,
    outbound: &NewOutbound<'_>,
) -> Result<bool, Error> {
    match s.enqueue(&id, outbound, Durability::Durable) {
        Ok(Enqueued::Inserted) => Ok(true),
        Ok(Enqueued::AlreadyPresent(_)) => Ok(false),
        Err(wa_store::Error::OutboxConflict { .. }) => {
            let entry = s
                .outbox_entry(&id, outbound.message_id)?
                .ok_or_else(|| Error::UnknownMessage(outbound.message_id.to_owned()))?;
            match same_message(entry, outbound) {
                Err(Error::AlreadyAccepted(_)) => Ok(false),
                Err(other) => Err(other),
                Ok(()) => Ok(false),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// A new id in WhatsApp's format (`messaging.md` §3) for a message of the account `own`.
fn new_id(own: &Option<Jid>, now: wa_protocol::time::Millis) -> MessageId {
    let user = own.as_ref().map(Jid::user_part);
    MessageId::generate(now.unix_secs(), user, &mut OsRng)
}

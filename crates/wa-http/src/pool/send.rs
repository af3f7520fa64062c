//! Sending through a pool (issue 12 item 4): the message id is fixed before the first attempt;
//! each attempt goes to the healthy member with the fewest sends in flight (round robin among
//! equals, [`PoolHealth::pick`]); a failure moves on to another healthy member only when the
//! message cannot go out from the member that failed.
//!
//! The rule that keeps a message from going out twice: another member is tried only when the
//! failed member holds no live copy of it. A member holds a copy once the message is committed
//! to its outbox (`wa-store`), which happens before any byte leaves; a committed message whose
//! ack did not come (`Unconfirmed`, or the socket closing under it) is sent again, same id, by
//! that member after its next login, so no other member may send it: the send ends with that
//! member's error (the message still arrives when the member is back). A copy the server
//! refused (`Failed`) is never resent, so a refusal for a transient reason (code ≥ 500) may go
//! on. So: another member is tried when the error is the member being down (no session, not
//! logged in), transient ([`wa_client::Error::is_transient`]) or a server refusal with a code
//! ≥ 500, AND the member's outbox holds no entry for the id, or only a `Failed` one. A caller's
//! `Id` that a member already holds pins the send to that member (a retried request is never
//! sent by a second member).

use std::time::{SystemTime, UNIX_EPOCH};

use wa_client::{Error as ClientError, SendOptions, SentMessage};
use wa_protocol::binary::Jid;
use wa_protocol::message::Content;
use wa_protocol::MessageId;
use wa_store::{AccountId, OutboxStatus, Pool};

use super::health::{Outcome, PoolHealth};
use crate::error::ApiError;
use crate::state::AppState;

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whether `member` can take a send now: an active account whose socket is up and logged in.
pub(crate) async fn healthy(state: &AppState, member: &AccountId) -> bool {
    let Ok(account) = state.gateway.account(member).await else {
        return false;
    };
    if !account.active {
        return false;
    }
    state
        .gateway
        .status(member)
        .await
        .is_ok_and(|s| s.connected && s.logged_in)
}

/// Whether the error allows another member to be tried (the member's outbox decides the rest).
fn may_move_on(e: &ClientError) -> bool {
    matches!(e, ClientError::NotRunning(_) | ClientError::NotLoggedIn(_))
        || e.is_transient()
        || matches!(e, ClientError::Rejected { code, .. } if *code >= 500)
}

/// Whether `member` holds a live (not refused) copy of message `id`.
fn holds(state: &AppState, member: &AccountId, id: &MessageId) -> Result<bool, ApiError> {
    let entry = state.gateway.store().outbox_entry(member, id.as_str())?;
    Ok(entry.is_some_and(|e| e.status != OutboxStatus::Failed))
}

/// Sends `content` to `to` through `pool`; the member that sent it and its verdict.
pub(crate) async fn send(
    state: &AppState,
    pool: &Pool,
    to: Jid,
    content: Content,
    id: Option<MessageId>,
) -> Result<(AccountId, SentMessage), ApiError> {
    let mut members = pool.members.clone();
    let id = match id {
        Some(id) => {
            // A retried request: the member holding the id sends it, or nobody else does.
            for m in &pool.members {
                if holds(state, m, &id)? {
                    members = vec![*m];
                    break;
                }
            }
            id
        }
        None => MessageId::generate(now_ms() / 1000, None, &mut rand::rngs::OsRng),
    };
    let health: &PoolHealth = &state.pool_health;
    let mut last: Option<ClientError> = None;
    let mut tried: Vec<AccountId> = Vec::new();
    loop {
        let mut candidates = Vec::new();
        for m in members.iter().filter(|m| !tried.contains(m)) {
            if healthy(state, m).await {
                candidates.push(*m);
            }
        }
        let Some(member) = health.pick(&pool.name, &candidates) else {
            return Err(match last {
                Some(e) => ApiError::Send(e),
                None => ApiError::PoolUnavailable(pool.name.clone()),
            });
        };
        tried.push(member);
        let options = SendOptions {
            id: Some(id.clone()),
        };
        let result = state
            .gateway
            .send(&member, to.clone(), content.clone(), options)
            .await;
        let error = match result {
            Ok(sent) => {
                health.finish(&member, Outcome::Sent, None, now_ms());
                return Ok((member, sent));
            }
            Err(e) => e,
        };
        let text = error.to_string();
        let go_on = may_move_on(&error) && !holds(state, &member, &id)?;
        let outcome = if go_on {
            Outcome::FailedOver
        } else {
            Outcome::Failed
        };
        health.finish(&member, outcome, Some(text), now_ms());
        tracing::info!(pool = %pool.name, member = %member, message = %id.as_str(), %error,
            moving_on = go_on, "a pool member failed a send");
        if !go_on {
            return Err(ApiError::Send(error));
        }
        last = Some(error);
    }
}

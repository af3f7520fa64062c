//! How a wuzapi send is delivered (issue 12 item 2): at once, waiting up to the send bound
//! (`--send-timeout`) for a session whose socket is down, or asynchronously (`?async=true`,
//! or `"Async": true` in the body): accepted into the durable outbox, answered `202` with its
//! id, the outcome arriving as `MessageStatus` webhooks (and at `GET /chat/status/{id}`).
//! Either way the caller's `Id` is an idempotency key: a retried request never sends twice.

use std::collections::HashMap;

use axum::http::StatusCode;
use wa_client::{SendOptions, SentMessage};
use wa_store::Account;

use super::chat_dto::{now_millis, SendPlan, SentData};
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::state::AppState;

/// Whether the send is asynchronous: `?async=true|false` (also `1`/`0`), or the body's
/// `Async` flag.
pub(crate) fn is_async(query: &HashMap<String, String>, body_flag: bool) -> Result<bool, ApiError> {
    let from_query = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("async"))
        .map(|(_, v)| v.trim());
    match from_query {
        None | Some("") => Ok(body_flag),
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(body_flag),
        Some(_) => Err(ApiError::bad_request(
            "invalid async parameter, must be true or false",
        )),
    }
}

/// Sends `plan` from `account`, waiting up to the send bound for the session; the server's
/// verdict (or the first outcome of a message with the same `Id`).
pub(crate) async fn deliver_within(
    state: &AppState,
    account: &Account,
    plan: SendPlan,
) -> Result<SentMessage, ApiError> {
    let options = SendOptions { id: plan.id };
    let bound = state.config.send_timeout;
    state
        .gateway
        .send_within(&account.id, plan.to, plan.content, options, bound)
        .await
        .map_err(ApiError::Send)
}

/// Sends `plan` as asked: `200 {"Details":"Sent","Id","Timestamp"}` once the server
/// acknowledged it, or `202 {"Details":"Queued","Id","Timestamp"}` once it is durably queued
/// (`Timestamp`: when it was accepted).
pub(crate) async fn send_as_asked(
    state: &AppState,
    account: &Account,
    plan: SendPlan,
    asynchronous: bool,
) -> Result<Envelope<SentData>, ApiError> {
    if !asynchronous {
        let sent = deliver_within(state, account, plan).await?;
        return Ok(Envelope::ok(SentData {
            details: "Sent",
            id: sent.id.as_str().to_owned(),
            timestamp: sent.server_t.unwrap_or_else(|| now_millis().unix_secs()),
        }));
    }
    let options = SendOptions { id: plan.id };
    let id = state
        .gateway
        .send_async(&account.id, plan.to, plan.content, options)
        .await
        .map_err(ApiError::Send)?;
    Ok(Envelope::with_status(
        StatusCode::ACCEPTED,
        SentData {
            details: "Queued",
            id: id.as_str().to_owned(),
            timestamp: now_millis().unix_secs(),
        },
    ))
}

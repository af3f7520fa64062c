//! Chat sends and actions (CONTRACTS §A.4, §A.5): thin handlers over [`wa_client::Gateway`]
//! (`send`, `mark_read`, `send_chat_state`). Bodies are validated in `chat_dto`; a send answers
//! `{"Details":"Sent","Id","Timestamp"}` only once the server acknowledged it (the timestamp is
//! the ack's), and a server rejection is an error naming WhatsApp's code, never "Sent"
//! (CONTRACTS §B.14, a wuzapi defect fixed here). Media sends are `chat_media.rs`; the
//! downloads are `chat_download.rs`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::routing::post;
use axum::Router;
use utoipa::OpenApi;
use wa_client::SentMessage;
use wa_store::Account;

use super::chat_dto::{
    now_millis, ChatPresenceBody, ContextInfoBody, DetailsData, MarkReadBody, ReactBody,
    SendContactBody, SendLocationBody, SendPlan, SendTextBody, SentData, TargetBody,
};
use super::send_mode::{deliver_within, is_async, send_as_asked};
use crate::auth::User;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::json::GoJson;
use crate::pool::sender::{send_through_pool, Sender};
use crate::state::AppState;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/chat/send/text", post(send_text))
        .route("/chat/send/location", post(send_location))
        .route("/chat/send/contact", post(send_contact))
        .route("/chat/send/edit", post(send_edit))
        .route("/chat/delete", post(delete))
        .route("/chat/react", post(react))
        .route("/chat/markread", post(mark_read))
        .route("/chat/presence", post(chat_presence))
}

/// Sends `plan` from `account` (waiting up to the send bound for a session that is down,
/// `send_mode.rs`); the server's verdict.
async fn deliver(
    state: &AppState,
    account: &Account,
    plan: SendPlan,
) -> Result<SentMessage, ApiError> {
    deliver_within(state, account, plan).await
}

/// The answer to an acknowledged send (`Id` as given; the ack's timestamp, else now).
fn answer(details: &'static str, id: String, sent: &SentMessage) -> Envelope<SentData> {
    Envelope::ok(SentData {
        details,
        id,
        timestamp: sent.server_t.unwrap_or_else(|| now_millis().unix_secs()),
    })
}

/// Sends `plan` for `sender`: a session as asked (at once within the send bound, or queued
/// with `async`, `send_mode.rs`); a pool's token through a healthy member (`pool/send.rs`).
pub(crate) async fn send_plan(
    state: &AppState,
    sender: Sender,
    plan: SendPlan,
    asynchronous: bool,
) -> Result<Envelope<SentData>, ApiError> {
    match sender {
        Sender::Session(account) => send_as_asked(state, &account, plan, asynchronous).await,
        Sender::Pool(_) if asynchronous => Err(ApiError::bad_request(
            "async sends are not supported through a pool",
        )),
        Sender::Pool(pool) => {
            let sent = send_through_pool(state, &pool, plan.to, plan.content, plan.id).await?;
            Ok(answer("Sent", sent.id.as_str().to_owned(), &sent))
        }
    }
}

/// `POST /chat/send/text`.
#[utoipa::path(post, path = "/chat/send/text", tag = "chat", request_body = SendTextBody,
    params(("async" = Option<bool>, Query, description = "Queue durably and answer 202 at once (issue 12)")),
    responses(
        (status = 200, description = "Acknowledged by the server (envelope `data`)", body = SentData),
        (status = 202, description = "`?async=true` or `Async`: durably queued, `{\"Details\":\"Queued\",\"Id\",\"Timestamp\"}`; the outcome arrives as `MessageStatus` webhooks and at `/chat/status/{id}`", body = SentData),
        (status = 409, description = "`Id` already used for another message, or a message with this `Id` failed before"),
        (status = 404, description = "The admin token with no user token and no default session set (`no default session`; our extension, seed 003)"),
        (status = 503, description = "the session did not come back within the send bound (`--send-timeout`): nothing sent, or queued and sent once it is back; retry with the same `Id`"),
        (status = 400, description = "`missing Phone in Payload`, `missing Body in Payload`, `could not parse Phone`, `missing Participant in ContextInfo`, `missing StanzaID in ContextInfo`"),
        (status = 401, description = "Unknown token"),
        (status = 500, description = "`no session`; `error sending message: server returned error <code>`")))]
async fn send_text(
    State(state): State<AppState>,
    sender: Sender,
    Query(query): Query<HashMap<String, String>>,
    GoJson(body): GoJson<SendTextBody>,
) -> Result<Envelope<SentData>, ApiError> {
    let asynchronous = is_async(&query, body.is_async)?;
    send_plan(&state, sender, body.plan()?, asynchronous).await
}

/// `POST /chat/send/location`.
#[utoipa::path(post, path = "/chat/send/location", tag = "chat", request_body = SendLocationBody,
    params(("async" = Option<bool>, Query, description = "Queue durably and answer 202 at once (issue 12)")),
    responses(
        (status = 200, description = "Acknowledged by the server", body = SentData),
        (status = 202, description = "`?async=true` or `Async`: durably queued, `{\"Details\":\"Queued\",\"Id\",\"Timestamp\"}`; the outcome arrives as `MessageStatus` webhooks and at `/chat/status/{id}`", body = SentData),
        (status = 409, description = "`Id` already used for another message, or a message with this `Id` failed before"),
        (status = 404, description = "The admin token with no user token and no default session set (`no default session`; our extension, seed 003)"),
        (status = 503, description = "the session did not come back within the send bound (`--send-timeout`): nothing sent, or queued and sent once it is back; retry with the same `Id`"),
        (status = 400, description = "`missing Latitude in Payload`, `missing Longitude in Payload`, `could not parse Phone`"),
        (status = 500, description = "`no session`; the server refused the send")))]
async fn send_location(
    State(state): State<AppState>,
    sender: Sender,
    Query(query): Query<HashMap<String, String>>,
    GoJson(body): GoJson<SendLocationBody>,
) -> Result<Envelope<SentData>, ApiError> {
    let asynchronous = is_async(&query, body.is_async)?;
    send_plan(&state, sender, body.plan()?, asynchronous).await
}

/// `POST /chat/send/contact`.
#[utoipa::path(post, path = "/chat/send/contact", tag = "chat", request_body = SendContactBody,
    params(("async" = Option<bool>, Query, description = "Queue durably and answer 202 at once (issue 12)")),
    responses(
        (status = 200, description = "Acknowledged by the server", body = SentData),
        (status = 202, description = "`?async=true` or `Async`: durably queued, `{\"Details\":\"Queued\",\"Id\",\"Timestamp\"}`; the outcome arrives as `MessageStatus` webhooks and at `/chat/status/{id}`", body = SentData),
        (status = 409, description = "`Id` already used for another message, or a message with this `Id` failed before"),
        (status = 404, description = "The admin token with no user token and no default session set (`no default session`; our extension, seed 003)"),
        (status = 503, description = "the session did not come back within the send bound (`--send-timeout`): nothing sent, or queued and sent once it is back; retry with the same `Id`"),
        (status = 400, description = "`missing Name in Payload`, `missing Vcard in Payload`, `could not parse Phone`"),
        (status = 500, description = "`no session`; the server refused the send")))]
async fn send_contact(
    State(state): State<AppState>,
    sender: Sender,
    Query(query): Query<HashMap<String, String>>,
    GoJson(body): GoJson<SendContactBody>,
) -> Result<Envelope<SentData>, ApiError> {
    let asynchronous = is_async(&query, body.is_async)?;
    send_plan(&state, sender, body.plan()?, asynchronous).await
}

/// `POST /chat/send/edit`: a new text for our message `Id` (the answer's `Id`).
#[utoipa::path(post, path = "/chat/send/edit", tag = "chat", request_body = TargetBody,
    responses(
        (status = 200, description = "Acknowledged by the server; `Id` is the edited message", body = SentData),
        (status = 400, description = "`missing Id in Payload`, `missing Body in Payload`"),
        (status = 500, description = "`no session`; the server refused the edit")))]
async fn send_edit(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<TargetBody>,
) -> Result<Envelope<SentData>, ApiError> {
    let sent = deliver(&state, &account, body.edit()?).await?;
    Ok(answer("Sent", body.id, &sent))
}

/// `POST /chat/delete`: revokes our message `Id` for everyone.
#[utoipa::path(post, path = "/chat/delete", tag = "chat", request_body = TargetBody,
    responses(
        (status = 200, description = "`{\"Details\":\"Deleted\",\"Id\",\"Timestamp\"}`", body = SentData),
        (status = 400, description = "`missing Phone in Payload`, `missing Id in Payload`"),
        (status = 500, description = "`no session`; the server refused the revoke")))]
async fn delete(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<TargetBody>,
) -> Result<Envelope<SentData>, ApiError> {
    let sent = deliver(&state, &account, body.revoke()?).await?;
    Ok(answer("Deleted", body.id, &sent))
}

/// `POST /chat/react`: `Body` the emoji (`remove` removes ours), `Id` the message (`me:` for
/// one of ours); the answer's `Id` is the target without the prefix.
#[utoipa::path(post, path = "/chat/react", tag = "chat", request_body = ReactBody,
    responses(
        (status = 200, description = "Acknowledged by the server", body = SentData),
        (status = 400, description = "`missing Phone in Payload`, `could not parse Group JID` (sic), `missing Body in Payload`, `missing Id in Payload`"),
        (status = 500, description = "`no session`; the server refused the reaction")))]
async fn react(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<ReactBody>,
) -> Result<Envelope<SentData>, ApiError> {
    let (plan, target) = body.plan()?;
    let sent = deliver(&state, &account, plan).await?;
    Ok(answer("Sent", target.as_str().to_owned(), &sent))
}

/// `POST /chat/markread`.
#[utoipa::path(post, path = "/chat/markread", tag = "chat", request_body = MarkReadBody,
    responses(
        (status = 200, description = "`{\"Details\":\"Message(s) marked as read\"}`", body = DetailsData),
        (status = 400, description = "`missing Id in Payload`, `missing ChatPhone in Payload`"),
        (status = 500, description = "`no session`")))]
async fn mark_read(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<MarkReadBody>,
) -> Result<Envelope<DetailsData>, ApiError> {
    let (chat, sender, ids) = body.plan()?;
    state
        .gateway
        .mark_read(&account.id, chat, sender, &ids)
        .await?;
    Ok(Envelope::ok(DetailsData {
        details: "Message(s) marked as read",
    }))
}

/// `POST /chat/presence`: typing (`composing`), recording (`composing` + `Media: audio`) or
/// `paused` in a chat.
#[utoipa::path(post, path = "/chat/presence", tag = "chat", request_body = ChatPresenceBody,
    responses(
        (status = 200, description = "`{\"Details\":\"Chat presence set successfuly\"}` (sic)", body = DetailsData),
        (status = 400, description = "`missing Phone in Payload`, `missing State in Payload`, an unknown State or Media"),
        (status = 500, description = "`no session`")))]
async fn chat_presence(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<ChatPresenceBody>,
) -> Result<Envelope<DetailsData>, ApiError> {
    let (to, kind) = body.plan()?;
    state.gateway.send_chat_state(&account.id, to, kind).await?;
    Ok(Envelope::ok(DetailsData {
        details: "Chat presence set successfuly",
    }))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        send_text,
        send_location,
        send_contact,
        send_edit,
        delete,
        react,
        mark_read,
        chat_presence,
    ),
    components(schemas(
        SendTextBody,
        ContextInfoBody,
        SendLocationBody,
        SendContactBody,
        TargetBody,
        ReactBody,
        MarkReadBody,
        ChatPresenceBody,
        SentData,
        DetailsData
    ))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

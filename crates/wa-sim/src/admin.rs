//! The admin HTTP API, on the same port as the WebSocket (`WA-SIM.md`): what tests, the demo and
//! people use to play the phone's part.
//!
//! | route | does |
//! |---|---|
//! | `POST /admin/accounts` `{"phone"}` | creates an account with a simulated primary phone |
//! | `GET /admin/accounts` | every account |
//! | `GET /admin/accounts/{phone}` | the account: LID, linked devices, prekeys on the server, switches |
//! | `PUT /admin/accounts/{phone}` `{"lid_migrated", "require_privacy_tokens"}` (each optional) | realism switches (`lid_migrated`: the phone addresses its sends by LID, companions linked from then on get `isChatDbLidMigrated` in pair-success `<client-props>`; `require_privacy_tokens`: companions' DMs to it need the token its phone granted, else 463) |
//! | `POST /admin/phones/{phone}/scan` (body: the QR text) | the phone scans a QR code |
//! | `POST /admin/phones/{phone}/pair-code` `{"code": "XXXX-XXXX"}` | the phone types a pair code |
//! | `DELETE /admin/phones/{phone}/devices/{device}` | the phone unlinks a companion |
//! | `PUT /admin/phones/{phone}/faults` `{"drop_pings", "refuse_login", "drop_messages", "drop_group_notifications", "nack_messages"}` | fault switches |
//! | `GET /admin/phones/{phone}/messages` | what the phone received and decrypted, oldest first: `[{"id", "from", "chat", "kind", "text", "t", "forwarded"}]` (`forwarded`: a forwarded text's `forwardingScore`, else `null`; `kind` `history_sync_request` for the peer message below); media (kind `image`, `video`, `audio`, `ptt`, `document`, `sticker`; the caption as `text`) adds `"mimetype"`, `"file_length"`, a document's `"file_name"` and, once the phone downloaded, verified and decrypted it, `"sha256"` (hex, of the decrypted bytes) or `"media_error"` |
//! | `GET /admin/phones/{phone}/history-requests` | the on-demand history sync requests the account's companions sent the phone (peer messages), oldest first: `[{"id", "device", "chat", "oldest_msg_id", "oldest_msg_from_me", "oldest_msg_timestamp", "count", "t"}]` ([`HistoryRequestReceived`](crate::HistoryRequestReceived)); the sim sends no history back |
//! | `POST /admin/phones/{phone}/send` `{"to": "<phone or JID>", "text"}` → `{"id"}` | the phone sends an end-to-end encrypted text; instead of `text` (or with it: `reply_to`, `mentions`) one of `"reaction": {"id", "emoji"}`, `"edit": {"id", "text"}`, `"revoke": "<id>"`, `"location": {"lat", "lng", "name"}`, `"contact": {"name", "vcard"}`, `"media": {"kind", "mimetype", "data_base64", "caption", "file_name", "seconds"}` sends that kind ([`PhoneSend`]; media is encrypted with a fresh key and stored in the sim's media server, `phone_media`) |
//! | `POST /admin/phones/{phone}/read` `{"chat", "ids"}` | the phone sends read receipts (in a group, one per author, as `participant`) |
//! | `GET /admin/counters` | stanza counters |
//!
//! The group routes (`POST /admin/phones/{phone}/groups`, participant changes, `GET
//! /admin/groups/{jid}`) are in `admin_groups`.
//!
//! Errors are `{"error": "…"}` with a status from [`SimError::fault`]: 400 for a malformed
//! request (body that is not the expected JSON, a phone number that breaks
//! [`PhoneNumber`]'s rule, a device number out of 1–255, a bad QR or pair code), 404 when it
//! names what does not exist (unknown phone, device, QR or pair-code request).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde_json::json;
use wa_protocol::PhoneNumber;

use crate::error::{SimError, SimFault};
use crate::phone_kinds::PhoneSend;
use crate::state::Shared;
use crate::world::{Faults, SwitchesUpdate};
use crate::{phone, phone_send};

/// The largest body of `POST /admin/phones/{phone}/send`: a media send carries its file in
/// base64 (the media store's own limit, [`MediaConfig::max_file_bytes`](crate::MediaConfig),
/// then applies to the encrypted file). Other routes keep axum's default (2 MB).
const MAX_SEND_BODY: usize = 512 << 20;

/// The admin routes, over the shared state.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/admin/accounts", post(create_account).get(list_accounts))
        .route(
            "/admin/accounts/{phone}",
            get(get_account).put(update_account),
        )
        .route("/admin/phones/{phone}/scan", post(scan_qr))
        .route("/admin/phones/{phone}/pair-code", post(pair_code))
        .route("/admin/phones/{phone}/devices/{device}", delete(unlink))
        .route("/admin/phones/{phone}/faults", put(set_faults))
        .route(
            "/admin/phones/{phone}/send",
            post(send).layer(DefaultBodyLimit::max(MAX_SEND_BODY)),
        )
        .route("/admin/phones/{phone}/messages", get(messages))
        .route("/admin/phones/{phone}/read", post(read))
        .route(
            "/admin/phones/{phone}/history-requests",
            get(history_requests),
        )
        .route("/admin/counters", get(counters))
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = match self.fault() {
            SimFault::BadRequest => StatusCode::BAD_REQUEST,
            SimFault::NotFound => StatusCode::NOT_FOUND,
            SimFault::Forbidden => StatusCode::FORBIDDEN,
            SimFault::Unauthorized => StatusCode::UNAUTHORIZED,
            SimFault::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            SimFault::Gone => StatusCode::GONE,
            SimFault::Server | SimFault::Client => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

pub(crate) fn phone_number(text: &str) -> Result<PhoneNumber, SimError> {
    Ok(text.parse()?)
}

fn device_number(text: &str) -> Result<u8, SimError> {
    match text.parse::<u8>() {
        Ok(device) if device > 0 => Ok(device),
        _ => Err(SimError::BadDevice(text.chars().take(20).collect())),
    }
}

pub(crate) fn body<T>(json: Result<Json<T>, JsonRejection>) -> Result<T, SimError> {
    json.map(|Json(t)| t).map_err(SimError::BadBody)
}

#[derive(serde::Deserialize)]
struct NewAccount {
    phone: String,
}

async fn create_account(
    State(shared): State<Arc<Shared>>,
    json: Result<Json<NewAccount>, JsonRejection>,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&body(json)?.phone)?;
    let mut rng = shared.fork_rng();
    let info = shared.with_world(|w| w.create_account(&phone, &mut rng, shared.now()));
    Ok((StatusCode::CREATED, Json(info)))
}

async fn list_accounts(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    Json(shared.with_world(|w| w.infos()))
}

async fn get_account(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&phone)?;
    shared
        .with_world(|w| w.info(&phone))
        .map(Json)
        .ok_or(SimError::NoAccount(phone))
}

async fn update_account(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    json: Result<Json<SwitchesUpdate>, JsonRejection>,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&phone)?;
    let update = body(json)?;
    let info = shared.with_world(|w| w.update_switches(&phone, update))?;
    Ok(Json(info))
}

async fn scan_qr(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    qr: String,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&phone)?;
    let jid = phone::scan(&shared, &phone, qr.trim())?;
    Ok(Json(json!({ "jid": jid.to_string() })))
}

#[derive(serde::Deserialize)]
struct CodeBody {
    code: String,
}

async fn pair_code(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    json: Result<Json<CodeBody>, JsonRejection>,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&phone)?;
    phone::enter_pair_code(&shared, &phone, &body(json)?.code)?;
    Ok(StatusCode::ACCEPTED)
}

async fn unlink(
    State(shared): State<Arc<Shared>>,
    Path((phone, device)): Path<(String, String)>,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&phone)?;
    let device = device_number(&device)?;
    phone::remove_device(&shared, &phone, device)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_faults(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    json: Result<Json<Faults>, JsonRejection>,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&phone)?;
    let faults = body(json)?;
    shared.with_world(|w| w.set_faults(&phone, faults))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn counters(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    Json(shared.counters())
}

async fn send(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    json: Result<Json<PhoneSend>, JsonRejection>,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&phone)?;
    let id = phone_send::send(&shared, &phone, &body(json)?)?;
    Ok(Json(json!({ "id": id.as_str() })))
}

async fn messages(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&phone)?;
    let inbox = shared.with_world(|w| w.account(&phone).map(|a| a.phone_state.inbox.clone()))?;
    Ok(Json(inbox))
}

async fn history_requests(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&phone)?;
    let requests = shared.with_world(|w| {
        w.account(&phone)
            .map(|a| a.phone_state.history_requests.clone())
    })?;
    Ok(Json(requests))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadBody {
    chat: String,
    ids: Vec<String>,
}

async fn read(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    json: Result<Json<ReadBody>, JsonRejection>,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&phone)?;
    let body = body(json)?;
    phone_send::read(&shared, &phone, &body.chat, &body.ids)?;
    Ok(StatusCode::NO_CONTENT)
}

//! Session and health routes of the whatsapp-web.js dialect (CONTRACTS §C.2, §C.4, §F rule 3),
//! plus the avoylenko fork's `getSessions`, `stop` and `requestPairingCode`.
//!
//! A session id is a gateway account's name (see `lookup`); start, stop, restart and terminate
//! are the gateway operations the wuzapi dialect uses (`connect`, `disconnect`, `logout`).
//! Unknown sessions answer in upstream's shapes with HTTP 200 (`session_not_found`); only the
//! key (403), the id (422) and failures (through [`crate::error::ApiError`]) change the status.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;
use wa_client::{Gateway, NewAccount, SessionState};
use wa_protocol::PhoneNumber;
use wa_store::AccountId;

use super::dto::{
    Done, PairingCodeAnswer, PairingCodeRequest, QrAnswer, SessionId, SessionList, SessionStatus,
    NOT_FOUND,
};
use super::lookup::{accounts, find, Session};
use crate::auth::ApiKey;
use crate::envelope::RawJson;
use crate::error::{ApiError, Plain};
use crate::session_view::wwebjs_status;
use crate::state::AppState;

/// How long `requestPairingCode` waits for the server to hand out the code.
const PAIR_CODE_WAIT: Duration = Duration::from_secs(20);

/// Serialises `start` (look up, create, start) so two concurrent starts of one new id create
/// one account.
static START: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ping", get(ping))
        .route("/session/start/{id}", get(start))
        .route("/session/status/{id}", get(status))
        .route("/session/qr/{id}", get(qr))
        .route("/session/qr/{id}/image", get(qr_image))
        .route("/session/restart/{id}", get(restart))
        .route("/session/stop/{id}", get(stop))
        .route("/session/terminate/{id}", get(terminate))
        .route("/session/terminateInactive", get(terminate_inactive))
        .route("/session/terminateAll", get(terminate_all))
        .route("/session/getSessions", get(get_sessions))
        .route(
            "/session/requestPairingCode/{id}",
            post(request_pairing_code),
        )
}

fn ok<T: serde::Serialize>(body: T) -> Response {
    RawJson(StatusCode::OK, body).into_response()
}

/// Runs `op` on the session named `id` and answers `done`; `session_not_found` when there is no
/// such session, or when a concurrent call terminated it between the lookup and `op`.
async fn on_session<F, Fut>(
    state: &AppState,
    id: &str,
    done: &'static str,
    op: F,
) -> Result<Response, Plain>
where
    F: FnOnce(Arc<Gateway>, AccountId) -> Fut,
    Fut: Future<Output = Result<(), wa_client::Error>>,
{
    let Some(session) = find(state, id).await? else {
        return Ok(ok(SessionStatus::not_found()));
    };
    match op(Arc::clone(&state.gateway), session.account.id).await {
        Ok(()) => Ok(ok(Done::ok(done))),
        Err(wa_client::Error::UnknownAccount(_)) => Ok(ok(SessionStatus::not_found())),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

/// `GET /ping`: no key needed.
#[utoipa::path(get, path = "/ping", tag = "wwebjs",
    responses((status = 200, description = "The server is up", body = Done)))]
async fn ping() -> RawJson<Done> {
    RawJson(StatusCode::OK, Done::ok("pong"))
}

/// The dialect's status of a session (`None`: unknown).
fn status_of(session: Option<&Session>) -> SessionStatus {
    let (success, state, message) = wwebjs_status(session.map(|s| &s.status));
    SessionStatus {
        success,
        state,
        message,
    }
}

/// `GET /session/start/{id}`: creates the session (a gateway account named `id`) when unknown
/// and starts it; 422 when it is running already.
#[utoipa::path(get, path = "/session/start/{id}", tag = "wwebjs",
    params(("id" = String, Path, description = "Session id, `^[\\w-]+$`")),
    responses(
        (status = 200, description = "Started; QR codes follow", body = Done),
        (status = 403, description = "Invalid API key"),
        (status = 422, description = "Bad id, or the session already exists")))]
async fn start(
    _: ApiKey,
    SessionId(id): SessionId,
    State(state): State<AppState>,
) -> Result<RawJson<Done>, Plain> {
    let _one_at_a_time = START.lock().await;
    let account = match find(&state, &id).await? {
        Some(session) => {
            if state.gateway.handle(&session.account.id).is_some() {
                return Err(ApiError::Unprocessable(
                    format!("Session already exists for: {id}").into(),
                )
                .into());
            }
            session.account
        }
        None => state
            .gateway
            .create_account(NewAccount::with_random_token(id.as_str()))
            .await
            .map_err(ApiError::from)?,
    };
    state
        .gateway
        .connect(&account.id)
        .await
        .map_err(ApiError::from)?;
    Ok(RawJson(
        StatusCode::OK,
        Done::ok("Session initiated successfully"),
    ))
}

/// `GET /session/status/{id}`: the session check, HTTP 200 in every case (§C.4, §F).
#[utoipa::path(get, path = "/session/status/{id}", tag = "wwebjs",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "The session check as is", body = SessionStatus),
        (status = 403, description = "Invalid API key"),
        (status = 422, description = "Bad id")))]
async fn status(
    _: ApiKey,
    SessionId(id): SessionId,
    State(state): State<AppState>,
) -> Result<RawJson<SessionStatus>, Plain> {
    let session = find(&state, &id).await?;
    Ok(RawJson(StatusCode::OK, status_of(session.as_ref())))
}

/// The QR answer of a session (§C.2, §F): the raw code while one is shown.
pub(crate) fn qr_answer(session: Option<&Session>) -> QrAnswer {
    let pending = session
        .filter(|s| s.status.state == SessionState::AwaitingQr)
        .and_then(|s| s.status.qr.as_ref());
    match (session, pending) {
        (_, Some(qr)) => QrAnswer {
            success: true,
            qr: Some(qr.code.clone()),
            message: None,
        },
        (Some(s), None) if s.status.state != SessionState::Stopped => QrAnswer {
            success: false,
            qr: None,
            message: Some("qr code not ready or already scanned"),
        },
        _ => QrAnswer {
            success: false,
            qr: None,
            message: Some(NOT_FOUND),
        },
    }
}

/// `GET /session/qr/{id}`: `{"success": true, "qr"}` while a code is shown.
#[utoipa::path(get, path = "/session/qr/{id}", tag = "wwebjs",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "The raw QR, or why there is none", body = QrAnswer),
        (status = 403, description = "Invalid API key"),
        (status = 422, description = "Bad id")))]
async fn qr(
    _: ApiKey,
    SessionId(id): SessionId,
    State(state): State<AppState>,
) -> Result<RawJson<QrAnswer>, Plain> {
    let session = find(&state, &id).await?;
    Ok(RawJson(StatusCode::OK, qr_answer(session.as_ref())))
}

/// `GET /session/qr/{id}/image`: the pending QR as a PNG (256×256, the rendering wuzapi's data
/// URL uses, CONTRACTS §F rule 5); otherwise the same JSON as `/session/qr/{id}`.
#[utoipa::path(get, path = "/session/qr/{id}/image", tag = "wwebjs",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "The QR as a PNG, or why there is none (JSON)",
            content(("image/png"), (QrAnswer = "application/json"))),
        (status = 403, description = "Invalid API key"),
        (status = 422, description = "Bad id")))]
async fn qr_image(
    _: ApiKey,
    SessionId(id): SessionId,
    State(state): State<AppState>,
) -> Result<Response, Plain> {
    let session = find(&state, &id).await?;
    let answer = qr_answer(session.as_ref());
    let png = answer
        .qr
        .as_deref()
        .map(crate::qr::png)
        .filter(|p| !p.is_empty());
    Ok(match png {
        Some(png) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        None => ok(answer),
    })
}

/// `GET /session/restart/{id}`: stops the session (credentials stay) and starts it again.
#[utoipa::path(get, path = "/session/restart/{id}", tag = "wwebjs",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "Restarted, or `session_not_found`", body = Done),
        (status = 403, description = "Invalid API key"),
        (status = 422, description = "Bad id")))]
async fn restart(
    _: ApiKey,
    SessionId(id): SessionId,
    State(state): State<AppState>,
) -> Result<Response, Plain> {
    on_session(
        &state,
        &id,
        "Restarted successfully",
        |gateway, account| async move { gateway.restart_session(&account).await.map(drop) },
    )
    .await
}

/// `GET /session/stop/{id}` (avoylenko): stops the session; credentials stay.
#[utoipa::path(get, path = "/session/stop/{id}", tag = "wwebjs",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "Stopped, or `session_not_found`", body = Done),
        (status = 403, description = "Invalid API key"),
        (status = 422, description = "Bad id")))]
async fn stop(
    _: ApiKey,
    SessionId(id): SessionId,
    State(state): State<AppState>,
) -> Result<Response, Plain> {
    on_session(
        &state,
        &id,
        "Session stopped successfully",
        |gateway, account| async move { gateway.disconnect(&account).await },
    )
    .await
}

/// `GET /session/terminate/{id}`: logs out when logged in, else stops; deletes the session.
#[utoipa::path(get, path = "/session/terminate/{id}", tag = "wwebjs",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "Terminated, or `session_not_found`", body = Done),
        (status = 403, description = "Invalid API key"),
        (status = 422, description = "Bad id")))]
async fn terminate(
    _: ApiKey,
    SessionId(id): SessionId,
    State(state): State<AppState>,
) -> Result<Response, Plain> {
    on_session(
        &state,
        &id,
        "Logged out successfully",
        |gateway, account| async move { gateway.remove_account(&account, true).await.map(drop) },
    )
    .await
}

/// Terminates every session this process has started (state other than Stopped) that is
/// not working (`only_inactive`) or all of them, as upstream flushes its in-memory sessions.
async fn flush(state: &AppState, only_inactive: bool) -> Result<(), ApiError> {
    for account in accounts(state).await? {
        let status = state.gateway.status(&account.id).await?;
        let in_memory =
            state.gateway.handle(&account.id).is_some() || status.state != SessionState::Stopped;
        let active = status.state == SessionState::Working;
        if in_memory && !(only_inactive && active) {
            state.gateway.remove_account(&account.id, true).await?;
        }
    }
    Ok(())
}

/// `GET /session/terminateInactive`: terminates every started session that is not CONNECTED.
#[utoipa::path(get, path = "/session/terminateInactive", tag = "wwebjs",
    responses(
        (status = 200, description = "Flushed", body = Done),
        (status = 403, description = "Invalid API key")))]
async fn terminate_inactive(
    _: ApiKey,
    State(state): State<AppState>,
) -> Result<RawJson<Done>, Plain> {
    flush(&state, true).await?;
    Ok(RawJson(
        StatusCode::OK,
        Done::ok("Flush completed successfully"),
    ))
}

/// `GET /session/terminateAll`: terminates every started session.
#[utoipa::path(get, path = "/session/terminateAll", tag = "wwebjs",
    responses(
        (status = 200, description = "Flushed", body = Done),
        (status = 403, description = "Invalid API key")))]
async fn terminate_all(_: ApiKey, State(state): State<AppState>) -> Result<RawJson<Done>, Plain> {
    flush(&state, false).await?;
    Ok(RawJson(
        StatusCode::OK,
        Done::ok("Flush completed successfully"),
    ))
}

/// `GET /session/getSessions` (avoylenko): every session id the gateway knows.
#[utoipa::path(get, path = "/session/getSessions", tag = "wwebjs",
    responses(
        (status = 200, description = "The session ids", body = SessionList),
        (status = 403, description = "Invalid API key")))]
async fn get_sessions(
    _: ApiKey,
    State(state): State<AppState>,
) -> Result<RawJson<SessionList>, Plain> {
    let mut result: Vec<String> = accounts(&state)
        .await?
        .into_iter()
        .map(|a| a.name)
        .collect();
    result.sort();
    result.dedup();
    Ok(RawJson(
        StatusCode::OK,
        SessionList {
            success: true,
            result,
        },
    ))
}

/// `POST /session/requestPairingCode/{id}` (avoylenko): asks the server for a code to type on
/// the phone instead of scanning a QR; waits for it.
#[utoipa::path(post, path = "/session/requestPairingCode/{id}", tag = "wwebjs",
    params(("id" = String, Path, description = "Session id")),
    request_body = PairingCodeRequest,
    responses(
        (status = 200, description = "The code, or `session_not_found`", body = PairingCodeAnswer),
        (status = 400, description = "Bad body or phone number, or already linked"),
        (status = 403, description = "Invalid API key"),
        (status = 422, description = "Bad id"),
        (status = 503, description = "No code came in time")))]
async fn request_pairing_code(
    _: ApiKey,
    SessionId(id): SessionId,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, Plain> {
    let Some(session) = find(&state, &id).await? else {
        return Ok(ok(PairingCodeAnswer {
            success: false,
            result: None,
            message: Some(NOT_FOUND),
        }));
    };
    let request: PairingCodeRequest =
        serde_json::from_slice(&body).map_err(|_| ApiError::Decode)?;
    let phone: PhoneNumber = request
        .phone_number
        .parse()
        .map_err(|_| ApiError::bad_request("could not parse phoneNumber"))?;
    let handle = state
        .gateway
        .link_phone(&session.account.id, &phone)
        .await
        .map_err(ApiError::from)?;
    let mut watch = handle.watch_status();
    let code = tokio::time::timeout(PAIR_CODE_WAIT, async {
        loop {
            if let Some(code) = watch.borrow_and_update().pair_code.clone() {
                return Some(code);
            }
            if watch.changed().await.is_err() {
                return None;
            }
        }
    })
    .await
    .ok()
    .flatten()
    .ok_or(ApiError::Client(wa_client::Error::Timeout(
        "pair code request",
    )))?;
    Ok(ok(PairingCodeAnswer {
        success: true,
        result: Some(code),
        message: None,
    }))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        ping,
        start,
        status,
        qr,
        qr_image,
        restart,
        stop,
        terminate,
        terminate_inactive,
        terminate_all,
        get_sessions,
        request_pairing_code
    ),
    components(schemas(
        Done,
        SessionStatus,
        QrAnswer,
        SessionList,
        PairingCodeRequest,
        PairingCodeAnswer
    ))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

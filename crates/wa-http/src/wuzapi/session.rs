//! Session routes (CONTRACTS §A.2, §B.2–§B.5) over the one session state machine (§F):
//! `connect`, `disconnect`, `logout`, `status`, `qr`, `pairphone`; the settings routes (proxy,
//! HMAC, history) are in `session_settings`.
//!
//! "A session exists" (wuzapi: a client in memory) means the account's task runs. `connect`
//! recovers from every state where the socket is down (§F rule 1: never "already connected"
//! while the socket is dead, never a second task); when every QR code expired the task has
//! ended, so `qr` answers `no session` (§B.4).

use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use wa_client::SessionState;
use wa_protocol::PhoneNumber;

use super::account_view::StatusView;
use super::event_types::known_only;
use super::session_settings;
use crate::auth::User;
use crate::envelope::Envelope;
use crate::error::{ApiError, SessionRefusal};
use crate::json::GoJson;
use crate::pair_code::await_pair_code;
use crate::state::AppState;

/// How long `connect` without `Immediate` waits for the socket (CONTRACTS §B.2 step 4).
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// How long `pairphone` waits for the server's pair code.
const PAIR_CODE_WAIT: Duration = Duration::from_secs(20);

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/session/connect", post(connect))
        .route("/session/disconnect", post(disconnect))
        .route("/session/logout", post(logout))
        .route("/session/status", get(status))
        .route("/session/qr", get(qr))
        .route("/session/pairphone", post(pairphone))
        .merge(session_settings::routes())
}

/// `POST /session/connect`'s body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ConnectRequest {
    /// Event types to deliver (unknown names are dropped; empty: none).
    #[serde(rename = "subscribe")]
    subscribe: Vec<String>,
    /// Answer at once (`false`: wait up to 10 s for the socket).
    #[serde(rename = "immediate")]
    immediate: bool,
}

/// `POST /session/connect`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Connected {
    details: &'static str,
    events: String,
    jid: String,
    webhook: String,
}

/// `{"Details": …}` answers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Details {
    #[serde(rename = "Details")]
    details: &'static str,
}

/// `POST /session/connect`: starts (or recovers) the session.
#[utoipa::path(post, path = "/session/connect", tag = "session", request_body = ConnectRequest,
    responses((status = 200, body = Connected), (status = 400), (status = 401),
        (status = 500, description = "already connected / failed to Connect")),
    security(("token" = [])))]
async fn connect(
    State(state): State<AppState>,
    User(mut account): User,
    GoJson(body): GoJson<ConnectRequest>,
) -> Result<Envelope<Connected>, ApiError> {
    let gateway = &state.gateway;
    let id = account.id;
    let status = gateway.session_status(&id).await?;
    let running = gateway.handle(&id);
    // Upstream refuses while the socket is up. A socket that is only up for a login attempt
    // (Starting, Reconnecting) is not a working session: connect recovers it instead.
    let up = matches!(
        status.state,
        SessionState::Working | SessionState::AwaitingQr | SessionState::Pairing
    );
    if running.is_some() && status.connected && up {
        return Err(ApiError::Session(SessionRefusal::AlreadyConnected));
    }
    account.events = known_only(&body.subscribe);
    gateway.save_account(account.clone()).await?;
    let recover = status.state.needs_restart();
    let handle = match running {
        // A dead socket (or a task on its way out): replace the task, connect at once.
        Some(_) if recover => gateway.restart_session(&id).await?,
        // Starting, showing a QR, pairing: the running task is the session.
        Some(handle) => handle,
        None => gateway.connect(&id).await?,
    };
    let mut jid = status.jid.as_ref().or(account.jid.as_ref()).cloned();
    if !body.immediate {
        let now = gateway.wait_socket(&handle, CONNECT_WAIT).await;
        if !now.connected {
            return Err(ApiError::Session(SessionRefusal::ConnectFailed));
        }
        jid = now.jid.or(jid);
    }
    Ok(Envelope::ok(Connected {
        details: "Connected!",
        events: account.events.join(","),
        jid: jid.map(|j| j.to_string()).unwrap_or_default(),
        webhook: account.webhook,
    }))
}

/// `POST /session/disconnect`'s query (2026: `?clear=true` also clears the subscriptions).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DisconnectQuery {
    clear: Option<String>,
}

/// `POST /session/disconnect`: stops the session (credentials stay, autostart off).
#[utoipa::path(post, path = "/session/disconnect", tag = "session",
    params(("clear" = Option<bool>, Query, description = "also clear the subscriptions")),
    responses((status = 200, body = Details),
        (status = 400, description = "a malformed query string"), (status = 401),
        (status = 500, description = "no session")),
    security(("token" = [])))]
async fn disconnect(
    State(state): State<AppState>,
    User(mut account): User,
    Query(query): Query<DisconnectQuery>,
) -> Result<Envelope<Details>, ApiError> {
    let id = account.id;
    if state.gateway.handle(&id).is_none() {
        return Err(ApiError::Session(SessionRefusal::NoSession));
    }
    // Whatever the socket is doing (even reconnecting), the caller wants the session down:
    // wuzapi's "cannot disconnect because it is not logged in" left sessions stuck (§E #133).
    state.gateway.disconnect(&id).await?;
    if query.clear.as_deref() == Some("true") {
        account = state.gateway.account(&id).await?;
        account.events.clear();
        state.gateway.save_account(account).await?;
    }
    Ok(Envelope::ok(Details {
        details: "Disconnected",
    }))
}

/// `POST /session/logout`: unlinks the device from the phone and wipes its keys.
#[utoipa::path(post, path = "/session/logout", tag = "session",
    responses((status = 200, body = Details), (status = 401),
        (status = 500, description = "no session / not logged in / not connected")),
    security(("token" = [])))]
async fn logout(
    State(state): State<AppState>,
    User(account): User,
) -> Result<Envelope<Details>, ApiError> {
    let id = account.id;
    let handle = state
        .gateway
        .handle(&id)
        .ok_or(ApiError::Session(SessionRefusal::NoSession))?;
    let status = handle.status();
    if !status.connected {
        return Err(ApiError::Session(SessionRefusal::LogoutNotConnected));
    }
    if !status.logged_in {
        return Err(ApiError::Session(SessionRefusal::LogoutNotLoggedIn));
    }
    state.gateway.logout(&id).await?;
    Ok(Envelope::ok(Details {
        details: "Logged out",
    }))
}

/// `GET /session/status`: the account's settings and the session's live facts.
#[utoipa::path(get, path = "/session/status", tag = "session",
    responses((status = 200, body = StatusView), (status = 401)),
    security(("token" = [])))]
async fn status(
    State(state): State<AppState>,
    User(account): User,
) -> Result<Envelope<StatusView>, ApiError> {
    let status = state.gateway.session_status(&account.id).await?;
    Ok(Envelope::ok(StatusView::new(&account, &status)))
}

/// `GET /session/qr`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QrAnswer {
    /// `data:image/png;base64,…`, or `""` before the first code.
    #[serde(rename = "QRCode")]
    qr_code: String,
}

/// `GET /session/qr`: the current QR code as a PNG data URL.
#[utoipa::path(get, path = "/session/qr", tag = "session",
    responses((status = 200, body = QrAnswer), (status = 401),
        (status = 500, description = "no session / not connected / already logged in")),
    security(("token" = [])))]
async fn qr(
    State(state): State<AppState>,
    User(account): User,
) -> Result<Envelope<QrAnswer>, ApiError> {
    if state.gateway.handle(&account.id).is_none() {
        return Err(ApiError::Session(SessionRefusal::NoSession));
    }
    let status = state.gateway.session_status(&account.id).await?;
    // A session that is over is `no session` (§F's table) even while its task winds down.
    if matches!(
        status.state,
        SessionState::Stopped | SessionState::Failed(_) | SessionState::LoggedOut
    ) {
        return Err(ApiError::Session(SessionRefusal::NoSession));
    }
    if status.logged_in || status.state == SessionState::Working {
        return Err(ApiError::Session(SessionRefusal::AlreadyLoggedIn));
    }
    // A QR belongs to a session being linked whose socket is up (§F: AwaitingQr, Pairing; `""`
    // just before the first code). A linked session's login attempt has none to show, and a
    // socket that is down is `not connected` (§B.4), also across pairing's 515 restart.
    let showing = status.connected
        && match status.state {
            SessionState::AwaitingQr | SessionState::Pairing => true,
            SessionState::Starting => !status.has_credentials(),
            _ => false,
        };
    if !showing {
        return Err(ApiError::Session(SessionRefusal::NotConnected));
    }
    let qr_code = status
        .qr
        .as_ref()
        .map(|q| crate::qr::data_url(&q.code))
        .unwrap_or_default();
    Ok(Envelope::ok(QrAnswer { qr_code }))
}

/// `POST /session/pairphone`'s body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct PairPhoneRequest {
    /// The phone's number, international, digits only (a leading `+` is accepted).
    #[serde(rename = "phone")]
    phone: String,
}

/// `POST /session/pairphone`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LinkingCode {
    /// `XXXX-XXXX`, to type on the phone.
    #[serde(rename = "LinkingCode")]
    linking_code: String,
}

/// `POST /session/pairphone`: asks for a code to link by phone number instead of a QR.
#[utoipa::path(post, path = "/session/pairphone", tag = "session",
    request_body = PairPhoneRequest,
    responses((status = 200, body = LinkingCode),
        (status = 400, description = "could not decode Payload / missing Phone in Payload / \
            already paired / a bad number"),
        (status = 401), (status = 500, description = "no session")),
    security(("token" = [])))]
async fn pairphone(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<PairPhoneRequest>,
) -> Result<Envelope<LinkingCode>, ApiError> {
    let raw = body.phone.trim();
    if raw.is_empty() {
        return Err(ApiError::missing("Phone"));
    }
    let handle = state
        .gateway
        .handle(&account.id)
        .ok_or(ApiError::Session(SessionRefusal::NoSession))?;
    let status = state.gateway.session_status(&account.id).await?;
    if status.logged_in || status.has_credentials() {
        return Err(ApiError::bad_request("already paired"));
    }
    let phone: PhoneNumber = raw.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid phone number: use the international format with the country code, \
             digits only, without a leading 0",
        )
    })?;
    let events = handle.subscribe();
    if !handle.pair_phone(&phone) {
        return Err(ApiError::Session(SessionRefusal::NoSession));
    }
    let code = await_pair_code(events, account.id, PAIR_CODE_WAIT).await?;
    Ok(Envelope::ok(LinkingCode { linking_code: code }))
}

#[derive(OpenApi)]
#[openapi(
    paths(connect, disconnect, logout, status, qr, pairphone),
    components(schemas(
        ConnectRequest,
        Connected,
        Details,
        StatusView,
        QrAnswer,
        PairPhoneRequest,
        LinkingCode
    ))
)]
struct Doc;

/// This group's OpenAPI paths and schemas, with the `token` security scheme they name (the
/// user's token in the `token` header, CONTRACTS §A.0).
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
    let mut doc = Doc::openapi();
    doc.merge(session_settings::openapi());
    let scheme = SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("token")));
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme("token", scheme);
    doc
}

//! The sessions page's JSON calls (`/dashboard/api/sessions/...`, cookie + CSRF): list,
//! create, delete, connect, disconnect, logout, show the QR, ask for a pair code. Each calls
//! the gateway facade directly; every refusal is an [`ApiError`].

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use wa_client::NewAccount;
use wa_protocol::PhoneNumber;
use wa_store::{Account, AccountId};

use super::guard::{Checked, Viewer};
use super::view::SessionView;
use crate::error::{ApiError, SessionRefusal};
use crate::pair_code::await_pair_code;
use crate::state::AppState;

/// How long a pair-code request waits for the code.
const PAIR_CODE_WAIT: Duration = Duration::from_secs(30);

/// The longest session name accepted.
const MAX_NAME: usize = 64;

/// The account a path's id names.
pub(crate) async fn account(state: &AppState, raw: &str) -> Result<Account, ApiError> {
    let id: AccountId = raw
        .parse()
        .map_err(|_| ApiError::NotFound("unknown session".into()))?;
    Ok(state.gateway.account(&id).await?)
}

/// The view of one account now.
pub(crate) async fn view_of(state: &AppState, account: &Account) -> Result<SessionView, ApiError> {
    let status = state.gateway.session_status(&account.id).await?;
    Ok(SessionView::new(account, &status))
}

/// Every session's view, by name.
pub(crate) async fn all_views(state: &AppState) -> Result<Vec<SessionView>, ApiError> {
    let mut accounts = state.gateway.all_accounts().await?;
    accounts.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let mut out = Vec::with_capacity(accounts.len());
    for a in &accounts {
        out.push(view_of(state, a).await?);
    }
    Ok(out)
}

/// `GET /dashboard/api/sessions`.
pub(crate) async fn list(
    _: Viewer,
    State(state): State<AppState>,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    Ok(Json(all_views(&state).await?))
}

/// `POST /dashboard/api/sessions`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NewSession {
    name: String,
    token: String,
}

/// `POST /dashboard/api/sessions`'s answer: the view, and the session's API token (shown
/// once, for the app that will use it).
#[derive(Debug, serde::Serialize)]
pub(crate) struct Created {
    session: SessionView,
    token: String,
}

/// `POST /dashboard/api/sessions`: a new session (a blank token: a random one).
pub(crate) async fn create(
    _: Checked,
    State(state): State<AppState>,
    Json(body): Json<NewSession>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::missing("Name"));
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "a session name is 1 to {MAX_NAME} printable characters"
        )));
    }
    let mut new = NewAccount::with_random_token(name);
    let token = body.token.trim();
    if !token.is_empty() {
        new.token = token.to_owned();
    }
    new.autostart = false;
    let token = new.token.clone();
    let account = state.gateway.create_account(new).await?;
    let session = view_of(&state, &account).await?;
    Ok((StatusCode::CREATED, Json(Created { session, token })))
}

/// `DELETE /dashboard/api/sessions/{id}`: logs out (when logged in), then deletes.
pub(crate) async fn delete(
    _: Checked,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let account = account(&state, &id).await?;
    state.gateway.remove_account(&account.id, true).await?;
    state.dashboard.recent.forget(&account.id);
    Ok(StatusCode::NO_CONTENT)
}

/// Starts the session (or recovers a dead or retrying one); a session already up is refused.
async fn start(state: &AppState, account: &Account) -> Result<(), ApiError> {
    let gateway = &state.gateway;
    let status = gateway.session_status(&account.id).await?;
    match gateway.handle(&account.id) {
        Some(_) if status.state.needs_restart() => {
            gateway.restart_session(&account.id).await?;
        }
        Some(_) => return Err(ApiError::Session(SessionRefusal::AlreadyConnected)),
        None => {
            gateway.connect(&account.id).await?;
        }
    }
    Ok(())
}

/// `POST /dashboard/api/sessions/{id}/connect`.
pub(crate) async fn connect(
    _: Checked,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let account = account(&state, &id).await?;
    start(&state, &account).await?;
    Ok(Json(view_of(&state, &account).await?))
}

/// `POST /dashboard/api/sessions/{id}/disconnect`: stops it (keys stay, autostart off).
pub(crate) async fn disconnect(
    _: Checked,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let account = account(&state, &id).await?;
    state.gateway.disconnect(&account.id).await?;
    Ok(Json(view_of(&state, &account).await?))
}

/// `POST /dashboard/api/sessions/{id}/logout`: unlinks it from the phone.
pub(crate) async fn logout(
    _: Checked,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let account = account(&state, &id).await?;
    let handle = state
        .gateway
        .handle(&account.id)
        .ok_or(ApiError::Session(SessionRefusal::NoSession))?;
    if !handle.status().logged_in {
        return Err(ApiError::Session(SessionRefusal::LogoutNotLoggedIn));
    }
    state.gateway.logout(&account.id).await?;
    Ok(Json(view_of(&state, &account).await?))
}

/// `POST /dashboard/api/sessions/{id}/qr`: starts linking by QR (unless it is linking
/// already); the codes follow on the event stream. A linked session is refused.
pub(crate) async fn qr(
    _: Checked,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let account = account(&state, &id).await?;
    let status = state.gateway.session_status(&account.id).await?;
    if status.logged_in || status.has_credentials() {
        return Err(ApiError::Session(SessionRefusal::AlreadyLoggedIn));
    }
    match state.gateway.handle(&account.id) {
        Some(_) if status.state.needs_restart() => {
            state.gateway.restart_session(&account.id).await?;
        }
        Some(_) => {}
        None => {
            state.gateway.link_qr(&account.id).await?;
        }
    }
    Ok(Json(view_of(&state, &account).await?))
}

/// `POST /dashboard/api/sessions/{id}/paircode`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PairRequest {
    phone: String,
}

/// `POST /dashboard/api/sessions/{id}/paircode`'s answer.
#[derive(Debug, serde::Serialize)]
pub(crate) struct PairCode {
    code: String,
}

/// `POST /dashboard/api/sessions/{id}/paircode`: links by phone number; answers the code to
/// type on the phone once the server sent it.
pub(crate) async fn paircode(
    _: Checked,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<PairRequest>,
) -> Result<Json<PairCode>, ApiError> {
    let account = account(&state, &id).await?;
    let raw = body.phone.trim().trim_start_matches('+');
    if raw.is_empty() {
        return Err(ApiError::missing("Phone"));
    }
    let phone: PhoneNumber = raw.parse().map_err(|_| {
        ApiError::bad_request("invalid phone number: international format, digits only")
    })?;
    let status = state.gateway.session_status(&account.id).await?;
    if status.logged_in || status.has_credentials() {
        return Err(ApiError::bad_request("already paired"));
    }
    let events = state.gateway.subscribe();
    let running = state.gateway.handle(&account.id);
    match running {
        Some(handle) if !status.state.needs_restart() => {
            if !handle.pair_phone(&phone) {
                return Err(ApiError::Session(SessionRefusal::NoSession));
            }
        }
        Some(_) => {
            let handle = state.gateway.restart_session(&account.id).await?;
            if !handle.pair_phone(&phone) {
                return Err(ApiError::Session(SessionRefusal::NoSession));
            }
        }
        None => {
            state.gateway.link_phone(&account.id, &phone).await?;
        }
    }
    let code = await_pair_code(events, account.id, PAIR_CODE_WAIT).await?;
    Ok(Json(PairCode { code }))
}

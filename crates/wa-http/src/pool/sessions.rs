//! Session metadata and the default session (our extension, issue 12 item 4, seed 003): each
//! session has a name (wuzapi's), a description, an `active` flag and a country code for phone
//! numbers; one may be the default, which a send with the admin token and no user token goes
//! through (`sender.rs`). Only these routes show the metadata: wuzapi's own answers are
//! unchanged. An inactive session is used by no pool, cannot become the default, and refuses
//! sends through its own token. Deleting the default session's account clears the default
//! (wuzapi's `DELETE /admin/users/{id}` is not refused, unlike seed 003's panel).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;
use wa_store::{Account, Durability};

use super::dto::{DefaultRequest, SessionMetaRequest, SessionMetaView};
use super::lookup::{blocking, session};
use crate::auth::Admin;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::json::GoJson;
use crate::phone_number::CountryCode;
use crate::state::AppState;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/sessions", get(list_sessions))
        .route("/admin/sessions/{id}", get(get_session).put(update_session))
        .route(
            "/admin/default-session",
            get(get_default).put(set_default).delete(clear_default),
        )
}

async fn view(state: &AppState, account: &Account) -> Result<SessionMetaView, ApiError> {
    let id = account.id;
    let (default, pools) = blocking(state, move |s| {
        let pools = s
            .pools()?
            .into_iter()
            .filter(|p| p.members.contains(&id))
            .map(|p| p.name)
            .collect::<Vec<_>>();
        Ok((s.default_account()?, pools))
    })
    .await?;
    let status = state.gateway.session_status(&account.id).await?;
    Ok(SessionMetaView {
        Active: account.active,
        Connected: status.connected,
        CountryCode: account.country_code.clone(),
        Default: default == Some(account.id),
        Description: account.description.clone(),
        Id: account.id.to_string(),
        Jid: status.jid.map(|j| j.to_string()).unwrap_or_default(),
        LoggedIn: status.logged_in,
        Name: account.name.clone(),
        Pools: pools,
    })
}

/// `GET /admin/sessions`: every session's metadata and state.
#[utoipa::path(get, path = "/admin/sessions", tag = "sessions",
    responses((status = 200, description = "Every session (our extension, issue 12)", body = [SessionMetaView])))]
async fn list_sessions(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Envelope<Vec<SessionMetaView>>, ApiError> {
    let accounts = blocking(&state, |s| s.accounts()).await?;
    let mut out = Vec::with_capacity(accounts.len());
    for a in &accounts {
        out.push(view(&state, a).await?);
    }
    Ok(Envelope::ok(out))
}

/// `GET /admin/sessions/{id}` (an account id or name).
#[utoipa::path(get, path = "/admin/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "The account id (32 hex) or name")),
    responses(
        (status = 200, description = "The session's metadata and state", body = SessionMetaView),
        (status = 404, description = "`unknown session <id>`")))]
async fn get_session(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Envelope<SessionMetaView>, ApiError> {
    let account = session(&state, &id).await?;
    Ok(Envelope::ok(view(&state, &account).await?))
}

/// `PUT /admin/sessions/{id}`: description, active flag, country code, default.
#[utoipa::path(put, path = "/admin/sessions/{id}", tag = "sessions", request_body = SessionMetaRequest,
    params(("id" = String, Path, description = "The account id (32 hex) or name")),
    responses(
        (status = 200, description = "Updated", body = SessionMetaView),
        (status = 400, description = "`invalid CountryCode: …`"),
        (status = 404, description = "`unknown session <id>`"),
        (status = 409, description = "`session is not active` (making an inactive session the default)")))]
async fn update_session(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    GoJson(body): GoJson<SessionMetaRequest>,
) -> Result<Envelope<SessionMetaView>, ApiError> {
    let mut account = session(&state, &id).await?;
    if let Some(code) = body.country_code {
        account.country_code = if code.trim().is_empty() {
            String::new()
        } else {
            let cc: CountryCode = code
                .parse()
                .map_err(|e| ApiError::bad_request(format!("invalid CountryCode: {e}")))?;
            cc.as_str().to_owned()
        };
    }
    if let Some(d) = body.description {
        account.description = d;
    }
    if let Some(active) = body.active {
        account.active = active;
    }
    if body.default == Some(true) && !account.active {
        return Err(ApiError::Conflict("session is not active".into()));
    }
    state.gateway.save_account(account.clone()).await?;
    let me = account.id;
    match body.default {
        Some(true) => {
            blocking(&state, move |s| {
                s.set_default_account(Some(&me), Durability::Durable)
            })
            .await?;
        }
        Some(false) => {
            blocking(&state, move |s| {
                if s.default_account()? == Some(me) {
                    s.set_default_account(None, Durability::Durable)?;
                }
                Ok(())
            })
            .await?;
        }
        None => {}
    }
    let account = session(&state, &me.to_string()).await?;
    Ok(Envelope::ok(view(&state, &account).await?))
}

async fn default_account(state: &AppState) -> Result<Account, ApiError> {
    let no_default = || ApiError::NotFound("no default session".into());
    let id = blocking(state, |s| s.default_account())
        .await?
        .ok_or_else(no_default)?;
    blocking(state, move |s| s.account(&id))
        .await?
        .ok_or_else(no_default)
}

/// `GET /admin/default-session`: the session sends with the admin token go through.
#[utoipa::path(get, path = "/admin/default-session", tag = "sessions",
    responses(
        (status = 200, description = "The default session", body = SessionMetaView),
        (status = 404, description = "`no default session`")))]
async fn get_default(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Envelope<SessionMetaView>, ApiError> {
    let account = default_account(&state).await?;
    Ok(Envelope::ok(view(&state, &account).await?))
}

/// `PUT /admin/default-session` `{"Session": <id or name>}`.
#[utoipa::path(put, path = "/admin/default-session", tag = "sessions", request_body = DefaultRequest,
    responses(
        (status = 200, description = "The new default session", body = SessionMetaView),
        (status = 400, description = "`missing Session in Payload`"),
        (status = 404, description = "`unknown session <id>`"),
        (status = 409, description = "`session is not active`")))]
async fn set_default(
    _: Admin,
    State(state): State<AppState>,
    GoJson(body): GoJson<DefaultRequest>,
) -> Result<Envelope<SessionMetaView>, ApiError> {
    if body.session.trim().is_empty() {
        return Err(ApiError::missing("Session"));
    }
    let account = session(&state, &body.session).await?;
    if !account.active {
        return Err(ApiError::Conflict("session is not active".into()));
    }
    let id = account.id;
    blocking(&state, move |s| {
        s.set_default_account(Some(&id), Durability::Durable)
    })
    .await?;
    Ok(Envelope::ok(view(&state, &account).await?))
}

/// `DELETE /admin/default-session`: no default any more; the session that was it.
#[utoipa::path(delete, path = "/admin/default-session", tag = "sessions",
    responses(
        (status = 200, description = "The session that was the default", body = SessionMetaView),
        (status = 404, description = "`no default session`")))]
async fn clear_default(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Envelope<SessionMetaView>, ApiError> {
    let account = default_account(&state).await?;
    blocking(&state, |s| s.set_default_account(None, Durability::Durable)).await?;
    Ok(Envelope::ok(view(&state, &account).await?))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_sessions,
        get_session,
        update_session,
        get_default,
        set_default,
        clear_default
    ),
    components(schemas(SessionMetaRequest, SessionMetaView, DefaultRequest))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

//! Admin users (CONTRACTS §A.1) and `/health` (§A.8). Users are gateway accounts; their
//! `connected` / `loggedIn` are the sessions' live facts (§B.3). Deviations from wuzapi, on
//! purpose: `DELETE /admin/users/{id}` also stops the user's running session (wuzapi leaves a
//! client running for a deleted row).

use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::Router;
use utoipa::OpenApi;
use wa_client::NewAccount;
use wa_store::{Account, AccountId};

use super::account_view::{Live, UserView};
use super::admin_dto::{
    go_duration, CreatedUser, DeletedId, DeletedUser, Health, Updated, UserRequest, INVALID_PAYLOAD,
};
use crate::auth::Admin;
use crate::envelope::{Envelope, RawJson};
use crate::error::ApiError;
use crate::json::GoJson;
use crate::state::AppState;
use crate::webhooks::ssrf::check_url;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/admin/users", get(list_users).post(create_user))
        .route(
            "/admin/users/{id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route("/admin/users/{id}/full", delete(delete_user_full))
}

/// The admin API's body: Go's decoding, with its own failure text.
fn admin_body(body: Result<GoJson<UserRequest>, ApiError>) -> Result<UserRequest, ApiError> {
    match body {
        Ok(GoJson(b)) => Ok(b),
        Err(ApiError::Decode) => Err(ApiError::bad_request(INVALID_PAYLOAD)),
        Err(e) => Err(e),
    }
}

/// The account `raw` names (32 hex); `user not found` otherwise.
async fn find(state: &AppState, raw: &str) -> Result<Account, ApiError> {
    let not_found = || ApiError::UserNotFound(raw.to_owned());
    let id: AccountId = raw.parse().map_err(|_| not_found())?;
    match state.gateway.account(&id).await {
        Ok(a) => Ok(a),
        Err(wa_client::Error::UnknownAccount(_)) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

async fn view(state: &AppState, account: &Account) -> Result<UserView, ApiError> {
    let status = state.gateway.session_status(&account.id).await?;
    Ok(UserView::new(account, &status))
}

/// `GET /admin/users`: every user with its live session facts.
#[utoipa::path(get, path = "/admin/users", tag = "admin",
    responses((status = 200, body = [UserView]), (status = 401)),
    security(("admin" = [])))]
async fn list_users(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Envelope<Vec<UserView>>, ApiError> {
    let mut users = Vec::new();
    for account in state.gateway.all_accounts().await? {
        users.push(view(&state, &account).await?);
    }
    Ok(Envelope::ok(users))
}

/// `GET /admin/users/{id}`: an array of 0 or 1 user (an unknown id gives `[]`).
#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "32 hex")),
    responses((status = 200, body = [UserView]), (status = 401)),
    security(("admin" = [])))]
async fn get_user(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Envelope<Vec<UserView>>, ApiError> {
    match find(&state, &id).await {
        Ok(account) => Ok(Envelope::ok(vec![view(&state, &account).await?])),
        Err(ApiError::UserNotFound(_)) => Ok(Envelope::ok(Vec::new())),
        Err(e) => Err(e),
    }
}

/// `POST /admin/users`: creates a user (201).
#[utoipa::path(post, path = "/admin/users", tag = "admin", request_body = UserRequest,
    responses((status = 201, body = CreatedUser),
        (status = 400, description = "invalid request payload / HMAC key too short / invalid \
            event type / webhook URL refused (SSRF guard, our addition)"),
        (status = 401), (status = 409, description = "user with this token already exists")),
    security(("admin" = [])))]
async fn create_user(
    _: Admin,
    State(state): State<AppState>,
    body: Result<GoJson<UserRequest>, ApiError>,
) -> Result<Envelope<CreatedUser>, ApiError> {
    let body = admin_body(body)?;
    body.check_create()?;
    check_url(body.webhook(), state.config.webhook_allow_private).await?;
    // Everything is checked before the record exists: a refusal leaves nothing behind.
    let mut probe = Account::new(AccountId::from_bytes([0; 16]), "", "", 0);
    body.apply_create(&mut probe)?;
    let mut account = state
        .gateway
        .create_account(NewAccount {
            name: body.name.trim().to_owned(),
            token: body.token.trim().to_owned(),
            autostart: false,
        })
        .await?;
    body.apply_create(&mut account)?;
    state.gateway.save_account(account.clone()).await?;
    Ok(Envelope::created(CreatedUser::new(&account)))
}

/// `PUT /admin/users/{id}`: changes the given (non-empty) fields.
#[utoipa::path(put, path = "/admin/users/{id}", tag = "admin", request_body = UserRequest,
    params(("id" = String, Path, description = "32 hex")),
    responses((status = 200, body = Updated),
        (status = 400, description = "invalid request payload / invalid event type / no fields \
            to update / webhook URL refused (SSRF guard, our addition)"),
        (status = 401), (status = 404, description = "user not found")),
    security(("admin" = [])))]
async fn update_user(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<GoJson<UserRequest>, ApiError>,
) -> Result<RawJson<Updated>, ApiError> {
    let body = admin_body(body)?;
    check_url(body.webhook(), state.config.webhook_allow_private).await?;
    let mut account = find(&state, &id).await?;
    if !body.apply_update(&mut account)? {
        return Err(ApiError::bad_request("no fields to update"));
    }
    state.gateway.save_account(account).await?;
    Ok(RawJson(
        StatusCode::OK,
        Updated {
            code: 200,
            message: "user updated successfully",
            success: true,
        },
    ))
}

/// `DELETE /admin/users/{id}`: stops the user's session and deletes the user.
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "32 hex")),
    responses((status = 200, body = DeletedId), (status = 401),
        (status = 404, description = "user not found")),
    security(("admin" = [])))]
async fn delete_user(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Envelope<DeletedId>, ApiError> {
    let account = find(&state, &id).await?;
    state.gateway.remove_account(&account.id, false).await?;
    Ok(Envelope::ok(DeletedId {
        id: account.id.to_string(),
    })
    .details("user deleted successfully"))
}

/// `DELETE /admin/users/{id}/full`: logs out (if logged in), stops and deletes the user and
/// its media objects.
#[utoipa::path(delete, path = "/admin/users/{id}/full", tag = "admin",
    params(("id" = String, Path, description = "32 hex")),
    responses((status = 200, body = DeletedUser), (status = 401),
        (status = 404, description = "user not found")),
    security(("admin" = [])))]
async fn delete_user_full(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Envelope<DeletedUser>, ApiError> {
    let account = find(&state, &id).await?;
    let status = state.gateway.session_status(&account.id).await?;
    let jid = Live::new(&account, &status).jid;
    // wuzapi removes the user even when its objects cannot be deleted (it logs why).
    if let Err(e) = crate::objects::retention::delete_all(&state, &account).await {
        tracing::warn!(account = %account.id, error = %e, "deleting the user's media failed");
    }
    state.gateway.remove_account(&account.id, true).await?;
    Ok(Envelope::ok(DeletedUser {
        id: account.id.to_string(),
        jid,
        name: account.name,
    })
    .details("user instance removed completely"))
}

/// `GET /health`: raw JSON, no envelope, no auth.
#[utoipa::path(get, path = "/health", tag = "admin",
    responses((status = 200, description = "The gateway is up", body = Health)))]
async fn health(State(state): State<AppState>) -> Result<RawJson<Health>, ApiError> {
    let accounts = state.gateway.all_accounts().await?;
    let (mut active, mut connected, mut logged_in) = (0, 0, 0);
    for account in &accounts {
        if let Some(handle) = state.gateway.handle(&account.id) {
            let status = handle.status();
            active += 1;
            connected += usize::from(status.connected);
            logged_in += usize::from(status.logged_in);
        }
    }
    Ok(RawJson(
        StatusCode::OK,
        Health {
            status: "ok",
            timestamp: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            uptime: go_duration(state.started.elapsed().as_secs()),
            active_connections: active,
            total_users: accounts.len(),
            connected_users: connected,
            logged_in_users: logged_in,
            goroutines: tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
            version: env!("CARGO_PKG_VERSION"),
        },
    ))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        health,
        list_users,
        get_user,
        create_user,
        update_user,
        delete_user,
        delete_user_full
    ),
    components(schemas(
        Health,
        UserView,
        UserRequest,
        CreatedUser,
        Updated,
        DeletedId,
        DeletedUser
    ))
)]
struct Doc;

/// This group's OpenAPI paths and schemas, with the `admin` security scheme they name (the
/// admin token as the whole `Authorization` header, no `Bearer`, CONTRACTS §A.0).
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
    let mut doc = Doc::openapi();
    let scheme = SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("Authorization")));
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme("admin", scheme);
    doc
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn the_admin_and_session_paths_and_their_schemes_are_documented() {
        let doc = crate::openapi::spec();
        for path in [
            "/admin/users",
            "/admin/users/{id}",
            "/admin/users/{id}/full",
            "/session/connect",
            "/session/status",
            "/session/qr",
            "/session/pairphone",
            "/session/hmac/config",
            "/session/history",
            "/session/proxy",
        ] {
            assert!(doc.paths.paths.contains_key(path), "{path}");
        }
        let schemes = &doc.components.unwrap().security_schemes;
        assert!(schemes.contains_key("admin") && schemes.contains_key("token"));
    }
}

//! Shared by the pool and session-metadata routes: store calls off the async threads, sessions
//! named by id or name, and the views with live health.

use std::sync::Arc;

use wa_store::{Account, AccountId, Pool, Store};

use super::dto::{MemberView, PoolView};
use super::send::healthy;
use crate::error::ApiError;
use crate::session_view::app_status;
use crate::state::AppState;

/// Runs a store call on the blocking pool (durable writes wait for an fsync).
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> wa_store::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let store = Arc::clone(state.gateway.store());
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| ApiError::Internal(format!("store task: {e}").into()))?
        .map_err(ApiError::Store)
}

/// The account `raw` names: its id (32 hex) or its name (one account of that name).
pub(crate) async fn session(state: &AppState, raw: &str) -> Result<Account, ApiError> {
    let raw = raw.trim();
    let accounts = blocking(state, |s| s.accounts()).await?;
    if let Ok(id) = raw.parse::<AccountId>() {
        if let Some(a) = accounts.iter().find(|a| a.id == id) {
            return Ok(a.clone());
        }
    }
    let mut named = accounts.into_iter().filter(|a| a.name == raw);
    match (named.next(), named.next()) {
        (Some(a), None) => Ok(a),
        (Some(_), Some(_)) => Err(ApiError::bad_request(format!(
            "several sessions are named {raw:?}: use the id"
        ))),
        (None, _) => Err(ApiError::NotFound(
            format!("unknown session {raw:?}").into(),
        )),
    }
}

/// The ids of the sessions `raw` names, in order, each once.
pub(crate) async fn members(state: &AppState, raw: &[String]) -> Result<Vec<AccountId>, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::missing("Members"));
    }
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        let id = session(state, r).await.map_err(|e| match e {
            ApiError::NotFound(t) => ApiError::BadRequest(t),
            other => other,
        })?;
        if out.contains(&id.id) {
            return Err(ApiError::bad_request(format!(
                "session {r:?} is listed twice"
            )));
        }
        out.push(id.id);
    }
    Ok(out)
}

/// One member's view: its record, its live status, what the pool sends learnt.
async fn member_view(state: &AppState, id: &AccountId) -> MemberView {
    let account = state.gateway.account(id).await.ok();
    let status = state.gateway.status(id).await.ok();
    let stats = state.pool_health.stats(id);
    MemberView {
        Active: account.as_ref().is_some_and(|a| a.active),
        Connected: status.as_ref().is_some_and(|s| s.connected),
        Exists: account.is_some(),
        Failed: stats.failed,
        FailedOver: stats.failed_over,
        Healthy: healthy(state, id).await,
        Id: id.to_string(),
        InFlight: stats.in_flight,
        LastError: stats.last_error.unwrap_or_default(),
        LastErrorAt: stats.last_error_ms.unwrap_or(0),
        LastSentAt: stats.last_sent_ms.unwrap_or(0),
        LoggedIn: status.as_ref().is_some_and(|s| s.logged_in),
        Name: account.map(|a| a.name).unwrap_or_default(),
        Sent: stats.sent,
        State: status
            .map_or("stopped", |s| app_status(&s.state))
            .to_owned(),
    }
}

/// A pool's view (`with_token`: the admin's).
pub(crate) async fn pool_view(state: &AppState, pool: &Pool, with_token: bool) -> PoolView {
    let mut members = Vec::with_capacity(pool.members.len());
    for m in &pool.members {
        members.push(member_view(state, m).await);
    }
    PoolView {
        CreatedAt: pool.created_ms,
        Description: pool.description.clone(),
        Healthy: members.iter().filter(|m| m.Healthy).count(),
        Members: members,
        Name: pool.name.clone(),
        Strategy: "least-loaded",
        Token: with_token.then(|| pool.token.expose().clone()),
    }
}

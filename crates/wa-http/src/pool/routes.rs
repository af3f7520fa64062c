//! Pool routes (our extension, issue 12 item 4): admin CRUD under `/admin/pools` and the pool's
//! own `GET /pool/status` (its token). Sends through a pool use the wuzapi chat send routes with
//! the pool's token (`sender.rs`).

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;
use wa_store::{Durability, Pool, Secret};

use super::dto::{PoolDeleted, PoolRequest, PoolView};
use super::lookup::{blocking, members, pool_view};
use super::send::now_ms;
use crate::auth::{request_token, Admin};
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::json::GoJson;
use crate::state::AppState;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/pools", get(list_pools).post(create_pool))
        .route(
            "/admin/pools/{name}",
            get(get_pool).put(update_pool).delete(delete_pool),
        )
        .route("/pool/status", get(pool_status))
}

/// A pool token taken (by a pool or an account) is a 409 naming the token, not the user.
fn token_conflict(e: ApiError) -> ApiError {
    match e {
        ApiError::Store(wa_store::Error::TokenTaken) => {
            ApiError::Conflict("the token is already in use".into())
        }
        ApiError::Store(wa_store::Error::PoolExists(name)) => {
            ApiError::Conflict(format!("pool {name} already exists").into())
        }
        other => other,
    }
}

async fn find(state: &AppState, name: &str) -> Result<Pool, ApiError> {
    let key = name.to_owned();
    blocking(state, move |s| s.pool(&key))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("pool {name} not found").into()))
}

/// `GET /admin/pools`: every pool with its members' health.
#[utoipa::path(get, path = "/admin/pools", tag = "pools",
    responses((status = 200, description = "Every pool (our extension, issue 12)", body = [PoolView])))]
async fn list_pools(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Envelope<Vec<PoolView>>, ApiError> {
    let pools = blocking(&state, |s| s.pools()).await?;
    let mut out = Vec::with_capacity(pools.len());
    for p in &pools {
        out.push(pool_view(&state, p, true).await);
    }
    Ok(Envelope::ok(out))
}

/// `POST /admin/pools`: a named set of sessions with its own token.
#[utoipa::path(post, path = "/admin/pools", tag = "pools", request_body = PoolRequest,
    responses(
        (status = 201, description = "Created", body = PoolView),
        (status = 400, description = "`missing Name in Payload`, `missing Token in Payload`, `missing Members in Payload`, an invalid name, an unknown session"),
        (status = 409, description = "`pool <name> already exists`, `the token is already in use`")))]
async fn create_pool(
    _: Admin,
    State(state): State<AppState>,
    GoJson(body): GoJson<PoolRequest>,
) -> Result<Envelope<PoolView>, ApiError> {
    if body.name.trim().is_empty() {
        return Err(ApiError::missing("Name"));
    }
    let token = body
        .token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::missing("Token"))?;
    let member_ids = members(&state, body.members.as_deref().unwrap_or_default()).await?;
    let now = now_ms();
    let pool = Pool {
        name: body.name.trim().to_owned(),
        token: Secret::new(token.trim().to_owned()),
        members: member_ids,
        description: body.description.unwrap_or_default(),
        created_ms: now,
        updated_ms: now,
    };
    let saved = pool.clone();
    blocking(&state, move |s| s.create_pool(&saved, Durability::Durable))
        .await
        .map_err(token_conflict)?;
    Ok(Envelope::created(pool_view(&state, &pool, true).await))
}

/// `GET /admin/pools/{name}`.
#[utoipa::path(get, path = "/admin/pools/{name}", tag = "pools",
    params(("name" = String, Path, description = "The pool's name")),
    responses(
        (status = 200, description = "The pool and its members' health", body = PoolView),
        (status = 404, description = "`pool <name> not found`")))]
async fn get_pool(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Envelope<PoolView>, ApiError> {
    let pool = find(&state, &name).await?;
    Ok(Envelope::ok(pool_view(&state, &pool, true).await))
}

/// `PUT /admin/pools/{name}`: new token, members or description (absent fields stay).
#[utoipa::path(put, path = "/admin/pools/{name}", tag = "pools", request_body = PoolRequest,
    params(("name" = String, Path, description = "The pool's name")),
    responses(
        (status = 200, description = "Updated", body = PoolView),
        (status = 400, description = "`missing Members in Payload` (an empty list), an unknown session"),
        (status = 404, description = "`pool <name> not found`"),
        (status = 409, description = "`the token is already in use`")))]
async fn update_pool(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    GoJson(body): GoJson<PoolRequest>,
) -> Result<Envelope<PoolView>, ApiError> {
    let mut pool = find(&state, &name).await?;
    if let Some(token) = body.token.filter(|t| !t.trim().is_empty()) {
        pool.token = Secret::new(token.trim().to_owned());
    }
    if let Some(raw) = body.members {
        pool.members = members(&state, &raw).await?;
    }
    if let Some(d) = body.description {
        pool.description = d;
    }
    pool.updated_ms = now_ms();
    let saved = pool.clone();
    blocking(&state, move |s| s.update_pool(&saved, Durability::Durable))
        .await
        .map_err(token_conflict)?;
    Ok(Envelope::ok(pool_view(&state, &pool, true).await))
}

/// `DELETE /admin/pools/{name}`: the pool goes; its sessions stay.
#[utoipa::path(delete, path = "/admin/pools/{name}", tag = "pools",
    params(("name" = String, Path, description = "The pool's name")),
    responses(
        (status = 200, description = "Deleted", body = PoolDeleted),
        (status = 404, description = "`pool <name> not found`")))]
async fn delete_pool(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Envelope<PoolDeleted>, ApiError> {
    let key = name.clone();
    if !blocking(&state, move |s| s.delete_pool(&key, Durability::Durable)).await? {
        return Err(ApiError::NotFound(format!("pool {name} not found").into()));
    }
    Ok(Envelope::ok(PoolDeleted { Name: name }))
}

/// The pool whose token the caller presents.
async fn pool_of(parts: &Parts, state: &AppState) -> Result<Pool, ApiError> {
    let token = request_token(parts).ok_or(ApiError::Unauthorized)?;
    blocking(state, move |s| s.pool_by_token(&token))
        .await?
        .ok_or(ApiError::Unauthorized)
}

/// `GET /pool/status` with the pool's token: the pool and its members' health.
#[utoipa::path(get, path = "/pool/status", tag = "pools",
    responses(
        (status = 200, description = "The pool (without its token) and its members' health", body = PoolView),
        (status = 401, description = "Not a pool's token")))]
async fn pool_status(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Envelope<PoolView>, ApiError> {
    let (parts, _) = request.into_parts();
    let pool = pool_of(&parts, &state).await?;
    Ok(Envelope::ok(pool_view(&state, &pool, false).await))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_pools,
        create_pool,
        get_pool,
        update_pool,
        delete_pool,
        pool_status
    ),
    components(schemas(PoolRequest, PoolView, super::dto::MemberView, PoolDeleted))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

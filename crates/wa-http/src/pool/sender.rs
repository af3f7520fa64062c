//! Who sends a message on the wuzapi chat send routes (issue 12 item 4, seed 003): the caller's
//! token names a session (a user's token, as in wuzapi), a pool (the pool's token: a healthy
//! member sends), or, with the admin token and no user token, the default session.
//!
//! Account tokens are looked up first, so a wuzapi client never meets a difference; a pool
//! token is looked up only when no account holds the token. A session marked inactive refuses
//! sends through its own token (`409 session is not active`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use wa_client::SentMessage;
use wa_protocol::binary::Jid;
use wa_protocol::message::Content;
use wa_protocol::MessageId;
use wa_store::{Account, Pool};

use crate::auth::{request_token, secret_eq};
use crate::error::ApiError;
use crate::state::AppState;

/// The sender a chat send route acts for.
#[derive(Debug, Clone)]
pub(crate) enum Sender {
    /// One session: the caller's own (user token) or the default session (admin token).
    Session(Box<Account>),
    /// A pool (pool token).
    Pool(Pool),
}

impl FromRequestParts<AppState> for Sender {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = request_token(parts).ok_or(ApiError::Unauthorized)?;
        let store = state.gateway.store();
        let account = match store.account_by_token(&token)? {
            Some(account) => account,
            None => {
                if let Some(pool) = store.pool_by_token(&token)? {
                    return Ok(Sender::Pool(pool));
                }
                if !secret_eq(&token, &state.config.admin_token) {
                    return Err(ApiError::Unauthorized);
                }
                let id = store
                    .default_account()?
                    .ok_or_else(|| ApiError::NotFound("no default session".into()))?;
                store
                    .account(&id)?
                    .ok_or_else(|| ApiError::NotFound("no default session".into()))?
            }
        };
        if !account.active {
            return Err(ApiError::Conflict("session is not active".into()));
        }
        crate::phone::use_session_country_code(&account);
        Ok(Sender::Session(Box::new(account)))
    }
}

/// A pool's send (the session path stays the chat route's own): the member's verdict.
pub(crate) async fn send_through_pool(
    state: &AppState,
    pool: &Pool,
    to: Jid,
    content: Content,
    id: Option<MessageId>,
) -> Result<SentMessage, ApiError> {
    let (_member, sent) = super::send::send(state, pool, to, content, id).await?;
    Ok(sent)
}

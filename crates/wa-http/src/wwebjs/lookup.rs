//! Sessions by id: in this dialect a session id is a gateway account's NAME (a wuzapi user's
//! `name`), so a session started here is a wuzapi user and a wuzapi user's session shows here.

use wa_client::Status;
use wa_store::Account;

use crate::error::ApiError;
use crate::state::AppState;

/// A known session: its account and its status now.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The account.
    pub account: Account,
    /// Its session's status.
    pub status: Status,
}

/// Every account (store order: by id).
pub(crate) async fn accounts(state: &AppState) -> Result<Vec<Account>, ApiError> {
    Ok(state.gateway.all_accounts().await?)
}

/// The session named `name`, if any. When several accounts share the name (wuzapi does not
/// forbid it), the one whose session runs wins, then a linked one, then the oldest.
pub(crate) async fn find(state: &AppState, name: &str) -> Result<Option<Session>, ApiError> {
    let mut best: Option<(u8, u64, Session)> = None;
    for account in accounts(state)
        .await?
        .into_iter()
        .filter(|a| a.name == name)
    {
        // A task just spawned reads `Starting` (wa-client), one winding down its last state.
        let status = state.gateway.status(&account.id).await?;
        let running = state.gateway.handle(&account.id).is_some();
        let rank = if running {
            0
        } else if status.has_credentials() {
            1
        } else {
            2
        };
        let key = (rank, account.created_ms);
        if best.as_ref().is_none_or(|(r, c, _)| key < (*r, *c)) {
            best = Some((rank, account.created_ms, Session { account, status }));
        }
    }
    if let Some((_, _, session)) = &best {
        crate::phone::use_session_country_code(&session.account);
    }
    Ok(best.map(|(_, _, s)| s))
}

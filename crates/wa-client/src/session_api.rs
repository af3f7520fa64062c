//! Account administration and session recovery for the HTTP API (issue 11, CONTRACTS §A.1,
//! §F): list, save and remove accounts; restart a session whose socket is dead instead of
//! answering "already connected" or spawning a second task (wuzapi's stuck states #81, #90,
//! #133, §E); wait until a session's socket is up (`Immediate: false`, §B.2).

use std::time::Duration;

use wa_store::{Account, AccountId, Durability};

use crate::error::Error;
use crate::gateway::Gateway;
use crate::handle::AccountHandle;
use crate::status::Status;

/// How long a stop waits for the account's task to end.
const STOP_WAIT: Duration = Duration::from_secs(10);

impl Gateway {
    /// Every account record, in id order.
    pub async fn all_accounts(&self) -> Result<Vec<Account>, Error> {
        let store = std::sync::Arc::clone(self.store());
        Ok(tokio::task::spawn_blocking(move || store.accounts()).await??)
    }

    /// Saves an existing account's settings (name, token, webhook, events, proxy, HMAC key,
    /// history, …); a token another account holds is refused (`wa_store::Error::TokenTaken`).
    pub async fn save_account(&self, mut account: Account) -> Result<(), Error> {
        self.account(&account.id).await?;
        account.updated_ms = self.config.clock.now().0;
        let store = std::sync::Arc::clone(self.store());
        Ok(
            tokio::task::spawn_blocking(move || {
                store.update_account(&account, Durability::Durable)
            })
            .await??,
        )
    }

    /// Stops the account's session if it runs (waiting for its task to end), then deletes
    /// the account: its record, token, device identity and Signal state. With `logout`, a
    /// logged-in session first unlinks itself from the phone.
    pub async fn remove_account(&self, id: &AccountId, logout: bool) -> Result<Account, Error> {
        let account = self.account(id).await?;
        if let Some(handle) = self.handle(id) {
            if logout && handle.status().logged_in {
                handle.logout();
            } else {
                handle.shutdown();
            }
            stop_wait(&handle).await;
        }
        let key = *id;
        let store = std::sync::Arc::clone(self.store());
        tokio::task::spawn_blocking(move || store.delete_account(&key, Durability::Durable))
            .await??;
        Ok(account)
    }

    /// Replaces the account's running task by a fresh one that connects at once (CONTRACTS
    /// §F rule 1, from Reconnecting: no waiting out the backoff, never two tasks): the old task
    /// is stopped and awaited first; the account's autostart flag is left as it is.
    pub async fn restart_session(&self, id: &AccountId) -> Result<AccountHandle, Error> {
        if let Some(handle) = self.handle(id) {
            handle.shutdown();
            stop_wait(&handle).await;
        }
        self.connect(id).await
    }

    /// Waits (up to `timeout`) until the session's socket is up; the last status either way.
    pub async fn wait_socket(&self, handle: &AccountHandle, timeout: Duration) -> Status {
        let mut watch = handle.watch_status();
        let up = tokio::time::timeout(timeout, watch.wait_for(|s| s.connected)).await;
        match up {
            Ok(Ok(status)) => status.clone(),
            _ => handle.status(),
        }
    }
}

async fn stop_wait(handle: &AccountHandle) {
    if tokio::time::timeout(STOP_WAIT, handle.stopped())
        .await
        .is_err()
    {
        tracing::warn!(account = %handle.id(), "the session did not stop in time");
    }
}

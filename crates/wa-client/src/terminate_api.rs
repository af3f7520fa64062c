//! [`Gateway::terminate`]: end a session for good (CONTRACTS §F rule 3, the whatsapp-web.js
//! dialect's `terminate` = logout + delete): a logged-in session unlinks itself from the phone,
//! any other is stopped, then the account and everything stored for it are deleted.

use std::sync::Arc;

use wa_store::{AccountId, Durability};

use crate::error::Error;
use crate::gateway::Gateway;

impl Gateway {
    /// Logs the account's session out when it is logged in (the phone forgets this
    /// companion), otherwise stops it; then deletes the account (record, token, outbox, device
    /// identity and Signal state). Fails with [`Error::UnknownAccount`] when it does not exist.
    pub async fn terminate(&self, id: &AccountId) -> Result<(), Error> {
        self.account(id).await?;
        let logged_in = self.handle(id).is_some_and(|h| h.status().logged_in);
        let logged_out = logged_in && self.logout(id).await.is_ok();
        if !logged_out {
            // Not logged in, or the session ended between the look and the logout.
            self.disconnect(id).await?;
        }
        let store = Arc::clone(self.store());
        let key = *id;
        tokio::task::spawn_blocking(move || store.delete_account(&key, Durability::Durable))
            .await??;
        Ok(())
    }
}

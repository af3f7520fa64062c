//! What the account knows of its contacts' names on [`Gateway`] (`GET /user/contacts`,
//! CONTRACTS §A.6): the push names its received messages announced (`messaging::push_names`),
//! read from the store (no network).

use std::sync::Arc;

use wa_store::{AccountId, PushName};

use crate::error::Error;
use crate::gateway::Gateway;

impl Gateway {
    /// Every push name account `id` has learnt from its contacts' messages, in phone-number
    /// order; they survive restarts (a logout forgets them).
    pub async fn push_names(&self, id: &AccountId) -> Result<Vec<PushName>, Error> {
        self.account(id).await?;
        let (store, account) = (Arc::clone(self.store()), *id);
        Ok(tokio::task::spawn_blocking(move || store.push_names(&account)).await??)
    }
}

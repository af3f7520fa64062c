//! What `http_limits.rs` and `http_spec.rs` share.

#![allow(dead_code, clippy::unwrap_used)]

use wa_http::error::SessionRefusal;
use wa_store::{Account, AccountId, Durability, SledStore, Store, StoreConfig};
use wa_testkit::Served;

/// Puts an idle account with `token` in the gateway's store and restarts the gateway on it
/// (without depending on the admin routes).
pub async fn add_user(served: &mut Served, token: &str) {
    served.kill().await;
    {
        let store = SledStore::open(&StoreConfig::at(served.data_dir())).unwrap();
        let id = AccountId::generate(&mut rand::thread_rng());
        let account = Account::new(id, "spec", token, 0);
        store.create_account(&account, Durability::Durable).unwrap();
        store.flush().unwrap();
    }
    served.restart().await;
}

/// wuzapi's session refusals: the documented 500s (CONTRACTS §A.0).
pub fn refusals() -> Vec<&'static str> {
    SessionRefusal::ALL.iter().map(|r| r.text()).collect()
}

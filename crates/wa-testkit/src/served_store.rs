//! A linked account inside a served gateway's store, without the HTTP session routes: the
//! binary is stopped, wa-client links a new account in its store (the sim's phone scans the
//! QR), and the binary starts again and logs the account in (autostart).

use std::sync::Arc;
use std::time::Duration;

use wa_client::{EventKind, Gateway};
use wa_protocol::binary::Jid;
use wa_sim::{SimEvent, SimServer};
use wa_store::{AccountId, SledStore, Store, StoreConfig};

use crate::client::{client_config, new_account, AccountEvents};
use crate::served::Served;
use crate::wait::{wait_for, DEADLINE};

/// An account of a served gateway, linked and logged in.
#[derive(Debug, Clone)]
pub struct ServedAccount {
    /// Its id.
    pub id: AccountId,
    /// Its user token (`token-{seed}`).
    pub token: String,
    /// Its device JID.
    pub jid: Jid,
}

impl Served {
    /// Links a new account (id and token drawn from `seed`) to `phone` of `sim` in this
    /// gateway's store and restarts the gateway, which logs it in; returns once the sim saw
    /// that login.
    ///
    /// # Panics
    /// If a step fails or takes longer than [`DEADLINE`].
    pub async fn link_account(&mut self, sim: &SimServer, phone: &str, seed: u64) -> ServedAccount {
        self.kill().await;
        let jid = {
            let store: Arc<dyn Store> = Arc::new(
                SledStore::open(&StoreConfig::at(self.data_dir()))
                    .unwrap_or_else(|e| panic!("opening the served store: {e}")),
            );
            let id = new_account(store.as_ref(), seed);
            let gateway = Gateway::new(Arc::clone(&store), client_config(sim));
            let mut events = AccountEvents::new(gateway.subscribe(), id);
            gateway
                .link_qr(&id)
                .await
                .expect("the account starts linking");
            let qr = wait_for(&mut events, DEADLINE, "a QR code", |e| match e {
                EventKind::Qr { code, .. } => Some(code.clone()),
                _ => None,
            })
            .await
            .expect("the account shows a QR code");
            sim.scan(phone, &qr).expect("the phone scans");
            let jid = wait_for(&mut events, DEADLINE, "Connected", |e| match e {
                EventKind::Connected { jid, .. } => Some(jid.clone()),
                _ => None,
            })
            .await
            .expect("connected");
            gateway.shutdown(Duration::from_secs(10)).await;
            drop(gateway);
            store.flush().expect("the store flushes");
            (id, jid)
        };
        let (id, jid) = jid;
        let mut sim_events = sim.subscribe();
        self.restart().await;
        wait_for(&mut sim_events, DEADLINE, "the served login", |e| match e {
            SimEvent::LoggedIn { jid: j, .. } if *j == jid => Some(()),
            _ => None,
        })
        .await
        .unwrap_or_else(|e| panic!("the served gateway logs in: {e}; log:\n{}", self.log()));
        let token = format!("token-{seed}");
        self.note_secret(&token);
        ServedAccount { id, token, jid }
    }
}

impl Served {
    /// Adds an account that is neither linked nor started (autostart off) to this gateway's
    /// store, with user token `token`; the gateway is restarted. For routes that need a user
    /// but no session (`no session` answers, settings).
    ///
    /// # Panics
    /// If the store refuses.
    pub async fn add_idle_account(&mut self, name: &str, token: &str) -> AccountId {
        self.kill().await;
        let id = {
            let store = SledStore::open(&StoreConfig::at(self.data_dir()))
                .unwrap_or_else(|e| panic!("opening the served store: {e}"));
            let id = AccountId::generate(&mut rand::rngs::OsRng);
            self.note_secret(token);
            let account = wa_store::Account::new(id, name, token, 0);
            store
                .create_account(&account, wa_store::Durability::Durable)
                .unwrap_or_else(|e| panic!("account {name} not created: {e}"));
            store.flush().expect("the store flushes");
            id
        };
        self.restart().await;
        id
    }
}

impl Served {
    /// Changes account `id`'s stored record with `change` while the gateway is stopped, then
    /// starts it again (e.g. a setting no route sets yet).
    ///
    /// # Panics
    /// If the store refuses.
    pub async fn edit_account(
        &mut self,
        id: &AccountId,
        change: impl FnOnce(&mut wa_store::Account),
    ) {
        self.kill().await;
        {
            let store = SledStore::open(&StoreConfig::at(self.data_dir()))
                .unwrap_or_else(|e| panic!("opening the served store: {e}"));
            let mut account = store
                .account(id)
                .expect("the store reads")
                .expect("the account exists");
            change(&mut account);
            store
                .update_account(&account, wa_store::Durability::Durable)
                .expect("the store writes");
            store.flush().expect("the store flushes");
        }
        self.restart().await;
    }
}

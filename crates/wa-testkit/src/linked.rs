//! The linked-account fixture: a sim, a store and a gateway account linked by QR code.

use std::sync::Arc;

use wa_client::{ClientConfig, EventKind, Gateway};
use wa_protocol::connection::DisconnectCause;
use wa_sim::{ConnId, SimEvent, SimServer};
use wa_store::{AccountId, MemStore, Store};

use crate::client::{client_config, new_account, AccountEvents};
use crate::sim::start_sim;
use crate::wait::{wait_for, DEADLINE};

/// A sim, a store and a gateway account linked to one of the sim's phones by QR code (the
/// phone scanned it), through the 515 restart and logged in with its 812 prekeys uploaded.
pub struct Linked {
    /// The sim; the account's phone is on it.
    pub sim: SimServer,
    /// The gateway's store, holding the linked device.
    pub store: Arc<dyn Store>,
    /// The gateway account.
    pub id: AccountId,
    /// The gateway running the account (the facade wagate's commands and HTTP API call).
    pub gateway: Gateway,
    /// The account's events from just after it connected.
    pub events: AccountEvents,
    /// The sim's id of the logged-in connection.
    pub conn: ConnId,
}

impl Linked {
    /// A new sim with an account for `phone`, an in-memory store and a gateway account drawn
    /// from `seed`, linked and connected.
    ///
    /// # Panics
    /// If any step fails or takes longer than [`DEADLINE`].
    pub async fn new(phone: &str, seed: u64) -> Self {
        let sim = start_sim(&[phone]).await;
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let id = new_account(store.as_ref(), seed);
        let config = client_config(&sim);
        Self::link(sim, phone, store, config, id).await
    }

    /// Starts account `id` of `store` with `config`, lets `phone` of `sim` scan its first QR
    /// code and waits until it is connected. Checks each step on the way: the QR's form, the
    /// paired JID, the 515 restart, 812 prekeys uploaded, the JID and LID connected.
    ///
    /// # Panics
    /// If any step fails or takes longer than [`DEADLINE`].
    pub async fn link(
        sim: SimServer,
        phone: &str,
        store: Arc<dyn Store>,
        config: ClientConfig,
        id: AccountId,
    ) -> Self {
        let mut sim_events = sim.subscribe();
        let gateway = Gateway::new(Arc::clone(&store), config);
        let mut events = AccountEvents::new(gateway.subscribe(), id);
        gateway
            .link_qr(&id)
            .await
            .expect("the account starts linking");
        let conn = link_by_qr(&sim, phone, &mut events, &mut sim_events).await;
        Self {
            sim,
            store,
            id,
            gateway,
            events,
            conn,
        }
    }
}

impl Linked {
    /// Disconnects the gateway's session and waits until the sim has seen its connection go,
    /// so a test can log the same device in on a raw socket.
    ///
    /// # Panics
    /// If the disconnect fails or the sim does not see it within [`DEADLINE`].
    pub async fn disconnect_gateway(&self) {
        let mut sim_events = self.sim.subscribe();
        self.gateway
            .disconnect(&self.id)
            .await
            .expect("the gateway disconnects");
        wait_for(&mut sim_events, DEADLINE, "the gateway's disconnect", |e| {
            matches!(e, SimEvent::Disconnected { conn } if *conn == self.conn).then_some(())
        })
        .await
        .expect("the sim sees the gateway go");
    }
}

/// The QR link of a started account, step by step; returns the sim's connection id.
async fn link_by_qr(
    sim: &SimServer,
    phone: &str,
    events: &mut AccountEvents,
    sim_events: &mut tokio::sync::broadcast::Receiver<SimEvent>,
) -> ConnId {
    let qr = wait_for(events, DEADLINE, "a QR code", |e| match e {
        EventKind::Qr { code, .. } => Some(code.clone()),
        _ => None,
    })
    .await
    .expect("the account shows a QR code");
    assert!(
        qr.starts_with("https://wa.me/settings/linked_devices#"),
        "{qr}"
    );
    let jid = sim.scan(phone, &qr).expect("the phone scans");
    let paired = wait_for(events, DEADLINE, "Paired", |e| match e {
        EventKind::Paired { jid, .. } => Some(jid.clone()),
        _ => None,
    })
    .await
    .expect("paired");
    assert_eq!(paired, jid);
    let cause = wait_for(events, DEADLINE, "the 515 restart", |e| match e {
        EventKind::Disconnected { cause, .. } => Some(cause.clone()),
        _ => None,
    })
    .await
    .expect("restarted");
    assert_eq!(cause, DisconnectCause::RestartRequired);
    let conn = wait_for(sim_events, DEADLINE, "login", |e| match e {
        SimEvent::LoggedIn { conn, jid: j } if *j == jid => Some(*conn),
        _ => None,
    })
    .await
    .expect("the sim sees the login");
    let uploaded = wait_for(events, DEADLINE, "prekey upload", |e| match e {
        EventKind::PreKeysUploaded { count } => Some(*count),
        _ => None,
    })
    .await
    .expect("prekeys uploaded");
    assert_eq!(uploaded, 812);
    let (connected, lid) = wait_for(events, DEADLINE, "Connected", |e| match e {
        EventKind::Connected { jid, lid } => Some((jid.clone(), lid.clone())),
        _ => None,
    })
    .await
    .expect("connected");
    assert_eq!(connected, jid);
    let account = sim.account(phone).expect("the phone's account");
    assert!(lid.is_some_and(|l| l.user_part() == account.lid));
    conn
}

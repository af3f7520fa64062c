//! The gateway facade against wa-sim: create an account, link it by QR or by pair code, watch
//! its status tell the truth at each step (CONTRACTS §F), restore it in a new gateway, then
//! disconnect, connect and log out; errors are classified for the HTTP layer.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use wa_client::{Error, Event, EventKind, Fault, Gateway, NewAccount, SessionState};
use wa_protocol::connection::LogoutReason;
use wa_protocol::PhoneNumber;
use wa_sim::{SimConfig, SimServer};
use wa_store::{AccountId, MemStore, Store};
use wa_testkit::client_config;

const DEADLINE: Duration = Duration::from_secs(30);
const PHONE: &str = "15550106666";

async fn next<T>(
    rx: &mut broadcast::Receiver<Event>,
    id: &AccountId,
    what: &str,
    mut pick: impl FnMut(&EventKind) -> Option<T>,
) -> T {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(e) if e.account == *id => {
                    if let Some(t) = pick(&e.kind) {
                        return t;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event bus closed before {what}: {e}"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {DEADLINE:?}"))
}

fn connected(e: &EventKind) -> Option<()> {
    matches!(e, EventKind::Connected { .. }).then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_by_qr_status_restore_disconnect_connect_logout() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    sim.create_account(&PHONE.parse().expect("a phone number"));
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let gateway = Gateway::new(Arc::clone(&store), client_config(&sim));
    let mut events = gateway.subscribe();
    let account = gateway
        .create_account(NewAccount::with_random_token("qr"))
        .await
        .expect("account created");
    let id = account.id;
    assert!(account.autostart);
    let status = gateway.status(&id).await.expect("status");
    assert_eq!(status.state, SessionState::Stopped);
    assert!(!status.connected && !status.logged_in && !status.has_credentials());

    let handle = gateway.link_qr(&id).await.expect("linking starts");
    let (code, expires_at) = next(&mut events, &id, "a QR code", |e| match e {
        EventKind::Qr { code, expires_at } => Some((code.clone(), *expires_at)),
        _ => None,
    })
    .await;
    let status = gateway.status(&id).await.expect("status");
    assert_eq!(status.state, SessionState::AwaitingQr);
    assert!(status.connected && !status.logged_in, "{status:?}");
    let qr = status.qr.expect("the QR is in the status");
    assert_eq!(
        (qr.code.as_str(), qr.expires_at),
        (code.as_str(), expires_at)
    );

    let jid = sim.scan(PHONE, &code).expect("the phone scans");
    next(&mut events, &id, "Connected", connected).await;
    let status = handle.status();
    assert_eq!(status.state, SessionState::Working);
    assert!(status.connected && status.logged_in && status.qr.is_none());
    assert_eq!(status.jid, Some(jid.clone()));
    assert!(status.lid.is_some());

    let again = gateway.link_qr(&id).await.expect_err("already linked");
    assert!(matches!(again, Error::AlreadyLinked(_)), "{again}");
    assert_eq!(
        (again.fault(), again.is_transient()),
        (Fault::Caller, false)
    );

    // A new gateway over the same store (a process restart) restores the account.
    assert_eq!(gateway.shutdown(DEADLINE).await, 0);
    let status = gateway.status(&id).await.expect("status");
    assert_eq!(status.state, SessionState::Stopped);
    assert_eq!(status.jid, Some(jid.clone()), "the credentials stay");
    let gateway = Gateway::new(Arc::clone(&store), client_config(&sim));
    let mut events = gateway.subscribe();
    assert_eq!(gateway.restore().await.expect("restore"), 1);
    next(&mut events, &id, "Connected after restore", connected).await;

    gateway.disconnect(&id).await.expect("disconnect");
    let status = gateway.status(&id).await.expect("status");
    assert_eq!(status.state, SessionState::Stopped);
    assert!(!status.connected && status.has_credentials());
    assert!(!gateway.account(&id).await.expect("account").autostart);
    assert_eq!(
        gateway.restore().await.expect("restore"),
        0,
        "autostart is off"
    );

    gateway.connect(&id).await.expect("connect");
    next(&mut events, &id, "Connected again", connected).await;
    assert!(
        gateway.account(&id).await.expect("account").autostart,
        "reaching Working sets autostart again"
    );
    gateway.logout(&id).await.expect("logout");
    let reason = next(&mut events, &id, "LoggedOut", |e| match e {
        EventKind::LoggedOut { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reason, LogoutReason::UserInitiated);
    let status = gateway.status(&id).await.expect("status");
    assert_eq!(status.state, SessionState::LoggedOut);
    assert!(!status.connected && !status.logged_in && !status.has_credentials());
    assert!(store.device(&id).expect("read").is_none(), "keys wiped");
    let err = gateway.logout(&id).await.expect_err("not running");
    assert_eq!((err.fault(), err.is_transient()), (Fault::Caller, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_by_pair_code_and_unknown_accounts() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    sim.create_account(&PHONE.parse().expect("a phone number"));
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let gateway = Gateway::new(Arc::clone(&store), client_config(&sim));
    let mut events = gateway.subscribe();

    let unknown = AccountId::from_bytes([9; 16]);
    for err in [
        gateway.status(&unknown).await.expect_err("unknown"),
        gateway.connect(&unknown).await.expect_err("unknown"),
    ] {
        assert!(matches!(err, Error::UnknownAccount(_)), "{err}");
        assert_eq!(err.fault(), Fault::Caller);
    }

    let id = gateway
        .create_account(NewAccount::with_random_token("code"))
        .await
        .expect("account")
        .id;
    let phone: PhoneNumber = format!("+{PHONE}").parse().expect("phone");
    let handle = gateway
        .link_phone(&id, &phone)
        .await
        .expect("linking starts");
    let code = next(&mut events, &id, "PairCode", |e| match e {
        EventKind::PairCode { code } => Some(code.clone()),
        _ => None,
    })
    .await;
    assert_eq!(handle.status().pair_code.as_deref(), Some(code.as_str()));
    sim.enter_pair_code(PHONE, &code)
        .expect("the phone takes the code");
    let (jid, lid) = next(&mut events, &id, "Paired", |e| match e {
        EventKind::Paired { jid, lid, .. } => Some((jid.clone(), lid.clone())),
        _ => None,
    })
    .await;
    assert_eq!(jid.user_part(), PHONE);
    assert!(lid.is_some());
    next(&mut events, &id, "Connected", connected).await;
    let status = handle.status();
    assert_eq!(status.state, SessionState::Working);
    assert_eq!(status.pair_code, None);
    gateway.shutdown(DEADLINE).await;
}

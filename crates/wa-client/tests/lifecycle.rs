//! The account lifecycle end to end against wa-sim over real sockets on 127.0.0.1: QR linking,
//! the 515 restart, login with 812 prekeys, restore after a restart, phone-code linking, logout
//! from either side, `conflict replaced`, transient drops and keepalive failures.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::broadcast;
use wa_client::{Backoff, ClientConfig, ClientEvent, Registry};
use wa_protocol::connection::{Config, DisconnectCause, LogoutReason};
use wa_sim::{Faults, SimConfig, SimEvent, SimServer};
use wa_store::{Account, AccountId, Durability, MemStore, SledStore, Store, StoreConfig};

const DEADLINE: Duration = Duration::from_secs(30);
const PHONE: &str = "15550101234";

fn config(sim: &SimServer) -> ClientConfig {
    ClientConfig {
        url: sim.url(),
        connection: Config {
            trust: sim.trust_root(),
            ..Config::default()
        },
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(400),
            jitter: 0.2,
        },
    }
}

fn new_account(store: &dyn Store, seed: u64) -> AccountId {
    let id = AccountId::generate(&mut StdRng::seed_from_u64(seed));
    let mut account = Account::new(id, "test", format!("token-{seed}"), 0);
    account.autostart = true;
    store
        .create_account(&account, Durability::Durable)
        .expect("account created");
    id
}

async fn next<T>(
    rx: &mut broadcast::Receiver<(AccountId, ClientEvent)>,
    id: &AccountId,
    what: &str,
    mut pick: impl FnMut(&ClientEvent) -> Option<T>,
) -> T {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok((a, e)) if &a == id => {
                    if let Some(t) = pick(&e) {
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

async fn sim_event<T>(
    rx: &mut broadcast::Receiver<SimEvent>,
    what: &str,
    mut pick: impl FnMut(&SimEvent) -> Option<T>,
) -> T {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(e) => {
                    if let Some(t) = pick(&e) {
                        return t;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("sim events closed before {what}: {e}"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {DEADLINE:?}"))
}

/// Links account `id` by QR and waits until it is connected; returns the sim connection id.
/// A sim with one phone, and one gateway account (in memory) linked to it by QR code.
struct Linked {
    sim: SimServer,
    store: Arc<dyn Store>,
    id: AccountId,
    registry: Registry,
    events: broadcast::Receiver<(AccountId, ClientEvent)>,
    /// The sim's connection id of the linked session.
    conn: u64,
}

async fn linked(seed: u64) -> Linked {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    sim.create_account(PHONE);
    let mut sim_events = sim.subscribe();
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), seed);
    let registry = Registry::new(Arc::clone(&store), config(&sim));
    let mut events = registry.subscribe();
    let conn = link_by_qr(&sim, &registry, &id, &mut events, &mut sim_events).await;
    Linked {
        sim,
        store,
        id,
        registry,
        events,
        conn,
    }
}

async fn link_by_qr(
    sim: &SimServer,
    registry: &Registry,
    id: &AccountId,
    events: &mut broadcast::Receiver<(AccountId, ClientEvent)>,
    sim_events: &mut broadcast::Receiver<SimEvent>,
) -> u64 {
    registry.start(id);
    let qr = next(events, id, "a QR code", |e| match e {
        ClientEvent::Qr { code, .. } => Some(code.clone()),
        _ => None,
    })
    .await;
    assert!(qr.starts_with("https://wa.me/settings/linked_devices#"));
    let jid = sim.scan(PHONE, &qr).expect("the phone scans");
    let paired = next(events, id, "Paired", |e| match e {
        ClientEvent::Paired { jid } => Some(jid.clone()),
        _ => None,
    })
    .await;
    assert_eq!(paired, jid);
    let cause = next(events, id, "the 515 restart", |e| match e {
        ClientEvent::Disconnected { cause, .. } => Some(cause.clone()),
        _ => None,
    })
    .await;
    assert_eq!(cause, DisconnectCause::RestartRequired);
    let conn = sim_event(sim_events, "login", |e| match e {
        SimEvent::LoggedIn { conn, jid: j } if *j == jid => Some(*conn),
        _ => None,
    })
    .await;
    let uploaded = next(events, id, "prekey upload", |e| match e {
        ClientEvent::PreKeysUploaded { count } => Some(*count),
        _ => None,
    })
    .await;
    assert_eq!(uploaded, 812);
    let (cjid, lid) = next(events, id, "Connected", |e| match e {
        ClientEvent::Connected { jid, lid } => Some((jid.clone(), lid.clone())),
        _ => None,
    })
    .await;
    assert_eq!(cjid, jid);
    assert!(lid.is_some_and(|l| l.user_part() == sim.account(PHONE).expect("account").lid));
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_link_restart_login_and_restore_after_process_restart() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    sim.create_account(PHONE);
    let mut sim_events = sim.subscribe();
    let dir = tempdir("restore");
    let id;
    {
        let store: Arc<dyn Store> =
            Arc::new(SledStore::open(&StoreConfig::at(&dir)).expect("store opens"));
        id = new_account(store.as_ref(), 1);
        let registry = Registry::new(Arc::clone(&store), config(&sim));
        let mut events = registry.subscribe();
        link_by_qr(&sim, &registry, &id, &mut events, &mut sim_events).await;
        let info = sim.account(PHONE).expect("account");
        assert_eq!(info.devices, vec![1]);
        assert_eq!(info.prekeys, vec![(1, 812)]);
        let counts = store.prekey_counts(&id).expect("counts");
        assert_eq!((counts.total, counts.uploaded), (812, 812));
        registry.shutdown();
        next(&mut events, &id, "Stopped", |e| {
            matches!(e, ClientEvent::Stopped).then_some(())
        })
        .await;
    }
    // "Restart the process": a new store handle and registry over the same directory.
    let store: Arc<dyn Store> =
        Arc::new(SledStore::open(&StoreConfig::at(&dir)).expect("store reopens"));
    let registry = Registry::new(Arc::clone(&store), config(&sim));
    let mut events = registry.subscribe();
    assert_eq!(registry.restore().expect("restore"), 1);
    let jid = next(&mut events, &id, "Connected after restore", |e| match e {
        ClientEvent::Qr { .. } => panic!("a restored account must not show a QR"),
        ClientEvent::Connected { jid, .. } => Some(jid.clone()),
        _ => None,
    })
    .await;
    assert_eq!(jid.to_string(), format!("{PHONE}:1@s.whatsapp.net"));
    assert_eq!(
        sim.account(PHONE).expect("account").prekeys,
        vec![(1, 812)],
        "no second upload: the server still holds 812"
    );
    registry.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_code_link() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    sim.create_account(PHONE);
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), 2);
    let registry = Registry::new(Arc::clone(&store), config(&sim));
    let mut events = registry.subscribe();
    let handle = registry.start(&id);
    next(&mut events, &id, "a QR code", |e| {
        matches!(e, ClientEvent::Qr { .. }).then_some(())
    })
    .await;
    assert!(handle.pair_phone(&format!("+{PHONE}").parse().expect("phone")));
    let code = next(&mut events, &id, "PairCode", |e| match e {
        ClientEvent::PairCode { code } => Some(code.clone()),
        _ => None,
    })
    .await;
    assert_eq!(code.len(), 9, "XXXX-XXXX: {code}");
    assert_eq!(code.as_bytes()[4], b'-');
    sim.enter_pair_code(PHONE, &code)
        .expect("the phone takes the code");
    let jid = next(&mut events, &id, "Paired", |e| match e {
        ClientEvent::Paired { jid } => Some(jid.clone()),
        _ => None,
    })
    .await;
    let connected = next(&mut events, &id, "Connected", |e| match e {
        ClientEvent::Connected { jid, .. } => Some(jid.clone()),
        _ => None,
    })
    .await;
    assert_eq!(connected, jid);
    registry.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_from_the_gateway_wipes_keys() {
    let Linked {
        sim,
        store,
        id,
        registry,
        mut events,
        ..
    } = linked(3).await;
    registry.get(&id).expect("running").logout();
    let reason = next(&mut events, &id, "LoggedOut", |e| match e {
        ClientEvent::LoggedOut { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reason, LogoutReason::UserInitiated);
    next(&mut events, &id, "Stopped", |e| {
        matches!(e, ClientEvent::Stopped).then_some(())
    })
    .await;
    assert!(
        store.device(&id).expect("read").is_none(),
        "device keys wiped"
    );
    assert_eq!(store.prekey_counts(&id).expect("counts").total, 0);
    assert!(
        store.account(&id).expect("read").is_some(),
        "the gateway account stays"
    );
    assert!(sim.account(PHONE).expect("account").devices.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_from_the_phone_wipes_keys() {
    let Linked {
        sim,
        store,
        id,
        registry: _registry,
        mut events,
        ..
    } = linked(4).await;
    sim.remove_device(PHONE, 1).expect("the phone unlinks");
    let reason = next(&mut events, &id, "LoggedOut", |e| match e {
        ClientEvent::LoggedOut { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reason, LogoutReason::DeviceRemoved);
    let reconnect = next(&mut events, &id, "Disconnected", |e| match e {
        ClientEvent::Disconnected { reconnect_in, .. } => Some(*reconnect_in),
        _ => None,
    })
    .await;
    assert_eq!(reconnect, None, "no reconnect after device_removed");
    next(&mut events, &id, "Stopped", |e| {
        matches!(e, ClientEvent::Stopped).then_some(())
    })
    .await;
    assert!(store.device(&id).expect("read").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflict_replaced_stops_without_reconnecting() {
    let Linked {
        sim,
        store,
        id,
        registry: _registry,
        mut events,
        conn,
    } = linked(5).await;
    assert!(sim.replace_connection(conn));
    let (cause, reconnect) = next(&mut events, &id, "Disconnected", |e| match e {
        ClientEvent::Disconnected {
            cause,
            reconnect_in,
        } => Some((cause.clone(), *reconnect_in)),
        _ => None,
    })
    .await;
    assert_eq!(cause, DisconnectCause::Replaced);
    assert_eq!(reconnect, None);
    next(&mut events, &id, "Stopped", |e| match e {
        ClientEvent::Connecting { .. } => panic!("must not reconnect after conflict replaced"),
        ClientEvent::Stopped => Some(()),
        _ => None,
    })
    .await;
    assert!(store.device(&id).expect("read").is_some(), "keys kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_drop_reconnects_within_the_backoff() {
    let Linked {
        sim,
        store: _store,
        id,
        registry,
        mut events,
        conn,
    } = linked(6).await;
    assert!(sim.drop_connection(conn));
    let (cause, reconnect) = next(&mut events, &id, "Disconnected", |e| match e {
        ClientEvent::Disconnected {
            cause,
            reconnect_in,
        } => Some((cause.clone(), *reconnect_in)),
        _ => None,
    })
    .await;
    assert_eq!(cause, DisconnectCause::Transport);
    let delay = reconnect.expect("a reconnect is scheduled");
    assert!(
        delay <= Duration::from_millis(400),
        "{delay:?} within the configured backoff"
    );
    next(&mut events, &id, "Connected again", |e| {
        matches!(e, ClientEvent::Connected { .. }).then_some(())
    })
    .await;
    registry.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_pings_time_out_then_the_session_recovers() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    sim.create_account(PHONE);
    let mut sim_events = sim.subscribe();
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), 7);
    let mut cfg = config(&sim);
    cfg.connection.ping_interval_ms = (200, 200);
    cfg.connection.ping_timeout_ms = 200;
    cfg.connection.max_ping_failures = 2;
    let registry = Registry::new(Arc::clone(&store), cfg);
    let mut events = registry.subscribe();
    link_by_qr(&sim, &registry, &id, &mut events, &mut sim_events).await;
    sim.set_faults(
        PHONE,
        Faults {
            drop_pings: true,
            ..Faults::default()
        },
    )
    .expect("faults");
    next(&mut events, &id, "KeepAliveTimeout", |e| {
        matches!(e, ClientEvent::KeepAliveTimeout { .. }).then_some(())
    })
    .await;
    let cause = next(&mut events, &id, "Disconnected", |e| match e {
        ClientEvent::Disconnected { cause, .. } => Some(cause.clone()),
        _ => None,
    })
    .await;
    assert_eq!(cause, DisconnectCause::KeepAliveTimeout);
    sim.set_faults(PHONE, Faults::default()).expect("faults");
    next(&mut events, &id, "Connected again", |e| {
        matches!(e, ClientEvent::Connected { .. }).then_some(())
    })
    .await;
    registry.shutdown();
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wagate-test-{name}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

//! The account lifecycle end to end against wa-sim over real sockets on 127.0.0.1: QR linking,
//! the 515 restart, login with 812 prekeys, restore after a restart, phone-code linking, logout
//! from either side, `conflict replaced`, transient drops and keepalive failures.
//!
//! The linked-account fixture and the event waits are wa-testkit's.

use std::sync::Arc;
use std::time::Duration;

use wa_client::{EventKind, Gateway};
use wa_protocol::connection::{DisconnectCause, LogoutReason};
use wa_sim::Faults;
use wa_store::{MemStore, SledStore, Store, StoreConfig};
use wa_testkit::{
    client_config, new_account, start_sim, temp_dir, wait_for, AccountEvents, Linked, DEADLINE,
};

const PHONE: &str = "15550101234";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_link_restart_login_and_restore_after_process_restart() {
    let dir = temp_dir("restore");
    let path = dir.path().join("wa_sessions");
    let (sim, id) = {
        let sim = start_sim(&[PHONE]).await;
        let store: Arc<dyn Store> =
            Arc::new(SledStore::open(&StoreConfig::at(&path)).expect("store opens"));
        let id = new_account(store.as_ref(), 1);
        let config = client_config(&sim);
        let Linked {
            sim,
            store,
            gateway,
            mut events,
            ..
        } = Linked::link(sim, PHONE, store, config, id).await;
        let info = sim.account(PHONE).expect("account");
        assert_eq!(info.devices, vec![1]);
        assert_eq!(info.prekeys, vec![(1, 812)]);
        let counts = store.prekey_counts(&id).expect("counts");
        assert_eq!((counts.total, counts.uploaded), (812, 812));
        gateway.shutdown(DEADLINE).await;
        wait_for(&mut events, DEADLINE, "Stopped", |e| {
            matches!(e, EventKind::Stopped).then_some(())
        })
        .await
        .expect("stopped");
        (sim, id)
    };
    // "Restart the process": a new store handle and gateway over the same directory.
    let store: Arc<dyn Store> =
        Arc::new(SledStore::open(&StoreConfig::at(&path)).expect("store reopens"));
    let gateway = Gateway::new(Arc::clone(&store), client_config(&sim));
    let mut events = AccountEvents::new(gateway.subscribe(), id);
    assert_eq!(gateway.restore().await.expect("restore"), 1);
    let jid = wait_for(
        &mut events,
        DEADLINE,
        "Connected after restore",
        |e| match e {
            EventKind::Qr { .. } => panic!("a restored account must not show a QR"),
            EventKind::Connected { jid, .. } => Some(jid.clone()),
            _ => None,
        },
    )
    .await
    .expect("connected after restore");
    assert_eq!(jid.to_string(), format!("{PHONE}:1@s.whatsapp.net"));
    assert_eq!(
        sim.account(PHONE).expect("account").prekeys,
        vec![(1, 812)],
        "no second upload: the server still holds 812"
    );
    gateway.shutdown(DEADLINE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_code_link() {
    let sim = start_sim(&[PHONE]).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), 2);
    let gateway = Gateway::new(Arc::clone(&store), client_config(&sim));
    let mut events = AccountEvents::new(gateway.subscribe(), id);
    let handle = gateway.connect(&id).await.expect("starts");
    wait_for(&mut events, DEADLINE, "a QR code", |e| {
        matches!(e, EventKind::Qr { .. }).then_some(())
    })
    .await
    .expect("a QR code");
    assert!(handle.pair_phone(&format!("+{PHONE}").parse().expect("a phone number")));
    let code = wait_for(&mut events, DEADLINE, "PairCode", |e| match e {
        EventKind::PairCode { code } => Some(code.clone()),
        _ => None,
    })
    .await
    .expect("a pair code");
    assert_eq!(code.len(), 9, "XXXX-XXXX: {code}");
    assert_eq!(code.as_bytes()[4], b'-');
    sim.enter_pair_code(PHONE, &code)
        .expect("the phone takes the code");
    let jid = wait_for(&mut events, DEADLINE, "Paired", |e| match e {
        EventKind::Paired { jid, .. } => Some(jid.clone()),
        _ => None,
    })
    .await
    .expect("paired");
    let connected = wait_for(&mut events, DEADLINE, "Connected", |e| match e {
        EventKind::Connected { jid, .. } => Some(jid.clone()),
        _ => None,
    })
    .await
    .expect("connected");
    assert_eq!(connected, jid);
    gateway.shutdown(DEADLINE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_from_the_gateway_wipes_keys() {
    let Linked {
        sim,
        store,
        id,
        gateway,
        mut events,
        ..
    } = Linked::new(PHONE, 3).await;
    gateway.handle(&id).expect("running").logout();
    let reason = wait_for(&mut events, DEADLINE, "LoggedOut", |e| match e {
        EventKind::LoggedOut { reason } => Some(reason.clone()),
        _ => None,
    })
    .await
    .expect("logged out");
    assert_eq!(reason, LogoutReason::UserInitiated);
    wait_for(&mut events, DEADLINE, "Stopped", |e| {
        matches!(e, EventKind::Stopped).then_some(())
    })
    .await
    .expect("stopped");
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
        gateway: _gateway,
        mut events,
        ..
    } = Linked::new(PHONE, 4).await;
    sim.remove_device(PHONE, 1).expect("the phone unlinks");
    let reason = wait_for(&mut events, DEADLINE, "LoggedOut", |e| match e {
        EventKind::LoggedOut { reason } => Some(reason.clone()),
        _ => None,
    })
    .await
    .expect("logged out");
    assert_eq!(reason, LogoutReason::DeviceRemoved);
    let reconnect = wait_for(&mut events, DEADLINE, "Disconnected", |e| match e {
        EventKind::Disconnected { reconnect_in, .. } => Some(*reconnect_in),
        _ => None,
    })
    .await
    .expect("disconnected");
    assert_eq!(reconnect, None, "no reconnect after device_removed");
    wait_for(&mut events, DEADLINE, "Stopped", |e| {
        matches!(e, EventKind::Stopped).then_some(())
    })
    .await
    .expect("stopped");
    assert!(store.device(&id).expect("read").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflict_replaced_stops_without_reconnecting() {
    let Linked {
        sim,
        store,
        id,
        gateway: _gateway,
        mut events,
        conn,
    } = Linked::new(PHONE, 5).await;
    assert!(sim.replace_connection(conn));
    let (cause, reconnect) = wait_for(&mut events, DEADLINE, "Disconnected", |e| match e {
        EventKind::Disconnected {
            cause,
            reconnect_in,
        } => Some((cause.clone(), *reconnect_in)),
        _ => None,
    })
    .await
    .expect("disconnected");
    assert_eq!(cause, DisconnectCause::Replaced);
    assert_eq!(reconnect, None);
    wait_for(&mut events, DEADLINE, "Stopped", |e| match e {
        EventKind::Connecting { .. } => panic!("must not reconnect after conflict replaced"),
        EventKind::Stopped => Some(()),
        _ => None,
    })
    .await
    .expect("stopped");
    assert!(store.device(&id).expect("read").is_some(), "keys kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_drop_reconnects_within_the_backoff() {
    let Linked {
        sim,
        store: _store,
        gateway,
        mut events,
        conn,
        ..
    } = Linked::new(PHONE, 6).await;
    assert!(sim.drop_connection(conn));
    let (cause, reconnect) = wait_for(&mut events, DEADLINE, "Disconnected", |e| match e {
        EventKind::Disconnected {
            cause,
            reconnect_in,
        } => Some((cause.clone(), *reconnect_in)),
        _ => None,
    })
    .await
    .expect("disconnected");
    assert_eq!(cause, DisconnectCause::Transport);
    let delay = reconnect.expect("a reconnect is scheduled");
    assert!(
        delay <= Duration::from_millis(400),
        "{delay:?} within the configured backoff"
    );
    wait_for(&mut events, DEADLINE, "Connected again", |e| {
        matches!(e, EventKind::Connected { .. }).then_some(())
    })
    .await
    .expect("connected again");
    gateway.shutdown(DEADLINE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_pings_time_out_then_the_session_recovers() {
    let sim = start_sim(&[PHONE]).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), 7);
    let mut config = client_config(&sim);
    config.connection.ping_interval_ms = (200, 200);
    config.connection.ping_timeout_ms = 200;
    config.connection.max_ping_failures = 2;
    let Linked {
        sim,
        store: _store,
        gateway,
        mut events,
        ..
    } = Linked::link(sim, PHONE, store, config, id).await;
    sim.set_faults(
        PHONE,
        Faults {
            drop_pings: true,
            ..Faults::default()
        },
    )
    .expect("faults");
    wait_for(&mut events, DEADLINE, "KeepAliveTimeout", |e| {
        matches!(e, EventKind::KeepAliveTimeout { .. }).then_some(())
    })
    .await
    .expect("keepalive timeout");
    let cause = wait_for(&mut events, DEADLINE, "Disconnected", |e| match e {
        EventKind::Disconnected { cause, .. } => Some(cause.clone()),
        _ => None,
    })
    .await
    .expect("disconnected");
    assert_eq!(cause, DisconnectCause::KeepAliveTimeout);
    sim.set_faults(PHONE, Faults::default()).expect("faults");
    wait_for(&mut events, DEADLINE, "Connected again", |e| {
        matches!(e, EventKind::Connected { .. }).then_some(())
    })
    .await
    .expect("connected again");
    gateway.shutdown(DEADLINE).await;
}

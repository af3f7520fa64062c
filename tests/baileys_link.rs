//! Independent check of linking: the real Baileys client (`@whiskeysockets/baileys@7.0.0-rc14`)
//! pairs with wa-sim through the simulated phone's QR scan, goes through the 515 restart, logs
//! in and reaches `connection: 'open'` (which needs every IQ Baileys blocks on to be answered),
//! then, after the sim drops its connection, reconnects logged in without a new QR.

use std::time::Duration;

use wa_sim::SimEvent;
use wa_testkit::{start_sim, wait_for, JsonLines};
use wagate_tests::{ensure_npm_packages, node_dir};

const PHONE: &str = "15550107777";
const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baileys_pairs_logs_in_and_reconnects() {
    let dir = node_dir();
    ensure_npm_packages(&dir);
    let sim = start_sim(&[]).await;
    let account = sim.create_account(&PHONE.parse().expect("a phone number"));
    let mut events = sim.subscribe();
    let mut baileys = JsonLines::spawn_node(
        &dir,
        "baileys_client.mjs",
        &[
            ("WA_SIM_URL", sim.url()),
            ("WA_SIM_ROOT_KEY", hex::encode(sim.root_key().as_bytes())),
            ("WA_RECONNECT", "1".to_owned()),
        ],
    )
    .expect("node runs");

    let qr = baileys
        .wait_for(DEADLINE, "a QR code", |v| {
            v["event"] == "connection.update" && v["qr"].is_string()
        })
        .await
        .expect("Baileys shows a QR");
    let qr = qr["qr"].as_str().expect("qr").to_owned();
    let jid = sim.scan(PHONE, &qr).expect("the phone scans Baileys' QR");

    let paired = wait_for(&mut events, DEADLINE, "Paired", |e| match e {
        SimEvent::Paired { jid, .. } => Some(jid.clone()),
        SimEvent::PairingFailed { error, .. } => panic!("pairing failed: {error}"),
        _ => None,
    })
    .await
    .expect("pair-device-sign verified");
    assert_eq!(paired, jid);
    baileys
        .wait_for(DEADLINE, "the 515 restart", |v| {
            v["event"] == "connection.update" && v["statusCode"] == 515
        })
        .await
        .expect("515 restart");
    let login_conn = wait_for(&mut events, DEADLINE, "login", |e| match e {
        SimEvent::LoggedIn { conn, jid: j } if *j == jid => Some(*conn),
        SimEvent::ProtocolError { error, .. } => panic!("protocol error: {error}"),
        _ => None,
    })
    .await
    .expect("Baileys logs in with the paired credentials");
    baileys
        .wait_for(DEADLINE, "connection open", |v| {
            v["event"] == "connection.update" && v["connection"] == "open"
        })
        .await
        .expect("Baileys reaches open");
    let info = sim.account(PHONE).expect("account");
    assert_eq!(info.devices, vec![1]);
    assert_eq!(
        info.prekeys,
        vec![(1, 812)],
        "Baileys uploaded its 812 prekeys"
    );
    assert_eq!(info.lid, account.lid);

    // A transient drop: Baileys reconnects with its login payload, no QR.
    assert!(sim.drop_connection(login_conn));
    wait_for(&mut events, DEADLINE, "second login", |e| match e {
        SimEvent::LoggedIn { conn, jid: j } if *j == jid && *conn != login_conn => Some(()),
        _ => None,
    })
    .await
    .expect("Baileys logs in again");
    baileys
        .wait_for(DEADLINE, "open again", |v| {
            assert!(
                !(v["event"] == "connection.update" && v["qr"].is_string()),
                "no new QR after a drop: {v}"
            );
            v["event"] == "connection.update" && v["connection"] == "open"
        })
        .await
        .expect("Baileys is open again");
    let counters = sim.counters();
    assert!(counters.get("in:iq:passive").copied().unwrap_or(0) >= 2);
    baileys.kill().await;
    sim.shutdown();
}

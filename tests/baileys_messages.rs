//! Independent check of the router and the simulated phone: the real Baileys client
//! (`@whiskeysockets/baileys@7.0.0-rc14`, `baileys-peer.md` §5), linked to one sim account,
//! receives an end-to-end encrypted text from another account's simulated phone and answers it;
//! the phone's decrypted inbox (the admin API's `messages`) shows the answer.

use std::time::Duration;

use wa_sim::SimEvent;
use wa_testkit::{start_sim, wait_for, JsonLines};
use wagate_tests::{ensure_npm_packages, node_dir};

const BAILEYS: &str = "15550107801";
const PHONE: &str = "15550107802";
const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baileys_receives_a_text_from_a_sim_phone_and_answers() {
    let dir = node_dir();
    ensure_npm_packages(&dir);
    let sim = start_sim(&[]).await;
    sim.create_account(&BAILEYS.parse().expect("a phone number"));
    sim.create_account(&PHONE.parse().expect("a phone number"));
    let mut events = sim.subscribe();
    let mut baileys = JsonLines::spawn_node(
        &dir,
        "baileys_client.mjs",
        &[
            ("WA_SIM_URL", sim.url()),
            ("WA_SIM_ROOT_KEY", hex::encode(sim.root_key().as_bytes())),
            ("WA_RECONNECT_ON_RESTART", "1".to_owned()),
            ("WA_ECHO", "1".to_owned()),
        ],
    )
    .expect("node runs");
    let qr = baileys
        .wait_for(DEADLINE, "a QR code", |v| {
            v["event"] == "connection.update" && v["qr"].is_string()
        })
        .await
        .expect("Baileys shows a QR");
    let jid = sim
        .scan(BAILEYS, qr["qr"].as_str().expect("qr"))
        .expect("the phone scans Baileys' QR");
    wait_for(&mut events, DEADLINE, "login", |e| match e {
        SimEvent::LoggedIn { jid: j, .. } if *j == jid => Some(()),
        _ => None,
    })
    .await
    .expect("Baileys logs in");
    baileys
        .wait_for(DEADLINE, "connection open", |v| {
            v["event"] == "connection.update" && v["connection"] == "open"
        })
        .await
        .expect("Baileys reaches open");

    let id = sim
        .phone_send(PHONE, BAILEYS, "hello Baileys")
        .expect("the phone sends");
    let got = baileys
        .wait_for(DEADLINE, "the phone's text", |v| {
            v["event"] == "message" && v["id"] == id.as_str()
        })
        .await
        .expect("Baileys decrypts the phone's text");
    assert_eq!(got["text"], "hello Baileys");
    baileys
        .wait_for(DEADLINE, "the answer sent", |v| v["event"] == "sent")
        .await
        .expect("Baileys answers");
    let phone = PHONE.parse().expect("a phone number");
    let answer = wait_for(
        &mut events,
        DEADLINE,
        "the answer at the phone",
        |e| match e {
            SimEvent::PhoneReceived { phone: p, id } if *p == phone => Some(id.clone()),
            _ => None,
        },
    )
    .await
    .expect("the phone decrypts Baileys' answer");
    let inbox = sim.phone_messages(PHONE).expect("inbox");
    let m = inbox.iter().find(|m| m.id == answer).expect("in the inbox");
    assert_eq!(
        (m.from.as_str(), m.kind.as_str(), m.text.as_str()),
        (BAILEYS, "text", "re: hello Baileys")
    );
    assert_eq!(m.chat, format!("{BAILEYS}@s.whatsapp.net"));
    baileys.kill().await;
    sim.shutdown();
}

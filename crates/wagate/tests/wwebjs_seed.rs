//! Seeds 000 and 001 on the real binary against wa-sim (CONTRACTS §1, §C): ping → status
//! `session_not_found` → start → QR shown → the sim's phone scans it → status exactly
//! `{"success":true,"state":"CONNECTED","message":"session_connected"}`; then `sendMessage`
//! with text, a location and a contact reaches the other phone, answered with a
//! whatsapp-web.js Message; restart keeps the link; terminate logs out and deletes.

use serde_json::{json, Value};
use wa_sim::{SimEvent, SimServer};
use wa_testkit::{start_sim, wait_for, Served, Wwebjs, ADMIN_TOKEN, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
/// The seeds' session id looks like the account's phone number.
const OURS: &str = "5511999990201";
const PEER: &str = "5511999990202";

/// Sends `body`, checks the Message shape, waits until the peer's phone has it; returns the
/// Message and the phone's record of it.
async fn send_and_receive(api: &Wwebjs<'_>, sim: &SimServer, body: Value) -> (Value, Value) {
    let mut sim_events = sim.subscribe();
    let (status, answer) = api
        .post(&format!("/client/sendMessage/{OURS}"), &body)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["success"], true);
    let message = answer["message"].clone();
    let id = message["id"]["id"].as_str().expect("an id").to_owned();
    let remote = format!("{PEER}@c.us");
    assert_eq!(
        message["id"],
        json!({"fromMe": true, "remote": remote, "id": id,
               "_serialized": format!("true_{remote}_{id}")})
    );
    assert_eq!(message["ack"], 1);
    assert_eq!(message["fromMe"], true);
    assert_eq!(message["hasMedia"], false);
    assert_eq!(message["from"], format!("{OURS}@c.us"));
    assert_eq!(message["to"], remote);
    assert!(message["timestamp"]
        .as_u64()
        .is_some_and(|t| t > 1_600_000_000));
    wait_for(&mut sim_events, DEADLINE, "the phone's copy", |e| match e {
        SimEvent::PhoneReceived { id: got, .. } if got.as_str() == id => Some(()),
        _ => None,
    })
    .await
    .expect("the peer's phone receives it");
    let (status, inbox) = wa_testkit::http::request(
        sim.addr(),
        "GET",
        &format!("/admin/phones/{PEER}/messages"),
        None,
        DEADLINE,
    )
    .await;
    assert_eq!(status, 200, "{inbox}");
    let record = inbox
        .as_array()
        .and_then(|all| all.iter().find(|m| m["id"] == id.as_str()))
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in {inbox}"));
    assert_eq!(record["from"], OURS);
    (message, record)
}

#[tokio::test]
async fn seed_000_and_001_then_sends_reach_the_phone() {
    let sim = start_sim(&[OURS, PEER]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let api = Wwebjs::new(&served, ADMIN_TOKEN);

    seed_000(&api, &served, &sim).await;
    seed_001(&api).await;
    sends(&api, &sim).await;
    refusals(&api, &served).await;
    restart_and_terminate(&api, &sim).await;
}

/// Seed 000's workflow up to the scan.
async fn seed_000(api: &Wwebjs<'_>, served: &Served, sim: &SimServer) {
    // Seed 000's workflow: ping → status → auto-start on "undefined" → QR on scan_qr.
    let (status, body) = served.request("GET", "/ping", &[], None).await;
    assert_eq!(
        (status, body),
        (200, json!({"success": true, "message": "pong"}))
    );
    let (status, body) = api.get(&format!("/session/status/{OURS}")).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"success": false, "state": null, "message": "session_not_found"})
        )
    );
    let (status, body) = api.get(&format!("/session/start/{OURS}")).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"success": true, "message": "Session initiated successfully"})
        )
    );
    let (status, body) = api.get(&format!("/session/status/{OURS}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["message"], "session_not_connected", "{body}");
    api.link(sim, OURS, OURS)
        .await
        .expect("linked through the phone");
}

/// Seed 001's status, and the linked session's other answers.
async fn seed_001(api: &Wwebjs<'_>) {
    // Seed 001 expects exactly this.
    let (status, body) = api.get(&format!("/session/status/{OURS}")).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"success": true, "state": "CONNECTED", "message": "session_connected"})
        )
    );
    let (_, body) = api.get(&format!("/client/getState/{OURS}")).await;
    assert_eq!(body, json!({"success": true, "state": "CONNECTED"}));
    let scanned = json!({"success": false, "message": "qr code not ready or already scanned"});
    for path in [
        format!("/session/qr/{OURS}"),
        format!("/session/qr/{OURS}/image"),
    ] {
        let (status, body) = api.get(&path).await;
        assert_eq!((status, &body), (200, &scanned), "{path}");
    }
    let (status, body) = api.get(&format!("/session/start/{OURS}")).await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({"success": false, "error": format!("Session already exists for: {OURS}")})
        )
    );
}

/// Text, location and contact reach the peer's phone.
async fn sends(api: &Wwebjs<'_>, sim: &SimServer) {
    // Text, location and contact reach the peer's phone.
    let chat = format!("{PEER}@c.us");
    let (message, record) = send_and_receive(
        api,
        sim,
        json!({"chatId": chat, "contentType": "string", "content": "Halo from the API"}),
    )
    .await;
    assert_eq!(
        (&message["type"], &message["body"]),
        (&json!("chat"), &json!("Halo from the API"))
    );
    assert_eq!(
        (&record["kind"], &record["text"]),
        (&json!("text"), &json!("Halo from the API"))
    );

    let (message, record) = send_and_receive(
        api,
        sim,
        json!({"chatId": PEER, "contentType": "Location",
               "content": {"latitude": -6.1754, "longitude": 106.8272, "description": "Monas\nJakarta"}}),
    )
    .await;
    assert_eq!(message["type"], "location");
    assert_eq!(
        message["location"],
        json!({"latitude": -6.1754, "longitude": 106.8272, "description": "Monas\nJakarta"})
    );
    assert_eq!(record["kind"], "location");

    let (message, record) = send_and_receive(
        api,
        sim,
        json!({"chatId": chat, "contentType": "Contact", "content": {"contactId": "5511999990299"}}),
    )
    .await;
    assert_eq!(message["type"], "vcard");
    let vcard = message["body"].as_str().expect("the vCard");
    assert!(vcard.starts_with("BEGIN:VCARD"), "{vcard}");
    assert!(
        vcard.contains("waid=5511999990299:+5511999990299"),
        "{vcard}"
    );
    assert_eq!(message["vCards"], json!([vcard]));
    assert_eq!(record["kind"], "contact");
}

/// The dialect's refusals on a connected session.
async fn refusals(api: &Wwebjs<'_>, served: &Served) {
    let chat = format!("{PEER}@c.us");
    // The dialect's refusals on a connected session.
    let send = |content_type: &str, content: Value| json!({"chatId": chat, "contentType": content_type, "content": content});
    let path = format!("/client/sendMessage/{OURS}");
    let (status, body) = api
        .post(
            &path,
            &send(
                "MessageMedia",
                json!({"mimetype": "image/png", "data": "AA=="}),
            ),
        )
        .await;
    // One zero byte declared as a PNG: the bytes are checked, nothing is uploaded (issue 13).
    assert_eq!(
        (status, body["success"].clone()),
        (400, json!(false)),
        "{body}"
    );
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot be sent as image")),
        "{body}"
    );
    let (status, body) = api
        .post(&path, &send("Poll", json!({"pollName": "?"})))
        .await;
    assert_eq!(
        (status, body["success"].clone()),
        (400, json!(false)),
        "{body}"
    );
    let (status, body) = api.post(&path, &send("Sticker", json!("x"))).await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"success": false, "error": "contentType invalid, must be string, MessageMedia, MessageMediaFromURL, Location, Buttons, List, Contact or Poll"})
        )
    );
    let (status, body) = api
        .post(
            &path,
            &json!({"chatId": "nobody", "contentType": "string", "content": "x"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"success": false, "error": "could not parse chatId"})
        )
    );
    let (status, body) = served
        .request(
            "POST",
            &path,
            &[("x-api-key", ADMIN_TOKEN)],
            Some("{not json"),
        )
        .await;
    assert_eq!(
        (status, body["success"].clone()),
        (400, json!(false)),
        "{body}"
    );
}

/// Restart keeps the link; terminate logs out and deletes.
async fn restart_and_terminate(api: &Wwebjs<'_>, sim: &SimServer) {
    // Restart keeps the credentials: CONNECTED again without a new scan.
    let (status, body) = api.get(&format!("/session/restart/{OURS}")).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"success": true, "message": "Restarted successfully"})
        )
    );
    api.wait_status(OURS, "session_connected")
        .await
        .expect("connected again after the restart");

    // Terminate logs out (the phone forgets the device) and deletes the session.
    let mut sim_events = sim.subscribe();
    let (status, body) = api.get(&format!("/session/terminate/{OURS}")).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"success": true, "message": "Logged out successfully"})
        )
    );
    wait_for(&mut sim_events, DEADLINE, "the device removal", |e| {
        matches!(e, SimEvent::DeviceRemoved { .. }).then_some(())
    })
    .await
    .expect("the phone forgets the device");
    let (_, body) = api.get(&format!("/session/status/{OURS}")).await;
    assert_eq!(
        body,
        json!({"success": false, "state": null, "message": "session_not_found"})
    );
}

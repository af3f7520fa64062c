//! The whatsapp-web.js dialect's routes on the real binary (CONTRACTS §C.1–§C.4): the API key
//! (403, `/ping` open), the session id pattern (422), the answers for unknown sessions, and a
//! session's life before it is linked: start (422 when running), QR, state, stop, restart,
//! pairing code, terminate and the flushes.

use serde_json::{json, Value};
use wa_testkit::{start_sim, wait_for, Served, Wwebjs, ADMIN_TOKEN, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const PHONE: &str = "5511999990101";

fn not_found() -> Value {
    json!({"success": false, "state": null, "message": "session_not_found"})
}

#[tokio::test]
async fn the_key_the_id_and_unknown_sessions() {
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let api = Wwebjs::new(&served, ADMIN_TOKEN);

    let (status, body) = served.request("GET", "/ping", &[], None).await;
    assert_eq!(
        (status, body),
        (200, json!({"success": true, "message": "pong"}))
    );
    invalid_keys(&served).await;
    invalid_ids(&api).await;
    unknown_sessions(&api).await;
}

/// 403 without the key or with another, on session and client routes.
async fn invalid_keys(served: &Served) {
    let invalid_key = json!({"success": false, "error": "Invalid API key"});
    for headers in [vec![], vec![("x-api-key", "wrong-key")]] {
        for path in [
            "/session/status/abc",
            "/session/getSessions",
            "/client/getState/abc",
        ] {
            let (status, body) = served.request("GET", path, &headers, None).await;
            assert_eq!((status, &body), (403, &invalid_key), "{path}");
        }
        let (status, body) = served
            .request("POST", "/client/sendMessage/abc", &headers, Some("{}"))
            .await;
        assert_eq!((status, body), (403, invalid_key.clone()));
    }
}

/// 422 for ids outside `^[\w-]+$` on every route that takes one.
async fn invalid_ids(api: &Wwebjs<'_>) {
    let bad_id = json!({"success": false, "error": "Session should be alphanumerical or -"});
    for route in ["start", "status", "qr", "restart", "stop", "terminate"] {
        for id in ["bad.id", "a%20b", "%C3%A9"] {
            let (status, body) = api.get(&format!("/session/{route}/{id}")).await;
            assert_eq!((status, &body), (422, &bad_id), "{route}/{id}");
        }
    }
    let (status, body) = api.get("/session/qr/bad.id/image").await;
    assert_eq!((status, &body), (422, &bad_id));
    let (status, body) = api.get("/client/getState/bad.id").await;
    assert_eq!((status, body), (422, bad_id.clone()));
    for path in [
        "/client/sendMessage/bad.id",
        "/session/requestPairingCode/bad.id",
    ] {
        let (status, body) = api.post(path, &json!({})).await;
        assert_eq!((status, &body), (422, &bad_id), "{path}");
    }
}

/// Unknown sessions: HTTP 200 in upstream's shapes, except the client routes' check (404).
async fn unknown_sessions(api: &Wwebjs<'_>) {
    let (status, body) = api.get("/session/status/ghost").await;
    assert_eq!((status, body), (200, not_found()));
    let qr_not_found = json!({"success": false, "message": "session_not_found"});
    for path in ["/session/qr/ghost", "/session/qr/ghost/image"] {
        let (status, body) = api.get(path).await;
        assert_eq!((status, &body), (200, &qr_not_found), "{path}");
    }
    for route in ["restart", "stop", "terminate"] {
        let (status, body) = api.get(&format!("/session/{route}/ghost")).await;
        assert_eq!((status, body), (200, not_found()), "{route}");
    }
    let (status, body) = api.get("/client/getState/ghost").await;
    assert_eq!(
        (status, body),
        (404, json!({"success": false, "error": "session_not_found"}))
    );
    let text = json!({"chatId": "5511999990102@c.us", "contentType": "string", "content": "hi"});
    let (status, body) = api.post("/client/sendMessage/ghost", &text).await;
    assert_eq!(
        (status, body),
        (404, json!({"success": false, "error": "session_not_found"}))
    );
    let (status, body) = api
        .post(
            "/session/requestPairingCode/ghost",
            &json!({"phoneNumber": PHONE}),
        )
        .await;
    assert_eq!((status, body), (200, qr_not_found));

    let (status, body) = api.get("/session/getSessions").await;
    assert_eq!(
        (status, body),
        (200, json!({"success": true, "result": []}))
    );
    let flushed = json!({"success": true, "message": "Flush completed successfully"});
    for path in ["/session/terminateInactive", "/session/terminateAll"] {
        let (status, body) = api.get(path).await;
        assert_eq!((status, &body), (200, &flushed), "{path}");
    }
}

#[tokio::test]
async fn a_session_before_it_is_linked() {
    let sim = start_sim(&[PHONE]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let api = Wwebjs::new(&served, ADMIN_TOKEN);
    start_and_qr(&api).await;
    stop_start_restart(&api).await;
    pairing_code(&api, &sim).await;
    terminate_and_flushes(&api).await;
}

/// start (422 when running), the QR, the not-connected answers.
async fn start_and_qr(api: &Wwebjs<'_>) {
    let (status, body) = api.get("/session/start/shop-1").await;
    let started = json!({"success": true, "message": "Session initiated successfully"});
    assert_eq!((status, body), (200, started));
    let (status, body) = api.get("/session/start/shop-1").await;
    let exists = json!({"success": false, "error": "Session already exists for: shop-1"});
    assert_eq!((status, body), (422, exists));
    let qr = api.wait_qr("shop-1").await.expect("a QR code");
    assert!(!qr.is_empty());
    let (status, body) = api.get("/session/status/shop-1").await;
    let unpaired =
        json!({"success": false, "state": "UNPAIRED", "message": "session_not_connected"});
    assert_eq!((status, body), (200, unpaired));
    let (status, body) = api.get("/client/getState/shop-1").await;
    let state = json!({"success": true, "state": "UNPAIRED"});
    assert_eq!((status, body), (200, state));
    let text = json!({"chatId": "5511999990102@c.us", "contentType": "string", "content": "hi"});
    let (status, body) = api.post("/client/sendMessage/shop-1", &text).await;
    let refused = json!({"success": false, "error": "session_not_connected"});
    assert_eq!((status, body), (404, refused));
    let (status, body) = api.get("/session/getSessions").await;
    let listed = json!({"success": true, "result": ["shop-1"]});
    assert_eq!((status, body), (200, listed));
}

/// stop: the session is forgotten by status (upstream's not-found) but starts again; restart.
async fn stop_start_restart(api: &Wwebjs<'_>) {
    let (status, body) = api.get("/session/stop/shop-1").await;
    let stopped = json!({"success": true, "message": "Session stopped successfully"});
    assert_eq!((status, body), (200, stopped));
    let (_, body) = api.get("/session/status/shop-1").await;
    assert_eq!(body, not_found());
    let (_, body) = api.get("/session/qr/shop-1").await;
    assert_eq!(
        body,
        json!({"success": false, "message": "session_not_found"})
    );
    let (status, _) = api.get("/session/start/shop-1").await;
    assert_eq!(status, 200);
    api.wait_qr("shop-1").await.expect("a QR code after start");

    let (status, body) = api.get("/session/restart/shop-1").await;
    let restarted = json!({"success": true, "message": "Restarted successfully"});
    assert_eq!((status, body), (200, restarted));
    api.wait_qr("shop-1")
        .await
        .expect("a QR code after restart");
}

/// A pairing code instead of the QR (avoylenko's `requestPairingCode`).
async fn pairing_code(api: &Wwebjs<'_>, sim: &wa_sim::SimServer) {
    let mut sim_events = sim.subscribe();
    let path = "/session/requestPairingCode/shop-1";
    let (status, body) = api
        .post(path, &json!({"phoneNumber": "not a number"}))
        .await;
    assert_eq!((status, &body["success"]), (400, &json!(false)), "{body}");
    let request = json!({"phoneNumber": format!("+{PHONE}"), "showNotification": true});
    let (status, body) = api.post(path, &request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    let code = body["result"].as_str().expect("a code");
    assert_eq!(code.len(), 9, "{code}");
    assert_eq!(&code[4..5], "-", "{code}");
    wait_for(&mut sim_events, DEADLINE, "the pair code request", |e| {
        matches!(e, wa_sim::SimEvent::PairCodeRequested { .. }).then_some(())
    })
    .await
    .expect("the sim saw the request");
}

/// terminateInactive, terminate, terminateAll.
async fn terminate_and_flushes(api: &Wwebjs<'_>) {
    // terminateInactive ends (and deletes) every started session that is not CONNECTED.
    let (status, _) = api.get("/session/start/shop-2").await;
    assert_eq!(status, 200);
    let (status, _) = api.get("/session/terminateInactive").await;
    assert_eq!(status, 200);
    for id in ["shop-1", "shop-2"] {
        let (_, body) = api.get(&format!("/session/status/{id}")).await;
        assert_eq!(body, not_found(), "{id}");
    }
    let (_, body) = api.get("/session/getSessions").await;
    assert_eq!(body, json!({"success": true, "result": []}));

    // terminate one; terminateAll the rest.
    for id in ["shop-3", "shop-4"] {
        let (status, _) = api.get(&format!("/session/start/{id}")).await;
        assert_eq!(status, 200);
    }
    let (status, body) = api.get("/session/terminate/shop-3").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"success": true, "message": "Logged out successfully"})
        )
    );
    let (_, body) = api.get("/session/getSessions").await;
    assert_eq!(body, json!({"success": true, "result": ["shop-4"]}));
    let (status, _) = api.get("/session/terminateAll").await;
    assert_eq!(status, 200);
    let (_, body) = api.get("/session/getSessions").await;
    assert_eq!(body, json!({"success": true, "result": []}));
}

#[tokio::test]
async fn the_api_key_from_the_environment() {
    // Seed 000's configuration: `WHATSAPP_API_KEY=210491` on the app, `API_KEY` on the server.
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[("API_KEY", "210491")]).await;
    let (status, body) = Wwebjs::new(&served, "210491")
        .get("/session/status/6285893429926")
        .await;
    assert_eq!((status, body), (200, not_found()));
    // The admin token is not the key once API_KEY is set.
    let (status, body) = Wwebjs::new(&served, ADMIN_TOKEN)
        .get("/session/status/6285893429926")
        .await;
    assert_eq!(
        (status, body),
        (403, json!({"success": false, "error": "Invalid API key"}))
    );
    let (status, _) = served.request("GET", "/ping", &[], None).await;
    assert_eq!(status, 200);
}

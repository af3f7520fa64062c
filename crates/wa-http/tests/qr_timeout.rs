//! The QR window running out, through the wuzapi routes (CONTRACTS §B.4, §F rule 6): every code
//! expires unscanned → the session is gone (`/session/qr` answers 500 `no session`, status
//! `false/false`, no `qrcode`), and `connect` starts over with a new QR (wuzapi #81: a QR can
//! always be had again). In process, so the client's QR timings can be short (the gateway's
//! `ClientConfig`; 60 s + 20 s per code by default); the gateway and sim speak over real sockets.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::Request;
use serde_json::{json, Value};
use tower::ServiceExt;
use wa_client::Gateway;
use wa_http::{router, AppState, HttpConfig};
use wa_store::{MemStore, Store};
use wa_testkit::{client_config, new_account, poll_until, start_sim};

const SEED: u64 = 1187;
const WINDOW: Duration = Duration::from_secs(20);

async fn call(state: &AppState, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("token", format!("token-{SEED}"))
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("answer");
    let status = response.status().as_u16();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

/// Waits until the status shows a QR code; returns it.
async fn wait_qr(state: &AppState) -> String {
    poll_until(WINDOW, "a QR code in the status", || async {
        let (_, status) = call(state, "GET", "/session/status", None).await;
        let qr = status["data"]["qrcode"].as_str().unwrap_or_default();
        (!qr.is_empty()).then(|| qr.to_owned())
    })
    .await
    .expect("QR shown")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_qr_window_ends_the_session_and_connect_starts_over() {
    let sim = start_sim(&[]).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    new_account(store.as_ref(), SEED);
    let mut config = client_config(&sim);
    config.connection.qr_first_ms = 300;
    config.connection.qr_next_ms = 100;
    let gateway = Arc::new(Gateway::new(store, config));
    let state = AppState::new(gateway, HttpConfig::new("admin-token-0123456789"));

    let (status, answer) = call(
        &state,
        "POST",
        "/session/connect",
        Some(json!({"Subscribe": ["Message"], "Immediate": true})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let first = wait_qr(&state).await;
    assert!(first.starts_with("data:image/png;base64,"), "{first}");
    let (status, answer) = call(&state, "GET", "/session/qr", None).await;
    assert_eq!(status, 200, "{answer}");

    // Nobody scans: once the last code expires the session is gone, as wuzapi's QRTimeout.
    poll_until(WINDOW, "the QR window to run out", || async {
        let (status, answer) = call(&state, "GET", "/session/qr", None).await;
        (status == 500 && answer["error"] == "no session").then_some(())
    })
    .await
    .expect("no session after the window");
    let (status, answer) = call(&state, "GET", "/session/status", None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["connected"], false, "{answer}");
    assert_eq!(answer["data"]["loggedIn"], false, "{answer}");
    assert_eq!(answer["data"]["qrcode"], "", "{answer}");

    // connect recovers: a new QR, never "already connected".
    let (status, answer) = call(
        &state,
        "POST",
        "/session/connect",
        Some(json!({"Immediate": true})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let again = wait_qr(&state).await;
    assert!(again.starts_with("data:image/png;base64,"));
}

//! Seed 002's session flow against a served gateway (CONTRACTS §A.2, §B.4): poll
//! `/session/status` until a condition holds, have the sim's phone scan the QR the gateway
//! shows or type the pair code it hands out (wa-sim's admin API, WA-SIM.md), and link a user
//! end to end. Shared by the HTTP tests of every route group.

use std::sync::Mutex;

use serde_json::{json, Value};
use wa_sim::SimServer;

use crate::http;
use crate::poll::poll_until;
use crate::qr;
use crate::served::Served;
use crate::wait::DEADLINE;

/// Polls `GET /session/status` with `token` until `done` holds for its `data`, for up to
/// [`DEADLINE`]; returns that `data`. It asks every [`crate::POLL_EVERY`] (20 ms): fast enough
/// to see a state that lasts a few tens of milliseconds, which is how session 5's race between
/// `loggedIn` and the state (a linked session reading `Pairing`) was found.
///
/// # Panics
/// If it does not hold in time (with the last status and the gateway's log), or if the status
/// answers anything but 200.
pub async fn wait_status(served: &Served, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let last = Mutex::new(Value::Null);
    let (last_seen, done) = (&last, &done);
    let matched = poll_until(DEADLINE, "a matching /session/status", || async move {
        let (code, body) = served.user(token, "GET", "/session/status", None).await;
        assert_eq!(code, 200, "status: {body}");
        if done(&body["data"]) {
            return Some(body["data"].clone());
        }
        *last_seen.lock().unwrap_or_else(|p| p.into_inner()) = body;
        None
    })
    .await;
    matched.unwrap_or_else(|e| {
        let last = last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        panic!("{e}; last: {last}\nlog:\n{}", served.log())
    })
}

/// The sim's phone `phone` scans `qr_text`; the sim admin API's status and body.
pub async fn phone_scans(sim: &SimServer, phone: &str, qr_text: &str) -> (u16, Value) {
    let path = format!("/admin/phones/{phone}/scan");
    http::request(
        sim.addr(),
        "POST",
        &path,
        Some(("text/plain", qr_text)),
        DEADLINE,
    )
    .await
}

/// The sim's phone `phone` types `code`; the sim admin API's status and body.
pub async fn phone_enters_code(sim: &SimServer, phone: &str, code: &str) -> (u16, Value) {
    let path = format!("/admin/phones/{phone}/pair-code");
    let body = json!({ "code": code }).to_string();
    http::request(
        sim.addr(),
        "POST",
        &path,
        Some(("application/json", &body)),
        DEADLINE,
    )
    .await
}

/// Links user `token` by QR as seed 002 does: `connect` (Immediate), poll status until a QR
/// shows, decode it, let `phone` scan it, poll until `connected` and `loggedIn`. Returns the
/// final status `data`.
///
/// # Panics
/// If any step fails.
pub async fn link_by_qr(served: &Served, sim: &SimServer, token: &str, phone: &str) -> Value {
    let body = r#"{"Subscribe":["Message","ReadReceipt"],"Immediate":true}"#;
    let (code, answer) = served
        .user(token, "POST", "/session/connect", Some(body))
        .await;
    assert_eq!(code, 200, "connect: {answer}");
    scan_shown_qr(served, sim, token, phone).await
}

/// With user `token`'s session started: polls status until a QR shows, decodes it, lets
/// `phone` scan it and polls until `connected` and `loggedIn`; the final status `data`.
///
/// # Panics
/// If any step fails.
pub async fn scan_shown_qr(served: &Served, sim: &SimServer, token: &str, phone: &str) -> Value {
    let shown = wait_status(served, token, |d| d["qrcode"].as_str() != Some("")).await;
    let url = shown["qrcode"].as_str().unwrap_or_default();
    let text = qr::decode_data_url(url).unwrap_or_else(|| panic!("unreadable QR: {url:.60}"));
    let (code, scanned) = phone_scans(sim, phone, &text).await;
    assert_eq!(code, 200, "scan: {scanned}");
    wait_status(served, token, |d| {
        d["connected"] == true && d["loggedIn"] == true
    })
    .await
}

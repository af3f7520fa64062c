//! `status` tells the truth at every moment (CONTRACTS §F; wuzapi's #90 in §E): a linked
//! account's session is sampled as fast as the gateway answers while its socket dies, its
//! logins are refused (503) and `connect` restarts it, and no sample may read as a session being
//! linked: no whatsapp-web.js `PAIRING`/`UNPAIRED`, no QR in `/session/status`, no 200 from
//! `/session/qr` (its answer is 500 `not connected` or `no session`, §B.4).
//!
//! Session 5 found the race this guards: `loggedIn` read true while the state was still
//! `Pairing` (the socket's login comes before the post-login steps end in `Connected`), and a
//! connection dropped in that window kept `Pairing` through every refused login, so
//! `/session/qr` answered 200 `""` for a linked account.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{json, Value};
use wa_sim::{Faults, SimEvent, SimServer};
use wa_testkit::session_flow::{link_by_qr, phone_scans, wait_status};
use wa_testkit::{qr, start_sim, wait_for, Served, Wwebjs, ADMIN_TOKEN, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const IMMEDIATE: &str = r#"{"Subscribe":["Message"],"Immediate":true}"#;

/// One reading of the three views of a session, taken one after the other.
#[derive(Debug)]
struct Sample {
    status: Value,
    qr: (u16, Value),
    wwebjs: Value,
}

impl Sample {
    /// What a linked account's session must never show (`None`: nothing wrong).
    fn lie(&self, jid: &Value) -> Option<&'static str> {
        let state = self.wwebjs["state"].as_str().unwrap_or_default();
        if matches!(state, "PAIRING" | "UNPAIRED" | "UNPAIRED_IDLE") {
            return Some("a whatsapp-web.js linking state");
        }
        if self.status["qrcode"] != "" {
            return Some("a QR code in /session/status");
        }
        if self.qr.0 == 200 {
            return Some("/session/qr answered 200");
        }
        let refused = [
            json!("not connected"),
            json!("no session"),
            json!("already logged in"),
        ];
        if !refused.contains(&self.qr.1["error"]) {
            return Some("an unexpected /session/qr error");
        }
        if &self.status["jid"] != jid {
            return Some("another (or no) jid");
        }
        None
    }
}

/// Reads the session of user `name` (token `token`) back to back until `stop` is set.
async fn sample(served: &Served, name: &str, token: &str, stop: &AtomicBool) -> Vec<Sample> {
    let api = Wwebjs::new(served, ADMIN_TOKEN);
    let wwebjs_path = format!("/session/status/{name}");
    let mut samples = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let (code, status) = served.user(token, "GET", "/session/status", None).await;
        assert_eq!(code, 200, "{status}");
        let qr = served.user(token, "GET", "/session/qr", None).await;
        let (code, wwebjs) = api.get(&wwebjs_path).await;
        assert_eq!(code, 200, "{wwebjs}");
        samples.push(Sample {
            status: status["data"].clone(),
            qr,
            wwebjs,
        });
    }
    samples
}

/// Asserts that no sample lies about the linked account `jid`, and that there were enough.
fn assert_truthful(samples: &[Sample], jid: &Value) {
    assert!(samples.len() >= 20, "only {} samples", samples.len());
    for (i, s) in samples.iter().enumerate() {
        if let Some(lie) = s.lie(jid) {
            panic!("sample {i} of {}: {lie}: {s:?}", samples.len());
        }
    }
}

fn refuse_logins(sim: &SimServer, phone: &str) {
    let refuse = Faults {
        refuse_login: Some(503),
        ..Faults::default()
    };
    sim.set_faults(phone, refuse).expect("faults");
}

/// With the socket dead and logins refused: `connect` twice (each restarts the session, one
/// task), then the server takes logins again and a last `connect` logs in.
async fn restart_while_refused(served: &Served, sim: &SimServer, token: &str, phone: &str) {
    let mut sim_events = sim.subscribe();
    for _ in 0..2 {
        let (code, body) = served
            .user(token, "POST", "/session/connect", Some(IMMEDIATE))
            .await;
        assert_eq!(code, 200, "{body}");
    }
    // Refused login attempts (the sim's only phone; each refused by the fault) happen under
    // the sampler: the restarts' and one after the backoff.
    for _ in 0..3 {
        wait_for(&mut sim_events, DEADLINE, "a login attempt", |e| {
            matches!(e, SimEvent::ClientPayload { .. }).then_some(())
        })
        .await
        .expect("a login attempt");
    }
    sim.set_faults(phone, Faults::default()).expect("faults");
    let (code, body) = served
        .user(token, "POST", "/session/connect", Some(IMMEDIATE))
        .await;
    assert_eq!(code, 200, "{body}");
    wait_status(served, token, |d| d["loggedIn"] == true).await;
}

#[tokio::test]
async fn a_linked_session_never_reads_as_linking_across_a_refused_restart() {
    let (phone, name, token) = ("15550107011", "race-a", "race-a-token");
    let sim = start_sim(&[phone]).await;
    let mut sim_events = sim.subscribe();
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    served.create_user(name, token).await;
    let linked = link_by_qr(&served, &sim, token, phone).await;
    // `loggedIn` read true: the session is Working, in every dialect (§F's table).
    let (_, state) = Wwebjs::new(&served, ADMIN_TOKEN)
        .get(&format!("/session/status/{name}"))
        .await;
    assert_eq!(
        state,
        json!({"success": true, "state": "CONNECTED", "message": "session_connected"})
    );
    let conn = wait_for(&mut sim_events, DEADLINE, "the login", |e| match e {
        SimEvent::LoggedIn { conn, jid } if jid.user_part() == phone => Some(*conn),
        _ => None,
    })
    .await
    .expect("the sim saw the login");

    let stop = AtomicBool::new(false);
    let scenario = async {
        refuse_logins(&sim, phone);
        assert!(sim.drop_connection(conn));
        wait_status(&served, token, |d| d["connected"] == false).await;
        restart_while_refused(&served, &sim, token, phone).await;
        stop.store(true, Ordering::Release);
    };
    let (samples, ()) = tokio::join!(sample(&served, name, token, &stop), scenario);
    let jid = linked["jid"].clone();
    // The last samples may read Working again (`already logged in`): that is the truth too.
    assert_truthful(&samples, &jid);
}

/// The window itself: the connection dies right after the server's `<success>` of the first
/// login after pairing, before the post-login steps end (the session is still `Pairing`).
#[tokio::test]
async fn a_session_dropped_during_its_first_login_reconnects_as_linked() {
    let (phone, name, token) = ("15550107012", "race-b", "race-b-token");
    let sim = start_sim(&[phone]).await;
    let mut sim_events = sim.subscribe();
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    served.create_user(name, token).await;
    let (code, body) = served
        .user(token, "POST", "/session/connect", Some(IMMEDIATE))
        .await;
    assert_eq!(code, 200, "{body}");
    let shown = wait_status(&served, token, |d| d["qrcode"] != "").await;
    let url = shown["qrcode"].as_str().unwrap_or_default();
    let text = qr::decode_data_url(url).unwrap_or_else(|| panic!("unreadable QR: {url:.60}"));
    let (code, scanned) = phone_scans(&sim, phone, &text).await;
    assert_eq!(code, 200, "scan: {scanned}");
    let conn = wait_for(&mut sim_events, DEADLINE, "the first login", |e| match e {
        SimEvent::LoggedIn { conn, jid } if jid.user_part() == phone => Some(*conn),
        _ => None,
    })
    .await
    .expect("the sim saw the first login");
    refuse_logins(&sim, phone);
    assert!(sim.drop_connection(conn));
    let dead = wait_status(&served, token, |d| d["connected"] == false).await;
    let jid = dead["jid"].clone();
    assert!(jid.as_str().is_some_and(|j| j.starts_with(phone)), "{dead}");

    let stop = AtomicBool::new(false);
    let scenario = async {
        restart_while_refused(&served, &sim, token, phone).await;
        stop.store(true, Ordering::Release);
    };
    let (samples, ()) = tokio::join!(sample(&served, name, token, &stop), scenario);
    assert_truthful(&samples, &jid);
}

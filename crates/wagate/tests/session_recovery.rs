//! The one session state machine on the real binary (CONTRACTS §F): wuzapi's stuck-state bugs
//! (§E #81, #90, #133) as anti-tests: `connect` recovers from every state where the socket is
//! dead, a QR can always be had again, no second session task; and sessions with autostart
//! come back when the binary restarts (§B.10, §F rule 7).

use serde_json::{json, Value};
use wa_sim::{Faults, SimEvent};
use wa_testkit::session_flow::{link_by_qr, wait_status};
use wa_testkit::{start_sim, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const IMMEDIATE: &str = r#"{"Subscribe":["Message"],"Immediate":true}"#;

fn error(code: u16, text: &str) -> Value {
    json!({"code": code, "error": text, "success": false})
}

async fn health(served: &Served) -> Value {
    let (code, body) = served.request("GET", "/health", &[], None).await;
    assert_eq!(code, 200, "{body}");
    body
}

#[tokio::test]
async fn anti_90_connect_recovers_a_dead_socket_and_never_runs_two_sessions() {
    let phone = "15550107003";
    let sim = start_sim(&[phone]).await;
    let mut sim_events = sim.subscribe();
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let token = "anti90-token";
    served.create_user("anti90", token).await;
    let linked = link_by_qr(&served, &sim, token, phone).await;

    // The live connection: the last login the sim saw for this phone.
    let mut conn = None;
    while let Ok(event) = sim_events.try_recv() {
        if let SimEvent::LoggedIn { conn: c, jid } = event {
            if jid.user_part() == phone {
                conn = Some(c);
            }
        }
    }
    let conn = conn.expect("the sim saw the login");
    // The socket dies and every login attempt is refused (503, transient): the session keeps
    // trying, with growing backoff.
    let refuse = Faults {
        refuse_login: Some(503),
        ..Faults::default()
    };
    sim.set_faults(phone, refuse).expect("faults");
    assert!(sim.drop_connection(conn));
    let dead = wait_status(&served, token, |d| d["connected"] == false).await;
    assert_eq!(dead["jid"], linked["jid"], "the credentials stay");

    // Never "already connected" while the socket is dead; connect twice: one session task.
    for _ in 0..2 {
        let (code, body) = served
            .user(token, "POST", "/session/connect", Some(IMMEDIATE))
            .await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["data"]["jid"], linked["jid"]);
    }
    assert_eq!(health(&served).await["active_connections"], 1);
    let (code, body) = served.user(token, "GET", "/session/qr", None).await;
    assert_eq!((code, body), (500, error(500, "not connected")));

    // The server takes logins again: connect kicks an immediate attempt and it logs in. The
    // session's own backoff retry may win the race and log in first: then connect answers
    // upstream's "already connected" (CONTRACTS §F rule 1), which is only right once it is back.
    sim.set_faults(phone, Faults::default()).expect("faults");
    let (code, body) = served
        .user(token, "POST", "/session/connect", Some(IMMEDIATE))
        .await;
    if code == 500 {
        assert_eq!(body, error(500, "already connected"));
        let (_, status) = served.user(token, "GET", "/session/status", None).await;
        assert_eq!(status["data"]["loggedIn"], true, "{status}");
    } else {
        assert_eq!(code, 200, "{body}");
    }
    let back = wait_status(&served, token, |d| d["loggedIn"] == true).await;
    assert_eq!(
        (back["connected"].clone(), back["jid"].clone()),
        (json!(true), linked["jid"].clone())
    );
    assert_eq!(health(&served).await["active_connections"], 1);
}

#[tokio::test]
async fn anti_133_disconnect_works_while_the_socket_is_down() {
    let phone = "15550107004";
    let sim = start_sim(&[phone]).await;
    let mut sim_events = sim.subscribe();
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let token = "anti133-token";
    served.create_user("anti133", token).await;
    link_by_qr(&served, &sim, token, phone).await;
    let mut conn = None;
    while let Ok(event) = sim_events.try_recv() {
        if let SimEvent::LoggedIn { conn: c, .. } = event {
            conn = Some(c);
        }
    }
    let refuse = Faults {
        refuse_login: Some(503),
        ..Faults::default()
    };
    sim.set_faults(phone, refuse).expect("faults");
    assert!(sim.drop_connection(conn.expect("a login")));
    wait_status(&served, token, |d| d["connected"] == false).await;

    // wuzapi answered "cannot disconnect because it is not logged in" and kept retrying.
    let (code, body) = served
        .user(token, "POST", "/session/disconnect", None)
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(health(&served).await["active_connections"], 0);
    let (code, body) = served.user(token, "GET", "/session/qr", None).await;
    assert_eq!((code, body), (500, error(500, "no session")));

    sim.set_faults(phone, Faults::default()).expect("faults");
    let (code, body) = served
        .user(token, "POST", "/session/connect", Some(IMMEDIATE))
        .await;
    assert_eq!(code, 200, "{body}");
    wait_status(&served, token, |d| d["loggedIn"] == true).await;
}

#[tokio::test]
async fn anti_81_a_qr_can_be_had_again_after_the_phone_unlinks_us() {
    let phone = "15550107005";
    let sim = start_sim(&[phone]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let token = "anti81-token";
    served.create_user("anti81", token).await;

    // A QR shown, then disconnect, then connect: a QR again (no "already connected" loop).
    let (code, body) = served
        .user(token, "POST", "/session/connect", Some(IMMEDIATE))
        .await;
    assert_eq!(code, 200, "{body}");
    wait_status(&served, token, |d| d["qrcode"].as_str() != Some("")).await;
    let (code, body) = served
        .user(token, "POST", "/session/disconnect", None)
        .await;
    assert_eq!(code, 200, "{body}");

    // Linked, then the phone removes the device: logged out, and a new QR links again.
    let linked = link_by_qr(&served, &sim, token, phone).await;
    let jid = linked["jid"].as_str().unwrap_or_default().to_owned();
    let device: u8 = jid
        .split_once(':')
        .and_then(|(_, rest)| rest.split('@').next())
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("device in {jid}"));
    sim.remove_device(phone, device).expect("the phone unlinks");
    let gone = wait_status(&served, token, |d| d["connected"] == false).await;
    assert_eq!(gone["loggedIn"], false);
    let (code, body) = served.user(token, "GET", "/session/qr", None).await;
    assert_eq!((code, body), (500, error(500, "no session")));
    let relinked = link_by_qr(&served, &sim, token, phone).await;
    assert_ne!(relinked["jid"], jid.as_str());
}

#[tokio::test]
async fn a_restart_brings_back_autostart_sessions_only() {
    let (kept, stopped) = ("15550107006", "15550107007");
    let sim = start_sim(&[kept, stopped]).await;
    let mut served = Served::start(BIN.as_ref(), &sim, &[]).await;
    served.create_user("kept", "restart-kept").await;
    served.create_user("stopped", "restart-stopped").await;
    let linked = link_by_qr(&served, &sim, "restart-kept", kept).await;
    link_by_qr(&served, &sim, "restart-stopped", stopped).await;
    let (code, body) = served
        .user("restart-stopped", "POST", "/session/disconnect", None)
        .await;
    assert_eq!(code, 200, "{body}");

    served.restart().await;
    let back = wait_status(&served, "restart-kept", |d| d["loggedIn"] == true).await;
    assert_eq!(back["jid"], linked["jid"]);
    let (code, body) = served
        .user("restart-stopped", "GET", "/session/qr", None)
        .await;
    assert_eq!((code, body), (500, error(500, "no session")));
    let h = health(&served).await;
    assert_eq!(
        (h["total_users"].clone(), h["logged_in_users"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(h["active_connections"], 1);
}

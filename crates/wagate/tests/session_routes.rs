//! The session routes (CONTRACTS §A.2, §B.2–§B.5, §F) on the real binary against wa-sim:
//! seed 002's flows (QR and pair code), every route's documented errors, and wuzapi's
//! stuck-state bugs (§E #81, #90, #133) as anti-tests.

use serde_json::{json, Value};
use wa_testkit::session_flow::{link_by_qr, phone_enters_code, scan_shown_qr, wait_status};
use wa_testkit::{start_sim, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const PHONE: &str = "15550107001";

fn error(code: u16, text: &str) -> Value {
    json!({"code": code, "error": text, "success": false})
}

fn ok(data: Value) -> Value {
    json!({"code": 200, "data": data, "success": true})
}

/// Every key of the contract's status object (§A.2), with `history` a string.
fn assert_status_shape(data: &Value) {
    for key in [
        "id",
        "name",
        "connected",
        "loggedIn",
        "token",
        "jid",
        "webhook",
        "events",
        "proxy_url",
        "qrcode",
        "history",
        "proxy_config",
        "s3_config",
        "hmac_configured",
    ] {
        assert!(data.get(key).is_some(), "status lacks {key}: {data}");
    }
    assert!(data["history"].is_string(), "{data}");
    for key in ["enabled", "proxy_url"] {
        assert!(data["proxy_config"].get(key).is_some(), "{data}");
    }
    for key in [
        "enabled",
        "endpoint",
        "region",
        "bucket",
        "access_key",
        "path_style",
        "public_url",
        "media_delivery",
        "retention_days",
    ] {
        assert!(data["s3_config"].get(key).is_some(), "{data}");
    }
}

async fn status_of(served: &Served, token: &str) -> Value {
    let (code, body) = served.user(token, "GET", "/session/status", None).await;
    assert_eq!(code, 200, "{body}");
    body["data"].clone()
}

fn live(data: &Value) -> (bool, bool) {
    (data["connected"] == true, data["loggedIn"] == true)
}

const SEED_CONNECT: &str =
    r#"{"Subscribe":["Message","ReadReceipt","NoSuchType"],"Immediate":true}"#;

/// Before any connect: false/false with every field, and "no session" elsewhere.
async fn before_connect(served: &Served, token: &str, id: &str) {
    let data = status_of(served, token).await;
    assert_status_shape(&data);
    assert_eq!(
        (data["id"].as_str(), data["token"].as_str()),
        (Some(id), Some(token))
    );
    assert_eq!(live(&data), (false, false));
    for (method, path) in [
        ("GET", "/session/qr"),
        ("POST", "/session/disconnect"),
        ("POST", "/session/logout"),
    ] {
        let (code, body) = served.user(token, method, path, None).await;
        assert_eq!(
            (code, body),
            (500, error(500, "no session")),
            "{method} {path}"
        );
    }
}

/// connect's answer (the seed's body), then the QR in status and `/session/qr`; a second
/// connect while the socket is up is "already connected", as upstream.
async fn connect_shows_a_qr(served: &Served, token: &str) {
    let (code, body) = served
        .user(token, "POST", "/session/connect", Some(SEED_CONNECT))
        .await;
    let want = json!({"details": "Connected!", "events": "Message,ReadReceipt", "jid": "",
        "webhook": ""});
    assert_eq!((code, body), (200, ok(want)));
    let shown = wait_status(served, token, |d| d["qrcode"].as_str() != Some("")).await;
    assert_eq!(live(&shown), (true, false));
    let url = shown["qrcode"].as_str().unwrap_or_default();
    assert!(url.starts_with("data:image/png;base64,"), "{url:.40}");
    assert_eq!(shown["events"], "Message,ReadReceipt");
    let (code, body) = served.user(token, "GET", "/session/qr", None).await;
    assert_eq!(code, 200, "{body}");
    let url = body["data"]["QRCode"].as_str().unwrap_or_default();
    let text = wa_testkit::qr::decode_data_url(url).expect("a readable QR");
    assert!(text.contains("2@"), "{text}");
    let (code, body) = served
        .user(token, "POST", "/session/connect", Some(SEED_CONNECT))
        .await;
    assert_eq!((code, body), (500, error(500, "already connected")));
}

/// Logged in: the QR, connect and pairphone refusals.
async fn logged_in_refusals(served: &Served, token: &str) {
    let (code, body) = served.user(token, "GET", "/session/qr", None).await;
    assert_eq!((code, body), (500, error(500, "already logged in")));
    let (code, body) = served
        .user(token, "POST", "/session/connect", Some(SEED_CONNECT))
        .await;
    assert_eq!((code, body), (500, error(500, "already connected")));
    let pair = json!({"Phone": PHONE}).to_string();
    let (code, body) = served
        .user(token, "POST", "/session/pairphone", Some(&pair))
        .await;
    assert_eq!((code, body), (400, error(400, "already paired")));
}

/// Disconnect: false/false, credentials kept; connect without `Immediate` waits for the
/// socket and logs in again without a QR.
async fn disconnect_and_back(served: &Served, token: &str, jid: &str) {
    let (code, body) = served
        .user(token, "POST", "/session/disconnect", None)
        .await;
    assert_eq!((code, body), (200, ok(json!({"Details": "Disconnected"}))));
    assert_eq!(live(&status_of(served, token).await), (false, false));
    let (code, body) = served.user(token, "GET", "/session/qr", None).await;
    assert_eq!((code, body), (500, error(500, "no session")));
    let (code, body) = served
        .user(
            token,
            "POST",
            "/session/connect",
            Some(r#"{"Subscribe":["Message"]}"#),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["jid"], jid);
    assert_eq!(body["data"]["events"], "Message");
    wait_status(served, token, |d| d["loggedIn"] == true).await;
}

#[tokio::test]
async fn seed_002_qr_flow_connect_status_qr_scan_disconnect_logout() {
    let sim = start_sim(&[PHONE]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let token = "seed002-qr-token";
    let id = served.create_user("seed002", token).await;
    before_connect(&served, token, &id).await;
    connect_shows_a_qr(&served, token).await;

    let linked = scan_shown_qr(&served, &sim, token, PHONE).await;
    let jid = linked["jid"].as_str().unwrap_or_default().to_owned();
    assert!(jid.starts_with(PHONE), "{linked}");
    assert_eq!(linked["qrcode"], "");
    logged_in_refusals(&served, token).await;
    disconnect_and_back(&served, token, &jid).await;

    // Logout: unlinked; the next connect shows a QR again (a fresh device).
    let (code, body) = served.user(token, "POST", "/session/logout", None).await;
    assert_eq!((code, body), (200, ok(json!({"Details": "Logged out"}))));
    assert_eq!(live(&status_of(&served, token).await), (false, false));
    let (code, body) = served.user(token, "POST", "/session/logout", None).await;
    assert_eq!((code, body), (500, error(500, "no session")));
    let relinked = link_by_qr(&served, &sim, token, PHONE).await;
    assert_ne!(relinked["jid"], jid.as_str(), "a new device after logout");
}

#[tokio::test]
async fn seed_002_pairphone_flow_and_its_errors() {
    let phone = "15550107002";
    let sim = start_sim(&[phone]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let token = "seed002-pair-token";
    served.create_user("pairing", token).await;
    let pair = json!({"Phone": format!("+{phone}")}).to_string();

    // Body errors come first, then "no session" before connect.
    for (body, want) in [
        ("", error(400, "could not decode Payload")),
        (
            r#"{"Phone": 15550107002}"#,
            error(400, "could not decode Payload"),
        ),
        ("[]", error(400, "could not decode Payload")),
        ("{}", error(400, "missing Phone in Payload")),
        (pair.as_str(), error(500, "no session")),
    ] {
        let (code, answer) = served
            .user(token, "POST", "/session/pairphone", Some(body))
            .await;
        assert_eq!(
            (code, &answer),
            (want["code"].as_u64().unwrap_or(0) as u16, &want),
            "{body}"
        );
    }

    let (code, body) = served
        .user(
            token,
            "POST",
            "/session/connect",
            Some(r#"{"Immediate":true}"#),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["data"]["events"], "",
        "an empty Subscribe stores no events"
    );
    let (code, body) = served
        .user(
            token,
            "POST",
            "/session/pairphone",
            Some(r#"{"Phone":"0123"}"#),
        )
        .await;
    assert_eq!(code, 400, "a number that is not international: {body}");
    let (code, body) = served
        .user(token, "POST", "/session/pairphone", Some(&pair))
        .await;
    assert_eq!(code, 200, "{body}");
    let linking = body["data"]["LinkingCode"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(linking.len(), 9, "{body}");
    assert_eq!(linking.as_bytes()[4], b'-', "{body}");
    let (code, answer) = phone_enters_code(&sim, phone, &linking).await;
    assert!((200..300).contains(&code), "{code} {answer}");
    let linked = wait_status(&served, token, |d| d["loggedIn"] == true).await;
    assert_eq!(linked["connected"], true);
    assert!(
        linked["jid"]
            .as_str()
            .unwrap_or_default()
            .starts_with(phone),
        "{linked}"
    );
}

//! The SSRF guard (issue 12 item 1) on the real binary: webhook URLs on loopback, private
//! (RFC 1918, ULA), link-local, CGNAT, multicast or unspecified addresses are refused with a
//! 400 in the envelope, through `/webhook` and the admin user routes, unless the operator allows
//! them (`WAGATE_WEBHOOK_ALLOW_PRIVATE=true`); a global webhook on such an address stops the
//! start with an operator error.

use serde_json::json;
use tokio::process::Command;
use wa_testkit::{start_sim, temp_dir, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const TOKEN: &str = "guard-user-token";
const INTERNAL: [&str; 9] = [
    "http://127.0.0.1:9/hook",
    "http://localhost:8080/hook",
    "http://[::1]/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10:8080/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/hook",
    "http://[fd00::1]/hook",
    "http://0.0.0.0/hook",
];

#[tokio::test]
async fn internal_webhook_urls_are_refused_by_default() {
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let id = served.create_user("guarded", TOKEN).await;
    for url in INTERNAL {
        let body = json!({ "webhookURL": url, "events": ["Message"] }).to_string();
        let (status, answer) = served.user(TOKEN, "POST", "/webhook", Some(&body)).await;
        assert_eq!(status, 400, "{url}: {answer}");
        assert_eq!(answer["success"], false);
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains("webhook URL points to"), "{error}");
        assert!(error.contains("--webhook-allow-private"), "{error}");
    }
    let put = json!({"webhook": INTERNAL[3], "events": ["All"], "active": true}).to_string();
    let (status, answer) = served.user(TOKEN, "PUT", "/webhook", Some(&put)).await;
    assert_eq!(status, 400, "{answer}");
    let bad_scheme = json!({ "webhookURL": "file:///etc/passwd" }).to_string();
    let (status, answer) = served
        .user(TOKEN, "POST", "/webhook", Some(&bad_scheme))
        .await;
    assert_eq!(status, 400, "{answer}");
    // Nothing was stored.
    let (_, view) = served.user(TOKEN, "GET", "/webhook", None).await;
    assert_eq!(view["data"]["webhook"], "");

    let create = json!({"name": "x", "token": "x-token", "webhook": INTERNAL[4]}).to_string();
    let (status, answer) = served.admin("POST", "/admin/users", Some(&create)).await;
    assert_eq!(status, 400, "{answer}");
    let update = json!({ "webhook": INTERNAL[5] }).to_string();
    let path = format!("/admin/users/{id}");
    let (status, answer) = served.admin("PUT", &path, Some(&update)).await;
    assert_eq!(status, 400, "{answer}");

    // A public address is accepted (nothing is subscribed-to here, so nothing is sent).
    let public = json!({ "webhookURL": "http://198.51.100.7/hook" }).to_string();
    let (status, answer) = served.user(TOKEN, "POST", "/webhook", Some(&public)).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn the_operator_can_allow_private_targets() {
    let sim = start_sim(&[]).await;
    let served = Served::start(
        BIN.as_ref(),
        &sim,
        &[("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true")],
    )
    .await;
    served.create_user("allowed", TOKEN).await;
    for url in INTERNAL {
        let body = json!({ "webhookURL": url }).to_string();
        let (status, answer) = served.user(TOKEN, "POST", "/webhook", Some(&body)).await;
        assert_eq!(status, 200, "{url}: {answer}");
    }
}

#[tokio::test]
async fn a_global_webhook_on_an_internal_address_stops_the_start() {
    let tmp = temp_dir("guard");
    let out = Command::new(BIN)
        .arg("serve")
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .env("WAGATE_ADMIN_TOKEN", "guard-admin-token-0123456789")
        .env("WUZAPI_GLOBAL_WEBHOOK", "http://127.0.0.1:9/all")
        .env("WAGATE_LISTEN", "127.0.0.1:0")
        .output()
        .await
        .expect("wagate runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("WUZAPI_GLOBAL_WEBHOOK"), "{stderr}");
    assert!(stderr.contains("--webhook-allow-private"), "{stderr}");
}

//! Admin users (CONTRACTS §A.1) and `/health` (§A.8) on the real binary: every route with its
//! documented shapes and errors; users are gateway accounts whose `connected` / `loggedIn`
//! are live.

use serde_json::{json, Value};
use wa_testkit::session_flow::link_by_qr;
use wa_testkit::{start_sim, Served, ADMIN_TOKEN};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const HOOK: &str = "http://127.0.0.1:9/hook";
const SOCKS: &str = "socks5://127.0.0.1:1080";

fn error(code: u16, text: &str) -> Value {
    json!({"code": code, "error": text, "success": false})
}

#[tokio::test]
async fn admin_auth_is_the_exact_token() {
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    for headers in [
        vec![],
        vec![("Authorization", "wrong")],
        vec![("Authorization", bearer.as_str())],
    ] {
        let (code, body) = served.request("GET", "/admin/users", &headers, None).await;
        assert_eq!(
            (code, body),
            (401, error(401, "unauthorized")),
            "{headers:?}"
        );
    }
    let (code, body) = served.admin("GET", "/admin/users", None).await;
    assert_eq!(
        (code, body),
        (200, json!({"code": 200, "data": [], "success": true}))
    );
}

#[tokio::test]
async fn create_answers_201_with_the_contract_shape_and_refuses_bad_input() {
    let sim = start_sim(&[]).await;
    // HOOK is on 127.0.0.1: the operator allows private targets.
    let served = Served::start(
        BIN.as_ref(),
        &sim,
        &[("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true")],
    )
    .await;
    let create = json!({
        "name": "shop", "token": "shop-token", "webhook": HOOK,
        "expiration": 42, "events": "Message,ReadReceipt",
        "proxyConfig": {"enabled": true, "proxyURL": SOCKS},
        "s3Config": {"enabled": true, "bucket": "b", "accessKey": "AK", "secretKey": "SK",
            "mediaDelivery": "both"},
        "hmacKey": "k".repeat(32), "history": 10
    });
    let (code, body) = served
        .admin("POST", "/admin/users", Some(&create.to_string()))
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        (body["code"].clone(), body["success"].clone()),
        (json!(201), json!(true))
    );
    let data = &body["data"];
    let id = data["id"].as_str().unwrap_or_default();
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{data}"
    );
    assert_eq!(data["name"], "shop");
    assert_eq!(data["token"], "shop-token");
    assert_eq!(data["webhook"], HOOK);
    assert_eq!(data["expiration"], 42);
    assert_eq!(data["events"], "Message,ReadReceipt");
    assert_eq!(data["hmac_key"], true);
    assert_eq!(
        data["proxy_config"],
        json!({"enabled": true, "proxy_url": SOCKS})
    );
    assert_eq!(data["s3_config"]["access_key"], "***");
    assert_eq!(data["s3_config"]["media_delivery"], "both");
    assert_eq!(data["s3_config"]["retention_days"], 30);

    create_refusals(&served).await;
}

/// The create errors of §A.1; nothing of a refused create is kept.
async fn create_refusals(served: &Served) {
    let refusals = [
        ("{", error(400, "invalid request payload")),
        (
            r#"{"name":"x","token":5}"#,
            error(400, "invalid request payload"),
        ),
        (r#"{"name":"x"}"#, error(400, "invalid request payload")),
        (
            r#"{"name":"x","token":"t2","hmacKey":"short"}"#,
            error(400, "HMAC key must be at least 32 characters long"),
        ),
        (
            r#"{"name":"x","token":"shop-token"}"#,
            error(409, "user with this token already exists"),
        ),
    ];
    for (body, want) in refusals {
        let (code, answer) = served.admin("POST", "/admin/users", Some(body)).await;
        assert_eq!(
            i64::from(code),
            want["code"].as_i64().unwrap_or(0),
            "{body}: {answer}"
        );
        assert_eq!(answer, want, "{body}");
    }
    let (code, answer) = served
        .admin(
            "POST",
            "/admin/users",
            Some(r#"{"name":"x","token":"t3","events":"Message,Bogus"}"#),
        )
        .await;
    assert_eq!(code, 400);
    assert_eq!(
        answer,
        json!({"code": 400, "details": "invalid event: Bogus", "error": "invalid event type",
            "success": false})
    );
    // Nothing of the refused creates was kept.
    let (_, list) = served.admin("GET", "/admin/users", None).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
}

#[tokio::test]
async fn list_get_update_delete_and_full_delete() {
    let phone = "15550107101";
    let sim = start_sim(&[phone]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let id = served.create_user("alpha", "alpha-token").await;
    let other = served.create_user("beta", "beta-token").await;
    link_by_qr(&served, &sim, "alpha-token", phone).await;

    // The list: live booleans and every key of the contract.
    let (code, list) = served.admin("GET", "/admin/users", None).await;
    assert_eq!(code, 200, "{list}");
    let users = list["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(users.len(), 2);
    let alpha = users
        .iter()
        .find(|u| u["id"] == id.as_str())
        .cloned()
        .unwrap_or_default();
    for key in [
        "id",
        "name",
        "token",
        "webhook",
        "jid",
        "qrcode",
        "connected",
        "loggedIn",
        "expiration",
        "proxy_url",
        "events",
        "proxy_config",
        "s3_config",
    ] {
        assert!(alpha.get(key).is_some(), "user lacks {key}: {alpha}");
    }
    assert_eq!(
        (alpha["connected"].clone(), alpha["loggedIn"].clone()),
        (json!(true), json!(true))
    );
    assert!(
        alpha["jid"].as_str().unwrap_or_default().starts_with(phone),
        "{alpha}"
    );
    assert_eq!(alpha["events"], "Message,ReadReceipt");

    get_update_delete(&served, &id, &other, phone).await;
}

async fn get_update_delete(served: &Served, id: &str, other: &str, phone: &str) {
    // Get: an array of one, or of none.
    let (code, one) = served
        .admin("GET", &format!("/admin/users/{other}"), None)
        .await;
    assert_eq!(code, 200);
    assert_eq!(one["data"].as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(one["data"][0]["loggedIn"], false);
    for unknown in ["0123456789abcdef0123456789abcdef", "nope"] {
        let (code, none) = served
            .admin("GET", &format!("/admin/users/{unknown}"), None)
            .await;
        assert_eq!(
            (code, none),
            (200, json!({"code": 200, "data": [], "success": true}))
        );
    }

    update(served, other).await;
    deletes(served, id, other, phone).await;
}

/// Update: the given fields; the token moves; the errors.
async fn update(served: &Served, other: &str) {
    let path = format!("/admin/users/{other}");
    let (code, body) = served
        .admin(
            "PUT",
            &path,
            Some(r#"{"name":"beta2","token":"beta-token-2","events":"All"}"#),
        )
        .await;
    assert_eq!(
        (code, body),
        (
            200,
            json!({"code": 200, "message": "user updated successfully", "success": true})
        )
    );
    let (code, status) = served
        .user("beta-token-2", "GET", "/session/status", None)
        .await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(
        (
            status["data"]["name"].clone(),
            status["data"]["events"].clone()
        ),
        (json!("beta2"), json!("All"))
    );
    let (code, _) = served
        .user("beta-token", "GET", "/session/status", None)
        .await;
    assert_eq!(code, 401, "the old token is gone");
    for (body, want) in [
        ("{}", error(400, "no fields to update")),
        ("[", error(400, "invalid request payload")),
        (
            r#"{"events":"Nope"}"#,
            json!({"code": 400, "details": "invalid event: Nope",
            "error": "invalid event type", "success": false}),
        ),
        (
            r#"{"token":"alpha-token"}"#,
            error(409, "user with this token already exists"),
        ),
    ] {
        let (code, answer) = served.admin("PUT", &path, Some(body)).await;
        assert_eq!(
            i64::from(code),
            want["code"].as_i64().unwrap_or(0),
            "{body}: {answer}"
        );
        assert_eq!(answer, want, "{body}");
    }
    let missing = "/admin/users/0123456789abcdef0123456789abcdef";
    let (code, answer) = served.admin("PUT", missing, Some(r#"{"name":"z"}"#)).await;
    assert_eq!(
        (code, answer["error"].clone()),
        (404, json!("user not found"))
    );
}

/// Delete and full delete.
async fn deletes(served: &Served, id: &str, other: &str, phone: &str) {
    let path = format!("/admin/users/{other}");
    let (code, answer) = served.admin("DELETE", &path, None).await;
    assert_eq!(
        (code, answer),
        (
            200,
            json!({"code": 200, "data": {"id": other}, "details": "user deleted successfully",
            "success": true})
        )
    );
    let (code, answer) = served.admin("DELETE", &path, None).await;
    assert_eq!(
        (code, answer),
        (
            404,
            json!({"code": 404, "details": format!("No user found with ID: {other}"),
            "error": "user not found", "success": false})
        )
    );
    let (code, answer) = served
        .admin("DELETE", &format!("/admin/users/{id}/full"), None)
        .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["details"], "user instance removed completely");
    assert_eq!(answer["data"]["id"], id);
    assert_eq!(answer["data"]["name"], "alpha");
    assert!(answer["data"]["jid"]
        .as_str()
        .unwrap_or_default()
        .starts_with(phone));
    let (code, _) = served
        .user("alpha-token", "GET", "/session/status", None)
        .await;
    assert_eq!(code, 401);
    let (_, h) = served.request("GET", "/health", &[], None).await;
    assert_eq!(
        (h["total_users"].clone(), h["active_connections"].clone()),
        (json!(0), json!(0))
    );
    let (code, answer) = served
        .admin("DELETE", &format!("/admin/users/{id}/full"), None)
        .await;
    assert_eq!(
        (code, answer["error"].clone()),
        (404, json!("user not found"))
    );
}

#[tokio::test]
async fn health_is_raw_and_counts_live_sessions() {
    let phone = "15550107102";
    let sim = start_sim(&[phone]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    served.create_user("one", "health-one").await;
    served.create_user("two", "health-two").await;
    link_by_qr(&served, &sim, "health-one", phone).await;
    let (code, content_type, text) = served.request_raw("GET", "/health", &[], None).await;
    assert_eq!(code, 200);
    assert_eq!(content_type, "application/json");
    let h: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(h["status"], "ok");
    assert!(
        h.get("code").is_none() && h.get("data").is_none(),
        "no envelope: {h}"
    );
    let ts = h["timestamp"].as_str().unwrap_or_default();
    assert!(
        ts.len() == 20 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
        "RFC 3339: {ts}"
    );
    let uptime = h["uptime"].as_str().unwrap_or_default();
    assert!(uptime.ends_with('s'), "Go duration: {uptime}");
    assert_eq!(h["total_users"], 2);
    assert_eq!(h["active_connections"], 1);
    assert_eq!(h["connected_users"], 1);
    assert_eq!(h["logged_in_users"], 1);
    assert!(h["goroutines"].as_u64().unwrap_or(0) > 0, "{h}");
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
}

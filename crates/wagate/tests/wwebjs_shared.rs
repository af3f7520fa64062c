//! One session state machine behind both dialects (issue 11 item 2, CONTRACTS §F): a session
//! started in the whatsapp-web.js dialect is a wuzapi user (`GET /admin/users`), and a wuzapi
//! user's session shows in `/session/status/{name}`, linked through either; terminate deletes
//! the user.

use serde_json::{json, Value};
use wa_testkit::{start_sim, Served, Wwebjs, ADMIN_TOKEN};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const PHONE: &str = "5511999990301";

/// The wuzapi user named `name` in `GET /admin/users`, if any.
async fn wuzapi_user(served: &Served, name: &str) -> Option<Value> {
    let (status, body) = served.admin("GET", "/admin/users", None).await;
    assert_eq!(status, 200, "{body}");
    body["data"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["name"] == name))
        .cloned()
}

#[tokio::test]
async fn a_session_started_here_is_a_wuzapi_user() {
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let api = Wwebjs::new(&served, ADMIN_TOKEN);

    assert!(wuzapi_user(&served, "tenant-7").await.is_none());
    let (status, _) = api.get("/session/start/tenant-7").await;
    assert_eq!(status, 200);
    api.wait_qr("tenant-7").await.expect("a QR code");
    let user = wuzapi_user(&served, "tenant-7")
        .await
        .expect("listed by wuzapi");
    assert_eq!(user["connected"], true, "{user}");
    assert_eq!(user["loggedIn"], false, "{user}");
    assert!(
        user["id"].as_str().is_some_and(|id| id.len() == 32),
        "{user}"
    );

    let (status, _) = api.get("/session/terminate/tenant-7").await;
    assert_eq!(status, 200);
    assert!(wuzapi_user(&served, "tenant-7").await.is_none());
}

#[tokio::test]
async fn a_wuzapi_users_session_shows_here() {
    let sim = start_sim(&[PHONE]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let api = Wwebjs::new(&served, ADMIN_TOKEN);
    let token = "wuzapi-user-token-0001";
    served.create_user("store-9", token).await;

    // A stopped session is upstream's not-found; connecting through wuzapi shows it here.
    let (_, body) = api.get("/session/status/store-9").await;
    assert_eq!(
        body,
        json!({"success": false, "state": null, "message": "session_not_found"})
    );
    let connect = r#"{"Subscribe":["Message"],"Immediate":true}"#;
    let (status, body) = served
        .user(token, "POST", "/session/connect", Some(connect))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.get("/session/start/store-9").await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({"success": false, "error": "Session already exists for: store-9"})
        )
    );

    // Linked through this dialect's QR: both dialects say so.
    api.link(&sim, "store-9", PHONE).await.expect("linked");
    let (status, body) = served.user(token, "GET", "/session/status", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["connected"], true, "{body}");
    assert_eq!(body["data"]["loggedIn"], true, "{body}");
    let (_, body) = api.get("/session/getSessions").await;
    assert_eq!(body, json!({"success": true, "result": ["store-9"]}));

    // wuzapi's disconnect stops it: not found here again.
    let (status, body) = served
        .user(token, "POST", "/session/disconnect", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = api.get("/session/status/store-9").await;
    assert_eq!(body["message"], "session_not_found");
}

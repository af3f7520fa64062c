//! The session's settings routes (CONTRACTS §A.2, §B.8, §B.9) on the real binary: proxy,
//! hmac/config (raw answers), history; and their documented errors.

use serde_json::{json, Value};
use wa_testkit::session_flow::link_by_qr;
use wa_testkit::{start_sim, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const SOCKS: &str = "socks5://127.0.0.1:1080";
const FTP: &str = r#"{"enable":true,"proxy_url":"ftp://h:21"}"#;
const SOCKS_BODY: &str = r#"{"enable":true,"proxy_url":"socks5://127.0.0.1:1080"}"#;
const HTTP_BODY: &str = r#"{"enable":true,"proxy_url":"http://h:8080"}"#;

fn error(code: u16, text: &str) -> Value {
    json!({"code": code, "error": text, "success": false})
}

fn ok(data: Value) -> Value {
    json!({"code": 200, "data": data, "success": true})
}

#[tokio::test]
async fn proxy_is_checked_stored_and_refused_while_connected() {
    let phone = "15550107201";
    let sim = start_sim(&[phone]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let token = "proxy-token";
    served.create_user("proxy", token).await;
    for (body, want) in [
        (
            r#"{"enable":true}"#,
            error(400, "missing proxy_url in payload"),
        ),
        (
            r#"{"enable":true,"proxy_url":"nonsense"}"#,
            error(400, "invalid proxy URL format"),
        ),
        (
            FTP,
            error(400, "only HTTP and SOCKS5 proxies are supported"),
        ),
        (
            SOCKS_BODY,
            ok(json!({"Details": "Proxy configured successfully",
                "ProxyURL": SOCKS})),
        ),
    ] {
        let (code, answer) = served
            .user(token, "POST", "/session/proxy", Some(body))
            .await;
        assert_eq!(answer, want, "{body}");
        assert_eq!(i64::from(code), want["code"].as_i64().unwrap_or(0));
    }
    let (_, status) = served.user(token, "GET", "/session/status", None).await;
    assert_eq!(status["data"]["proxy_url"], SOCKS);
    assert_eq!(status["data"]["proxy_config"]["enabled"], true);
    let (code, answer) = served
        .user(token, "POST", "/session/proxy", Some(r#"{"enable":false}"#))
        .await;
    assert_eq!(
        (code, answer),
        (200, ok(json!({"Details": "Proxy disabled successfully"})))
    );
    let (_, status) = served.user(token, "GET", "/session/status", None).await;
    assert_eq!(
        status["data"]["proxy_config"],
        json!({"enabled": false, "proxy_url": ""})
    );

    link_by_qr(&served, &sim, token, phone).await;
    let (code, answer) = served
        .user(token, "POST", "/session/proxy", Some(HTTP_BODY))
        .await;
    assert_eq!(
        (code, answer),
        (
            400,
            error(
                400,
                "cannot set proxy while connected. Please disconnect first"
            )
        )
    );
}

#[tokio::test]
async fn hmac_config_answers_raw_and_never_shows_the_key() {
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let token = "hmac-token";
    served.create_user("hmac", token).await;
    let path = "/session/hmac/config";
    let (code, answer) = served.user(token, "GET", path, None).await;
    assert_eq!((code, answer), (200, json!({"hmac_key": ""})));
    let (code, answer) = served
        .user(token, "POST", path, Some(r#"{"hmac_key":"too-short"}"#))
        .await;
    assert_eq!(
        (code, answer),
        (
            400,
            error(400, "HMAC key must be at least 32 characters long")
        )
    );
    let key = json!({"hmac_key": "k".repeat(32)}).to_string();
    let (code, answer) = served.user(token, "POST", path, Some(&key)).await;
    assert_eq!(
        (code, answer),
        (
            200,
            json!({"Details": "HMAC configuration saved successfully"})
        )
    );
    let (code, answer) = served.user(token, "GET", path, None).await;
    assert_eq!((code, answer), (200, json!({"hmac_key": "***"})));
    let (_, status) = served.user(token, "GET", "/session/status", None).await;
    assert_eq!(status["data"]["hmac_configured"], true);
    let (code, answer) = served.user(token, "DELETE", path, None).await;
    assert_eq!(
        (code, answer),
        (
            200,
            json!({"Details": "HMAC configuration deleted successfully"})
        )
    );
    let (_, status) = served.user(token, "GET", "/session/status", None).await;
    assert_eq!(status["data"]["hmac_configured"], false);
    let (code, _) = served
        .request("GET", path, &[("token", "wrong")], None)
        .await;
    assert_eq!(code, 401);
}

#[tokio::test]
async fn history_setting_and_the_sync_request() {
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let token = "history-token";
    served.create_user("history", token).await;
    let path = "/session/history";
    let (code, answer) = served
        .user(token, "POST", path, Some(r#"{"history":-1}"#))
        .await;
    assert_eq!(
        (code, answer),
        (400, error(400, "history cannot be negative"))
    );
    let (code, answer) = served
        .user(token, "POST", path, Some(r#"{"history":"x"}"#))
        .await;
    assert_eq!(
        (code, answer),
        (400, error(400, "could not decode Payload"))
    );
    let (code, answer) = served
        .user(token, "POST", path, Some(r#"{"History":25}"#))
        .await;
    assert_eq!(
        (code, answer),
        (
            200,
            ok(json!({"Details": "History configured successfully", "History": 25}))
        )
    );
    let (_, status) = served.user(token, "GET", "/session/status", None).await;
    assert_eq!(status["data"]["history"], "25");
    // The on-demand sync needs a session (the linked flow is tests/session_history.rs).
    let (code, answer) = served.user(token, "GET", path, None).await;
    assert_eq!((code, answer), (500, error(500, "no session")));
}

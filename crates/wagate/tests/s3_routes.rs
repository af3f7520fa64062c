//! wuzapi's S3 routes (CONTRACTS §A.2) on the real binary against an S3-compatible server the
//! test starts itself (moto; installed when missing, the test FAILS when it cannot start):
//! `POST/GET/DELETE /session/s3/config` with the exact bodies and texts, `POST /session/s3/test`
//! as a real round trip, failures naming no secret, and `DELETE /admin/users/{id}/full` removing
//! the user's objects.

use serde_json::{json, Value};
use wa_testkit::{start_sim, Moto, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const TOKEN: &str = "s3-user-token-0123456789";
const SECRET: &str = "wJalrXUtnFEMI-s3-routes-secret-0123456789";

fn error(code: u16, text: &str) -> Value {
    json!({"code": code, "error": text, "success": false})
}

fn config(endpoint: &str, bucket: &str) -> String {
    json!({
        "enabled": true,
        "endpoint": endpoint,
        "region": "us-east-1",
        "bucket": bucket,
        "access_key": "AKIDEXAMPLE",
        "secret_key": SECRET,
        "path_style": true,
        "public_url": "",
        "media_delivery": "both",
        "retention_days": 7
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_config_and_test_routes_round_trip_through_the_bucket() {
    let moto = Moto::start().await;
    moto.create_bucket("wagate-routes").await;
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let id = served.create_user("s3", TOKEN).await;

    // Off by default: the test refuses, GET shows wuzapi's defaults.
    let (status, body) = served.user(TOKEN, "POST", "/session/s3/test", None).await;
    assert_eq!(
        (status, body),
        (400, error(400, "S3 is not enabled for this user"))
    );
    let (status, body) = served.user(TOKEN, "GET", "/session/s3/config", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"access_key": "", "bucket": "", "enabled": false, "endpoint": "",
               "media_delivery": "base64", "path_style": true, "public_url": "",
               "region": "", "retention_days": 30})
    );

    let bad = json!({"enabled": true, "media_delivery": "carrier-pigeon"}).to_string();
    let (status, body) = served
        .user(TOKEN, "POST", "/session/s3/config", Some(&bad))
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            error(400, "media_delivery must be 'base64', 's3', or 'both'")
        )
    );

    let body = config(moto.url(), "wagate-routes");
    let (status, answer) = served
        .user(TOKEN, "POST", "/session/s3/config", Some(&body))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["data"],
        json!({"Details": "S3 configuration saved successfully", "Enabled": true})
    );
    let (_, shown) = served.user(TOKEN, "GET", "/session/s3/config", None).await;
    assert_eq!(shown["data"]["access_key"], "***");
    assert_eq!(shown["data"]["media_delivery"], "both");
    assert_eq!(shown["data"]["retention_days"], 7);
    assert!(!shown.to_string().contains(SECRET));
    let (_, status_view) = served.user(TOKEN, "GET", "/session/status", None).await;
    assert_eq!(status_view["data"]["s3_config"]["enabled"], true);
    assert!(!status_view.to_string().contains(SECRET));

    // A real round trip: put, get, delete below users/<id>/.
    let (status, tested) = served.user(TOKEN, "POST", "/session/s3/test", None).await;
    assert_eq!(status, 200, "{tested}");
    assert_eq!(
        tested["data"],
        json!({"Details": "S3 connection test successful", "Bucket": "wagate-routes",
               "Region": "us-east-1"})
    );
    assert!(moto.keys("wagate-routes", "users/").await.is_empty());

    // /full deletes the user's objects (and only theirs).
    let (_, stray) = served
        .user(TOKEN, "POST", "/session/s3/config", Some(&body))
        .await;
    assert_eq!(stray["success"], true);
    moto.put_object("wagate-routes", &format!("users/{id}/inbox/x/a.jpg"), b"a")
        .await;
    moto.put_object("wagate-routes", "users/someone-else/inbox/x/b.jpg", b"b")
        .await;
    let (status, _) = served
        .admin("DELETE", &format!("/admin/users/{id}/full"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        moto.keys("wagate-routes", "users/").await,
        vec!["users/someone-else/inbox/x/b.jpg".to_owned()]
    );
    assert!(!served.log().contains(SECRET), "the secret reached the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_test_names_no_secret_and_delete_restores_the_defaults() {
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    served.create_user("s3-down", TOKEN).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let body = config(&format!("http://{closed}"), "nowhere");
    let (status, _) = served
        .user(TOKEN, "POST", "/session/s3/config", Some(&body))
        .await;
    assert_eq!(status, 200);
    let (status, failed) = served.user(TOKEN, "POST", "/session/s3/test", None).await;
    assert_eq!(status, 500, "{failed}");
    let text = failed["error"].as_str().unwrap_or_default();
    assert!(text.starts_with("S3 connection test failed: "), "{failed}");
    assert!(!failed.to_string().contains(SECRET), "{failed}");

    // A configuration that makes no client: wuzapi's 500 text, nothing saved.
    let broken = json!({"enabled": true, "endpoint": "ftp://x", "bucket": "b"}).to_string();
    let (status, refused) = served
        .user(TOKEN, "POST", "/session/s3/config", Some(&broken))
        .await;
    assert_eq!(status, 500, "{refused}");
    assert!(refused["error"]
        .as_str()
        .is_some_and(|t| t.starts_with("failed to initialize S3 client: ")));

    let (status, deleted) = served
        .user(TOKEN, "DELETE", "/session/s3/config", None)
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(
        deleted["data"],
        json!({"Details": "S3 configuration deleted successfully"})
    );
    let (_, shown) = served.user(TOKEN, "GET", "/session/s3/config", None).await;
    assert_eq!(shown["data"]["enabled"], false);
    assert_eq!(shown["data"]["path_style"], true);
    assert_eq!(shown["data"]["media_delivery"], "base64");
    assert_eq!(shown["data"]["retention_days"], 30);
    assert_eq!(shown["data"]["access_key"], "");
    assert!(!served.log().contains(SECRET), "the secret reached the log");
}

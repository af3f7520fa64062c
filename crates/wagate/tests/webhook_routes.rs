//! The webhook settings routes (CONTRACTS §A.3) on the real binary: exact shapes (`[""]` for an
//! empty subscription), invalid event names dropped, `active: false` clears, DELETE clears, and
//! the documented errors.

use serde_json::{json, Value};
use wa_testkit::{start_sim, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const TOKEN: &str = "webhook-routes-token";

async fn get(served: &Served) -> Value {
    let (status, body) = served.user(TOKEN, "GET", "/webhook", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    body["data"].clone()
}

#[tokio::test]
async fn webhook_settings_round_trip() {
    let sim = start_sim(&[]).await;
    let mut served = Served::start(BIN.as_ref(), &sim, &[]).await;
    served.add_idle_account("hooks", TOKEN).await;

    let (status, body) = served.request("GET", "/webhook", &[], None).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"code": 401, "error": "unauthorized", "success": false})
    );

    assert_eq!(
        get(&served).await,
        json!({"webhook": "", "subscribe": [""]})
    );

    // POST: any letter case of webhookURL; invalid names dropped.
    let (status, body) = served
        .user(
            TOKEN,
            "POST",
            "/webhook",
            Some(r#"{"WebhookURL": "http://127.0.0.1:9/hook", "events": ["Message", "Bogus", "ReadReceipt"]}"#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"code": 200, "data": {"webhook": "http://127.0.0.1:9/hook"}, "success": true})
    );
    assert_eq!(
        get(&served).await,
        json!({"webhook": "http://127.0.0.1:9/hook", "subscribe": ["Message", "ReadReceipt"]})
    );

    // POST without events keeps them.
    let (status, _) = served
        .user(
            TOKEN,
            "POST",
            "/webhook",
            Some(r#"{"webhookurl": "http://127.0.0.1:9/other"}"#),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(&served).await["subscribe"],
        json!(["Message", "ReadReceipt"])
    );

    // Decode errors use the webhook handlers' lowercase text.
    for bad in [r#"{"webhookurl": 5}"#, "", "not json"] {
        let (status, body) = served.user(TOKEN, "POST", "/webhook", Some(bad)).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert_eq!(body["error"], "could not decode payload");
    }

    // PUT with active: true replaces; active: false clears.
    let (status, body) = served
        .user(
            TOKEN,
            "PUT",
            "/webhook",
            Some(r#"{"webhook": "http://127.0.0.1:9/put", "events": ["All", "Nope"], "active": true}"#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"webhook": "http://127.0.0.1:9/put", "events": ["All"], "active": true})
    );
    let (status, body) = served
        .user(
            TOKEN,
            "PUT",
            "/webhook",
            Some(r#"{"webhook": "http://127.0.0.1:9/x", "active": false}"#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"webhook": "", "events": [], "active": false})
    );
    assert_eq!(
        get(&served).await,
        json!({"webhook": "", "subscribe": [""]})
    );
    let (status, body) = served.user(TOKEN, "PUT", "/webhook", Some("5")).await;
    assert_eq!(status, 400, "{body}");

    // DELETE clears both.
    served
        .user(
            TOKEN,
            "POST",
            "/webhook",
            Some(r#"{"webhookurl": "http://127.0.0.1:9/d", "events": ["All"]}"#),
        )
        .await;
    let (status, body) = served.user(TOKEN, "DELETE", "/webhook", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"Details": "Webhook and events deleted successfully"})
    );
    assert_eq!(
        get(&served).await,
        json!({"webhook": "", "subscribe": [""]})
    );

    // The settings survive a restart (they are in the store).
    served
        .user(
            TOKEN,
            "POST",
            "/webhook",
            Some(r#"{"webhookurl": "http://127.0.0.1:9/kept", "events": ["QR"]}"#),
        )
        .await;
    served.restart().await;
    assert_eq!(
        get(&served).await,
        json!({"webhook": "http://127.0.0.1:9/kept", "subscribe": ["QR"]})
    );
}

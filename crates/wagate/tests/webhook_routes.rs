//! The webhook settings routes (CONTRACTS §A.3) on the real binary: exact shapes (`[""]` for an
//! empty subscription), invalid event names dropped, `active: false` clears, DELETE clears, and
//! the documented errors.

use serde_json::{json, Value};
use wa_testkit::{start_sim, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const TOKEN: &str = "webhook-routes-token";
/// A receiver nobody listens on (settings only; nothing is delivered in this test).
const BASE: &str = "http://127.0.0.1:9";

fn url(path: &str) -> String {
    format!("{BASE}{path}")
}

async fn get(served: &Served) -> Value {
    let (status, body) = served.user(TOKEN, "GET", "/webhook", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    body["data"].clone()
}

#[tokio::test]
async fn webhook_settings_round_trip() {
    let sim = start_sim(&[]).await;
    // The receivers are on 127.0.0.1: the operator allows private targets.
    let mut served = Served::start(
        BIN.as_ref(),
        &sim,
        &[("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true")],
    )
    .await;
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

    post(&served).await;
    put_and_delete(&served).await;

    // The settings survive a restart (they are in the store).
    served
        .user(
            TOKEN,
            "POST",
            "/webhook",
            Some(&json!({"webhookurl": url("/kept"), "events": ["QR"]}).to_string()),
        )
        .await;
    served.restart().await;
    assert_eq!(
        get(&served).await,
        json!({"webhook": url("/kept"), "subscribe": ["QR"]})
    );
}

async fn put_and_delete(served: &Served) {
    // PUT with active: true replaces; active: false clears.
    let (status, body) = served
        .user(
            TOKEN,
            "PUT",
            "/webhook",
            Some(
                &json!({"webhook": url("/put"), "events": ["All", "Nope"], "active": true})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"webhook": url("/put"), "events": ["All"], "active": true})
    );
    let (status, body) = served
        .user(
            TOKEN,
            "PUT",
            "/webhook",
            Some(&json!({"webhook": url("/x"), "active": false}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"webhook": "", "events": [], "active": false})
    );
    assert_eq!(get(served).await, json!({"webhook": "", "subscribe": [""]}));
    let (status, body) = served.user(TOKEN, "PUT", "/webhook", Some("5")).await;
    assert_eq!(status, 400, "{body}");

    // DELETE clears both.
    served
        .user(
            TOKEN,
            "POST",
            "/webhook",
            Some(&json!({"webhookurl": url("/d"), "events": ["All"]}).to_string()),
        )
        .await;
    let (status, body) = served.user(TOKEN, "DELETE", "/webhook", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"Details": "Webhook and events deleted successfully"})
    );
    assert_eq!(get(served).await, json!({"webhook": "", "subscribe": [""]}));
}

async fn post(served: &Served) {
    // POST: any letter case of webhookURL; invalid names dropped.
    let (status, body) = served
        .user(
            TOKEN,
            "POST",
            "/webhook",
            Some(
                &json!({"WebhookURL": url("/hook"), "events": ["Message", "Bogus", "ReadReceipt"]})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"code": 200, "data": {"webhook": url("/hook")}, "success": true})
    );
    assert_eq!(
        get(served).await,
        json!({"webhook": url("/hook"), "subscribe": ["Message", "ReadReceipt"]})
    );

    // POST without events keeps them.
    let (status, _) = served
        .user(
            TOKEN,
            "POST",
            "/webhook",
            Some(&json!({"webhookurl": url("/other")}).to_string()),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(served).await["subscribe"],
        json!(["Message", "ReadReceipt"])
    );

    // Decode errors use the webhook handlers' lowercase text.
    let number = json!({"webhookurl": 5}).to_string();
    for bad in [number.as_str(), "", "not json"] {
        let (status, body) = served.user(TOKEN, "POST", "/webhook", Some(bad)).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert_eq!(body["error"], "could not decode payload");
    }
}

//! The HTTP API's conventions on the real binary: unknown routes and methods answer in the
//! envelope, `/health` needs no auth.

use wa_testkit::{start_sim, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;

    let (status, body) = served.request("GET", "/health", &[], None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");

    let (status, body) = served.request("GET", "/no/such/route", &[], None).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        serde_json::json!({"code": 404, "error": "not found", "success": false})
    );

    let (status, body) = served.request("DELETE", "/health", &[], None).await;
    assert_eq!(status, 405);
    assert_eq!(body["success"], false);
    assert_eq!(body["code"], 405);
}

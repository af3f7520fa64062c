//! The chat and user handlers over a gateway account linked to the sim (in process: the router
//! driven with `tower::ServiceExt::oneshot`, the gateway and sim over real sockets). The real
//! binary's tests are in `crates/wagate/tests/chat_*.rs`; these pin the handlers on their own.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::Request;
use serde_json::{json, Value};
use tower::ServiceExt;
use wa_http::{router, AppState, HttpConfig};
use wa_sim::SimEvent;
use wa_store::{MemStore, Store};
use wa_testkit::{client_config, new_account, start_sim, wait_for, Linked, DEADLINE};

const A: &str = "5511900000201";
const B: &str = "5511900000202";
const SEED: u64 = 1101;

async fn call(state: &AppState, path: &str, body: Value) -> (u16, Value) {
    let request = Request::post(path)
        .header("token", format!("token-{SEED}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("answer");
    let status = response.status().as_u16();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_and_lookups_over_a_linked_account() {
    let sim = start_sim(&[A, B]).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), SEED);
    let config = client_config(&sim);
    let linked = Linked::link(sim, A, store, config, id).await;
    let Linked { sim, gateway, .. } = linked;
    let state = AppState::new(Arc::new(gateway), HttpConfig::new("admin-token-0123456789"));
    let mut events = sim.subscribe();

    let (status, answer) = call(
        &state,
        "/chat/send/text",
        json!({"Phone": B, "Body": "hi", "Id": "3EB0D00D00000000000001"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["Id"], "3EB0D00D00000000000001");
    assert!(answer["data"]["Timestamp"]
        .as_u64()
        .is_some_and(|t| t > 1_600_000_000));
    wait_for(&mut events, DEADLINE, "the phone receives", |e| {
        matches!(e, SimEvent::PhoneReceived { id, .. } if id == "3EB0D00D00000000000001")
            .then_some(())
    })
    .await
    .expect("received");

    let (status, answer) = call(
        &state,
        "/chat/react",
        json!({"Phone": B, "Body": "remove", "Id": "me:3EB0D00D00000000000001"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["Id"], "3EB0D00D00000000000001");

    let (status, answer) = call(
        &state,
        "/user/check",
        json!({"Phone": [B, "5511900000299"]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["Users"][0]["IsInWhatsapp"], true);
    assert_eq!(answer["data"]["Users"][1]["IsInWhatsapp"], false);
    let lid = format!("{}@lid", sim.account(B).expect("B").lid);
    let (status, answer) = call(&state, "/user/info", json!({"Phone": [B]})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["data"]["Users"][format!("{B}@s.whatsapp.net")]["LID"],
        lid.as_str()
    );
}

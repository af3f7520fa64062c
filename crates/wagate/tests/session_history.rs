//! `GET /session/history` (CONTRACTS §A.2) on the real binary against wa-sim: the on-demand
//! history sync request reaches the account's own primary phone as a peer message (the sim's
//! phone records it: `GET /admin/phones/{phone}/history-requests`), the answer has wuzapi's
//! lowercase keys and echoes the query, and the documented errors.

use std::time::Duration;

use serde_json::{json, Value};
use wa_testkit::{http, poll_until, start_sim, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const ME: &str = "15550144001";
const ANA: &str = "15550144002";
const DEADLINE: Duration = Duration::from_secs(20);

fn error(code: u16, text: &str) -> Value {
    json!({"code": code, "error": text, "success": false})
}

/// The phone's recorded requests (through the sim's admin API), once there are `n`.
async fn phone_requests(sim: &wa_sim::SimServer, n: usize) -> Vec<Value> {
    let path = format!("/admin/phones/{ME}/history-requests");
    poll_until(DEADLINE, "the phone records the request", || async {
        let (status, body) = http::request(sim.addr(), "GET", &path, None, DEADLINE).await;
        assert_eq!(status, 200, "{body}");
        let list = body.as_array().cloned().unwrap_or_default();
        (list.len() >= n).then_some(list)
    })
    .await
    .expect("the phone received the request")
}

#[tokio::test]
async fn history_sync_request_reaches_the_own_phone() {
    let sim = start_sim(&[ME, ANA]).await;
    let mut served = Served::start(BIN.as_ref(), &sim, &[]).await;
    served.add_idle_account("idle", "idle-token").await;
    let me = served.link_account(&sim, ME, 4401).await;
    let token = me.token.as_str();

    // Auth and session errors.
    let (status, body) = served.request("GET", "/session/history", &[], None).await;
    assert_eq!((status, body), (401, error(401, "unauthorized")));
    let (status, body) = served
        .user("idle-token", "GET", "/session/history", None)
        .await;
    assert_eq!((status, body), (500, error(500, "no session")));

    // Every field of the query.
    let chat = format!("{ANA}@s.whatsapp.net");
    let path = format!(
        "/session/history?count=20&chat_jid={chat}&oldest_msg_id=3EB0ANCHOR01\
         &oldest_msg_from_me=true&oldest_msg_timestamp=1700000000999"
    );
    let (status, body) = served.user(token, "GET", &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["code"].clone(), body["success"].clone()),
        (json!(200), json!(true))
    );
    let data = &body["data"];
    let keys: Vec<&str> = data
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "chat_jid",
            "count",
            "details",
            "oldest_msg_from_me",
            "oldest_msg_id",
            "oldest_msg_timestamp",
            "timestamp"
        ],
        "{data}"
    );
    assert_eq!(data["details"], "History sync request Sent");
    assert_eq!(data["count"], 20);
    assert_eq!(data["chat_jid"], chat.as_str());
    assert_eq!(data["oldest_msg_id"], "3EB0ANCHOR01");
    assert_eq!(data["oldest_msg_from_me"], true);
    assert_eq!(data["oldest_msg_timestamp"], 1_700_000_000_999_i64);
    assert!(
        data["timestamp"].as_u64().unwrap_or(0) > 1_600_000_000,
        "{data}"
    );

    // The phone got it as a peer message from our companion, fields as whatsmeow fills them
    // (the anchor's time in seconds).
    let requests = phone_requests(&sim, 1).await;
    let got = &requests[0];
    assert_eq!(got["chat"], chat.as_str(), "{got}");
    assert_eq!(got["oldest_msg_id"], "3EB0ANCHOR01");
    assert_eq!(got["oldest_msg_from_me"], true);
    assert_eq!(got["oldest_msg_timestamp"], 1_700_000_000);
    assert_eq!(got["count"], 20);
    assert_eq!(got["device"], me.jid.device_id());
    let inbox = sim.phone_messages(ME).expect("the phone's inbox");
    let entry = inbox
        .iter()
        .find(|m| m.id == got["id"].as_str().unwrap_or_default())
        .expect("in the inbox");
    assert_eq!(
        (entry.kind.as_str(), entry.from.as_str()),
        ("history_sync_request", ME)
    );

    // The defaults: 50 messages, no chat, Go's zero time for the anchor.
    let (status, body) = served
        .user(
            token,
            "GET",
            "/session/history?count=-4&oldest_msg_from_me=maybe",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["count"], 50);
    assert_eq!(data["chat_jid"], "");
    assert_eq!(data["oldest_msg_from_me"], false);
    assert_eq!(data["oldest_msg_timestamp"], -62_135_596_800_000_i64);
    let requests = phone_requests(&sim, 2).await;
    assert_eq!(requests[1]["count"], 50);
    assert_eq!(requests[1]["oldest_msg_timestamp"], Value::Null);
}

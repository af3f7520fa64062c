//! `GET /user/contacts` (CONTRACTS §A.6) on the real binary against wa-sim: the push name a
//! contact's message announces (`notify`, `messaging.md` §10) is listed as `PushName` beside
//! the PN ↔ LID pair, and is still there after the gateway restarts (kept in the store); the
//! answer's shape per contact is wuzapi's `{"Found","FirstName","FullName","PushName",
//! "BusinessName"}` (plus wagate's `LID`).

use std::time::Duration;

use serde_json::{json, Value};
use wa_testkit::{poll_until, start_sim, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const ME: &str = "15550145001";
const ANA: &str = "15550145002";
const DEADLINE: Duration = Duration::from_secs(20);

/// The contact entry of `jid` once its push name and its LID are known (learnt from the same
/// message, written apart: either may be listed first).
async fn contact_with_name(served: &Served, token: &str, jid: &str) -> Value {
    poll_until(DEADLINE, "the contact's push name and LID", || async {
        let (status, body) = served.user(token, "GET", "/user/contacts", None).await;
        assert_eq!(status, 200, "{body}");
        let c = body["data"][jid].clone();
        let known = |key: &str| c[key].as_str().is_some_and(|v| !v.is_empty());
        (known("PushName") && known("LID")).then_some(c)
    })
    .await
    .expect("the push name is listed")
}

#[tokio::test]
async fn push_names_are_learnt_from_messages_and_survive_a_restart() {
    let sim = start_sim(&[ME, ANA]).await;
    let mut served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let me = served.link_account(&sim, ME, 4501).await;
    let token = me.token.as_str();
    let ana = format!("{ANA}@s.whatsapp.net");

    // Nothing learnt yet.
    let (status, body) = served.user(token, "GET", "/user/contacts", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].get(ana.as_str()), None, "{body}");

    // Ana's phone writes to us: the message's notify is her push name.
    sim.phone_send(ANA, ME, "hello from Ana")
        .expect("the phone sends");
    let lid = format!("{}@lid", sim.account(ANA).expect("Ana").lid);
    let want = json!({"Found": true, "FirstName": "", "FullName": "",
        "PushName": format!("wa-sim {ANA}"), "BusinessName": "", "LID": lid});
    assert_eq!(contact_with_name(&served, token, &ana).await, want);

    // Kept in the store: the same after a restart, before any new message.
    served.restart().await;
    let (status, body) = served.user(token, "GET", "/user/contacts", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][ana.as_str()], want, "{body}");
}

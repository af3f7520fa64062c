//! Session pools on the real binary against wa-sim (issue 12 item 4): a pool of three sessions
//! takes a burst of sends through its token; one member's connection dies mid-burst and its
//! logins are refused; every message reaches the sim's phone exactly once, spread across the
//! members, the failed member's health shows it in `GET /pool/status` and the admin pool view,
//! and once it is back the messages it had taken arrive (from it, never from another member).
//! A member the server refuses for a transient reason (wa-sim `nack_messages` 503) is failed
//! over, each message once; a permanent refusal (479) ends the send with the server's code.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::Semaphore;
use wa_sim::{ConnId, Faults, SimEvent, SimServer};
use wa_testkit::session_flow::{link_by_qr, wait_status};
use wa_testkit::{poll_until, start_sim, Served, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
/// The members' phones.
const MEMBERS: [&str; 3] = ["5511900000301", "5511900000302", "5511900000303"];
/// The member whose connection dies.
const VICTIM: usize = 1;
/// The recipient.
const TO: &str = "5511900000309";
const POOL_TOKEN: &str = "pool-token-otp-1";
/// Messages in the burst, and after how many answers the victim's connection dies.
const BURST: usize = 48;
const KILL_AFTER: usize = 12;

fn token(i: usize) -> String {
    format!("pool-member-token-{i}")
}

/// The sim's connection of `phone`'s last login seen on `events`.
fn last_login(
    events: &mut tokio::sync::broadcast::Receiver<SimEvent>,
    phone: &str,
) -> Option<ConnId> {
    let mut conn = None;
    while let Ok(event) = events.try_recv() {
        if let SimEvent::LoggedIn { conn: c, jid } = event {
            if jid.user_part() == phone {
                conn = Some(c);
            }
        }
    }
    conn
}

/// What the recipient's phone got: text → senders.
async fn inbox(sim: &SimServer) -> BTreeMap<String, Vec<String>> {
    let path = format!("/admin/phones/{TO}/messages");
    let (status, all) = wa_testkit::http::request(sim.addr(), "GET", &path, None, DEADLINE).await;
    assert_eq!(status, 200, "{all}");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in all.as_array().into_iter().flatten() {
        let text = m["text"].as_str().unwrap_or_default().to_owned();
        let from = m["from"].as_str().unwrap_or_default().to_owned();
        out.entry(text).or_default().push(from);
    }
    out
}

async fn pool_status(served: &Served) -> Value {
    let (status, body) = served.user(POOL_TOKEN, "GET", "/pool/status", None).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

fn member<'a>(pool: &'a Value, id: &str) -> &'a Value {
    pool["Members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["Id"] == id))
        .unwrap_or_else(|| panic!("{id} not in {pool}"))
}

struct Setup {
    sim: SimServer,
    served: Arc<Served>,
    ids: Vec<String>,
    victim_conn: ConnId,
}

async fn three_linked_members() -> Setup {
    let mut phones = MEMBERS.to_vec();
    phones.push(TO);
    let sim = start_sim(&phones).await;
    let mut events = sim.subscribe();
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let mut ids = Vec::new();
    for (i, phone) in MEMBERS.iter().enumerate() {
        ids.push(served.create_user(&format!("member{i}"), &token(i)).await);
        link_by_qr(&served, &sim, &token(i), phone).await;
    }
    let victim_conn = last_login(&mut events, MEMBERS[VICTIM]).expect("the victim's login");
    Setup {
        sim,
        served: Arc::new(served),
        ids,
        victim_conn,
    }
}

#[tokio::test]
async fn a_pool_of_three_fails_over_and_sends_every_message_once() {
    let Setup {
        sim,
        served,
        ids,
        victim_conn,
    } = three_linked_members().await;
    // Members by id and by name, in any mix.
    let body = json!({"Name": "otp", "Token": POOL_TOKEN, "Description": "OTP senders",
        "Members": [ids[0], "member1", ids[2]]});
    let (status, created) = served
        .admin("POST", "/admin/pools", Some(&body.to_string()))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["Healthy"], 3, "{created}");
    assert_eq!(created["data"]["Token"], POOL_TOKEN);
    assert_eq!(created["data"]["Strategy"], "least-loaded");

    // The burst: 4 in flight at a time; after KILL_AFTER answers the victim's socket dies and
    // its logins are refused (it keeps reconnecting, in vain, until the fault is lifted), while
    // the rest of the burst goes on.
    let gate = Arc::new(Semaphore::new(4));
    let answered = Arc::new(AtomicUsize::new(0));
    let kill_now = Arc::new(tokio::sync::Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..BURST {
        let (served, gate) = (Arc::clone(&served), Arc::clone(&gate));
        let (answered, kill_now) = (Arc::clone(&answered), Arc::clone(&kill_now));
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate");
            let body = json!({"Phone": TO, "Body": format!("pool msg {i}")}).to_string();
            let answer = served
                .user(POOL_TOKEN, "POST", "/chat/send/text", Some(&body))
                .await;
            if answered.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                kill_now.notify_one();
            }
            (i, answer)
        });
    }
    kill_now.notified().await;
    let refuse = Faults {
        refuse_login: Some(503),
        ..Faults::default()
    };
    sim.set_faults(MEMBERS[VICTIM], refuse).expect("faults");
    assert!(sim.drop_connection(victim_conn));
    assert!(
        answered.load(Ordering::SeqCst) < BURST - 8,
        "the kill came mid-burst"
    );
    let mut ok = 0;
    let mut unconfirmed = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, (status, body)) = done.expect("task");
        match status {
            200 => {
                assert_eq!(body["data"]["Details"], "Sent", "{body}");
                ok += 1;
            }
            // A message the victim had committed but whose ack never came: it stays the
            // victim's (sent again by it after its next login), never another member's.
            _ => {
                let text = body["error"].as_str().unwrap_or_default();
                assert!(
                    text.contains("unconfirmed") || text.contains("connection closed"),
                    "message {i}: {status} {body}"
                );
                unconfirmed.push(i);
            }
        }
    }
    assert_eq!(ok + unconfirmed.len(), BURST);

    // The failed member's health shows it, to the pool's token and to the admin.
    let down = pool_status(&served).await;
    assert!(
        down.get("Token").is_none(),
        "no token in the pool's own view"
    );
    let victim = member(&down, &ids[VICTIM]);
    assert_eq!(
        (
            &victim["Healthy"],
            &victim["Connected"],
            &victim["LoggedIn"]
        ),
        (&json!(false), &json!(false), &json!(false)),
        "{down}"
    );
    assert_eq!(down["Healthy"], 2, "{down}");
    let (status, admin_view) = served.admin("GET", "/admin/pools/otp", None).await;
    assert_eq!(status, 200, "{admin_view}");
    assert_eq!(member(&admin_view["data"], &ids[VICTIM])["Healthy"], false);

    // Every acknowledged message is at the phone once, spread over the healthy members and
    // the victim's share before its death.
    let got = inbox(&sim).await;
    for (text, from) in &got {
        assert_eq!(
            from.len(),
            1,
            "{text} arrived {} times: {from:?}",
            from.len()
        );
    }
    let mut per_member: BTreeMap<&str, usize> = BTreeMap::new();
    for from in got.values() {
        *per_member.entry(from[0].as_str()).or_default() += 1;
    }
    for phone in MEMBERS {
        assert!(
            per_member.get(phone).copied().unwrap_or(0) > 0,
            "{phone} sent nothing: {per_member:?}"
        );
    }

    // The victim comes back: what it had taken arrives, from it, once; nothing twice.
    sim.set_faults(MEMBERS[VICTIM], Faults::default())
        .expect("faults");
    let (code, body) = served
        .user(
            &token(VICTIM),
            "POST",
            "/session/connect",
            Some(r#"{"Immediate":true}"#),
        )
        .await;
    assert!(code == 200 || code == 500, "{code} {body}");
    wait_status(&served, &token(VICTIM), |d| d["loggedIn"] == true).await;
    let all = poll_until(DEADLINE, "every message at the phone", || {
        let sim = &sim;
        async move {
            let got = inbox(sim).await;
            (got.len() == BURST).then_some(got)
        }
    })
    .await
    .expect("every message arrives");
    for i in 0..BURST {
        let from = &all[&format!("pool msg {i}")];
        assert_eq!(from.len(), 1, "message {i}: {from:?}");
        if unconfirmed.contains(&i) {
            assert_eq!(from[0], MEMBERS[VICTIM], "message {i} stays the victim's");
        }
    }
    let back = pool_status(&served).await;
    assert_eq!(back["Healthy"], 3, "{back}");
}

/// Sends `text` through the pool, one at a time.
async fn pool_send(served: &Served, text: &str) -> (u16, Value) {
    let body = json!({"Phone": TO, "Body": text}).to_string();
    served
        .user(POOL_TOKEN, "POST", "/chat/send/text", Some(&body))
        .await
}

#[tokio::test]
async fn a_transient_server_refusal_fails_over_and_a_permanent_one_does_not() {
    let Setup {
        sim, served, ids, ..
    } = three_linked_members().await;
    let body = json!({"Name": "otp", "Token": POOL_TOKEN, "Members": ids});
    let (status, created) = served
        .admin("POST", "/admin/pools", Some(&body.to_string()))
        .await;
    assert_eq!(status, 201, "{created}");
    // The server refuses member 0's messages with 503 (transient): every send still succeeds,
    // through another member, and arrives once.
    let refuse = |code| Faults {
        nack_messages: Some(code),
        ..Faults::default()
    };
    sim.set_faults(MEMBERS[0], refuse(503)).expect("faults");
    for i in 0..9 {
        let (status, body) = pool_send(&served, &format!("transient {i}")).await;
        assert_eq!(status, 200, "send {i}: {body}");
    }
    let got = inbox(&sim).await;
    for i in 0..9 {
        let from = &got[&format!("transient {i}")];
        assert_eq!(from.len(), 1, "{i}: {from:?}");
        assert_ne!(from[0], MEMBERS[0], "member 0's copy was refused");
    }
    let pool = pool_status(&served).await;
    let refused = member(&pool, &ids[0]);
    // Equally loaded members take turns: member 0 got its share, and each went on.
    assert!(
        refused["FailedOver"].as_u64().is_some_and(|n| n >= 1),
        "{pool}"
    );
    assert_eq!(refused["FailedOver"], refused["Failed"], "{pool}");
    assert_eq!(refused["Sent"], 0, "{pool}");
    assert!(
        refused["LastError"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{pool}"
    );

    // A permanent refusal (479) is the caller's answer: no other member sends that message.
    sim.set_faults(MEMBERS[0], refuse(479)).expect("faults");
    let mut refused_texts = Vec::new();
    for i in 0..3 {
        let text = format!("permanent {i}");
        let (status, body) = pool_send(&served, &text).await;
        if status != 200 {
            assert_eq!(
                (status, &body["error"]),
                (
                    500,
                    &json!("error sending message: server returned error 479")
                ),
                "{body}"
            );
            refused_texts.push(text);
        }
    }
    assert_eq!(refused_texts.len(), 1, "one of three turns is member 0's");
    let got = inbox(&sim).await;
    assert!(
        !got.contains_key(&refused_texts[0]),
        "refused: never sent by another"
    );
    for i in 0..3 {
        let text = format!("permanent {i}");
        if text != refused_texts[0] {
            assert_eq!(got[&text].len(), 1, "{text}");
        }
    }
    sim.set_faults(MEMBERS[0], Faults::default())
        .expect("faults");
}

//! Sends that recover (issue 12 items 2 and 3) on the real binary against wa-sim: seed 004's
//! OTP flow with no recovery loop of its own (the session is dropped and its logins refused;
//! the send waits, the session comes back, the OTP reaches the phone within the bound and its
//! status reads `delivered`); the bound running out is a clear 503; the same `Id` twice
//! (one after the other, and at once) is one message; async sends answer 202 and survive a
//! SIGKILL of the gateway in the middle of a burst, each accepted message reaching the phone
//! exactly once after the restart.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::task::JoinSet;
use wa_sim::{Faults, SimEvent, SimServer, SwitchesUpdate};
use wa_testkit::session_flow::{link_by_qr, wait_status};
use wa_testkit::{poll_until, start_sim, wait_for, Hook, HookReceiver, Served, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const TOKEN: &str = "send-recovery-token";

/// The live connection of the gateway's account: the last login the sim saw.
fn last_login(events: &mut tokio::sync::broadcast::Receiver<SimEvent>) -> wa_sim::ConnId {
    let mut conn = None;
    while let Ok(event) = events.try_recv() {
        if let SimEvent::LoggedIn { conn: c, .. } = event {
            conn = Some(c);
        }
    }
    conn.expect("the sim saw the login")
}

/// Drops the session's socket and refuses its logins (503, transient) until the faults clear.
async fn drop_session(
    sim: &SimServer,
    served: &Served,
    phone: &str,
    events: &mut tokio::sync::broadcast::Receiver<SimEvent>,
) {
    let conn = last_login(events);
    let refuse = Faults {
        refuse_login: Some(503),
        ..Faults::default()
    };
    sim.set_faults(phone, refuse).expect("faults");
    assert!(sim.drop_connection(conn));
    wait_status(served, TOKEN, |d| d["connected"] == false).await;
}

/// The phone's inbox as `GET /admin/phones/{phone}/messages` shows it.
async fn inbox(sim: &SimServer, phone: &str) -> Vec<Value> {
    let path = format!("/admin/phones/{phone}/messages");
    let (status, body) = wa_testkit::http::request(sim.addr(), "GET", &path, None, DEADLINE).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

/// How many inbox entries each message id has.
async fn copies(sim: &SimServer, phone: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for m in inbox(sim, phone).await {
        *counts
            .entry(m["id"].as_str().unwrap_or_default().to_owned())
            .or_insert(0) += 1;
    }
    counts
}

/// `GET /chat/status/{id}` once it reads `status`.
async fn status_reads(served: &Served, id: &str, status: &str) -> Value {
    let path = format!("/chat/status/{id}");
    poll_until(DEADLINE, &format!("{id} {status}"), || async {
        let (code, body) = served.user(TOKEN, "GET", &path, None).await;
        (code == 200 && body["data"]["Status"] == status).then(|| body["data"].clone())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}; log:\n{}", served.log()))
}

/// A served gateway (with `env`) whose user `TOKEN` is linked to phone `a` and subscribed to
/// `MessageStatus` webhooks (JSON, to the returned receiver).
async fn served_with_status_hooks(
    sim: &SimServer,
    a: &str,
    env: &[(&str, &str)],
) -> (Served, HookReceiver) {
    let hooks = HookReceiver::start().await;
    let url = hooks.url("/hook");
    let mut env = env.to_vec();
    env.extend([
        ("WUZAPI_GLOBAL_WEBHOOK", url.as_str()),
        ("WEBHOOK_FORMAT", "json"),
        ("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
    ]);
    let served = Served::start(BIN.as_ref(), sim, &env).await;
    served.create_user("delivery", TOKEN).await;
    link_by_qr(&served, sim, TOKEN, a).await;
    let body = json!({"webhook": url, "events": ["MessageStatus"], "active": true}).to_string();
    let (code, answer) = served.user(TOKEN, "PUT", "/webhook", Some(&body)).await;
    assert_eq!(code, 200, "{answer}");
    (served, hooks)
}

/// The next `MessageStatus` webhook of message `id`: its `state` and `event`.
async fn status_hook(hooks: &mut HookReceiver, id: &str) -> (String, Value) {
    wait_for(&mut hooks.hooks, DEADLINE, "MessageStatus", |h: &Hook| {
        let p = h.payload();
        (p["type"] == "MessageStatus" && p["event"]["Id"] == id).then(|| {
            let state = p["state"].as_str().unwrap_or_default().to_owned();
            (state, p["event"].clone())
        })
    })
    .await
    .expect("MessageStatus webhooks")
}

/// The statuses of a timeline.
fn steps(status: &Value) -> Vec<String> {
    status["Timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .filter_map(|s| s["Status"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_otp_sent_while_the_session_is_down_arrives_within_the_bound_and_reads_delivered() {
    let (a, b) = ("6281200000301", "6281200000302");
    let sim = start_sim(&[a, b]).await;
    let mut sim_events = sim.subscribe();
    let env = [("WAGATE_SEND_TIMEOUT", "20")];
    let (served, mut hooks) = served_with_status_hooks(&sim, a, &env).await;
    drop_session(&sim, &served, a, &mut sim_events).await;

    // The application sends its OTP once, with no status check, reconnect or retry of its own.
    let otp = "3EB0A7B2C3D4E5F6071829";
    let (base, started) = (served.base(), Instant::now());
    let send = tokio::spawn(async move {
        let body = json!({"Phone": b, "Body": "Your OTP is 482913", "Id": otp});
        wa_testkit::http_client()
            .post(format!("{base}/chat/send/text"))
            .header("token", TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("the send answers")
    });
    // The send is waiting for the session (its log says so); then the server takes logins.
    poll_until(DEADLINE, "the send waits", || async {
        served
            .log()
            .contains("a send waits for the session to log in again")
            .then_some(())
    })
    .await
    .expect("the send waits for the session");
    sim.set_faults(a, Faults::default()).expect("faults");

    let answer = send.await.expect("the send task");
    let elapsed = started.elapsed();
    let status = answer.status().as_u16();
    let answer: Value =
        serde_json::from_slice(&answer.bytes().await.expect("a body")).expect("JSON");
    assert_eq!(status, 200, "{answer}");
    assert!(
        elapsed < Duration::from_secs(20),
        "within the bound: {elapsed:?}"
    );
    assert_eq!(
        (&answer["data"]["Details"], &answer["data"]["Id"]),
        (&json!("Sent"), &json!(otp))
    );
    let got = inbox(&sim, b).await;
    let got = got
        .iter()
        .find(|m| m["id"] == otp)
        .expect("the OTP arrived");
    assert_eq!(got["text"], "Your OTP is 482913");
    assert_eq!(got["t"], answer["data"]["Timestamp"]);

    // "Did it arrive?" without state of its own: the status, with its timeline.
    let status = status_reads(&served, otp, "delivered").await;
    assert_eq!(steps(&status), ["queued", "sent", "delivered"], "{status}");
    assert_eq!(
        status["Timeline"][1]["Timestamp"],
        answer["data"]["Timestamp"]
    );
    assert_eq!(status["Chat"], format!("{b}@s.whatsapp.net"));

    // Each change was a MessageStatus webhook.
    let mut seen = BTreeSet::new();
    while seen.len() < 2 {
        seen.insert(status_hook(&mut hooks, otp).await.0);
    }
    assert_eq!(seen, BTreeSet::from(["delivered".into(), "sent".into()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bound_running_out_is_a_clear_error_and_nothing_is_sent() {
    let (a, b) = ("6281200000311", "6281200000312");
    let sim = start_sim(&[a, b]).await;
    let mut sim_events = sim.subscribe();
    let served = Served::start(BIN.as_ref(), &sim, &[("WAGATE_SEND_TIMEOUT", "2")]).await;
    served.create_user("bound", TOKEN).await;
    link_by_qr(&served, &sim, TOKEN, a).await;
    drop_session(&sim, &served, a, &mut sim_events).await;

    let id = "3EB0B0B0B0B0B0B0B0B0B1";
    let body = json!({"Phone": b, "Body": "never", "Id": id}).to_string();
    let started = Instant::now();
    let (code, answer) = served
        .user(TOKEN, "POST", "/chat/send/text", Some(&body))
        .await;
    let elapsed = started.elapsed();
    assert_eq!(code, 503, "{answer}");
    assert_eq!(
        answer["error"],
        "error sending message: the session is not connected and did not log in again within 2 s; nothing was sent"
    );
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
    let (code, _) = served
        .user(TOKEN, "GET", &format!("/chat/status/{id}"), None)
        .await;
    assert_eq!(code, 404, "nothing was accepted");

    // The server takes logins again: the same request now goes out, once.
    sim.set_faults(a, Faults::default()).expect("faults");
    let (code, answer) = served
        .user(TOKEN, "POST", "/chat/send/text", Some(&body))
        .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(copies(&sim, b).await.get(id), Some(&1));
}

/// A send of `body` to `/chat/send/text{query}` from a fresh client (for concurrent calls);
/// `None` when the exchange fails (the gateway was killed under it).
async fn try_post(base: String, query: &'static str, body: Value) -> Option<(u16, Value)> {
    let answer = wa_testkit::http_client()
        .post(format!("{base}/chat/send/text{query}"))
        .header("token", TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(DEADLINE)
        .send()
        .await
        .ok()?;
    let status = answer.status().as_u16();
    let body = answer.bytes().await.ok()?;
    Some((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// [`try_post`] that must answer.
async fn post(base: String, query: &'static str, body: Value) -> (u16, Value) {
    try_post(base, query, body).await.expect("the send answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_id_twice_is_one_message_one_after_the_other_and_at_once() {
    let (a, b) = ("6281200000321", "6281200000322");
    let sim = start_sim(&[a, b]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    served.create_user("idem", TOKEN).await;
    link_by_qr(&served, &sim, TOKEN, a).await;

    // One after the other: the second answers with the first one's outcome.
    let first = json!({"Phone": b, "Body": "once", "Id": "3EB0C1C1C1C1C1C1C1C1C1"});
    let (c1, a1) = post(served.base(), "", first.clone()).await;
    let (c2, a2) = post(served.base(), "", first.clone()).await;
    assert_eq!((c1, c2), (200, 200), "{a1} {a2}");
    assert_eq!(a1["data"], a2["data"], "same id, same timestamp");

    // At once (five callers): one message, every caller the same answer.
    let at_once = json!({"Phone": b, "Body": "at once", "Id": "3EB0C2C2C2C2C2C2C2C2C2"});
    let mut calls = JoinSet::new();
    for _ in 0..5 {
        calls.spawn(post(served.base(), "", at_once.clone()));
    }
    let mut answers = Vec::new();
    while let Some(done) = calls.join_next().await {
        let (code, answer) = done.expect("a call");
        assert_eq!(code, 200, "{answer}");
        answers.push(answer["data"].clone());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // Async, twice (and at once with a synchronous one): one message.
    let queued = json!({"Phone": b, "Body": "queued", "Id": "3EB0C3C3C3C3C3C3C3C3C3"});
    let (c1, a1) = post(served.base(), "?async=true", queued.clone()).await;
    let mut with_async = queued.clone();
    with_async["Async"] = json!(true);
    let (c2, a2) = post(served.base(), "", with_async).await;
    let (c3, a3) = post(served.base(), "", queued.clone()).await;
    assert_eq!((c1, c2, c3), (202, 202, 200), "{a1} {a2} {a3}");
    assert_eq!(
        (&a1["data"]["Details"], &a1["data"]["Id"]),
        (&json!("Queued"), &queued["Id"])
    );
    assert_eq!(a3["data"]["Id"], queued["Id"]);

    // The same id for another message is refused.
    let other = json!({"Phone": b, "Body": "something else", "Id": "3EB0C1C1C1C1C1C1C1C1C1"});
    let (code, answer) = post(served.base(), "", other).await;
    assert_eq!(code, 409, "{answer}");

    let ids = [
        "3EB0C1C1C1C1C1C1C1C1C1",
        "3EB0C2C2C2C2C2C2C2C2C2",
        "3EB0C3C3C3C3C3C3C3C3C3",
    ];
    let counts = poll_until(DEADLINE, "the three messages", || async {
        let counts = copies(&sim, b).await;
        ids.iter()
            .all(|id| counts.contains_key(*id))
            .then_some(counts)
    })
    .await
    .expect("every message arrives");
    for id in ids {
        assert_eq!(counts[id], 1, "{id}: {counts:?}");
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
}

/// One burst of `n` async sends; the gateway is SIGKILLed once half have answered. Returns
/// the ids answered 202 (accepted).
async fn burst_then_kill(served: &mut Served, b: &str, round: usize, n: usize) -> Vec<String> {
    let mut calls = JoinSet::new();
    for i in 0..n {
        let body = json!({"Phone": b, "Body": format!("round {round} message {i}")});
        calls.spawn(try_post(served.base(), "?async=true", body));
    }
    let mut accepted = Vec::new();
    let mut answered = 0;
    let mut killed = false;
    while let Some(done) = calls.join_next().await {
        // A call cut off by the kill has no answer (and was not accepted).
        let Ok(Some((code, answer))) = done else {
            continue;
        };
        answered += 1;
        if code == 202 {
            accepted.push(answer["data"]["Id"].as_str().expect("an id").to_owned());
        }
        if !killed && answered >= n / 2 {
            served.kill().await;
            killed = true;
        }
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_async_bursts_every_accepted_message_arrives_once() {
    let (a, b) = ("6281200000331", "6281200000332");
    let sim = start_sim(&[a, b]).await;
    let mut served = Served::start(BIN.as_ref(), &sim, &[]).await;
    served.create_user("burst", TOKEN).await;
    link_by_qr(&served, &sim, TOKEN, a).await;

    let mut all = BTreeSet::new();
    for round in 0..10 {
        let accepted = burst_then_kill(&mut served, b, round, 12).await;
        assert!(!accepted.is_empty(), "round {round}: some were accepted");
        eprintln!(
            "round {round}: {} of 12 accepted before the kill",
            accepted.len()
        );
        all.extend(accepted);
        served.restart().await;
        let expected = all.clone();
        poll_until(DEADLINE, "every accepted message", || async {
            let counts = copies(&sim, b).await;
            expected
                .iter()
                .all(|id| counts.contains_key(id))
                .then_some(())
        })
        .await
        .unwrap_or_else(|e| panic!("round {round}: {e}; log:\n{}", served.log()));
    }
    let counts = copies(&sim, b).await;
    for id in &all {
        assert_eq!(counts[id], 1, "{id} arrived once: {counts:?}");
    }
    // Nothing arrived twice, accepted or not (a call cut off by the kill may have been queued).
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_send_the_server_refuses_reads_failed_with_its_code() {
    let (a, c) = ("6281200000341", "6281200000343");
    let sim = start_sim(&[a, c]).await;
    let (served, mut hooks) = served_with_status_hooks(&sim, a, &[]).await;
    // A first-contact DM without a privacy token is refused with 463 (`messaging.md` §16).
    let update = SwitchesUpdate {
        require_privacy_tokens: Some(true),
        ..SwitchesUpdate::default()
    };
    sim.update_account(&c.parse().expect("phone"), update)
        .expect("switch");

    let id = "3EB0D4D4D4D4D4D4D4D4D4";
    let body = json!({"Phone": c, "Body": "first contact", "Id": id});
    let (code, answer) = post(served.base(), "?async=true", body).await;
    assert_eq!(code, 202, "{answer}");
    let status = status_reads(&served, id, "failed").await;
    assert_eq!(status["ErrorCode"], 463, "{status}");
    assert_eq!(steps(&status), ["queued", "failed"], "{status}");
    let (state, event) = status_hook(&mut hooks, id).await;
    assert_eq!(state, "failed");
    let code = event["ErrorCode"].clone();
    assert_eq!(code, 463);
    assert!(!copies(&sim, c).await.contains_key(id), "never delivered");

    // The same Id again answers with the first one's outcome: the refusal, nothing sent.
    let body = json!({"Phone": c, "Body": "first contact", "Id": id});
    let (code, answer) = post(served.base(), "", body).await;
    assert_eq!(code, 500, "{answer}");
    assert_eq!(
        answer["error"],
        "error sending message: server returned error 463"
    );
}

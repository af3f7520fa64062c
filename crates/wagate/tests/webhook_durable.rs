//! Durable webhook delivery (issue 12 item 1) on the real binary, against wa-sim, with receivers
//! on 127.0.0.1 (so the operator allows private targets):
//! - a receiver that is down for a while gets every subscribed event, once, in order, signed
//!   with the user's key and the global key, after it comes back, across a SIGKILL of the
//!   gateway (the queue is in the store and drained at boot); unsubscribed events never;
//! - a receiver that never comes back: its deliveries end in the dead-letter list after
//!   `WEBHOOK_RETRY_COUNT` attempts, an `Alert` goes to the global webhook, and the admin's
//!   replay delivers them (JSON encoding);
//! - a session whose logins keep being refused raises an `Alert` on the global webhook;
//! - a sender WhatsApp addresses by LID still reaches the webhook with its phone number.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use wa_sim::{Faults, SimEvent, SimServer, SwitchesUpdate};
use wa_testkit::{
    poll_until, start_sim, wait_for, Hook, HookReceiver, Served, ServedAccount, DEADLINE,
};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const GLOBAL_KEY: &str = "global-hmac-key-0123456789abcdef-0123";
const USER_KEY: &str = "user-hmac-key-0123456789abcdef-012345";

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn text_of(payload: &Value) -> Option<String> {
    let m = &payload["event"]["Message"];
    m["conversation"]
        .as_str()
        .or_else(|| m["extendedTextMessage"]["text"].as_str())
        .map(str::to_owned)
}

/// `GET /admin/webhooks/deadletters`'s `data`.
async fn dead_letters(served: &Served) -> Value {
    let (status, body) = served
        .admin("GET", "/admin/webhooks/deadletters", None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// Waits until the queue holds `n` deliveries and `refused` refusals happened.
async fn wait_queued(served: &Served, receiver: &HookReceiver, n: u64, refused: usize) {
    let waited = poll_until(DEADLINE, "the deliveries queued and refused", || async {
        let data = dead_letters(served).await;
        (data["Queued"] == n && receiver.refused() >= refused).then_some(())
    })
    .await;
    if let Err(e) = waited {
        panic!("{e}: {}", dead_letters(served).await);
    }
}

async fn restart_logged_in(served: &mut Served, sim: &SimServer, me: &ServedAccount) {
    let mut events = sim.subscribe();
    served.restart().await;
    wait_for(&mut events, DEADLINE, "the login", |e| match e {
        SimEvent::LoggedIn { jid, .. } if *jid == me.jid => Some(()),
        _ => None,
    })
    .await
    .expect("the gateway logs in again");
}

/// The next `n` hooks.
async fn take(receiver: &mut HookReceiver, n: usize) -> Vec<Hook> {
    let mut got = Vec::new();
    while got.len() < n {
        let hook = wait_for(&mut receiver.hooks, DEADLINE, "a webhook", |h: &Hook| {
            Some(h.clone())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}; got {} of {n}", got.len()));
        got.push(hook);
    }
    got
}

#[tokio::test]
async fn a_receiver_down_gets_everything_once_in_order_across_a_sigkill() {
    let (me_phone, ana) = ("15550144001", "15550144002");
    let sim = start_sim(&[me_phone, ana]).await;
    let mut receiver = HookReceiver::start().await;
    let global = receiver.url("/global");
    let mut served = Served::start(
        BIN.as_ref(),
        &sim,
        &[
            ("WUZAPI_GLOBAL_WEBHOOK", global.as_str()),
            ("WUZAPI_GLOBAL_HMAC_KEY", GLOBAL_KEY),
            ("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("WEBHOOK_RETRY_DELAY_SECONDS", "0.1"),
            ("WEBHOOK_RETRY_COUNT", "100"),
        ],
    )
    .await;
    let me = served.link_account(&sim, me_phone, 4401).await;
    let hook = json!({"webhookURL": receiver.url("/user"), "events": ["Message"]}).to_string();
    let (status, body) = served
        .user(&me.token, "POST", "/webhook", Some(&hook))
        .await;
    assert_eq!(status, 200, "{body}");
    let key = json!({ "hmac_key": USER_KEY }).to_string();
    let (status, body) = served
        .user(&me.token, "POST", "/session/hmac/config", Some(&key))
        .await;
    assert_eq!(status, 200, "{body}");

    // Down: the first four messages queue up (user + global), their heads retried with backoff
    // (0.1, 0.2, 0.4 s: ≥ 4 refusals each, past the store's checkpoint too).
    receiver.set_down(true);
    let texts: Vec<String> = (0..6).map(|i| format!("in order {i}")).collect();
    for t in &texts[..4] {
        sim.phone_send(ana, me_phone, t).expect("the phone sends");
    }
    wait_queued(&served, &receiver, 8, 8).await;
    // SIGKILL while everything waits; the restart drains the queue from the store. Connected
    // and the rest of the restart's events are not subscribed: never delivered.
    restart_logged_in(&mut served, &sim, &me).await;
    for t in &texts[4..] {
        sim.phone_send(ana, me_phone, t).expect("the phone sends");
    }
    let refused = receiver.refused();
    wait_queued(&served, &receiver, 12, refused + 2).await;

    receiver.set_down(false);
    let hooks = take(&mut receiver, 12).await;
    for (path, key) in [("/user", USER_KEY), ("/global", GLOBAL_KEY)] {
        let mine: Vec<&Hook> = hooks.iter().filter(|h| h.path == path).collect();
        let got: Vec<String> = mine.iter().filter_map(|h| text_of(&h.payload())).collect();
        assert_eq!(got, texts, "{path}: every message once, in order");
        for h in mine {
            let p = h.payload();
            assert_eq!(p["type"], "Message", "only the subscribed type: {p}");
            assert_eq!(
                h.header("content-type"),
                Some("application/x-www-form-urlencoded")
            );
            let form = h.form();
            assert_eq!(form["userID"], me.id.to_string());
            assert_eq!(form["instanceName"], "test");
            assert_eq!(
                h.header("x-hmac-signature"),
                Some(hmac_hex(key, &h.body).as_str()),
                "{path} signed with its key"
            );
        }
    }
    // Nothing left, nothing more: each delivered once.
    poll_until(DEADLINE, "the queue empty", || async {
        (dead_letters(&served).await["Queued"] == 0).then_some(())
    })
    .await
    .expect("the queue drains");
    assert!(receiver.hooks.try_recv().is_err(), "no duplicate");
    assert_eq!(dead_letters(&served).await["Count"], 0);
}

#[tokio::test]
async fn a_receiver_that_never_comes_back_ends_in_the_dead_letters_and_replay_delivers() {
    let (me_phone, ana) = ("15550144011", "15550144012");
    let sim = start_sim(&[me_phone, ana]).await;
    let mut dead = HookReceiver::start().await;
    let mut alerts = HookReceiver::start().await;
    let global = alerts.url("/global");
    let mut served = Served::start(
        BIN.as_ref(),
        &sim,
        &[
            ("WUZAPI_GLOBAL_WEBHOOK", global.as_str()),
            ("WUZAPI_GLOBAL_HMAC_KEY", GLOBAL_KEY),
            ("WEBHOOK_FORMAT", "json"),
            ("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("WEBHOOK_RETRY_DELAY_SECONDS", "0.05"),
            ("WEBHOOK_RETRY_COUNT", "3"),
        ],
    )
    .await;
    let me = served.link_account(&sim, me_phone, 4402).await;
    let user_url = dead.url("/user");
    let hook = json!({"webhookURL": user_url, "events": ["Message"]}).to_string();
    let (status, body) = served
        .user(&me.token, "POST", "/webhook", Some(&hook))
        .await;
    assert_eq!(status, 200, "{body}");
    dead.set_down(true);
    let texts = ["lost 0", "lost 1"];
    for t in texts {
        sim.phone_send(ana, me_phone, t).expect("the phone sends");
    }

    // Three attempts each, then the dead letters (oldest first).
    let data = poll_until(DEADLINE, "two dead letters", || async {
        let data = dead_letters(&served).await;
        (data["Count"] == 2).then_some(data)
    })
    .await
    .expect("the deliveries give up");
    let list = data["DeadLetters"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 2, "{data}");
    for d in &list {
        assert_eq!(d["Receiver"], user_url.as_str());
        assert_eq!(d["UserID"], me.id.to_string());
        assert_eq!(d["Type"], "Message");
        assert_eq!(d["Attempts"], 3);
        assert_eq!(d["LastError"], "HTTP 503");
    }
    assert!(list[0]["Id"].as_u64() < list[1]["Id"].as_u64());

    dead_letter_alerts(&mut alerts, &me).await;
    assert!(served
        .log()
        .contains("alert: webhook deliveries joined the dead-letter list"));

    // Replay (after a restart: the dead letters are in the store) once the receiver is back.
    served.restart().await;
    poll_until(DEADLINE, "the dead letters after the restart", || async {
        (dead_letters(&served).await["Count"] == 2).then_some(())
    })
    .await
    .expect("the dead letters are in the store");
    dead.set_down(false);
    let replay = json!({"All": true}).to_string();
    let (status, body) = served
        .admin("POST", "/admin/webhooks/deadletters/replay", Some(&replay))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["Replayed"].as_array().map(Vec::len), Some(2));
    let hooks = take(&mut dead, 2).await;
    let got: Vec<String> = hooks.iter().filter_map(|h| text_of(&h.payload())).collect();
    assert_eq!(got, texts, "replayed in order");
    assert_eq!(hooks[0].header("content-type"), Some("application/json"));
    assert_eq!(dead_letters(&served).await["Count"], 0);

    replay_refusals(&served).await;
}

#[tokio::test]
async fn refused_logins_raise_an_alert_on_the_global_webhook() {
    let phone = "15550144021";
    let sim = start_sim(&[phone]).await;
    let mut receiver = HookReceiver::start().await;
    let global = receiver.url("/global");
    let mut served = Served::start(
        BIN.as_ref(),
        &sim,
        &[
            ("WUZAPI_GLOBAL_WEBHOOK", global.as_str()),
            ("WUZAPI_GLOBAL_HMAC_KEY", GLOBAL_KEY),
            ("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("WAGATE_ALERT_RECONNECT_ATTEMPTS", "2"),
        ],
    )
    .await;
    let mut sim_events = sim.subscribe();
    let me = served.link_account(&sim, phone, 4403).await;
    let mut conn = None;
    while let Ok(event) = sim_events.try_recv() {
        if let SimEvent::LoggedIn { conn: c, jid } = event {
            if jid == me.jid {
                conn = Some(c);
            }
        }
    }
    let refuse = Faults {
        refuse_login: Some(503),
        ..Faults::default()
    };
    sim.set_faults(phone, refuse).expect("faults");
    assert!(sim.drop_connection(conn.expect("the sim saw the login")));

    let alert = wait_for(&mut receiver.hooks, DEADLINE, "the Alert", |h: &Hook| {
        (h.payload()["type"] == "Alert").then(|| h.clone())
    })
    .await
    .expect("an alert reaches the global webhook");
    let p = alert.payload();
    assert_eq!(p["event"]["Reason"], "ReconnectFailing", "{p}");
    assert_eq!(p["event"]["SessionID"], me.id.to_string());
    assert_eq!(p["event"]["SessionName"], "test");
    assert!(p["event"]["Attempts"].as_u64() >= Some(2), "{p}");
    assert_eq!(alert.form()["userID"], me.id.to_string());
    assert_eq!(
        alert.header("x-hmac-signature"),
        Some(hmac_hex(GLOBAL_KEY, &alert.body).as_str())
    );
    assert!(served
        .log()
        .contains("alert: the session's recovery keeps failing"));
}

/// The global receiver gets an `Alert` about the two dead letters (maybe in two), signed.
async fn dead_letter_alerts(alerts: &mut HookReceiver, me: &ServedAccount) {
    let mut new = 0;
    while new < 2 {
        let alert = wait_for(&mut alerts.hooks, DEADLINE, "an Alert", |h: &Hook| {
            (h.payload()["type"] == "Alert").then(|| h.clone())
        })
        .await
        .expect("a dead-letter alert");
        let p: Value = serde_json::from_slice(&alert.body).expect("JSON");
        assert_eq!(p["event"]["Reason"], "WebhookDeadLetters", "{p}");
        assert_eq!(p["event"]["Receiver"], "127.0.0.1");
        assert_eq!(p["userID"], me.id.to_string());
        assert_eq!(
            alert.header("x-hmac-signature"),
            Some(hmac_hex(GLOBAL_KEY, &alert.body).as_str())
        );
        new += p["event"]["New"].as_u64().unwrap_or(0);
    }
}

/// Replay of an unknown id, of nothing, and without the admin token; a bad limit.
async fn replay_refusals(served: &Served) {
    let (status, body) = served
        .admin("GET", "/admin/webhooks/deadletters?limit=x", None)
        .await;
    assert_eq!((status, body["success"].clone()), (400, json!(false)));
    let (status, body) = served
        .admin(
            "POST",
            "/admin/webhooks/deadletters/replay",
            Some(r#"{"Ids":[42]}"#),
        )
        .await;
    assert_eq!(
        (status, body["data"]["Missing"].clone()),
        (200, json!([42]))
    );
    let (status, body) = served
        .admin("POST", "/admin/webhooks/deadletters/replay", Some("{}"))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = served
        .request("GET", "/admin/webhooks/deadletters", &[], None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_sender_addressed_by_lid_carries_its_phone_number() {
    let (me_phone, ana) = ("15550144031", "15550144032");
    let sim = start_sim(&[me_phone, ana]).await;
    let mut receiver = HookReceiver::start().await;
    let mut served = Served::start(
        BIN.as_ref(),
        &sim,
        &[("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true")],
    )
    .await;
    let me = served.link_account(&sim, me_phone, 4404).await;
    let hook = json!({"webhookURL": receiver.url("/user"), "events": ["Message"]}).to_string();
    let (status, body) = served
        .user(&me.token, "POST", "/webhook", Some(&hook))
        .await;
    assert_eq!(status, 200, "{body}");
    // Ana's phone now writes from its LID (messaging.md §16).
    let update = SwitchesUpdate {
        lid_migrated: Some(true),
        ..SwitchesUpdate::default()
    };
    let info = sim
        .update_account(&ana.parse().expect("phone"), update)
        .expect("switch");
    sim.phone_send(ana, me_phone, "from a LID")
        .expect("the phone sends");
    let hook = wait_for(&mut receiver.hooks, DEADLINE, "the message", |h: &Hook| {
        Some(h.clone())
    })
    .await
    .expect("the message arrives");
    let p = hook.payload();
    let info_json = &p["event"]["Info"];
    assert_eq!(text_of(&p).as_deref(), Some("from a LID"));
    assert_eq!(info_json["AddressingMode"], "lid", "{info_json}");
    assert!(
        info_json["Sender"]
            .as_str()
            .is_some_and(|s| s.starts_with(&info.lid) && s.ends_with("@lid")),
        "{info_json}"
    );
    assert_eq!(
        info_json["SenderAlt"],
        format!("{ana}@s.whatsapp.net"),
        "the phone number: {info_json}"
    );
}

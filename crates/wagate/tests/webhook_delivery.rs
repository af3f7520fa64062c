//! Webhook delivery (CONTRACTS §B.6) on the real binary: a message from the sim's phone reaches
//! the app's webhook as `type: "Message"`, form-encoded by default and JSON with
//! `WEBHOOK_FORMAT=json`; the global webhook gets it too, signed with `WUZAPI_GLOBAL_HMAC_KEY`;
//! a user's HMAC key signs the user's webhook; the subscription filter is honoured.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use wa_sim::{SimEvent, SimServer};
use wa_testkit::{start_sim, wait_for, Hook, HookReceiver, Served, ServedAccount, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const ME: &str = "15550143001";
const ANA: &str = "15550143002";
const GLOBAL_KEY: &str = "global-hmac-key-0123456789abcdef-0123";
const USER_KEY: &str = "user-hmac-key-0123456789abcdef-012345";

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Restarts the gateway with the store as it is and waits until the sim saw the account log in.
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

/// The next hook on `path` (hooks on other paths are kept in `other`).
async fn next_on(receiver: &mut HookReceiver, path: &str, other: &mut Vec<Hook>) -> Hook {
    if let Some(i) = other.iter().position(|h| h.path == path) {
        return other.remove(i);
    }
    let mut skipped = Vec::new();
    let hook = wait_for(&mut receiver.hooks, DEADLINE, path, |h: &Hook| {
        if h.path == path {
            Some(h.clone())
        } else {
            skipped.push(h.clone());
            None
        }
    })
    .await
    .unwrap_or_else(|e| panic!("no webhook on {path}: {e}"));
    other.extend(skipped);
    hook
}

fn text_of(message: &Value) -> Option<&str> {
    message["conversation"]
        .as_str()
        .or_else(|| message["extendedTextMessage"]["text"].as_str())
}

fn assert_message_from_ana(payload: &Value, text: &str) {
    assert_eq!(payload["type"], "Message", "{payload}");
    let event = &payload["event"];
    assert_eq!(text_of(&event["Message"]), Some(text), "{payload}");
    let info = &event["Info"];
    assert_eq!(info["IsFromMe"], false, "{info}");
    assert_eq!(info["IsGroup"], false, "{info}");
    assert!(
        info["ID"].as_str().is_some_and(|id| !id.is_empty()),
        "{info}"
    );
    assert!(
        info["Timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{info}"
    );
    // The phone number reaches the app, whichever namespace addressed the sender.
    let phone_jid = format!("{ANA}@s.whatsapp.net");
    let sender = info["Sender"].as_str().unwrap_or_default();
    let alt = info["SenderAlt"].as_str().unwrap_or_default();
    assert!(
        sender.starts_with(ANA) || alt == phone_jid,
        "no phone number in Sender/SenderAlt: {info}"
    );
}

#[tokio::test]
async fn messages_reach_the_user_and_global_webhooks_as_forms() {
    let sim = start_sim(&[ME, ANA]).await;
    let mut receiver = HookReceiver::start().await;
    let global = receiver.url("/global");
    let mut served = Served::start(
        BIN.as_ref(),
        &sim,
        &[
            ("WUZAPI_GLOBAL_WEBHOOK", global.as_str()),
            ("WUZAPI_GLOBAL_HMAC_KEY", GLOBAL_KEY),
            ("WAGATE_WEBHOOK_CONCURRENCY", "1"),
            ("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
        ],
    )
    .await;
    let me = served.link_account(&sim, ME, 4301).await;
    let body = json!({"webhookURL": receiver.url("/user"), "events": ["Message"]}).to_string();
    let (status, answer) = served
        .user(&me.token, "POST", "/webhook", Some(&body))
        .await;
    assert_eq!(status, 200, "{answer}");
    // A restart emits Connected (and more) before the message: not subscribed, not delivered.
    restart_logged_in(&mut served, &sim, &me).await;
    sim.phone_send(ANA, ME, "hello webhook")
        .expect("the phone sends");

    let mut other = Vec::new();
    let user = next_on(&mut receiver, "/user", &mut other).await;
    assert_eq!(
        user.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = user.form();
    let mut keys: Vec<&str> = form.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["instanceName", "jsonData", "userID"]);
    assert_eq!(form["userID"], me.id.to_string());
    assert_eq!(form["instanceName"], "test");
    assert_message_from_ana(&user.payload(), "hello webhook");
    assert_eq!(
        user.header("x-hmac-signature"),
        None,
        "no user key: unsigned"
    );

    let global = next_on(&mut receiver, "/global", &mut other).await;
    assert_eq!(
        global.body, user.body,
        "the same encoding for both receivers"
    );
    let signature = global
        .header("x-hmac-signature")
        .expect("the global webhook is signed");
    assert_eq!(signature, hmac_hex(GLOBAL_KEY, &global.body));

    a_user_key_signs(&mut served, &sim, &me, &mut receiver).await;
}

/// A user key (set in the store) signs the user's webhook.
async fn a_user_key_signs(
    served: &mut Served,
    sim: &SimServer,
    me: &ServedAccount,
    receiver: &mut HookReceiver,
) {
    // A user key signs the user's webhook.
    let mut events = sim.subscribe();
    served
        .edit_account(&me.id, |a| {
            a.hmac_key = Some(wa_store::Secret::new(USER_KEY.as_bytes().to_vec()));
        })
        .await;
    wait_for(&mut events, DEADLINE, "the login", |e| match e {
        SimEvent::LoggedIn { jid, .. } if *jid == me.jid => Some(()),
        _ => None,
    })
    .await
    .expect("the gateway logs in again");
    sim.phone_send(ANA, ME, "signed").expect("the phone sends");
    // The first message may come again after the restart (at-least-once across a SIGKILL).
    let user = wait_for(
        &mut receiver.hooks,
        DEADLINE,
        "the signed message",
        |h: &Hook| {
            (h.path == "/user" && text_of(&h.payload()["event"]["Message"]) == Some("signed"))
                .then(|| h.clone())
        },
    )
    .await
    .expect("the signed message arrives");
    assert_message_from_ana(&user.payload(), "signed");
    assert_eq!(
        user.header("x-hmac-signature"),
        Some(hmac_hex(USER_KEY, &user.body).as_str())
    );
}

#[tokio::test]
async fn json_encoding_and_the_all_subscription() {
    let sim = start_sim(&[ME, ANA]).await;
    let mut receiver = HookReceiver::start().await;
    let mut served = Served::start(
        BIN.as_ref(),
        &sim,
        &[
            ("WEBHOOK_FORMAT", "json"),
            ("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
        ],
    )
    .await;
    let me = served.link_account(&sim, ME, 4302).await;
    let body = json!({"webhookURL": receiver.url("/user"), "events": ["All"]}).to_string();
    let (status, answer) = served
        .user(&me.token, "POST", "/webhook", Some(&body))
        .await;
    assert_eq!(status, 200, "{answer}");
    restart_logged_in(&mut served, &sim, &me).await;

    let connected = wait_for(&mut receiver.hooks, DEADLINE, "Connected", |h: &Hook| {
        (h.payload()["type"] == "Connected").then(|| h.clone())
    })
    .await
    .expect("All includes Connected");
    assert_eq!(connected.header("content-type"), Some("application/json"));
    let payload: Value = serde_json::from_slice(&connected.body).expect("a JSON body");
    assert_eq!(payload["userID"], me.id.to_string());
    assert_eq!(payload["instanceName"], "test");

    sim.phone_send(ANA, ME, "hello json")
        .expect("the phone sends");
    let message = wait_for(&mut receiver.hooks, DEADLINE, "Message", |h: &Hook| {
        (h.payload()["type"] == "Message").then(|| h.clone())
    })
    .await
    .expect("the message arrives");
    let payload: Value = serde_json::from_slice(&message.body).expect("a JSON body");
    assert_message_from_ana(&payload, "hello json");
    assert_eq!(payload["userID"], me.id.to_string());
    assert_eq!(payload["instanceName"], "test");
}

#[tokio::test]
async fn read_receipts_reach_the_webhook_signed_with_the_users_key() {
    let sim = start_sim(&[ME, ANA]).await;
    let mut receiver = HookReceiver::start().await;
    let mut served = Served::start(
        BIN.as_ref(),
        &sim,
        &[("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true")],
    )
    .await;
    let me = served.link_account(&sim, ME, 4303).await;
    let token = me.token.as_str();
    let body = json!({"webhookURL": receiver.url("/user"), "events": ["ReadReceipt"]});
    let (status, answer) = served
        .user(token, "POST", "/webhook", Some(&body.to_string()))
        .await;
    assert_eq!(status, 200, "{answer}");
    let key = json!({ "hmac_key": USER_KEY }).to_string();
    let (status, answer) = served
        .user(token, "POST", "/session/hmac/config", Some(&key))
        .await;
    assert_eq!(status, 200, "{answer}");

    let send = json!({"Phone": ANA, "Body": "read me"}).to_string();
    let (status, answer) = served
        .user(token, "POST", "/chat/send/text", Some(&send))
        .await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["data"]["Id"].as_str().expect("Id").to_owned();
    sim.phone_read(ANA, ME, std::slice::from_ref(&id))
        .expect("the phone reads");
    // Only ReadReceipt is subscribed: the phone's reply later must not arrive before it.
    let read = wait_for(
        &mut receiver.hooks,
        DEADLINE,
        "the Read receipt",
        |h: &Hook| {
            let p = h.payload();
            assert_eq!(
                p["type"], "ReadReceipt",
                "only ReadReceipt is subscribed: {p}"
            );
            (p["state"] == "Read").then(|| h.clone())
        },
    )
    .await
    .expect("the read receipt arrives");
    let payload = read.payload();
    let event = &payload["event"];
    assert_eq!(event["MessageIDs"], json!([id]), "{payload}");
    assert_eq!(event["Type"], "read");
    assert_eq!(event["Chat"], format!("{ANA}@s.whatsapp.net"));
    assert_eq!(read.form()["userID"], me.id.to_string());
    assert_eq!(
        read.header("x-hmac-signature"),
        Some(hmac_hex(USER_KEY, &read.body).as_str())
    );
}

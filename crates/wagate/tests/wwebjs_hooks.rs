//! The whatsapp-web.js dialect's webhooks and send options on the real binary against wa-sim
//! (CONTRACTS §C.3, §C.5): `BASE_WEBHOOK_URL` receives `{"dataType", "data", "sessionId"}` with
//! `x-api-key: <API_KEY>` (`qr`, `authenticated`, `ready`, `message_ack`, `message`), the types
//! in `DISABLED_CALLBACKS` never come; `sendMessage` honours `quotedMessageId`, `mentions` and
//! `parseVCards`.

use serde_json::{json, Value};
use wa_sim::SimEvent;
use wa_testkit::{start_sim, wait_for, Hook, HookReceiver, Served, Wwebjs, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const OURS: &str = "5511999990301";
const PEER: &str = "5511999990302";
const KEY: &str = "wweb-hooks-key-1";

/// Waits for the next callback of `data_type`, checking every callback's envelope on the way.
async fn next(hooks: &mut HookReceiver, data_type: &str) -> (Hook, Value) {
    wait_for(&mut hooks.hooks, DEADLINE, data_type, |hook| {
        assert_eq!(hook.path, "/wweb");
        assert_eq!(hook.header("x-api-key"), Some(KEY));
        assert_eq!(hook.header("content-type"), Some("application/json"));
        let body: Value = serde_json::from_slice(&hook.body).expect("a JSON body");
        assert_eq!(body["sessionId"], OURS, "{body}");
        assert_ne!(body["dataType"], "change_state", "disabled: {body}");
        (body["dataType"] == data_type).then(|| (hook.clone(), body))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn callbacks_and_send_options() {
    let sim = start_sim(&[OURS, PEER]).await;
    let mut hooks = HookReceiver::start().await;
    let env = [
        ("BASE_WEBHOOK_URL", hooks.url("/wweb")),
        ("API_KEY", KEY.to_owned()),
        (
            "DISABLED_CALLBACKS",
            "change_state|loading_screen".to_owned(),
        ),
        ("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let served = Served::start(BIN.as_ref(), &sim, &env).await;
    let api = Wwebjs::new(&served, KEY);
    let (status, _) = api.get(&format!("/session/start/{OURS}")).await;
    assert_eq!(status, 200);
    let qr = api.link(&sim, OURS, OURS).await.expect("linked");

    let (_, body) = next(&mut hooks, "qr").await;
    assert_eq!(body["data"], json!({ "qr": qr }));
    let (_, body) = next(&mut hooks, "authenticated").await;
    assert_eq!(
        body,
        json!({"dataType": "authenticated", "sessionId": OURS})
    );
    let (_, body) = next(&mut hooks, "ready").await;
    assert_eq!(body, json!({"dataType": "ready", "sessionId": OURS}));

    let id = quoted_reply_with_mentions(&api, &sim).await;
    let (_, body) = next(&mut hooks, "message_ack").await;
    let remote = format!("{PEER}@c.us");
    assert_eq!(body["data"]["ack"], 1, "{body}");
    assert_eq!(
        body["data"]["message"]["id"],
        json!({"fromMe": true, "remote": remote, "id": id,
               "_serialized": format!("true_{remote}_{id}")})
    );
    vcard_text_goes_as_a_contact(&api, &sim).await;

    let sent = sim
        .phone_send(PEER, OURS, "hello from the phone")
        .expect("the phone sends");
    let (_, body) = next(&mut hooks, "message").await;
    let message = &body["data"]["message"];
    assert_eq!(message["body"], "hello from the phone", "{body}");
    assert_eq!(message["type"], "chat");
    assert_eq!(message["from"], remote);
    assert_eq!(message["to"], format!("{OURS}@c.us"));
    assert_eq!(message["fromMe"], false);
    assert_eq!(
        message["id"]["_serialized"],
        format!("false_{remote}_{}", sent.as_str())
    );
}

/// A text quoting a message of the peer and mentioning it: the answer says so and the peer's
/// phone gets the text. Returns the message id.
async fn quoted_reply_with_mentions(api: &Wwebjs<'_>, sim: &wa_sim::SimServer) -> String {
    let mut sim_events = sim.subscribe();
    let quoted = format!("false_{PEER}@c.us_3EB0AABBCCDDEEFF001122");
    let body = json!({"chatId": format!("{PEER}@c.us"), "contentType": "string",
        "content": "a reply", "options": {"quotedMessageId": quoted,
        "mentions": [format!("{PEER}@c.us")], "linkPreview": true, "sendSeen": true}});
    let (status, answer) = api
        .post(&format!("/client/sendMessage/{OURS}"), &body)
        .await;
    assert_eq!(status, 200, "{answer}");
    let message = &answer["message"];
    assert_eq!(message["hasQuotedMsg"], true, "{answer}");
    assert_eq!(message["mentionedIds"], json!([format!("{PEER}@c.us")]));
    assert_eq!(
        (&message["type"], &message["body"]),
        (&json!("chat"), &json!("a reply"))
    );
    let id = message["id"]["id"].as_str().expect("an id").to_owned();
    wait_for(&mut sim_events, DEADLINE, "the phone's copy", |e| match e {
        SimEvent::PhoneReceived { id: got, .. } if got.as_str() == id => Some(()),
        _ => None,
    })
    .await
    .expect("the peer's phone receives it");
    let strict = json!({"chatId": format!("{PEER}@c.us"), "contentType": "string",
        "content": "x", "options": {"quotedMessageId": "nonsense", "ignoreQuoteErrors": false}});
    let (status, answer) = api
        .post(&format!("/client/sendMessage/{OURS}"), &strict)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["success"], false);
    id
}

/// `parseVCards` (default true): a vCard text goes out as a contact card.
async fn vcard_text_goes_as_a_contact(api: &Wwebjs<'_>, sim: &wa_sim::SimServer) {
    let mut sim_events = sim.subscribe();
    let card = format!("BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nTEL;waid={PEER}:+{PEER}\nEND:VCARD");
    let body = json!({"chatId": format!("{PEER}@c.us"), "contentType": "string", "content": card});
    let (status, answer) = api
        .post(&format!("/client/sendMessage/{OURS}"), &body)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["message"]["type"], "vcard");
    assert_eq!(answer["message"]["vCards"], json!([card]));
    let id = answer["message"]["id"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    wait_for(&mut sim_events, DEADLINE, "the card", |e| match e {
        SimEvent::PhoneReceived { id: got, .. } if got.as_str() == id => Some(()),
        _ => None,
    })
    .await
    .expect("the peer's phone receives it");
    let inbox = sim.phone_messages(PEER).expect("the inbox");
    let got = inbox.iter().find(|m| m.id == id).expect("in the inbox");
    assert_eq!(got.kind, "contact");
}

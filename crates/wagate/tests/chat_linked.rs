//! Chat and user routes on a session linked through the sim's phone (CONTRACTS §A.4–§A.6, seed
//! 004), on the real binary: each send kind reaches the phone (`GET /admin/phones/{phone}/messages`
//! shows it) and answers `{"Details":"Sent","Id","Timestamp"}` with the caller's id and the
//! server's time; the phone's receipts and reply reach the application (webhooks); a server
//! refusal (463) is an error, never "Sent"; the user directory answers from usync and the store.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use wa_sim::{SimEvent, SimServer, SwitchesUpdate};
use wa_testkit::session_flow::{link_by_qr, wait_status};
use wa_testkit::{start_sim, wait_for, HookReceiver, Served, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const TOKEN: &str = "chat-linked-token-1";
/// The gateway's account.
const A: &str = "5511900000101";
/// A contact.
const B: &str = "5511900000102";
/// A contact whose account requires privacy tokens.
const C: &str = "5511900000103";

struct Setup {
    sim: SimServer,
    served: Served,
    hooks: HookReceiver,
}

async fn linked() -> Setup {
    let sim = start_sim(&[A, B, C]).await;
    let hooks = HookReceiver::start().await;
    let url = hooks.url("/webhook");
    let env = [
        ("WUZAPI_GLOBAL_WEBHOOK", url.as_str()),
        ("WEBHOOK_FORMAT", "json"),
        ("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
    ];
    let served = Served::start(BIN.as_ref(), &sim, &env).await;
    served.create_user("chat-linked", TOKEN).await;
    link_by_qr(&served, &sim, TOKEN, A).await;
    Setup { sim, served, hooks }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Sends `body` to `path`; asserts the success envelope and returns its `data`.
async fn ok(served: &Served, path: &str, body: Value) -> Value {
    let (status, answer) = served
        .user(TOKEN, "POST", path, Some(&body.to_string()))
        .await;
    assert_eq!(status, 200, "{path} {body}: {answer}");
    assert_eq!(answer["code"], 200);
    assert_eq!(answer["success"], true);
    answer["data"].clone()
}

/// Asserts a send's answer: `Details`, `Id` as expected, `Timestamp` the server's (now).
fn assert_sent(data: &Value, details: &str, id: &str) {
    assert_eq!(data["Details"], details, "{data}");
    assert_eq!(data["Id"], id, "{data}");
    let t = data["Timestamp"].as_u64().expect("unix seconds");
    assert!(t.abs_diff(now_secs()) < 600, "timestamp {t}");
}

/// The next message the phone `phone` records, as `GET /admin/phones/{phone}/messages` shows it.
async fn phone_got(
    sim: &SimServer,
    events: &mut tokio::sync::broadcast::Receiver<SimEvent>,
    phone: &str,
) -> Value {
    let id = wait_for(events, DEADLINE, "the phone receives", |e| match e {
        SimEvent::PhoneReceived { phone: p, id } if p.as_str() == phone => Some(id.clone()),
        _ => None,
    })
    .await
    .expect("the phone receives the message");
    let path = format!("/admin/phones/{phone}/messages");
    let (status, inbox) = wa_testkit::http::request(sim.addr(), "GET", &path, None, DEADLINE).await;
    assert_eq!(status, 200, "{inbox}");
    inbox
        .as_array()
        .and_then(|all| all.iter().find(|m| m["id"] == id.as_str()))
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in {inbox}"))
}

/// A text with the caller's id, then a reply to it quoting it and mentioning B; the text's id.
async fn texts_reach_the_phone(
    sim: &SimServer,
    served: &Served,
    events: &mut tokio::sync::broadcast::Receiver<SimEvent>,
) -> &'static str {
    let id = "3EB0C4A7000000000000A1";
    let data = ok(
        served,
        "/chat/send/text",
        json!({"Phone": B, "Body": "hello", "Id": id}),
    )
    .await;
    assert_sent(&data, "Sent", id);
    let got = phone_got(sim, events, B).await;
    assert_eq!((&got["id"], &got["from"]), (&json!(id), &json!(A)));
    assert_eq!(
        (&got["kind"], &got["text"]),
        (&json!("text"), &json!("hello"))
    );
    // The answer's Timestamp is the server's (the time it stamped on the delivered message).
    assert_eq!(got["t"], data["Timestamp"]);

    let reply = json!({"phone": format!("+{B}"), "body": "a reply", "QuotedText": "hello",
        "ContextInfo": {"StanzaId": id, "Participant": A, "MentionedJID": [format!("{B}@s.whatsapp.net")]}});
    let data = ok(served, "/chat/send/text", reply).await;
    let got = phone_got(sim, events, B).await;
    assert_eq!((&got["id"], &got["text"]), (&data["Id"], &json!("a reply")));
    assert_eq!(got["forwarded"], Value::Null, "not forwarded: {got}");

    // CONTRACTS §A.4 IsForwarded: contextInfo isForwarded with forwardingScore 1 at the phone.
    let forwarded = json!({"Phone": B, "Body": "passed on", "ContextInfo": {"IsForwarded": true}});
    let data = ok(served, "/chat/send/text", forwarded).await;
    let got = phone_got(sim, events, B).await;
    assert_eq!(
        (&got["id"], &got["text"]),
        (&data["Id"], &json!("passed on"))
    );
    assert_eq!(got["forwarded"], 1, "{got}");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_send_kind_reaches_the_phone() {
    let Setup { sim, served, .. } = linked().await;
    let mut events = sim.subscribe();
    let id = texts_reach_the_phone(&sim, &served, &mut events).await;

    let cases = [
        (
            "/chat/send/location",
            json!({"Phone": B, "Latitude": -23.55, "Longitude": -46.63, "Name": "SP"}),
            "location",
            "",
        ),
        (
            "/chat/send/contact",
            json!({"Phone": B, "Name": "Ana", "Vcard": "BEGIN:VCARD\nFN:Ana\nEND:VCARD"}),
            "contact",
            "",
        ),
        (
            "/chat/send/edit",
            json!({"Phone": B, "Id": id, "Body": "hello, edited"}),
            "edit",
            "hello, edited",
        ),
        (
            "/chat/react",
            json!({"Phone": B, "Id": format!("me:{id}"), "Body": "🎉"}),
            "reaction",
            "🎉",
        ),
        (
            "/chat/react",
            json!({"Phone": B, "Id": format!("me:{id}"), "Body": "remove"}),
            "reaction",
            "",
        ),
        ("/chat/delete", json!({"Phone": B, "Id": id}), "revoke", ""),
    ];
    for (path, body, kind, text) in cases {
        let data = ok(&served, path, body).await;
        let details = if path == "/chat/delete" {
            "Deleted"
        } else {
            "Sent"
        };
        if matches!(kind, "edit" | "reaction" | "revoke") {
            // The answer names the message acted on (without `me:`).
            assert_sent(&data, details, id);
        } else {
            assert_eq!(data["Details"], details);
        }
        let got = phone_got(&sim, &mut events, B).await;
        assert_eq!(
            (&got["kind"], &got["text"]),
            (&json!(kind), &json!(text)),
            "{path}"
        );
    }
}

/// The next webhook of `kind` that `pick` accepts.
async fn hook(hooks: &mut HookReceiver, kind: &str, mut pick: impl FnMut(&Value) -> bool) -> Value {
    wait_for(&mut hooks.hooks, DEADLINE, kind, |h| {
        let v = h.payload();
        (v["type"] == kind && pick(&v)).then_some(v)
    })
    .await
    .unwrap_or_else(|e| panic!("no {kind} webhook: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_and_the_phones_reply_reach_the_app() {
    let Setup {
        sim,
        served,
        mut hooks,
    } = linked().await;
    let data = ok(
        &served,
        "/chat/send/text",
        json!({"Phone": B, "Body": "are you there?"}),
    )
    .await;
    let id = data["Id"].as_str().expect("id").to_owned();
    let names = |v: &Value| {
        v["event"]["MessageIDs"]
            .as_array()
            .is_some_and(|a| a.contains(&json!(id)))
    };
    let delivered = hook(&mut hooks, "ReadReceipt", |v| {
        names(v) && v["state"] == "Delivered"
    })
    .await;
    assert_eq!(delivered["event"]["Type"], "");
    sim.phone_read(B, A, std::slice::from_ref(&id))
        .expect("the phone reads");
    let read = hook(&mut hooks, "ReadReceipt", |v| {
        names(v) && v["state"] == "Read"
    })
    .await;
    assert_eq!(read["event"]["Type"], "read");

    let answer = sim
        .phone_send(B, A, "yes, here")
        .expect("the phone answers");
    let message = hook(&mut hooks, "Message", |v| {
        v["event"]["Info"]["ID"] == answer.as_str()
    })
    .await;
    assert!(message["event"]["Info"]["Sender"]
        .as_str()
        .is_some_and(|s| s.starts_with(B)));

    // Each action reaches the server as its stanza (the sim sees every node the gateway sends).
    let mut wire = sim.subscribe();
    let body = json!({"Id": [answer.as_str()], "ChatPhone": B});
    let data = ok(&served, "/chat/markread", body).await;
    assert_eq!(data, json!({"Details": "Message(s) marked as read"}));
    sent_stanza(&mut wire, "receipt", |n| {
        n.attr_str("type") == Some("read") && n.attr_str("id") == Some(answer.as_str())
    })
    .await;
    let data = ok(
        &served,
        "/chat/presence",
        json!({"Phone": B, "State": "composing", "Media": "audio"}),
    )
    .await;
    assert_eq!(data, json!({"Details": "Chat presence set successfuly"}));
    sent_stanza(&mut wire, "chatstate", |n| {
        n.child("composing")
            .is_some_and(|c| c.attr_str("media") == Some("audio"))
    })
    .await;
    let data = ok(
        &served,
        "/chat/presence",
        json!({"Phone": B, "State": "paused"}),
    )
    .await;
    assert_eq!(data["Details"], "Chat presence set successfuly");
    sent_stanza(&mut wire, "chatstate", |n| n.child("paused").is_some()).await;
    let data = ok(&served, "/user/presence", json!({"type": "unavailable"})).await;
    assert_eq!(data, json!({"Details": "Presence set successfuly"}));
    sent_stanza(&mut wire, "presence", |n| {
        n.attr_str("type") == Some("unavailable")
    })
    .await;
}

/// Waits until the gateway sends the server a `tag` stanza that `pick` accepts.
async fn sent_stanza(
    wire: &mut tokio::sync::broadcast::Receiver<SimEvent>,
    tag: &str,
    pick: impl Fn(&wa_protocol::binary::Node) -> bool,
) {
    wait_for(wire, DEADLINE, tag, |e| match e {
        SimEvent::Stanza { node, .. } if node.tag == tag && pick(node) => Some(()),
        _ => None,
    })
    .await
    .unwrap_or_else(|e| panic!("no {tag} stanza: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusal_is_an_error_never_sent() {
    let Setup { sim, served, .. } = linked().await;
    let c = C.parse().expect("phone");
    let update = SwitchesUpdate {
        require_privacy_tokens: Some(true),
        ..SwitchesUpdate::default()
    };
    sim.update_account(&c, update).expect("switch");
    let body = json!({"Phone": C, "Body": "first contact"}).to_string();
    let (status, answer) = served
        .user(TOKEN, "POST", "/chat/send/text", Some(&body))
        .await;
    assert_eq!(
        (status, answer),
        (
            500,
            json!({"code": 500, "error": "error sending message: server returned error 463", "success": false})
        )
    );
    assert!(sim.phone_messages(C).expect("inbox").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_directory_answers_from_usync_and_the_store() {
    let Setup { sim, served, .. } = linked().await;
    let lid = format!("{}@lid", sim.account(B).expect("B").lid);
    let b_jid = format!("{B}@s.whatsapp.net");
    let unknown = "+5511900000999";

    let data = ok(&served, "/user/check", json!({"Phone": [B, unknown]})).await;
    assert_eq!(
        data,
        json!({"Users": [
            {"Query": B, "IsInWhatsapp": true, "JID": b_jid, "VerifiedName": ""},
            {"Query": unknown, "IsInWhatsapp": false, "JID": "5511900000999@s.whatsapp.net", "VerifiedName": ""},
        ]})
    );
    let data = ok(&served, "/user/info", json!({"Phone": [b_jid]})).await;
    let info = &data["Users"][&b_jid];
    assert!(
        info["Devices"]
            .as_array()
            .is_some_and(|d| d.contains(&json!(b_jid))),
        "{data}"
    );
    assert_eq!(info["LID"], lid.as_str());
    assert_eq!(info["VerifiedName"], Value::Null);

    for path in [format!("/user/lid/{B}"), format!("/user/lid/{lid}")] {
        let (status, answer) = served.user(TOKEN, "GET", &path, None).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(answer["data"], json!({"jid": b_jid, "lid": lid}));
    }
    let (status, answer) = served.user(TOKEN, "GET", "/user/contacts", None).await;
    assert_eq!(status, 200);
    let contact = &answer["data"][&b_jid];
    assert_eq!(contact["Found"], true);
    assert_eq!(contact["LID"], lid.as_str());
}

/// Seed 004: a send while disconnected fails; status says so; connect with the seed's body;
/// once `connected && loggedIn`, the retry succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_004_send_fails_while_disconnected_and_succeeds_after_connect() {
    let Setup { sim, served, .. } = linked().await;
    let (status, answer) = served
        .user(TOKEN, "POST", "/session/disconnect", None)
        .await;
    assert_eq!(status, 200, "{answer}");

    let body = json!({"Phone": B, "Body": "OTP 123456"}).to_string();
    let (status, answer) = served
        .user(TOKEN, "POST", "/chat/send/text", Some(&body))
        .await;
    assert_eq!(
        (status, answer),
        (
            500,
            json!({"code": 500, "error": "no session", "success": false})
        )
    );
    let (status, answer) = served.user(TOKEN, "GET", "/session/status", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&answer["data"]["connected"], &answer["data"]["loggedIn"]),
        (&json!(false), &json!(false))
    );

    let connect = r#"{"Subscribe":["Message","ReadReceipt"],"Immediate":true}"#;
    let (status, answer) = served
        .user(TOKEN, "POST", "/session/connect", Some(connect))
        .await;
    assert_eq!(status, 200, "{answer}");
    wait_status(&served, TOKEN, |d| {
        d["connected"] == true && d["loggedIn"] == true
    })
    .await;

    let mut events = sim.subscribe();
    let data = ok(
        &served,
        "/chat/send/text",
        json!({"Phone": B, "Body": "OTP 123456"}),
    )
    .await;
    assert_eq!(data["Details"], "Sent");
    let got = phone_got(&sim, &mut events, B).await;
    assert_eq!(
        (&got["id"], &got["text"]),
        (&data["Id"], &json!("OTP 123456"))
    );
}

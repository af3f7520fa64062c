//! The default session (seed 003) and phone normalisation (seed 004) on the real binary against
//! wa-sim (issue 12 items 4 and 5): a send with the admin token and no user token goes through
//! the default session; seed 004's phone table, verbatim, reaches the right phone through both
//! dialects (wuzapi `Phone`, whatsapp-web.js `chatId`) and `user/check`; garbage numbers are a
//! 400 (the contract's body); a session's own country code overrides the server's; an inactive session
//! sends nothing.

use serde_json::{json, Value};
use wa_sim::SimServer;
use wa_testkit::session_flow::link_by_qr;
use wa_testkit::{poll_until, start_sim, Served, Wwebjs, ADMIN_TOKEN, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
/// The gateway's session (seed 003's "system" session).
const OURS: &str = "5511900000401";
/// Seed 004's Indonesian and US numbers, normalised.
const ID_PHONE: &str = "628123456789";
const US_PHONE: &str = "15551234567";
const TOKEN: &str = "system-session-token";
const NAME: &str = "system";

/// Seed 004's "Phone Number Format Examples", verbatim: input → the phone it reaches.
const SEED_004: [(&str, &str); 5] = [
    ("08123456789", "628123456789"),
    ("+628123456789", "628123456789"),
    ("628123456789", "628123456789"),
    ("8123456789", "628123456789"),
    ("+15551234567", "15551234567"),
];

/// Waits until `phone` got `text`; its sender.
async fn arrives(sim: &SimServer, phone: &str, text: &str) -> String {
    let path = format!("/admin/phones/{phone}/messages");
    poll_until(DEADLINE, &format!("{text:?} at {phone}"), || {
        let path = path.clone();
        async move {
            let (status, all) =
                wa_testkit::http::request(sim.addr(), "GET", &path, None, DEADLINE).await;
            assert_eq!(status, 200, "{all}");
            let found: Vec<String> = all
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["text"] == text)
                .map(|m| m["from"].as_str().unwrap_or_default().to_owned())
                .collect();
            assert!(found.len() <= 1, "{text:?} arrived twice");
            found.into_iter().next()
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn send(served: &Served, headers: &[(&str, &str)], phone: &str, text: &str) -> (u16, Value) {
    let body = json!({"Phone": phone, "Body": text}).to_string();
    served
        .request("POST", "/chat/send/text", headers, Some(&body))
        .await
}

async fn meta(served: &Served, body: Value) -> Value {
    let path = format!("/admin/sessions/{NAME}");
    let (status, answer) = served.admin("PUT", &path, Some(&body.to_string())).await;
    assert_eq!(status, 200, "{body}: {answer}");
    answer["data"].clone()
}

async fn linked() -> (SimServer, Served, String) {
    let sim = start_sim(&[OURS, ID_PHONE, US_PHONE]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[("WAGATE_DEFAULT_COUNTRY_CODE", "62")]).await;
    let id = served.create_user(NAME, TOKEN).await;
    link_by_qr(&served, &sim, TOKEN, OURS).await;
    (sim, served, id)
}

#[tokio::test]
async fn seed_003_sends_without_a_session_go_through_the_default_session() {
    let (sim, served, id) = linked().await;
    let admin = [("Authorization", ADMIN_TOKEN)];
    let (status, body) = served.admin("GET", "/admin/default-session", None).await;
    assert_eq!(
        (status, &body["error"]),
        (404, &json!("no default session"))
    );
    let (status, body) = send(&served, &admin, "08123456789", "too early").await;
    assert_eq!(
        (status, &body["error"]),
        (404, &json!("no default session"))
    );

    let data = meta(
        &served,
        json!({"Description": "System OTP", "Default": true}),
    )
    .await;
    assert_eq!(
        (
            &data["Id"],
            &data["Default"],
            &data["Active"],
            &data["Description"]
        ),
        (&json!(id), &json!(true), &json!(true), &json!("System OTP"))
    );
    let (status, list) = served.admin("GET", "/admin/sessions", None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"][0]["Default"], true, "{list}");
    assert_eq!(list["data"][0]["LoggedIn"], true, "{list}");

    // Seed 003's sendWhatsAppMessage({to, message}): no session named, the default sends.
    let (status, body) = send(&served, &admin, "08123456789", "otp 123456").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["Details"], "Sent");
    assert_eq!(arrives(&sim, ID_PHONE, "otp 123456").await, OURS);

    // An inactive session sends nothing, through its token or as the default, and cannot be
    // made the default.
    meta(&served, json!({"Active": false})).await;
    for headers in [&admin[..], &[("token", TOKEN)][..]] {
        let (status, body) = send(&served, headers, ID_PHONE, "inactive").await;
        assert_eq!(
            (status, &body["error"]),
            (409, &json!("session is not active"))
        );
    }
    let (status, body) = served
        .admin(
            "PUT",
            "/admin/default-session",
            Some(&json!({"Session": NAME}).to_string()),
        )
        .await;
    assert_eq!(
        (status, &body["error"]),
        (409, &json!("session is not active"))
    );
    meta(&served, json!({"Active": true})).await;

    let (status, body) = served.admin("DELETE", "/admin/default-session", None).await;
    assert_eq!((status, &body["data"]["Name"]), (200, &json!(NAME)));
    let (status, _) = send(&served, &admin, ID_PHONE, "no default").await;
    assert_eq!(status, 404);
    // wuzapi's own answers are unchanged: no metadata keys in the user list.
    let (_, users) = served.admin("GET", "/admin/users", None).await;
    assert!(users["data"][0].get("Description").is_none(), "{users}");
}

#[tokio::test]
async fn seed_004_phone_table_through_both_dialects() {
    let (sim, served, _) = linked().await;
    let user = [("token", TOKEN)];
    for (input, phone) in SEED_004 {
        let text = format!("wuzapi {input}");
        let (status, body) = send(&served, &user, input, &text).await;
        assert_eq!(status, 200, "{input}: {body}");
        assert_eq!(arrives(&sim, phone, &text).await, OURS, "{input}");
    }
    let api = Wwebjs::new(&served, ADMIN_TOKEN);
    for (input, phone) in SEED_004 {
        let text = format!("wwebjs {input}");
        let body =
            json!({"chatId": format!("{input}@c.us"), "contentType": "string", "content": text});
        let (status, answer) = api
            .post(&format!("/client/sendMessage/{NAME}"), &body)
            .await;
        assert_eq!(status, 200, "{input}: {answer}");
        assert_eq!(answer["message"]["to"], format!("{phone}@c.us"), "{answer}");
        assert_eq!(arrives(&sim, phone, &text).await, OURS, "{input}");
    }
    let queries: Vec<&str> = SEED_004.iter().map(|(input, _)| *input).collect();
    let (status, body) = served
        .user(
            TOKEN,
            "POST",
            "/user/check",
            Some(&json!({"Phone": queries}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for (i, (input, phone)) in SEED_004.iter().enumerate() {
        let user = &body["data"]["Users"][i];
        assert_eq!(user["Query"], *input);
        assert_eq!(user["JID"], format!("{phone}@s.whatsapp.net"), "{body}");
        assert_eq!(user["IsInWhatsapp"], true, "{body}");
    }

    // Not phone numbers: the contract's 400 in each dialect's envelope.
    for garbage in ["abc", "0812", "+1234567890123456", "08x123456789", "+"] {
        let (status, body) = send(&served, &user, garbage, "never").await;
        assert_eq!(
            (status, body),
            (
                400,
                json!({"code": 400, "error": "could not parse Phone", "success": false})
            ),
            "{garbage}"
        );
        let chat = json!({"chatId": format!("{garbage}@c.us"), "contentType": "string", "content": "never"});
        let (status, body) = api
            .post(&format!("/client/sendMessage/{NAME}"), &chat)
            .await;
        assert_eq!(
            (status, body),
            (
                400,
                json!({"success": false, "error": "could not parse chatId"})
            ),
            "{garbage}"
        );
    }

    // The session's own country code replaces the server's.
    let data = meta(&served, json!({"CountryCode": "+1"})).await;
    assert_eq!(data["CountryCode"], "1");
    let (status, body) = send(&served, &user, "0555 123 4567", "national US").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(arrives(&sim, US_PHONE, "national US").await, OURS);
    let path = format!("/admin/sessions/{NAME}");
    let (status, body) = served
        .admin(
            "PUT",
            &path,
            Some(&json!({"CountryCode": "0x"}).to_string()),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

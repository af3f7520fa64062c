//! The chat and user routes' documented refusals on the real binary (CONTRACTS §A.0, §A.4–§A.6):
//! no token, bad bodies, missing fields and bad phones (checked before the session), `no
//! session` for a user that never connected, media downloads' 501, media sends' 400s, and the
//! store-only user routes.

use serde_json::{json, Value};
use wa_testkit::{start_sim, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const TOKEN: &str = "chat-errors-token-1";

fn error(code: u16, text: &str) -> Value {
    json!({"code": code, "error": text, "success": false})
}

async fn served() -> (wa_sim::SimServer, Served) {
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    served.create_user("chat-errors", TOKEN).await;
    (sim, served)
}

#[tokio::test]
async fn every_route_needs_the_users_token() {
    let (_sim, served) = served().await;
    for (method, path) in [
        ("POST", "/chat/send/text"),
        ("POST", "/chat/send/location"),
        ("POST", "/chat/send/contact"),
        ("POST", "/chat/send/edit"),
        ("POST", "/chat/delete"),
        ("POST", "/chat/react"),
        ("POST", "/chat/markread"),
        ("POST", "/chat/presence"),
        ("POST", "/chat/send/image"),
        ("POST", "/chat/downloadimage"),
        ("POST", "/user/presence"),
        ("POST", "/user/check"),
        ("POST", "/user/info"),
        ("GET", "/user/lid/5511999990001"),
        ("GET", "/user/contacts"),
    ] {
        let (status, body) = served
            .user(
                "wrong-token",
                method,
                path,
                Some(r#"{"Phone":"5511999990001"}"#),
            )
            .await;
        assert_eq!(
            (status, &body),
            (401, &error(401, "unauthorized")),
            "{path}"
        );
    }
}

/// `(path, body, the 400's text)` of CONTRACTS §A.0, §A.4–§A.6.
const BAD_BODIES: &[(&str, &str, &str)] = &[
    ("/chat/send/text", "", "could not decode Payload"),
    // Go refuses an array for a struct, even `[]`; `null` leaves the zero value.
    ("/chat/send/text", "[]", "could not decode Payload"),
    ("/chat/send/text", "null", "missing Phone in Payload"),
    (
        "/chat/send/text",
        r#"{"Phone":5511}"#,
        "could not decode Payload",
    ),
    (
        "/chat/send/text",
        r#"{"Body":"hi"}"#,
        "missing Phone in Payload",
    ),
    (
        "/chat/send/text",
        r#"{"Phone":"5511999990001"}"#,
        "missing Body in Payload",
    ),
    (
        "/chat/send/text",
        r#"{"Phone":"abc","Body":"hi"}"#,
        "could not parse Phone",
    ),
    (
        "/chat/send/text",
        r#"{"Phone":"@s.whatsapp.net","Body":"hi"}"#,
        "could not parse Phone",
    ),
    (
        "/chat/send/text",
        r#"{"Phone":"5511999990001","Body":"hi","ContextInfo":{"StanzaID":"3EB0AA"}}"#,
        "missing Participant in ContextInfo",
    ),
    (
        "/chat/send/text",
        r#"{"Phone":"5511999990001","Body":"hi","ContextInfo":{"Participant":"5511999990002"}}"#,
        "missing StanzaID in ContextInfo",
    ),
    (
        "/chat/send/location",
        r#"{"Phone":"5511999990001","Longitude":1.5}"#,
        "missing Latitude in Payload",
    ),
    (
        "/chat/send/location",
        r#"{"Phone":"5511999990001","Latitude":1.5}"#,
        "missing Longitude in Payload",
    ),
    (
        "/chat/send/contact",
        r#"{"Phone":"5511999990001","Vcard":"BEGIN:VCARD"}"#,
        "missing Name in Payload",
    ),
    (
        "/chat/send/contact",
        r#"{"Phone":"5511999990001","Name":"Ana"}"#,
        "missing Vcard in Payload",
    ),
    (
        "/chat/send/edit",
        r#"{"Phone":"5511999990001","Body":"new"}"#,
        "missing Id in Payload",
    ),
    (
        "/chat/delete",
        r#"{"Phone":"5511999990001"}"#,
        "missing Id in Payload",
    ),
    (
        "/chat/delete",
        r#"{"Id":"3EB0AA"}"#,
        "missing Phone in Payload",
    ),
    (
        "/chat/react",
        r#"{"Phone":"x1","Body":"+1","Id":"3EB0AA"}"#,
        "could not parse Group JID",
    ),
    (
        "/chat/react",
        r#"{"Phone":"5511999990001","Id":"3EB0AA"}"#,
        "missing Body in Payload",
    ),
    (
        "/chat/react",
        r#"{"Phone":"5511999990001","Body":"+1"}"#,
        "missing Id in Payload",
    ),
    (
        "/chat/markread",
        r#"{"ChatPhone":"5511999990001"}"#,
        "missing Id in Payload",
    ),
    (
        "/chat/markread",
        r#"{"Id":["3EB0AA"]}"#,
        "missing ChatPhone in Payload",
    ),
    (
        "/chat/presence",
        r#"{"Phone":"5511999990001"}"#,
        "missing State in Payload",
    ),
    (
        "/user/presence",
        r#"{"type":"busy"}"#,
        "invalid presence type. Allowed values: 'available', 'unavailable'",
    ),
    ("/user/check", r#"{}"#, "missing Phone in Payload"),
    (
        "/user/check",
        r#"{"Phone":["nope"]}"#,
        "could not parse Phone",
    ),
    ("/user/info", r#"{"Phone":[]}"#, "missing Phone in Payload"),
];

#[tokio::test]
async fn sends_refuse_bad_bodies_with_the_contract_texts() {
    let (_sim, served) = served().await;
    for (path, body, text) in BAD_BODIES {
        let (status, answer) = served.user(TOKEN, "POST", path, Some(body)).await;
        assert_eq!((status, &answer), (400, &error(400, text)), "{path} {body}");
    }
}

#[tokio::test]
async fn session_routes_answer_no_session_before_connect() {
    let (_sim, served) = served().await;
    let cases: &[(&str, &str)] = &[
        (
            "/chat/send/text",
            r#"{"Phone":"5511999990001","Body":"hi"}"#,
        ),
        (
            "/chat/send/location",
            r#"{"Phone":"5511999990001","Latitude":-23.5,"Longitude":-46.6}"#,
        ),
        (
            "/chat/send/contact",
            r#"{"Phone":"5511999990001","Name":"Ana","Vcard":"BEGIN:VCARD"}"#,
        ),
        (
            "/chat/send/edit",
            r#"{"Phone":"5511999990001","Body":"new","Id":"3EB0AA"}"#,
        ),
        ("/chat/delete", r#"{"Phone":"5511999990001","Id":"3EB0AA"}"#),
        (
            "/chat/react",
            r#"{"Phone":"5511999990001","Body":"+1","Id":"me:3EB0AA"}"#,
        ),
        (
            "/chat/markread",
            r#"{"Id":["3EB0AA"],"ChatPhone":"5511999990001"}"#,
        ),
        (
            "/chat/presence",
            r#"{"Phone":"5511999990001","State":"composing"}"#,
        ),
        ("/user/presence", r#"{"type":"available"}"#),
        ("/user/check", r#"{"Phone":["5511999990001"]}"#),
        (
            "/user/info",
            r#"{"Phone":["5511999990001@s.whatsapp.net"]}"#,
        ),
    ];
    for (path, body) in cases {
        let (status, answer) = served.user(TOKEN, "POST", path, Some(body)).await;
        assert_eq!(
            (status, &answer),
            (500, &error(500, "no session")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn media_send_routes_answer_400_without_the_file() {
    let (_sim, served) = served().await;
    // Media sends exist (issue 13): a body without the file is the contract's 400.
    for (path, field) in [
        ("/chat/send/image", "Image"),
        ("/chat/send/audio", "Audio"),
        ("/chat/send/document", "Document"),
        ("/chat/send/video", "Video"),
        ("/chat/send/sticker", "Sticker"),
    ] {
        let (status, answer) = served
            .user(TOKEN, "POST", path, Some(r#"{"Phone":"5511999990001"}"#))
            .await;
        let text = format!("missing {field} in Payload");
        assert_eq!((status, &answer), (400, &error(400, &text)), "{path}");
    }
}

/// The download routes (issue 13; the 501s are gone): the media fields are checked first
/// (400 naming the field), then the session (`no session`).
#[tokio::test]
async fn download_routes_check_the_fields_then_the_session() {
    let (_sim, served) = served().await;
    let fields = r#"{"DirectPath":"/v/t62.7118-24/x.enc","MediaKey":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","FileEncSHA256":"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=","FileSHA256":"AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=","FileLength":5,"Mimetype":"image/png"}"#;
    for path in [
        "/chat/downloadimage",
        "/chat/downloadvideo",
        "/chat/downloadaudio",
        "/chat/downloaddocument",
        "/chat/downloadsticker",
    ] {
        let (status, answer) = served
            .user(TOKEN, "POST", path, Some(r#"{"Phone":"5511999990001"}"#))
            .await;
        assert_eq!(
            (status, &answer),
            (400, &error(400, "missing MediaKey in Payload")),
            "{path}"
        );
        let (status, answer) = served.user(TOKEN, "POST", path, Some(fields)).await;
        assert_eq!(
            (status, &answer),
            (500, &error(500, "no session")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn store_only_user_routes_answer_without_a_session() {
    let (_sim, served) = served().await;
    let (status, answer) = served
        .user(TOKEN, "GET", "/user/lid/5511999990001", None)
        .await;
    assert_eq!(
        (status, &answer),
        (404, &error(404, "LID not found for this number"))
    );
    let (status, answer) = served
        .user(TOKEN, "GET", "/user/lid/not-a-phone", None)
        .await;
    assert_eq!(
        (status, &answer),
        (400, &error(400, "could not parse Phone"))
    );
    let (status, answer) = served.user(TOKEN, "GET", "/user/contacts", None).await;
    assert_eq!(
        (status, &answer),
        (200, &json!({"code": 200, "data": {}, "success": true}))
    );
}

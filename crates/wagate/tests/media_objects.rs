//! Received media handed on through object storage (issue 13 items 4 and 5; CONTRACTS §B.7), on
//! the real binary against wa-sim, with the webhook receiver on 127.0.0.1:
//! - `media_delivery: "s3"` with the user's bucket on an S3-compatible server the test starts
//!   itself (moto): the `Message` webhook carries `s3{url,key,bucket,size,mimeType,fileName}`
//!   under wuzapi's key (`users/<id>/inbox/<chat>/<date>/images/<msgId>.<ext>`), no base64, and
//!   the object's bytes are the bytes the phone sent; a missing bucket is named in `s3Error`
//!   and the webhook still goes out;
//! - `media_delivery: "both"` with S3 off: the file goes to the gateway's media directory, the
//!   webhook carries base64 and the `s3` extra whose URL serves the same bytes to the user's
//!   token (and to no other token).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wa_sim::{MediaBody, PhoneSend, SimServer};
use wa_testkit::{start_sim, wait_for, HookReceiver, Moto, Served, ServedAccount, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");

/// A PNG-looking file that is not all alike.
fn picture(len: usize) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend((0..len).map(|i| (i as u8).wrapping_mul(13).wrapping_add(7)));
    out
}

fn sha(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// The phone `from` sends `bytes` as an image to `to`; the message id.
fn send_picture(sim: &SimServer, from: &str, to: &str, bytes: &[u8]) -> String {
    let request = PhoneSend {
        to: to.to_owned(),
        media: Some(MediaBody {
            kind: "image".to_owned(),
            mimetype: "image/png".to_owned(),
            data_base64: STANDARD.encode(bytes),
            caption: Some("stored".to_owned()),
            file_name: None,
            seconds: None,
        }),
        ..PhoneSend::default()
    };
    sim.phone_send_kind(from, &request)
        .expect("the phone sends")
        .as_str()
        .to_owned()
}

/// Starts the binary, links `me` and points its `Message` webhook at `receiver`.
async fn serve(sim: &SimServer, receiver: &HookReceiver, me: &str) -> (Served, ServedAccount) {
    let env = [
        ("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("WEBHOOK_FORMAT", "json"),
    ];
    let mut served = Served::start(BIN.as_ref(), sim, &env).await;
    let account = served.link_account(sim, me, 7401).await;
    let hook = json!({"webhookURL": receiver.url("/hook"), "events": ["Message"]}).to_string();
    let (status, body) = served
        .user(&account.token, "POST", "/webhook", Some(&hook))
        .await;
    assert_eq!(status, 200, "{body}");
    (served, account)
}

/// The `Message` payload of message `id`.
async fn message(receiver: &mut HookReceiver, id: &str) -> Value {
    wait_for(&mut receiver.hooks, DEADLINE, "the Message webhook", |h| {
        let p = h.payload();
        (p["type"] == "Message" && p["event"]["Info"]["ID"] == id).then_some(p)
    })
    .await
    .expect("the Message webhook arrives")
}

/// Checks the `s3` extra's shape for message `id` of `account`; returns its URL.
fn check_extra(p: &Value, account: &ServedAccount, id: &str, bucket: &str, len: usize) -> String {
    let s3 = &p["s3"];
    assert!(p.get("s3Error").is_none(), "{p}");
    assert_eq!(s3["bucket"], bucket, "{s3}");
    assert_eq!(s3["size"], len, "{s3}");
    assert_eq!(s3["mimeType"], "image/png", "{s3}");
    let key = s3["key"].as_str().expect("a key");
    let prefix = format!("users/{}/inbox/", account.id);
    assert!(key.starts_with(&prefix), "{key} below {prefix}");
    assert!(key.contains("/images/"), "{key}");
    assert!(key.ends_with(&format!("{id}.png")), "{key}");
    assert!(
        s3["fileName"].as_str().unwrap_or_default().starts_with(id),
        "{s3}"
    );
    s3["url"].as_str().expect("a url").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_media_goes_to_the_users_bucket_and_the_webhook_names_it() {
    let (me, ana) = ("15550174001", "15550174002");
    let moto = Moto::start().await;
    moto.create_bucket("wagate-inbox").await;
    let sim = start_sim(&[me, ana]).await;
    let mut receiver = HookReceiver::start().await;
    let (served, account) = serve(&sim, &receiver, me).await;
    let s3 = json!({
        "enabled": true, "endpoint": moto.url(), "region": "us-east-1",
        "bucket": "wagate-inbox", "access_key": "AKIDEXAMPLE",
        "secret_key": "media-objects-secret-0123456789", "path_style": true,
        "public_url": "", "media_delivery": "s3", "retention_days": 3
    })
    .to_string();
    let (status, body) = served
        .user(&account.token, "POST", "/session/s3/config", Some(&s3))
        .await;
    assert_eq!(status, 200, "{body}");

    let bytes = picture(180_000);
    let id = send_picture(&sim, ana, me, &bytes);
    let p = message(&mut receiver, &id).await;
    assert!(p.get("base64").is_none(), "s3 only: no base64 in {p}");
    let url = check_extra(&p, &account, &id, "wagate-inbox", bytes.len());
    let stored = moto.fetch(&url).await.expect("the object is in the bucket");
    assert_eq!(
        sha(&stored),
        sha(&bytes),
        "the stored bytes are the bytes sent"
    );

    // A bucket that does not exist: the webhook still goes out, with the base64 of `both`
    // and the failure named in `s3Error` (wuzapi drops the event).
    let broken = s3
        .replace("\"wagate-inbox\"", "\"no-such-bucket\"")
        .replace("\"media_delivery\":\"s3\"", "\"media_delivery\":\"both\"");
    assert!(
        broken.contains("no-such-bucket") && broken.contains("both"),
        "{broken}"
    );
    let (status, body) = served
        .user(&account.token, "POST", "/session/s3/config", Some(&broken))
        .await;
    assert_eq!(status, 200, "{body}");
    let id = send_picture(&sim, ana, me, &bytes);
    let p = message(&mut receiver, &id).await;
    assert!(p["s3Error"].is_string(), "the failure is named: {p}");
    assert!(p.get("s3").is_none(), "{p}");
    let inline = STANDARD
        .decode(
            p["base64"]
                .as_str()
                .expect("both: the base64 still goes out"),
        )
        .expect("raw base64");
    assert_eq!(sha(&inline), sha(&bytes));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_s3_received_media_goes_to_the_media_directory_served_to_its_owner() {
    let (me, ana) = ("15550174011", "15550174012");
    let sim = start_sim(&[me, ana]).await;
    let mut receiver = HookReceiver::start().await;
    let (served, account) = serve(&sim, &receiver, me).await;
    let settings = json!({"enabled": false, "media_delivery": "both"}).to_string();
    let (status, body) = served
        .user(
            &account.token,
            "POST",
            "/session/s3/config",
            Some(&settings),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let bytes = picture(120_000);
    let id = send_picture(&sim, ana, me, &bytes);
    let p = message(&mut receiver, &id).await;
    let inline = STANDARD
        .decode(p["base64"].as_str().expect("both: base64 too"))
        .expect("raw base64");
    assert_eq!(sha(&inline), sha(&bytes));
    let url = check_extra(&p, &account, &id, "", bytes.len());
    assert!(url.starts_with(&served.base()), "{url} on the gateway");

    let http = wa_testkit::http_client();
    let got = http
        .get(&url)
        .header("token", &account.token)
        .send()
        .await
        .expect("GET the stored file");
    assert_eq!(got.status().as_u16(), 200);
    let stored = got.bytes().await.expect("the body");
    assert_eq!(
        sha(&stored),
        sha(&bytes),
        "the stored bytes are the bytes sent"
    );
    let other = served
        .create_user("other", "other-user-token-0123456789")
        .await;
    assert!(!other.is_empty());
    let refused = http
        .get(&url)
        .header("token", "other-user-token-0123456789")
        .send()
        .await
        .expect("GET with another token");
    assert!(
        matches!(refused.status().as_u16(), 401 | 403 | 404),
        "another user's token: {}",
        refused.status()
    );
}

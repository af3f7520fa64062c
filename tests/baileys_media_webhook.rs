//! Baileys 7.0.0-rc14 sends an image and a document through wa-sim; the gateway downloads and
//! verifies them and its `Message` webhook delivers them (issue 13, "Proof": "Baileys sends an
//! image and a document that wagate downloads, verifies and delivers by webhook").
//!
//! The gateway account and Baileys are linked as in the other Baileys tests (`baileys_pair`;
//! Baileys' media connections go through the TLS edge `tests/node/media_edge.mjs`, see
//! `baileys_media.rs`). wa-http's durable webhook worker (`wa_http::webhooks::spawn`, as
//! `wagate serve` starts it) runs in-process on the test's gateway, with private targets
//! allowed and a receiver on 127.0.0.1 (`HookReceiver`). The account's stored settings:
//! webhook URL, `events: ["Message"]` and `media_delivery: "both"` with S3 off, so each file
//! goes out inline as `base64` and is stored in the gateway's media directory (the `s3`
//! extra; CONTRACTS §B.7). The test checks both against the bytes Baileys was given.

#[allow(dead_code, reason = "helpers shared with the other Baileys tests")]
mod baileys_pair;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wa_http::objects::Objects;
use wa_http::webhooks::{Format, RetryPolicy, WebhookConfig};
use wa_store::{Durability, MediaDelivery, Store};
use wa_testkit::{wait_for, HookReceiver, JsonLines, Linked};
use wagate_tests::{file_of, media_edge_setup};

use baileys_pair::{connect_both_with, BaileysSeen, DEADLINE};

const GATEWAY: &str = "15550108701";
const BAILEYS: &str = "15550108702";

fn sha(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
];
const PDF: &[u8] = b"%PDF-1.4\n";

/// The account's webhook at `url` for `Message` events, its received files inline and in the
/// media directory (`media_delivery: "both"`, S3 off).
fn subscribe(linked: &Linked, url: String) {
    let mut account = linked
        .store
        .account(&linked.id)
        .expect("the store answers")
        .expect("the account");
    account.webhook = url;
    account.events = vec!["Message".to_owned()];
    account.s3.enabled = false;
    account.s3.media_delivery = MediaDelivery::Both;
    linked
        .store
        .update_account(&account, Durability::Durable)
        .expect("the account's webhook is stored");
}

/// The webhook worker on the test's gateway, as `wagate serve` runs it (JSON bodies, private
/// targets allowed, quick retries).
fn worker_config() -> WebhookConfig {
    WebhookConfig {
        format: Format::Json,
        allow_private: true,
        retry: RetryPolicy {
            attempts: 5,
            delay: Duration::from_millis(200),
        },
        ..WebhookConfig::default()
    }
}

/// Baileys sends `cmd` (a `send-media` command with `ref`); the id of the message it sent.
async fn baileys_sends(
    baileys: &mut JsonLines,
    seen: &mut BaileysSeen,
    reference: u64,
    cmd: Value,
) -> String {
    baileys.send(&cmd).await.expect("Baileys takes the command");
    seen.until(baileys, "Baileys sends the media", |s| {
        s.sent.contains_key(&reference)
    })
    .await;
    seen.sent[&reference].clone()
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

/// What one file's payload must carry.
struct Expected<'a> {
    message: &'a str,
    mimetype: &'a str,
    ext: &'a str,
    folder: &'a str,
    stored_ext: &'a str,
    caption: &'a str,
    data: &'a [u8],
}

/// Checks payload `p` of message `id` against `e`: the inline bytes, the extras, the message's
/// media fields as Baileys wrote them, and the stored copy below `media_dir`.
fn check_payload(p: &Value, id: &str, e: &Expected<'_>, account: &str, media_dir: &Path) {
    assert!(p.get("mediaError").is_none(), "{p}");
    let inline = STANDARD
        .decode(
            p["base64"]
                .as_str()
                .unwrap_or_else(|| panic!("base64 in {p}")),
        )
        .expect("raw base64, no data-URL prefix");
    assert!(
        inline == e.data,
        "{}: the webhook's bytes differ from what Baileys sent",
        e.message
    );
    assert_eq!(p["mimeType"], e.mimetype, "{p}");
    assert_eq!(p["fileName"], format!("{id}{}", e.ext), "{p}");
    assert_eq!(p["event"]["Info"]["Type"], "media", "{p}");
    let fields = &p["event"]["Message"][e.message];
    assert_eq!(fields["mimetype"], e.mimetype, "{fields}");
    assert_eq!(fields["fileLength"], e.data.len(), "{fields}");
    assert_eq!(
        fields["fileSHA256"],
        STANDARD.encode(sha(e.data)),
        "{fields}"
    );
    assert_eq!(fields["caption"], e.caption, "{fields}");
    for key in ["URL", "directPath", "mediaKey", "fileEncSHA256"] {
        assert!(fields[key].is_string(), "{key} in {fields}");
    }
    // The stored copy (the `s3` extra of the media directory): key, size and bytes.
    let s3 = &p["s3"];
    assert!(p.get("s3Error").is_none(), "{p}");
    assert_eq!(s3["size"], e.data.len(), "{s3}");
    assert_eq!(s3["mimeType"], e.mimetype, "{s3}");
    let key = s3["key"].as_str().expect("a key");
    let prefix = format!("users/{account}/inbox/{BAILEYS}");
    assert!(key.starts_with(&prefix), "{key} below {prefix}");
    let tail = format!("/{}/{id}{}", e.folder, e.stored_ext);
    assert!(key.ends_with(&tail), "{key} ends with {tail}");
    let url = s3["url"].as_str().expect("a url");
    assert!(url.ends_with(&format!("/media/{key}")), "{url}");
    let stored = std::fs::read(media_dir.join(key)).expect("the stored file");
    assert!(
        stored == e.data,
        "{key}: stored bytes differ from what Baileys sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baileys_sends_an_image_and_a_document_the_webhook_delivers() {
    let mut pair = connect_both_with(GATEWAY, BAILEYS, &[], media_edge_setup).await;
    let mut receiver = HookReceiver::start().await;
    subscribe(&pair.linked, receiver.url("/hook"));
    let store: Arc<dyn Store> = Arc::clone(&pair.linked.store);
    let account = pair.linked.id.to_string();
    // The worker needs the gateway behind an `Arc`, as `wagate serve` holds it.
    let Linked {
        sim,
        gateway,
        events: _,
        ..
    } = pair.linked;
    let gateway = Arc::new(gateway);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let media_dir = dir.path().join("media");
    let objects = Arc::new(Objects::new(media_dir.clone(), "http://127.0.0.1:9"));
    let _webhooks = wa_http::webhooks::spawn(
        Arc::clone(&store),
        gateway.subscribe(),
        worker_config(),
        Arc::clone(&gateway),
        objects,
    )
    .expect("the webhook worker starts");
    let to = format!("{GATEWAY}@s.whatsapp.net");

    let image = file_of(JPEG, 200_003, 41);
    let cmd = json!({"cmd": "send-media", "to": to, "kind": "image", "ref": 1,
        "data": STANDARD.encode(&image), "mimetype": "image/jpeg",
        "caption": "an image for the webhook"});
    let id = baileys_sends(&mut pair.baileys, &mut pair.baileys_seen, 1, cmd).await;
    let p = message(&mut receiver, &id).await;
    let expected = Expected {
        message: "imageMessage",
        mimetype: "image/jpeg",
        ext: ".jpeg",
        folder: "images",
        stored_ext: ".jpg",
        caption: "an image for the webhook",
        data: &image,
    };
    check_payload(&p, &id, &expected, &account, &media_dir);

    let document = file_of(PDF, 1_048_583, 42);
    let cmd = json!({"cmd": "send-media", "to": to, "kind": "document", "ref": 2,
        "data": STANDARD.encode(&document), "mimetype": "application/pdf",
        "fileName": "webhook.pdf", "caption": "a document for the webhook"});
    let id = baileys_sends(&mut pair.baileys, &mut pair.baileys_seen, 2, cmd).await;
    let p = message(&mut receiver, &id).await;
    let expected = Expected {
        message: "documentMessage",
        mimetype: "application/pdf",
        ext: ".pdf",
        folder: "documents",
        stored_ext: ".pdf",
        caption: "a document for the webhook",
        data: &document,
    };
    check_payload(&p, &id, &expected, &account, &media_dir);
    assert_eq!(
        p["event"]["Message"]["documentMessage"]["fileName"], "webhook.pdf",
        "{p}"
    );

    // Both files went up to the sim from Baileys and down to the gateway once each.
    let counters = sim.counters();
    assert_eq!(counters.get("media:upload:image"), Some(&1), "{counters:?}");
    assert_eq!(
        counters.get("media:upload:document"),
        Some(&1),
        "{counters:?}"
    );
    pair.baileys.kill().await;
    sim.shutdown();
}

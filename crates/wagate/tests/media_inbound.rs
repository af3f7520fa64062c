//! Received media on the real binary against wa-sim (issue 13 items 4 and 6; CONTRACTS §B.6
//! "Extras", §B.7, §A.5), with the webhook receiver on 127.0.0.1 (so private targets are
//! allowed):
//! - the sim's phone sends each kind: the `Message` webhook carries the file as raw base64 whose
//!   SHA-256 is the bytes sent, `mimeType`, `fileName` = `<id><.ext>`, the message's media fields
//!   (`imageMessage{URL, directPath, mediaKey, fileSHA256, …}`) and caption, stickers
//!   `isSticker`; a chat's webhooks keep their order (a text after a file waits for it); the
//!   `/chat/download<kind>` routes return the same bytes from the webhook's fields;
//! - with downloads off (`WAGATE_SKIP_MEDIA`) only the media fields go out;
//! - a download that fails (the sim's files expire at once) still delivers the webhook, with
//!   `mediaError` naming why; the download route answers 410;
//! - a SIGKILL while a download hangs loses nothing: the message was not acked, the restart
//!   emits it again and its webhook arrives with the file.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wa_sim::{MediaBody, MediaConfig, PhoneSend, SimConfig, SimServer};
use wa_testkit::{poll_until, start_sim, wait_for, HookReceiver, Served, ServedAccount, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");

/// One file a phone sends.
struct Sent {
    kind: &'static str,
    message: &'static str,
    route: &'static str,
    mimetype: &'static str,
    ext: &'static str,
    caption: Option<&'static str>,
    bytes: Vec<u8>,
}

/// Bytes that are not all alike, with `magic` in front.
fn file(magic: &[u8], len: usize, seed: u8) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    out
}

fn every_kind() -> Vec<Sent> {
    vec![
        Sent {
            kind: "image",
            message: "imageMessage",
            route: "/chat/downloadimage",
            mimetype: "image/png",
            ext: ".png",
            caption: Some("a picture"),
            bytes: file(b"\x89PNG\r\n\x1a\n", 150_000, 1),
        },
        Sent {
            kind: "video",
            message: "videoMessage",
            route: "/chat/downloadvideo",
            mimetype: "video/mp4",
            ext: ".mp4",
            caption: Some("a film"),
            bytes: file(b"\0\0\0\x18ftypmp42", 90_000, 2),
        },
        Sent {
            kind: "ptt",
            message: "audioMessage",
            route: "/chat/downloadaudio",
            mimetype: "audio/ogg; codecs=opus",
            ext: ".ogg",
            caption: None,
            bytes: file(b"OggS", 20_000, 3),
        },
        Sent {
            kind: "document",
            message: "documentMessage",
            route: "/chat/downloaddocument",
            mimetype: "application/pdf",
            ext: ".pdf",
            caption: Some("the report"),
            bytes: file(b"%PDF-1.7\n", 70_000, 4),
        },
        Sent {
            kind: "sticker",
            message: "stickerMessage",
            route: "/chat/downloadsticker",
            mimetype: "image/webp",
            ext: ".webp",
            caption: None,
            bytes: file(b"RIFF\0\0\0\0WEBPVP8 ", 5_000, 5),
        },
    ]
}

fn send(sim: &SimServer, from: &str, to: &str, s: &Sent) -> String {
    let request = PhoneSend {
        to: to.to_owned(),
        media: Some(MediaBody {
            kind: s.kind.to_owned(),
            mimetype: s.mimetype.to_owned(),
            data_base64: STANDARD.encode(&s.bytes),
            caption: s.caption.map(str::to_owned),
            file_name: (s.kind == "document").then(|| "report.pdf".to_owned()),
            seconds: matches!(s.kind, "ptt" | "video").then_some(3),
        }),
        ..PhoneSend::default()
    };
    sim.phone_send_kind(from, &request)
        .expect("the phone sends")
        .as_str()
        .to_owned()
}

fn sha(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// Starts the binary against `sim` (`env` added), links `me` and points its `Message` webhook
/// at `receiver`.
async fn serve(
    sim: &SimServer,
    receiver: &HookReceiver,
    me: &str,
    env: &[(&str, &str)],
) -> (Served, ServedAccount) {
    let mut all = vec![
        ("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("WEBHOOK_FORMAT", "json"),
    ];
    all.extend_from_slice(env);
    let mut served = Served::start(BIN.as_ref(), sim, &all).await;
    let account = served.link_account(sim, me, 7301).await;
    let hook = json!({"webhookURL": receiver.url("/hook"), "events": ["Message"]}).to_string();
    let (status, body) = served
        .user(&account.token, "POST", "/webhook", Some(&hook))
        .await;
    assert_eq!(status, 200, "{body}");
    (served, account)
}

/// The next `Message` payload.
async fn next_message(receiver: &mut HookReceiver) -> Value {
    wait_for(&mut receiver.hooks, DEADLINE, "a Message webhook", |h| {
        let p = h.payload();
        (p["type"] == "Message").then_some(p)
    })
    .await
    .expect("a Message webhook arrives")
}

/// The download route's body from the webhook's media fields.
fn download_body(fields: &Value) -> String {
    json!({
        "Url": fields["URL"],
        "DirectPath": fields["directPath"],
        "MediaKey": fields["mediaKey"],
        "Mimetype": fields["mimetype"],
        "FileEncSHA256": fields["fileEncSHA256"],
        "FileSHA256": fields["fileSHA256"],
        "FileLength": fields["fileLength"],
    })
    .to_string()
}

/// A `Message` payload of `s`: the bytes, the extras, the message's media fields.
fn check_payload(s: &Sent, p: &Value) {
    let id = p["event"]["Info"]["ID"].as_str().expect("an id");
    let data = STANDARD
        .decode(
            p["base64"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: base64 in {p}", s.kind)),
        )
        .expect("raw base64, no data-URL prefix");
    assert_eq!(sha(&data), sha(&s.bytes), "{}: the bytes sent", s.kind);
    assert_eq!(p["mimeType"], s.mimetype, "{}", s.kind);
    assert_eq!(p["fileName"], format!("{id}{}", s.ext), "{}", s.kind);
    assert!(p.get("mediaError").is_none(), "{p}");
    assert_eq!(p["event"]["Info"]["Type"], "media");
    let fields = &p["event"]["Message"][s.message];
    assert_eq!(fields["mimetype"], s.mimetype, "{}: {fields}", s.kind);
    assert_eq!(fields["fileLength"], s.bytes.len(), "{}", s.kind);
    assert_eq!(fields["fileSHA256"], STANDARD.encode(sha(&s.bytes)));
    for key in ["URL", "directPath", "mediaKey", "fileEncSHA256"] {
        assert!(fields[key].is_string(), "{}: {key} in {fields}", s.kind);
    }
    if let Some(caption) = s.caption {
        assert_eq!(fields["caption"], caption, "{}", s.kind);
    }
    match s.kind {
        "sticker" => {
            assert_eq!(p["isSticker"], true);
            assert_eq!(p["stickerAnimated"], false);
        }
        "ptt" => assert_eq!(fields["PTT"], true),
        "document" => assert_eq!(fields["fileName"], "report.pdf"),
        _ => assert!(p.get("isSticker").is_none()),
    }
}

#[tokio::test]
async fn every_kind_arrives_with_its_bytes_in_order_and_downloads_again() {
    let (me, ana) = ("15550173001", "15550173002");
    let sim = start_sim(&[me, ana]).await;
    let mut receiver = HookReceiver::start().await;
    let (served, account) = serve(&sim, &receiver, me, &[]).await;

    let kinds = every_kind();
    let mut ids: Vec<String> = kinds.iter().map(|s| send(&sim, ana, me, s)).collect();
    // A text right behind the files, in the same chat: its webhook waits for theirs.
    ids.push(
        sim.phone_send(ana, me, "after the files")
            .expect("the phone sends")
            .as_str()
            .to_owned(),
    );
    let mut payloads = Vec::new();
    for _ in &ids {
        payloads.push(next_message(&mut receiver).await);
    }
    let got: Vec<&str> = payloads
        .iter()
        .map(|p| p["event"]["Info"]["ID"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(got, ids, "one chat's webhooks in the order sent");
    assert_eq!(
        payloads[5]["event"]["Message"]["conversation"],
        "after the files"
    );

    for (s, p) in kinds.iter().zip(&payloads) {
        check_payload(s, p);
        // The download route gives the same bytes back from the webhook's fields.
        let fields = &p["event"]["Message"][s.message];
        let (status, body) = served
            .user(
                &account.token,
                "POST",
                s.route,
                Some(&download_body(fields)),
            )
            .await;
        assert_eq!(status, 200, "{}: {body}", s.kind);
        let data_url = body["data"]["Data"].as_str().expect("Data");
        let prefix = format!("data:{};base64,", s.mimetype);
        let b64 = data_url
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{}: {data_url:.60}", s.kind));
        assert_eq!(STANDARD.decode(b64).expect("base64"), s.bytes, "{}", s.kind);
        assert_eq!(body["data"]["Mimetype"], s.mimetype);
    }

    // Bad fields are the caller's fault.
    let fields = &payloads[0]["event"]["Message"]["imageMessage"];
    let mut bad: Value = serde_json::from_str(&download_body(fields)).expect("json");
    bad["MediaKey"] = json!("not base64!");
    let (status, body) = served
        .user(
            &account.token,
            "POST",
            "/chat/downloadimage",
            Some(&bad.to_string()),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("could not decode Payload"))
    );
    bad["MediaKey"] = json!(STANDARD.encode([7u8; 32]));
    let (status, body) = served
        .user(
            &account.token,
            "POST",
            "/chat/downloadimage",
            Some(&bad.to_string()),
        )
        .await;
    assert_eq!(status, 400, "a wrong key does not verify: {body}");
}

#[tokio::test]
async fn with_downloads_off_only_the_media_fields_go_out() {
    let (me, ana) = ("15550173011", "15550173012");
    let sim = start_sim(&[me, ana]).await;
    let mut receiver = HookReceiver::start().await;
    let (_served, _account) = serve(&sim, &receiver, me, &[("WAGATE_SKIP_MEDIA", "true")]).await;
    let image = &every_kind()[0];
    let id = send(&sim, ana, me, image);
    let p = next_message(&mut receiver).await;
    assert_eq!(p["event"]["Info"]["ID"], id.as_str());
    for key in ["base64", "mimeType", "fileName", "mediaError", "s3"] {
        assert!(p.get(key).is_none(), "{key} without downloads: {p}");
    }
    let fields = &p["event"]["Message"]["imageMessage"];
    assert_eq!(fields["caption"], "a picture");
    assert_eq!(fields["fileSHA256"], STANDARD.encode(sha(&image.bytes)));
}

#[tokio::test]
async fn a_failed_download_still_delivers_the_webhook_with_the_error() {
    let (me, ana) = ("15550173021", "15550173022");
    // Every file the sim stores is gone at once: downloads answer 410.
    let config = SimConfig {
        media: MediaConfig {
            file_ttl: Duration::ZERO,
            ..MediaConfig::default()
        },
        ..SimConfig::default()
    };
    let sim = SimServer::start(config).await.expect("the sim starts");
    for phone in [me, ana] {
        sim.create_account(&phone.parse().expect("a phone number"));
    }
    let mut receiver = HookReceiver::start().await;
    let (served, account) = serve(&sim, &receiver, me, &[]).await;
    let document = &every_kind()[3];
    let id = send(&sim, ana, me, document);
    let p = next_message(&mut receiver).await;
    assert_eq!(
        p["event"]["Info"]["ID"],
        id.as_str(),
        "the webhook is not dropped"
    );
    let error = p["mediaError"]
        .as_str()
        .unwrap_or_else(|| panic!("mediaError in {p}"));
    // The media server answered 410, so the gateway asked our phone to upload the file again
    // (media retry); its copy expired too, and it answered code 2 (not on the phone).
    assert!(
        error.starts_with("failed to download document") && error.contains("media retry"),
        "{error}"
    );
    assert!(p.get("base64").is_none());
    let fields = &p["event"]["Message"]["documentMessage"];
    assert_eq!(fields["caption"], "the report");
    assert_eq!(fields["fileName"], "report.pdf");
    // The route says the file is gone.
    let (status, body) = served
        .user(
            &account.token,
            "POST",
            "/chat/downloaddocument",
            Some(&download_body(fields)),
        )
        .await;
    assert_eq!(status, 410, "{body}");
}

/// A TCP proxy to the sim's media port (`target`, set once the sim runs) that, while `hold` is
/// set, accepts connections and never answers them (a download that hangs).
struct HoldingProxy {
    addr: std::net::SocketAddr,
    target: Arc<std::sync::OnceLock<std::net::SocketAddr>>,
    hold: Arc<AtomicBool>,
    held: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl HoldingProxy {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy listens");
        let addr = listener.local_addr().expect("an address");
        let hold = Arc::new(AtomicBool::new(true));
        let held = Arc::new(AtomicUsize::new(0));
        let target = Arc::new(std::sync::OnceLock::new());
        let (h, n, t) = (Arc::clone(&hold), Arc::clone(&held), Arc::clone(&target));
        let task = tokio::spawn(async move {
            let mut parked = Vec::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let to = t.get().copied();
                if h.load(Ordering::SeqCst) || to.is_none() {
                    n.fetch_add(1, Ordering::SeqCst);
                    parked.push(inbound);
                    continue;
                }
                tokio::spawn(async move {
                    let Some(to) = to else { return };
                    if let Ok(mut out) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        });
        Self {
            addr,
            target,
            hold,
            held,
            task,
        }
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn a_download_cut_by_a_sigkill_is_delivered_after_the_restart() {
    let (me, ana) = ("15550173031", "15550173032");
    // The sim names the proxy as its media host: downloads hang while it holds them.
    let proxy = HoldingProxy::start().await;
    let config = SimConfig {
        media: MediaConfig {
            host: Some(proxy.addr.to_string()),
            ..MediaConfig::default()
        },
        ..SimConfig::default()
    };
    let sim = SimServer::start(config).await.expect("the sim starts");
    proxy.target.set(sim.addr()).expect("set once");
    for phone in [me, ana] {
        sim.create_account(&phone.parse().expect("a phone number"));
    }
    let mut receiver = HookReceiver::start().await;
    let (mut served, _account) = serve(&sim, &receiver, me, &[]).await;
    let image = &every_kind()[0];
    let id = send(&sim, ana, me, image);
    poll_until(DEADLINE, "the download under way", || async {
        (proxy.held.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await
    .expect("the gateway starts downloading");
    assert!(
        receiver.hooks.try_recv().is_err(),
        "nothing delivered before the file"
    );
    // Killed mid-download: the message was never acked, so the restart emits it again.
    proxy.hold.store(false, Ordering::SeqCst);
    served.restart().await;
    let p = next_message(&mut receiver).await;
    assert_eq!(p["event"]["Info"]["ID"], id.as_str());
    check_payload(image, &p);
}

/// The account's stored `media_delivery` decides: `both` inlines the file and hands it to
/// object storage, `s3` only hands it on (S3 is off here, so the gateway's media directory
/// takes it; `media_objects.rs` covers a bucket and a failing one).
#[tokio::test]
async fn the_stored_media_delivery_is_followed() {
    let (me, ana) = ("15550173041", "15550173042");
    let sim = start_sim(&[me, ana]).await;
    let mut receiver = HookReceiver::start().await;
    let (served, account) = serve(&sim, &receiver, me, &[]).await;
    let image = &every_kind()[0];
    for (mode, inline) in [("both", true), ("s3", false)] {
        // S3 off: the stored copy goes to the gateway's media directory (media_objects.rs
        // checks a bucket).
        let edit = json!({"s3Config": {"enabled": false, "mediaDelivery": mode}});
        let (status, body) = served
            .admin(
                "PUT",
                &format!("/admin/users/{}", account.id),
                Some(&edit.to_string()),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let id = send(&sim, ana, me, image);
        let p = next_message(&mut receiver).await;
        assert_eq!(p["event"]["Info"]["ID"], id.as_str());
        assert!(p.get("s3Error").is_none(), "{mode}: {p}");
        assert!(p["s3"]["url"].is_string(), "{mode}: {p}");
        assert_eq!(p.get("base64").is_some(), inline, "{mode}: {p}");
        if inline {
            check_payload(image, &p);
        }
    }
}

//! Outgoing media over HTTP on the real binary (issue 13 items 3 and 6, CONTRACTS §A.4, §C.3):
//! each kind sent through `POST /chat/send/image|audio|document|video|sticker` (data URLs, an
//! image by URL, `?async=true`) and whatsapp-web.js `MessageMedia` / `options.media` reaches
//! the sim's phone, which downloads, verifies and decrypts it: `GET /admin/phones/{p}/messages`
//! shows its `kind` and the `sha256` of exactly the bytes sent (and caption, file name,
//! detected mimetype). Bad input — wrong base64, a PNG declared as a PDF or sent as audio, an
//! oversized file, an unreachable URL, a private URL without `--media-allow-private` — is a
//! clear 4xx in the envelope and nothing is sent: the phone's inbox stays empty until a text
//! sent afterwards, which is the only message it holds.

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use image::{ImageFormat, RgbImage};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wa_sim::{SimEvent, SimServer};
use wa_testkit::session_flow::link_by_qr;
use wa_testkit::{start_sim, wait_for, Served, Wwebjs, ADMIN_TOKEN, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const TOKEN: &str = "media-send-token-0001";
const NAME: &str = "media-out";
/// The gateway's account.
const A: &str = "5511900000701";
/// The contact.
const B: &str = "5511900000702";

/// The sim, the gateway (plain-HTTP media hosts, as the sim serves them) linked as `A`.
async fn linked(allow_private: bool) -> (SimServer, Served) {
    let sim = start_sim(&[A, B]).await;
    let allow = if allow_private { "true" } else { "false" };
    let env = [
        ("WAGATE_MEDIA_SCHEME", "http"),
        ("WAGATE_MEDIA_ALLOW_PRIVATE", allow),
    ];
    let served = Served::start(BIN.as_ref(), &sim, &env).await;
    served.create_user(NAME, TOKEN).await;
    link_by_qr(&served, &sim, TOKEN, A).await;
    (sim, served)
}

fn encoded(w: u32, h: u32, format: ImageFormat, noise: bool) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        let v = if noise {
            (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).to_le_bytes()[1]
        } else {
            (x % 256) as u8
        };
        image::Rgb([v, (y % 256) as u8, v.wrapping_add(90)])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

/// An Ogg Opus file of 3 s (RFC 7845 pages: OpusHead, OpusTags, one audio page).
fn ogg_opus() -> Vec<u8> {
    let page = |granule: u64, seq: u32, packet: &[u8]| {
        let mut p = b"OggS\0\0".to_vec();
        p.extend(granule.to_le_bytes());
        p.extend(7u32.to_le_bytes());
        p.extend(seq.to_le_bytes());
        p.extend([0; 4]);
        p.push(1);
        p.push(u8::try_from(packet.len()).expect("short packet"));
        p.extend(packet);
        p
    };
    let mut head = b"OpusHead\x01\x01".to_vec();
    head.extend(312u16.to_le_bytes());
    head.extend(48_000u32.to_le_bytes());
    head.extend([0, 0, 0]);
    let mut file = page(0, 0, &head);
    file.extend(page(0, 1, b"OpusTags\0\0\0\0\0\0\0\0"));
    file.extend(page(312 + 3 * 48_000, 2, &[0xfc; 40]));
    file
}

/// An MP3 file start (ID3v2 header, one MPEG-1 Layer III frame header).
fn mp3() -> Vec<u8> {
    let mut file = b"ID3\x03\x00\x00\x00\x00\x00\x00".to_vec();
    file.extend([0xff, 0xfb, 0x90, 0x64]);
    file.extend([0u8; 413]);
    file
}

/// An MP4 file start (`ftyp` brand `isom`, an empty `mdat`).
fn mp4() -> Vec<u8> {
    let mut file = 24u32.to_be_bytes().to_vec();
    file.extend(b"ftypisom");
    file.extend(0x200u32.to_be_bytes());
    file.extend(b"isommp41");
    file.extend(16u32.to_be_bytes());
    file.extend(b"mdat");
    file.extend([0u8; 8]);
    file
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n".to_vec()
}

fn data_url(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", STANDARD.encode(bytes))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A one-file HTTP server on 127.0.0.1 answering every GET with `bytes`; counts requests.
async fn file_server(bytes: Vec<u8>, mime: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let bytes = bytes.clone();
            tokio::spawn(async move {
                let mut head = vec![0u8; 4096];
                let _ = socket.read(&mut head).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {mime}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    bytes.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.write_all(&bytes).await;
            });
        }
    });
    (addr, hits)
}

/// POSTs `body` to `path` with the user's token: (status, answer).
async fn post(served: &Served, path: &str, body: &Value) -> (u16, Value) {
    served
        .user(TOKEN, "POST", path, Some(&body.to_string()))
        .await
}

/// The next message the phone `B` records, once it settled (fetched and verified).
async fn phone_got(
    sim: &SimServer,
    events: &mut tokio::sync::broadcast::Receiver<SimEvent>,
) -> Value {
    let id = wait_for(events, DEADLINE, "the phone receives", |e| match e {
        SimEvent::PhoneReceived { phone: p, id } if p.as_str() == B => Some(id.clone()),
        _ => None,
    })
    .await
    .expect("the phone receives the message");
    inbox(sim)
        .await
        .into_iter()
        .find(|m| m["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not in the inbox"))
}

async fn inbox(sim: &SimServer) -> Vec<Value> {
    let path = format!("/admin/phones/{B}/messages");
    let (status, inbox) = wa_testkit::http::request(sim.addr(), "GET", &path, None, DEADLINE).await;
    assert_eq!(status, 200, "{inbox}");
    inbox.as_array().cloned().unwrap_or_default()
}

/// Sends on a wuzapi media route; asserts "Sent" and what the phone got.
async fn sent_and_received(
    sim: &SimServer,
    served: &Served,
    events: &mut tokio::sync::broadcast::Receiver<SimEvent>,
    (path, body): (&str, Value),
    (kind, bytes, mimetype): (&str, &[u8], &str),
) -> Value {
    let (status, answer) = post(served, path, &body).await;
    assert_eq!(status, 200, "{path}: {answer}");
    assert_eq!(answer["data"]["Details"], "Sent", "{answer}");
    let got = phone_got(sim, events).await;
    assert_eq!(got["id"], answer["data"]["Id"], "{got}");
    assert_eq!(got["kind"], kind, "{path}: {got}");
    assert_eq!(got["sha256"], sha256_hex(bytes), "{path}: {got}");
    assert_eq!(got["mimetype"], mimetype, "{path}: {got}");
    assert_eq!(got["file_length"], bytes.len(), "{path}: {got}");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_media_kind_reaches_the_phone() {
    let (sim, served) = linked(true).await;
    let mut events = sim.subscribe();

    let png = encoded(320, 200, ImageFormat::Png, false);
    let body = json!({"Phone": B, "Image": data_url("image/png", &png), "Caption": "a chart",
        "Id": "3EB0D1A7000000000000B1"});
    let got = sent_and_received(
        &sim,
        &served,
        &mut events,
        ("/chat/send/image", body),
        ("image", &png, "image/png"),
    )
    .await;
    assert_eq!(
        (&got["id"], &got["text"]),
        (&json!("3EB0D1A7000000000000B1"), &json!("a chart"))
    );

    // An image by URL (a 127.0.0.1 server: allowed by the switch), fetched and streamed.
    let jpeg = encoded(100, 80, ImageFormat::Jpeg, false);
    let (addr, hits) = file_server(jpeg.clone(), "image/jpeg").await;
    let body = json!({"Phone": B, "Image": format!("http://{addr}/photo.jpg")});
    sent_and_received(
        &sim,
        &served,
        &mut events,
        ("/chat/send/image", body),
        ("image", &jpeg, "image/jpeg"),
    )
    .await;
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let ogg = ogg_opus();
    let body = json!({"Phone": B, "Audio": data_url("audio/ogg", &ogg)});
    sent_and_received(
        &sim,
        &served,
        &mut events,
        ("/chat/send/audio", body),
        ("ptt", &ogg, "audio/ogg; codecs=opus"),
    )
    .await;
    let song = mp3();
    let body =
        json!({"Phone": B, "Audio": data_url("audio/mpeg", &song), "PTT": false, "Seconds": 4});
    sent_and_received(
        &sim,
        &served,
        &mut events,
        ("/chat/send/audio", body),
        ("audio", &song, "audio/mpeg"),
    )
    .await;

    let doc = pdf();
    let body = json!({"Phone": B, "Document": data_url("application/octet-stream", &doc),
        "FileName": "report.pdf", "Caption": "the report"});
    let got = sent_and_received(
        &sim,
        &served,
        &mut events,
        ("/chat/send/document", body),
        ("document", &doc, "application/pdf"),
    )
    .await;
    assert_eq!(
        (&got["file_name"], &got["text"]),
        (&json!("report.pdf"), &json!("the report"))
    );

    let video = mp4();
    let thumb = encoded(16, 9, ImageFormat::Jpeg, false);
    let body = json!({"Phone": B, "Video": data_url("video/mp4", &video), "Caption": "clip",
        "JPEGThumbnail": STANDARD.encode(&thumb)});
    sent_and_received(
        &sim,
        &served,
        &mut events,
        ("/chat/send/video", body),
        ("video", &video, "video/mp4"),
    )
    .await;

    let webp = encoded(128, 128, ImageFormat::WebP, false);
    let body = json!({"Phone": B, "Sticker": data_url("image/webp", &webp)});
    sent_and_received(
        &sim,
        &served,
        &mut events,
        ("/chat/send/sticker", body),
        ("sticker", &webp, "image/webp"),
    )
    .await;

    // `?async=true`: uploaded, queued durably, 202 with the id; the phone gets it.
    let body =
        json!({"Phone": B, "Image": data_url("image/png", &png), "Id": "3EB0D1A7000000000000B2"});
    let (status, answer) = post(&served, "/chat/send/image?async=true", &body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["data"]["Details"], "Queued");
    let got = phone_got(&sim, &mut events).await;
    assert_eq!(
        (&got["id"], &got["sha256"]),
        (&json!("3EB0D1A7000000000000B2"), &json!(sha256_hex(&png)))
    );

    // whatsapp-web.js: MessageMedia (base64 without a data-URL prefix), and options.media on a
    // text (the text is the caption).
    let api = Wwebjs::new(&served, ADMIN_TOKEN);
    let chat = format!("{B}@c.us");
    let request = json!({"chatId": chat, "contentType": "MessageMedia",
        "content": {"mimetype": "image/jpeg", "data": STANDARD.encode(&jpeg), "filename": "p.jpg"},
        "options": {"caption": "from wwebjs"}});
    let (status, answer) = api
        .post(&format!("/client/sendMessage/{NAME}"), &request)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["message"]["type"], &answer["message"]["hasMedia"]),
        (&json!("image"), &json!(true))
    );
    assert_eq!(answer["message"]["body"], "from wwebjs");
    let got = phone_got(&sim, &mut events).await;
    assert_eq!(
        (&got["kind"], &got["text"]),
        (&json!("image"), &json!("from wwebjs"))
    );
    assert_eq!(got["sha256"], sha256_hex(&jpeg));

    let request = json!({"chatId": chat, "contentType": "string", "content": "see attached",
        "options": {"media": {"mimetype": "application/pdf", "data": STANDARD.encode(&doc),
            "filename": "a.pdf"}}});
    let (status, answer) = api
        .post(&format!("/client/sendMessage/{NAME}"), &request)
        .await;
    assert_eq!(status, 200, "{answer}");
    let got = phone_got(&sim, &mut events).await;
    assert_eq!(
        (&got["kind"], &got["file_name"], &got["text"]),
        (&json!("document"), &json!("a.pdf"), &json!("see attached"))
    );
    assert_eq!(got["sha256"], sha256_hex(&doc));
}

/// A refused request: its status and a non-empty error in the envelope.
async fn refused(served: &Served, path: &str, body: Value, status: u16, needle: &str) {
    let (got, answer) = post(served, path, &body).await;
    assert_eq!(got, status, "{path}: {answer}");
    assert_eq!(
        (&answer["code"], &answer["success"]),
        (&json!(status), &json!(false)),
        "{answer}"
    );
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(needle),
        "{path}: {error:?} should name {needle:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_media_is_refused_and_nothing_is_sent() {
    let (sim, served) = linked(false).await;
    let mut events = sim.subscribe();
    let png = encoded(64, 64, ImageFormat::Png, false);

    refused(
        &served,
        "/chat/send/image",
        json!({"Phone": B, "Image": "data:image/png;base64,@@not base64@@"}),
        400,
        "could not decode base64",
    )
    .await;
    // A PNG declared as a PDF: by MimeType, and by the data URL's type.
    refused(
        &served,
        "/chat/send/document",
        json!({"Phone": B, "Document": data_url("application/octet-stream", &png),
            "FileName": "x.pdf", "MimeType": "application/pdf"}),
        400,
        "image/png",
    )
    .await;
    refused(
        &served,
        "/chat/send/document",
        json!({"Phone": B, "Document": data_url("application/pdf", &png), "FileName": "x.pdf"}),
        400,
        "application/pdf",
    )
    .await;
    // A PNG sent as a voice note, and as a sticker.
    refused(
        &served,
        "/chat/send/audio",
        json!({"Phone": B, "Audio": data_url("audio/ogg", &png)}),
        400,
        "cannot be sent as ptt",
    )
    .await;
    refused(
        &served,
        "/chat/send/sticker",
        json!({"Phone": B, "Sticker": data_url("image/webp", &png)}),
        400,
        "sticker",
    )
    .await;
    // Oversized: a static sticker over 100 KB (WhatsApp's limit).
    let big = encoded(320, 320, ImageFormat::WebP, true);
    assert!(big.len() > 100 << 10, "{} bytes", big.len());
    refused(
        &served,
        "/chat/send/sticker",
        json!({"Phone": B, "Sticker": data_url("image/webp", &big)}),
        413,
        "limit",
    )
    .await;
    // A name that does not resolve, then a private address without --media-allow-private
    // (the server behind it is never asked).
    refused(
        &served,
        "/chat/send/image",
        json!({"Phone": B, "Image": "http://media.example.invalid/a.png"}),
        400,
        "failed to fetch image from url",
    )
    .await;
    let (addr, hits) = file_server(png.clone(), "image/png").await;
    refused(
        &served,
        "/chat/send/video",
        json!({"Phone": B, "Video": format!("http://{addr}/v.mp4")}),
        400,
        "--media-allow-private",
    )
    .await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the private server was contacted"
    );
    let api = Wwebjs::new(&served, ADMIN_TOKEN);
    let request = json!({"chatId": format!("{B}@c.us"), "contentType": "MessageMedia",
        "content": {"mimetype": "application/pdf", "data": STANDARD.encode(&png), "filename": "x.pdf"}});
    let (status, answer) = api
        .post(&format!("/client/sendMessage/{NAME}"), &request)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["success"], false);

    // Nothing reached the phone: the text sent now is the only message it holds.
    assert!(inbox(&sim).await.is_empty());
    let (status, answer) = post(
        &served,
        "/chat/send/text",
        &json!({"Phone": B, "Body": "only this"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let got = phone_got(&sim, &mut events).await;
    assert_eq!(got["text"], "only this");
    assert_eq!(inbox(&sim).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_sends_media_uploaded_by_a_healthy_member() {
    const A2: &str = "5511900000703";
    const POOL_TOKEN: &str = "media-pool-token-1";
    let sim = start_sim(&[A, A2, B]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[("WAGATE_MEDIA_SCHEME", "http")]).await;
    let mut ids = Vec::new();
    for (i, phone) in [A, A2].into_iter().enumerate() {
        let token = format!("media-pool-member-{i}");
        ids.push(served.create_user(&format!("pm{i}"), &token).await);
        link_by_qr(&served, &sim, &token, phone).await;
    }
    let body = json!({"Name": "media", "Token": POOL_TOKEN, "Members": ids});
    let (status, created) = served
        .admin("POST", "/admin/pools", Some(&body.to_string()))
        .await;
    assert_eq!(status, 201, "{created}");
    let mut events = sim.subscribe();

    let png = encoded(48, 48, ImageFormat::Png, false);
    let body = json!({"Phone": B, "Image": data_url("image/png", &png), "Caption": "pooled"});
    let (status, answer) = served
        .user(
            POOL_TOKEN,
            "POST",
            "/chat/send/image",
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let got = phone_got(&sim, &mut events).await;
    assert_eq!(
        (&got["kind"], &got["text"]),
        (&json!("image"), &json!("pooled"))
    );
    assert_eq!(got["sha256"], sha256_hex(&png));
    assert!(got["from"] == A || got["from"] == A2, "{got}");
    // `async` is refused through a pool, before anything is uploaded.
    let (status, answer) = served
        .user(
            POOL_TOKEN,
            "POST",
            "/chat/send/image?async=true",
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
}

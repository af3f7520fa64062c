//! Simulated phones sending and receiving media over real sockets (`media.md`), checked with
//! wa-protocol's media crypto:
//!
//! - B's phone sends an image, a video, a voice note, a document and a sticker to A through
//!   `POST /admin/phones/{B}/send` `{"media": …}`. A's linked companion (a raw client) gets
//!   `type="media"` stanzas with the §7 `mediatype`, decrypts each message, downloads the file
//!   by its direct path over HTTP and decrypts it to the bytes B sent; A's phone lists each
//!   with its kind, caption, MIME type and the hex SHA-256 of the decrypted bytes.
//! - A's companion uploads an image itself (`media_conn`, `/mms/image/…`) and sends it to B's
//!   phone, which lists it with the right `sha256`; a message whose `fileSha256` lies, and one
//!   whose file expired before B fetched it, are listed with a `media_error` instead.
//! - B's phone sends a video to a group: both other members' phones fetch and check it.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::media::{
    decrypt, encrypt, upload_path, upload_token, Expected, MediaKey, MediaType,
};
use wa_protocol::message::fanout::{encrypt_fanout, DeviceTarget, FanoutGroup};
use wa_protocol::message::receive::{decrypt_pairwise, PreKeySet};
use wa_protocol::message::{decode_padded, encode_padded, EncVersion};
use wa_protocol::pb::e2e as pb;
use wa_protocol::signal::{LocalIdentity, SessionRecord};
use wa_protocol::stanza::{
    BundleOutcome, BundleTarget, DeviceEnc, Enc, MessageStanza, PreKeyBundleRequest,
    PreKeyBundleResult, ServerAck, StanzaAck,
};
use wa_protocol::{MessageId, PhoneNumber};
use wa_sim::{SimEvent, SimServer};
use wa_testkit::raw::RawSocket;
use wa_testkit::{wait_for, Linked};

mod common;

use common::{companion_keys, count, login_active, next, Admin, DEADLINE};

const A: &str = "15550108001";
const B: &str = "15550108002";

/// A companion's Signal keys and sessions, to open what it receives and encrypt what it sends.
struct Reader {
    local: LocalIdentity,
    prekeys: PreKeySet,
    sessions: HashMap<String, SessionRecord>,
}

impl Reader {
    /// Decrypts and unpads the first `<enc>` of `msg`.
    fn open(&mut self, msg: &MessageStanza) -> pb::Message {
        let enc = &msg.encs[0];
        let key = msg.from.as_ref().expect("from").to_string();
        let mut rng = StdRng::seed_from_u64(9);
        let out = decrypt_pairwise(
            enc.kind,
            &enc.ciphertext,
            self.sessions.get(&key),
            &self.local,
            &self.prekeys,
            None,
            &mut rng,
        )
        .expect("decrypts");
        if let Some(id) = out.consumed_pre_key_id {
            self.prekeys.remove_one_time(id);
        }
        self.sessions.insert(key, out.record);
        decode_padded(&out.plaintext, EncVersion::V2).expect("unpads")
    }
}

/// The media fields the companion needs to download and check a file.
struct Got {
    direct_path: String,
    url: String,
    key: Vec<u8>,
    enc: Vec<u8>,
    plain: Vec<u8>,
    length: u64,
    mimetype: String,
}

/// The one media field of `m`, as `kind` names it.
fn media_of(m: &pb::Message, kind: &str) -> Got {
    macro_rules! got {
        ($f:expr) => {{
            let f = $f.as_ref().unwrap_or_else(|| panic!("{kind}: {m:?}"));
            Got {
                direct_path: f.direct_path.clone().expect("directPath"),
                url: f.url.clone().expect("url"),
                key: f.media_key.clone().expect("mediaKey"),
                enc: f.file_enc_sha256.clone().expect("fileEncSha256"),
                plain: f.file_sha256.clone().expect("fileSha256"),
                length: f.file_length.expect("fileLength"),
                mimetype: f.mimetype.clone().expect("mimetype"),
            }
        }};
    }
    match kind {
        "image" => got!(m.image_message),
        "video" => got!(m.video_message),
        "ptt" => got!(m.audio_message),
        "document" => got!(m.document_message),
        "sticker" => got!(m.sticker_message),
        other => panic!("kind {other}"),
    }
}

fn to32(bytes: &[u8]) -> [u8; 32] {
    bytes.try_into().expect("32 bytes")
}

async fn download(url: &str) -> (u16, Vec<u8>) {
    let response = wa_testkit::http_client()
        .get(url)
        .timeout(DEADLINE)
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

/// One send of B's phone: kind, MIME type, media type, bytes, caption.
type Send = (
    &'static str,
    &'static str,
    MediaType,
    Vec<u8>,
    Option<&'static str>,
);

/// The sends of B's phone.
fn sends() -> Vec<Send> {
    let file = |n: usize, seed: u8| -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
            .collect()
    };
    vec![
        (
            "image",
            "image/jpeg",
            MediaType::Image,
            file(70_000, 1),
            Some("a photo"),
        ),
        (
            "video",
            "video/mp4",
            MediaType::Video,
            file(200_003, 2),
            Some("a clip"),
        ),
        (
            "ptt",
            "audio/ogg; codecs=opus",
            MediaType::Ptt,
            file(4_096, 3),
            None,
        ),
        (
            "document",
            "application/pdf",
            MediaType::Document,
            file(15, 4),
            Some("the report"),
        ),
        (
            "sticker",
            "image/webp",
            MediaType::Sticker,
            file(1, 5),
            None,
        ),
    ]
}

/// Waits until `phone`'s inbox entry `id` is settled (its `sha256` or `media_error` set).
async fn settled(sim: &SimServer, phone: &str, id: &str) -> wa_sim::ReceivedMessage {
    let mut events = sim.subscribe();
    let find = || {
        sim.phone_messages(phone)
            .expect("inbox")
            .into_iter()
            .find(|m| m.id == id && (m.sha256.is_some() || m.media_error.is_some()))
    };
    if let Some(m) = find() {
        return m;
    }
    let _ = wait_for(&mut events, DEADLINE, "the phone's media fetch", |e| {
        matches!(e, SimEvent::PhoneReceived { id: got, .. } if got == id).then_some(())
    })
    .await;
    find().unwrap_or_else(|| panic!("{phone} never settled {id}"))
}

#[tokio::test]
async fn the_phone_sends_each_kind_and_both_receivers_decrypt_the_same_bytes() {
    let linked = Linked::new(A, 81).await;
    linked
        .sim
        .create_account(&B.parse::<PhoneNumber>().expect("phone"));
    linked.disconnect_gateway().await;
    let mut socket = login_active(&linked, A, 7).await;
    let (local, prekeys) = companion_keys(&linked);
    let mut reader = Reader {
        local,
        prekeys,
        sessions: HashMap::new(),
    };
    let http = Admin {
        addr: linked.sim.addr(),
    };
    for (kind, mimetype, ty, data, caption) in sends() {
        let mut media = json!({
            "kind": kind, "mimetype": mimetype, "data_base64": STANDARD.encode(&data),
        });
        if let Some(c) = caption {
            media["caption"] = json!(c);
        }
        if kind == "document" {
            media["file_name"] = json!("report.pdf");
        }
        let (status, sent) = http
            .post(
                format!("/admin/phones/{B}/send"),
                json!({"to": A, "media": media}),
            )
            .await;
        assert_eq!(status, 200, "{kind}: {sent}");
        let id = sent["id"].as_str().expect("id").to_owned();

        // The companion: a media stanza, the message, the file over HTTP, the same bytes.
        let node = next(&mut socket, "message").await;
        let msg = MessageStanza::from_node(&node).expect("parses");
        assert_eq!(msg.id.as_str(), id);
        assert_eq!(node.attr_str("type"), Some("media"), "{kind}");
        assert_eq!(msg.encs[0].mediatype.as_deref(), Some(kind));
        let message = reader.open(&msg);
        let got = media_of(&message, kind);
        assert_eq!(
            (got.mimetype.as_str(), got.length),
            (mimetype, data.len() as u64)
        );
        assert!(got.url.ends_with(&got.direct_path), "{}", got.url);
        let (status, body) = download(&got.url).await;
        assert_eq!(status, 200, "{kind}");
        let expected = Expected {
            file_enc_sha256: Some(to32(&got.enc)),
            file_sha256: Some(to32(&got.plain)),
            file_length: Some(got.length),
        };
        let key = MediaKey::from_slice(&got.key).expect("key");
        let (plain, _) = decrypt(&key, ty, &body, expected).expect("verifies");
        assert!(plain == data, "{kind}: the bytes B sent");
        let ack = StanzaAck::for_stanza(&node).expect("ack");
        socket.send_node(&ack.to_node()).await.expect("acked");

        // A's phone: listed with the hash of what it decrypted.
        let entry = settled(&linked.sim, A, &id).await;
        assert_eq!(entry.kind, kind);
        assert_eq!(entry.text, caption.unwrap_or_default());
        assert_eq!(entry.mimetype.as_deref(), Some(mimetype));
        assert_eq!(entry.file_length, Some(data.len() as u64));
        assert_eq!(entry.media_error, None);
        assert_eq!(entry.sha256, Some(hex::encode(Sha256::digest(&data))));
    }
    assert_eq!(count(&linked.sim, "phone:media-fetched"), 5);
    assert_eq!(count(&linked.sim, "phone:sent:image"), 1);
    let (_, inbox) = http.get(format!("/admin/phones/{A}/messages")).await;
    let first = &inbox[0];
    assert_eq!(first["kind"], "image");
    assert_eq!(
        first["sha256"],
        json!(hex::encode(Sha256::digest(&sends()[0].3)))
    );
    bad_media_requests(&http).await;
}

/// Malformed media sends are 400s and send nothing.
async fn bad_media_requests(http: &Admin) {
    let good = json!({"kind": "image", "mimetype": "image/png", "data_base64": "aGVsbG8="});
    let mut cases: Vec<(Value, &str)> = Vec::new();
    for (field, value, what) in [
        ("kind", json!("hologram"), "unknown kind"),
        ("data_base64", json!("not base64!"), "bad base64"),
        ("data_base64", json!(""), "empty"),
        ("mimetype", json!(""), "no mimetype"),
        ("colour", json!("red"), "unknown field"),
    ] {
        let mut media = good.clone();
        media[field] = value;
        cases.push((json!({"to": A, "media": media}), what));
    }
    cases.push((json!({"to": A, "text": "and", "media": good}), "two kinds"));
    for (body, what) in cases {
        let (status, answer) = http.post(format!("/admin/phones/{B}/send"), body).await;
        assert_eq!(status, 400, "{what}: {answer}");
    }
}

/// The prekey bundle of `device`, fetched over the socket (`messaging.md` §5).
async fn bundle(socket: &mut RawSocket, device: &Jid) -> wa_protocol::signal::PreKeyBundle {
    let request = PreKeyBundleRequest {
        users: vec![BundleTarget {
            jid: device.clone(),
            reason: None,
        }],
    };
    let id = format!("bundle-{}", device.user_part());
    socket
        .send_node(&request.request().to_node(&id))
        .await
        .expect("sent");
    let node = loop {
        let node = next(socket, "iq").await;
        if node.attr_str("id") == Some(id.as_str()) {
            break node;
        }
    };
    match PreKeyBundleResult::from_node(&node)
        .expect("bundles")
        .users
        .into_iter()
        .next()
        .map(|u| u.outcome)
    {
        Some(BundleOutcome::Bundle(b)) => b.bundle,
        other => panic!("no bundle: {other:?}"),
    }
}

/// `media_conn` over the socket: (host, auth).
async fn media_conn(socket: &mut RawSocket) -> (String, String) {
    let iq = Node::new("iq")
        .with_attr("id", "mc-1")
        .with_attr("xmlns", "w:m")
        .with_attr("type", "set")
        .with_attr("to", "s.whatsapp.net")
        .with_children(vec![Node::new("media_conn")]);
    socket.send_node(&iq).await.expect("sent");
    let node = loop {
        let node = next(socket, "iq").await;
        if node.attr_str("id") == Some("mc-1") {
            break node;
        }
    };
    let conn = node.child("media_conn").expect("media_conn");
    let host = conn.child("host").and_then(|h| h.attr_str("hostname"));
    (
        host.expect("hostname").to_owned(),
        conn.attr_str("auth").expect("auth").to_owned(),
    )
}

/// Encrypts and uploads `data` as an image; the message's `imageMessage`.
async fn upload_image(host: &str, auth: &str, data: &[u8], seed: u8) -> pb::ImageMessage {
    let key = MediaKey::from([seed; 32]);
    let (body, info) = encrypt(&key, MediaType::Image, data);
    let token = upload_token(&info.file_enc_sha256);
    let url = format!(
        "http://{host}{}?auth={auth}&token={token}",
        upload_path(MediaType::Image, &token)
    );
    let response = wa_testkit::http_client()
        .post(url)
        .body(body)
        .timeout(DEADLINE)
        .send()
        .await
        .expect("uploaded");
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value =
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
    pb::ImageMessage {
        url: answer["url"].as_str().map(str::to_owned),
        direct_path: answer["direct_path"].as_str().map(str::to_owned),
        mimetype: Some("image/png".to_owned()),
        media_key: Some(key.as_bytes().to_vec()),
        file_sha256: Some(info.file_sha256.to_vec()),
        file_enc_sha256: Some(info.file_enc_sha256.to_vec()),
        file_length: Some(info.file_length),
        ..pb::ImageMessage::default()
    }
}

#[tokio::test]
async fn a_companions_image_is_fetched_and_checked_by_the_phone() {
    let linked = Linked::new(A, 82).await;
    linked
        .sim
        .create_account(&B.parse::<PhoneNumber>().expect("phone"));
    linked.disconnect_gateway().await;
    let mut socket = login_active(&linked, A, 8).await;
    let (local, _) = companion_keys(&linked);
    let (host, auth) = media_conn(&mut socket).await;
    let b_phone = Jid::user(B, Server::WhatsApp);
    let mut session = None;
    let mut rng = StdRng::seed_from_u64(12);
    let data = b"\x89PNG\r\n\x1a\n a small picture".to_vec();
    let honest = upload_image(&host, &auth, &data, 1).await;
    let mut lying = upload_image(&host, &auth, &data, 2).await;
    lying.file_sha256 = Some(vec![0; 32]);
    let expired = upload_image(&host, &auth, &data, 3).await;
    linked
        .sim
        .expire_media(expired.direct_path.as_deref().expect("path"))
        .expect("expired");
    let cases = [
        (honest, None),
        (lying, Some("fileSha256")),
        (expired, Some("expired")),
    ];
    for (n, (image, error)) in cases.into_iter().enumerate() {
        let target = match session.take() {
            Some(record) => DeviceTarget::with_session(b_phone.clone(), record),
            None => DeviceTarget::with_bundle(b_phone.clone(), bundle(&mut socket, &b_phone).await),
        };
        let message = pb::Message {
            image_message: Some(Box::new(image)),
            ..pb::Message::default()
        };
        let plain = encode_padded(&message, &mut rng);
        let fanout = encrypt_fanout(
            &local,
            &[FanoutGroup {
                devices: &[target],
                plaintext: &plain,
            }],
            &mut rng,
        );
        let done = fanout.encrypted.into_iter().next().expect("encrypted");
        session = Some(done.record);
        let id = MessageId::generate(1_700_000_000 + n as u64, Some(A), &mut rng);
        let mut msg = MessageStanza::new(id.clone(), wa_protocol::stanza::MessageType::Media);
        msg.to = Some(b_phone.clone());
        let mut enc = Enc::new(done.enc_type, done.ciphertext);
        enc.mediatype = Some("image".to_owned());
        msg.participants = vec![DeviceEnc { jid: done.jid, enc }];
        socket.send_node(&msg.to_node()).await.expect("sent");
        let ack = ServerAck::from_node(&next(&mut socket, "ack").await).expect("ack");
        assert_eq!((ack.id, ack.error), (id.clone(), None));

        let entry = settled(&linked.sim, B, id.as_str()).await;
        assert_eq!((entry.kind.as_str(), entry.from.as_str()), ("image", A));
        match error {
            None => {
                assert_eq!(entry.sha256, Some(hex::encode(Sha256::digest(&data))));
                assert_eq!(entry.media_error, None);
            }
            Some(why) => {
                assert_eq!(entry.sha256, None);
                let text = entry.media_error.expect("an error");
                assert!(text.contains(why), "{why}: {text}");
            }
        }
    }
    assert_eq!(count(&linked.sim, "phone:media-fetched"), 1);
    assert_eq!(count(&linked.sim, "phone:media-failed"), 2);
}

#[tokio::test]
async fn a_phone_sends_media_to_a_group_and_the_members_phones_check_it() {
    const C: &str = "15550108003";
    let sim = wa_testkit::start_sim(&[A, B, C]).await;
    let group = sim
        .create_group(B, "pictures", &[A, C])
        .expect("group")
        .to_string();
    let data = b"GIF89a a very small animation".to_vec();
    let request = wa_sim::PhoneSend {
        to: group.clone(),
        media: Some(wa_sim::MediaBody {
            kind: "video".into(),
            mimetype: "video/mp4".into(),
            data_base64: STANDARD.encode(&data),
            caption: Some("to the group".into()),
            seconds: Some(3),
            ..wa_sim::MediaBody::default()
        }),
        ..wa_sim::PhoneSend::default()
    };
    let id = sim.phone_send_kind(B, &request).expect("sent");
    for phone in [A, C] {
        let entry = settled(&sim, phone, id.as_str()).await;
        assert_eq!(
            (
                entry.kind.as_str(),
                entry.chat.as_str(),
                entry.text.as_str()
            ),
            ("video", group.as_str(), "to the group"),
            "{phone}"
        );
        assert_eq!(entry.sha256, Some(hex::encode(Sha256::digest(&data))));
    }
    assert_eq!(count(&sim, "phone:media-fetched"), 2);
    assert_eq!(count(&sim, "phone:media-uploaded:video"), 1);
}

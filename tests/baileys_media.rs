//! wagate ↔ Baileys 7.0.0-rc14 media through wa-sim (issue 13, "Proof": "with Baileys 7
//! through wa-sim"). A gateway account and the real Baileys client are each linked to a sim
//! phone's account (`baileys_pair`).
//!
//! * Baileys sends an image and a document (`sendMessage` with `image`/`document` buffers:
//!   Baileys encrypts, asks `media_conn`, uploads to the sim); the gateway's `Message` event
//!   carries the media fields Baileys wrote, and `Gateway::download_media` fetches, verifies
//!   and returns exactly the bytes Baileys was given.
//! * The gateway sends an image, a voice note (`ptt`) and a document (`Gateway::send_media`);
//!   Baileys decodes the message fields with its own protobuf definitions (`media.md` §4: the
//!   field numbers differ per type) and `downloadMediaMessage` decrypts exactly the bytes the
//!   gateway was given.
//!
//! * The other kinds both ways: a voice note, a video and a sticker from Baileys; an audio
//!   file, a video and a sticker from the gateway (the field numbers of each type, §4).
//! * The sim's phone and Baileys exchange media (a document from Baileys, a voice note from the
//!   phone): an independent check of the simulated phone's media messages, which the other
//!   media tests take as the reference peer.
//!
//! Baileys only speaks `https://` to media hosts and wa-sim's media server is plain HTTP on its
//! port: the Node driver routes Baileys' media connections through a local TLS edge
//! (`tests/node/media_edge.mjs`, a test certificate trusted through `NODE_EXTRA_CA_CERTS`)
//! that forwards each connection to the sim unchanged. Baileys' requests, its TLS checks and
//! its decryption are its own; the test asserts the upload and download really went that way.

#[allow(dead_code, reason = "helpers shared with the other Baileys tests")]
mod baileys_pair;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use wa_client::{MediaSource, OutgoingMedia, SendOptions};
use wa_protocol::binary::Node;
use wa_protocol::message::{
    AudioInfo, Content, DocumentInfo, ImageInfo, Media, MediaKind, StickerInfo, VideoInfo,
};
use wa_sim::{ConnId, MediaBody, PhoneSend, SimEvent};
use wa_testkit::wait_for;
use wagate_tests::{file_of, media_edge_setup};

use baileys_pair::{connect_both_with, user, Pair, DEADLINE};

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
];
const PDF: &[u8] = b"%PDF-1.4\n";
const OGG: &[u8] = b"OggS\x00\x02";
const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42";
const WEBP: &[u8] = b"RIFF\x00\x00\x00\x00WEBPVP8 ";

/// The destinations (`host:port`) of the HTTPS media connections (`via` `upload` or
/// `download`) Baileys opened so far, from the driver's `media-route` lines.
fn routed(pair: &Pair, via: &str) -> Vec<String> {
    pair.baileys
        .seen()
        .iter()
        .filter(|line| line["event"] == "media-route" && line["via"] == via)
        .map(|line| {
            format!(
                "{}:{}",
                line["host"].as_str().unwrap_or_default(),
                line["port"]
            )
        })
        .collect()
}

/// The `mediatype` of every `<enc>` under `node`.
fn enc_mediatypes(node: &Node, out: &mut Vec<String>) {
    if node.tag == "enc" {
        out.push(node.attr_str("mediatype").unwrap_or_default().to_owned());
    }
    for child in node.children() {
        enc_mediatypes(child, out);
    }
}

/// The `<message type>` and the distinct `<enc mediatype>`s of the message stanza `id` that
/// connection `conn` sent (`media.md` §4, `messaging.md` §7), as the sim received it.
async fn stanza_attrs(
    events: &mut broadcast::Receiver<SimEvent>,
    conn: ConnId,
    id: &str,
) -> (String, Vec<String>) {
    wait_for(events, DEADLINE, "the media stanza", |e| match e {
        SimEvent::Stanza { conn: c, node }
            if *c == conn && node.tag == "message" && node.attr_str("id") == Some(id) =>
        {
            let mut types = Vec::new();
            enc_mediatypes(node, &mut types);
            types.dedup();
            Some((node.attr_str("type").unwrap_or_default().to_owned(), types))
        }
        _ => None,
    })
    .await
    .unwrap_or_else(|e| panic!("sim: {e}"))
}

/// Baileys sends `cmd` (a `send-media` command); the gateway's verified download of what
/// arrived equals `data`. Returns the media message the gateway reported.
async fn baileys_sends(pair: &mut Pair, reference: u64, cmd: Value, data: &[u8]) -> Media {
    pair.baileys
        .send(&cmd)
        .await
        .expect("Baileys takes the command");
    pair.baileys_seen
        .until(&mut pair.baileys, "Baileys sends the media", |s| {
            s.sent.contains_key(&reference)
        })
        .await;
    let id = pair.baileys_seen.sent[&reference].clone();
    pair.gateway
        .until(&mut pair.linked.events, "the media at the gateway", |s| {
            s.received.contains_key(&id)
        })
        .await;
    let got = &pair.gateway.received[&id];
    assert_eq!(got.len(), 1, "reported once: {got:?}");
    let Content::Media(media) = &got[0].content else {
        panic!("not media: {:?}", got[0].content);
    };
    let media = (**media).clone();
    // Baileys' stanza says what wa-protocol's mapping says for the kind it parsed.
    let attrs = stanza_attrs(&mut pair.sim_events, pair.baileys_conn, &id).await;
    let expected = (
        "media".to_owned(),
        vec![media.kind.enc_mediatype().to_owned()],
    );
    assert_eq!(attrs, expected, "Baileys' stanza attributes");
    let file = &media.file;
    assert_eq!(file.file_length, Some(data.len() as u64));
    assert_eq!(file.file_sha256.map(hex::encode), Some(sha256_hex(data)));
    assert!(file.media_key_timestamp.is_some(), "{file:?}");
    let downloaded = pair
        .linked
        .gateway
        .download_media(&pair.linked.id, &media)
        .await
        .expect("the gateway downloads and verifies Baileys' upload");
    let bytes = downloaded.read_all().expect("the plaintext file");
    assert!(
        bytes == data,
        "downloaded bytes differ from what Baileys sent"
    );
    assert_eq!(
        hex::encode(downloaded.verified.file_sha256),
        sha256_hex(data)
    );
    media
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baileys_sends_an_image_and_a_document_the_gateway_downloads() {
    const GATEWAY: &str = "15550108301";
    const BAILEYS: &str = "15550108302";
    let mut pair = connect_both_with(GATEWAY, BAILEYS, &[], media_edge_setup).await;
    let to = format!("{GATEWAY}@s.whatsapp.net");

    let image = file_of(JPEG, 200_003, 1);
    let thumb = file_of(JPEG, 701, 2);
    let cmd = json!({"cmd": "send-media", "to": to, "kind": "image", "ref": 1,
        "data": STANDARD.encode(&image), "mimetype": "image/jpeg",
        "caption": "an image from Baileys", "jpegThumbnail": STANDARD.encode(&thumb)});
    let media = baileys_sends(&mut pair, 1, cmd, &image).await;
    let MediaKind::Image(info) = &media.kind else {
        panic!("not an image: {media:?}");
    };
    assert_eq!(info.caption.as_deref(), Some("an image from Baileys"));
    assert_eq!(info.jpeg_thumbnail.as_deref(), Some(thumb.as_slice()));
    assert_eq!(media.file.mimetype.as_deref(), Some("image/jpeg"));

    let document = file_of(PDF, 1_048_583, 3);
    let cmd = json!({"cmd": "send-media", "to": to, "kind": "document", "ref": 2,
        "data": STANDARD.encode(&document), "mimetype": "application/pdf",
        "fileName": "report.pdf", "caption": "a document from Baileys"});
    let media = baileys_sends(&mut pair, 2, cmd, &document).await;
    let MediaKind::Document(info) = &media.kind else {
        panic!("not a document: {media:?}");
    };
    assert_eq!(info.file_name.as_deref(), Some("report.pdf"));
    assert_eq!(info.caption.as_deref(), Some("a document from Baileys"));
    assert_eq!(media.file.mimetype.as_deref(), Some("application/pdf"));

    // Baileys uploaded over HTTPS to the host media_conn named, through the edge, to the sim.
    let uploads = routed(&pair, "upload");
    assert!(!uploads.is_empty(), "no media upload connection");
    let host = pair.linked.sim.media_host();
    assert!(uploads.iter().all(|h| *h == host), "{uploads:?} vs {host}");
    let counters = pair.linked.sim.counters();
    assert_eq!(counters.get("media:upload:image"), Some(&1), "{counters:?}");
    assert_eq!(
        counters.get("media:upload:document"),
        Some(&1),
        "{counters:?}"
    );
    pair.baileys.kill().await;
    pair.linked.sim.shutdown();
}

/// The gateway sends `media` with `data`; Baileys' `media` line for it (fields decoded by
/// Baileys, SHA-256 of what it decrypted). The stanza carries `type="media"` and
/// `mediatype` (Baileys 7 writes the same for the same content: `image`, `ptt`, `document`).
async fn gateway_sends(
    pair: &mut Pair,
    to: &str,
    data: &[u8],
    media: OutgoingMedia,
    mediatype: &str,
) -> Value {
    let sent = pair
        .linked
        .gateway
        .send_media(&pair.linked.id, user(to), media, SendOptions::default())
        .await
        .expect("the gateway uploads and sends");
    let id = sent.id.as_str().to_owned();
    let attrs = stanza_attrs(&mut pair.sim_events, pair.linked.conn, &id).await;
    assert_eq!(attrs, ("media".to_owned(), vec![mediatype.to_owned()]));
    let line = pair
        .baileys
        .wait_for(DEADLINE, "Baileys' download", |v| {
            v["event"] == "media" && v["id"] == id.as_str()
        })
        .await
        .expect("Baileys reports the media");
    assert!(
        line["error"].is_null(),
        "Baileys could not download: {line}"
    );
    assert_eq!(line["sha256"], sha256_hex(data), "{line}");
    assert_eq!(line["length"], data.len(), "{line}");
    assert_eq!(line["fileSha256"], sha256_hex(data), "{line}");
    assert_eq!(line["fileLength"], data.len(), "{line}");
    // What Baileys does not check itself: the body's hash and MAC against the message's fields.
    assert!(line["fileEncSha256"].is_string(), "{line}");
    assert_eq!(line["bodySha256"], line["fileEncSha256"], "{line}");
    assert_eq!(line["macOk"], true, "{line}");
    assert!(line["mediaKeyTimestamp"].is_u64(), "{line}");
    line
}

fn outgoing(data: &[u8], kind: MediaKind, mimetype: &str) -> OutgoingMedia {
    OutgoingMedia {
        source: MediaSource::Bytes(data.to_vec()),
        kind,
        mimetype: mimetype.to_owned(),
        reply: None,
        mentions: Vec::new(),
    }
}

/// The gateway's image: Baileys reads caption, size and thumbnail (`imageMessage` §4).
async fn gateway_image(pair: &mut Pair, to: &str) {
    let image = file_of(JPEG, 123_457, 11);
    let thumb = file_of(JPEG, 333, 12);
    let kind = MediaKind::Image(ImageInfo {
        caption: Some("an image from wagate".into()),
        width: Some(640),
        height: Some(480),
        jpeg_thumbnail: Some(thumb.clone()),
    });
    let media = outgoing(&image, kind, "image/jpeg");
    let line = gateway_sends(pair, to, &image, media, "image").await;
    let caption = "an image from wagate";
    assert_eq!(
        (&line["kind"], &line["mimetype"], &line["caption"]),
        (&json!("image"), &json!("image/jpeg"), &json!(caption))
    );
    assert_eq!(
        (&line["width"], &line["height"]),
        (&json!(640), &json!(480))
    );
    assert_eq!(line["jpegThumbnail"], hex::encode(&thumb));
}

/// The gateway's voice note: Baileys reads `ptt` and `seconds` (`audioMessage` §4).
async fn gateway_voice_note(pair: &mut Pair, to: &str) {
    let voice = file_of(OGG, 48_021, 13);
    let kind = MediaKind::Audio(AudioInfo {
        ptt: true,
        seconds: Some(7),
        ..AudioInfo::default()
    });
    let mimetype = "audio/ogg; codecs=opus";
    let line = gateway_sends(pair, to, &voice, outgoing(&voice, kind, mimetype), "ptt").await;
    let got = (
        &line["kind"],
        &line["mimetype"],
        &line["ptt"],
        &line["seconds"],
    );
    assert_eq!(
        got,
        (&json!("audio"), &json!(mimetype), &json!(true), &json!(7))
    );
}

/// The gateway's document: Baileys reads file name and caption (`documentMessage` §4).
async fn gateway_document(pair: &mut Pair, to: &str) {
    let document = file_of(PDF, 1_100_017, 14);
    let kind = MediaKind::Document(DocumentInfo {
        caption: Some("a document from wagate".into()),
        file_name: Some("minutes.pdf".into()),
        ..DocumentInfo::default()
    });
    let media = outgoing(&document, kind, "application/pdf");
    let line = gateway_sends(pair, to, &document, media, "document").await;
    let caption = "a document from wagate";
    assert_eq!(
        (&line["kind"], &line["fileName"], &line["caption"]),
        (&json!("document"), &json!("minutes.pdf"), &json!(caption))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_sends_an_image_a_voice_note_and_a_document_baileys_decrypts() {
    const GATEWAY: &str = "15550108401";
    const BAILEYS: &str = "15550108402";
    let mut pair = connect_both_with(GATEWAY, BAILEYS, &[], media_edge_setup).await;
    gateway_image(&mut pair, BAILEYS).await;
    gateway_voice_note(&mut pair, BAILEYS).await;
    gateway_document(&mut pair, BAILEYS).await;

    // Baileys fetched each over HTTPS from the host in the message's url, through the edge:
    // its own download and the driver's check of the encrypted body, for each of the three.
    let downloads = routed(&pair, "download");
    assert!(!downloads.is_empty(), "no media download connection");
    let host = pair.linked.sim.media_host();
    assert!(
        downloads.iter().all(|h| *h == host),
        "{downloads:?} vs {host}"
    );
    let counters = pair.linked.sim.counters();
    assert_eq!(counters.get("media:download"), Some(&6), "{counters:?}");
    pair.baileys.kill().await;
    pair.linked.sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sim_phone_and_baileys_exchange_media() {
    const GATEWAY: &str = "15550108501";
    const BAILEYS: &str = "15550108502";
    const PHONE: &str = "15550108503";
    let mut pair = connect_both_with(GATEWAY, BAILEYS, &[PHONE], media_edge_setup).await;

    // Baileys → the phone: the phone downloads, verifies and lists it with its SHA-256.
    let document = file_of(PDF, 70_001, 21);
    let cmd = json!({"cmd": "send-media", "to": format!("{PHONE}@s.whatsapp.net"),
        "kind": "document", "ref": 1, "data": STANDARD.encode(&document),
        "mimetype": "application/pdf", "fileName": "for-the-phone.pdf"});
    pair.baileys
        .send(&cmd)
        .await
        .expect("Baileys takes the command");
    pair.baileys_seen
        .until(&mut pair.baileys, "Baileys sends the media", |s| {
            s.sent.contains_key(&1)
        })
        .await;
    let id = pair.baileys_seen.sent[&1].clone();
    let phone = PHONE.parse().expect("a phone number");
    wait_for(
        &mut pair.sim_events,
        DEADLINE,
        "the phone's copy",
        |e| match e {
            SimEvent::PhoneReceived { phone: p, id: i } if *p == phone && *i == id => Some(()),
            _ => None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("sim: {e}"));
    let inbox = pair.linked.sim.phone_messages(PHONE).expect("inbox");
    let m = inbox.iter().find(|m| m.id == id).expect("in the inbox");
    assert_eq!((m.kind.as_str(), m.from.as_str()), ("document", BAILEYS));
    assert_eq!(m.media_error, None);
    assert_eq!(m.sha256.as_deref(), Some(sha256_hex(&document).as_str()));
    assert_eq!(m.file_length, Some(document.len() as u64));

    // The phone → Baileys: Baileys decodes the voice note and decrypts the same bytes.
    let voice = file_of(OGG, 33_333, 22);
    let send = PhoneSend {
        to: BAILEYS.to_owned(),
        media: Some(MediaBody {
            kind: "ptt".to_owned(),
            mimetype: "audio/ogg; codecs=opus".to_owned(),
            data_base64: STANDARD.encode(&voice),
            seconds: Some(4),
            ..MediaBody::default()
        }),
        ..PhoneSend::default()
    };
    let id = pair
        .linked
        .sim
        .phone_send_kind(PHONE, &send)
        .expect("the phone sends");
    let line = pair
        .baileys
        .wait_for(DEADLINE, "Baileys' download", |v| {
            v["event"] == "media" && v["id"] == id.as_str()
        })
        .await
        .expect("Baileys reports the media");
    assert!(
        line["error"].is_null(),
        "Baileys could not download: {line}"
    );
    assert_eq!(
        (&line["kind"], &line["ptt"], &line["seconds"]),
        (&json!("audio"), &json!(true), &json!(4))
    );
    assert_eq!(line["sha256"], sha256_hex(&voice), "{line}");
    assert_eq!(line["fileSha256"], sha256_hex(&voice), "{line}");
    assert_eq!(line["bodySha256"], line["fileEncSha256"], "{line}");
    assert_eq!(line["macOk"], true, "{line}");
    pair.baileys.kill().await;
    pair.linked.sim.shutdown();
}

/// Baileys' voice note, video and sticker, as the gateway parses them (§4).
async fn baileys_other_kinds(pair: &mut Pair, to: &str) {
    let voice = file_of(OGG, 70_003, 31);
    let cmd = json!({"cmd": "send-media", "to": to, "kind": "audio", "ref": 1, "ptt": true,
        "seconds": 9, "data": STANDARD.encode(&voice), "mimetype": "audio/ogg; codecs=opus"});
    let media = baileys_sends(pair, 1, cmd, &voice).await;
    let MediaKind::Audio(info) = &media.kind else {
        panic!("not audio: {media:?}");
    };
    assert_eq!((info.ptt, info.seconds), (true, Some(9)));

    let video = file_of(MP4, 140_009, 32);
    let thumb = file_of(JPEG, 404, 33);
    let cmd = json!({"cmd": "send-media", "to": to, "kind": "video", "ref": 2, "seconds": 12,
        "caption": "a video from Baileys", "data": STANDARD.encode(&video),
        "mimetype": "video/mp4", "jpegThumbnail": STANDARD.encode(&thumb)});
    let media = baileys_sends(pair, 2, cmd, &video).await;
    let MediaKind::Video(info) = &media.kind else {
        panic!("not a video: {media:?}");
    };
    assert_eq!(info.caption.as_deref(), Some("a video from Baileys"));
    assert_eq!((info.seconds, info.gif_playback), (Some(12), false));
    assert_eq!(info.jpeg_thumbnail.as_deref(), Some(thumb.as_slice()));

    let sticker = file_of(WEBP, 20_011, 34);
    let cmd = json!({"cmd": "send-media", "to": to, "kind": "sticker", "ref": 3,
        "data": STANDARD.encode(&sticker), "mimetype": "image/webp"});
    let media = baileys_sends(pair, 3, cmd, &sticker).await;
    assert!(matches!(media.kind, MediaKind::Sticker(_)), "{media:?}");
    assert_eq!(media.file.mimetype.as_deref(), Some("image/webp"));
}

/// The gateway's audio file, video and sticker, as Baileys decodes them (§4).
async fn gateway_other_kinds(pair: &mut Pair, to: &str) {
    let audio = file_of(OGG, 66_001, 35);
    let kind = MediaKind::Audio(AudioInfo {
        seconds: Some(5),
        ..AudioInfo::default()
    });
    let media = outgoing(&audio, kind, "audio/ogg; codecs=opus");
    let line = gateway_sends(pair, to, &audio, media, "audio").await;
    let got = (&line["kind"], &line["ptt"], &line["seconds"]);
    assert_eq!(got, (&json!("audio"), &json!(false), &json!(5)));

    let video = file_of(MP4, 131_075, 36);
    let thumb = file_of(JPEG, 404, 33);
    let kind = MediaKind::Video(VideoInfo {
        caption: Some("a video from wagate".into()),
        seconds: Some(3),
        width: Some(320),
        height: Some(240),
        jpeg_thumbnail: Some(thumb.clone()),
        ..VideoInfo::default()
    });
    let line = gateway_sends(
        pair,
        to,
        &video,
        outgoing(&video, kind, "video/mp4"),
        "video",
    )
    .await;
    let got = (&line["kind"], &line["caption"], &line["seconds"]);
    assert_eq!(
        got,
        (&json!("video"), &json!("a video from wagate"), &json!(3))
    );
    assert_eq!(line["gifPlayback"], json!(null), "not a GIF: {line}");
    assert_eq!(
        (&line["width"], &line["height"]),
        (&json!(320), &json!(240))
    );
    assert_eq!(line["jpegThumbnail"], hex::encode(&thumb));

    let sticker = file_of(WEBP, 17_777, 37);
    let kind = MediaKind::Sticker(StickerInfo {
        width: Some(512),
        height: Some(512),
        is_animated: true,
        png_thumbnail: None,
    });
    let media = outgoing(&sticker, kind, "image/webp");
    let line = gateway_sends(pair, to, &sticker, media, "sticker").await;
    let got = (&line["kind"], &line["mimetype"], &line["isAnimated"]);
    assert_eq!(got, (&json!("sticker"), &json!("image/webp"), &json!(true)));
    assert_eq!(
        (&line["width"], &line["height"]),
        (&json!(512), &json!(512))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_kinds_both_ways() {
    const GATEWAY: &str = "15550108601";
    const BAILEYS: &str = "15550108602";
    let mut pair = connect_both_with(GATEWAY, BAILEYS, &[], media_edge_setup).await;
    baileys_other_kinds(&mut pair, &format!("{GATEWAY}@s.whatsapp.net")).await;
    gateway_other_kinds(&mut pair, BAILEYS).await;
    pair.baileys.kill().await;
    pair.linked.sim.shutdown();
}

//! Media end to end between the gateway account and a sim phone over real sockets and the
//! sim's media server (issue 13, `media.md`): every kind (image, video with its streaming
//! sidecar, audio, voice note, document, sticker) both ways with equal bytes and SHA-256; a
//! download after the sim expired the file succeeds through a media retry (the account's own
//! phone uploads its copy again), for a received and for a sent message, and a retry the phone
//! cannot answer is refused with code 2; an upload whose `media_conn` auth token the sim
//! revoked refreshes `media_conn` and succeeds.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use wa_client::{EventKind, MediaFailure, MediaOrigin, MediaSource, OutgoingMedia, SendOptions};
use wa_protocol::binary::{Jid, Server};
use wa_protocol::media::MediaType;
use wa_protocol::message::{
    decode_padded, AudioInfo, Content, DocumentInfo, EncVersion, ImageInfo, Media, MediaKind,
    StickerInfo, VideoInfo,
};
use wa_protocol::stanza::MediaRetryRequest;
use wa_protocol::MessageId;
use wa_sim::{MediaBody, PhoneSend, SimEvent};
use wa_store::{MemStore, Store};
use wa_testkit::{client_config, new_account, start_sim, wait_for, Linked, DEADLINE};

const A: &str = "15550113001";
const B: &str = "15550113002";

fn user(phone: &str) -> Jid {
    Jid::user(phone, Server::WhatsApp)
}

/// A sim with A (linked to the gateway; media over the sim's plain HTTP) and B.
async fn linked(seed: u64) -> Linked {
    let sim = start_sim(&[A, B]).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), seed);
    let mut config = client_config(&sim);
    config.media.scheme = "http".into();
    Linked::link(sim, A, store, config, id).await
}

/// One kind: the sim's name, the MIME type, the gateway's kind and the file.
struct Kind {
    name: &'static str,
    mimetype: &'static str,
    kind: MediaKind,
    data: Vec<u8>,
}

fn kinds() -> Vec<Kind> {
    // Sizes across the 16-byte block and 64 KiB sidecar/chunk boundaries.
    let bytes = |n: usize, salt: u8| -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31) ^ salt).collect()
    };
    vec![
        Kind {
            name: "image",
            mimetype: "image/jpeg",
            kind: MediaKind::Image(ImageInfo {
                caption: Some("a picture".into()),
                ..ImageInfo::default()
            }),
            data: bytes(70_001, 1),
        },
        Kind {
            name: "video",
            mimetype: "video/mp4",
            kind: MediaKind::Video(VideoInfo {
                seconds: Some(3),
                ..VideoInfo::default()
            }),
            data: bytes(200_000, 2),
        },
        Kind {
            name: "audio",
            mimetype: "audio/mpeg",
            kind: MediaKind::Audio(AudioInfo {
                seconds: Some(2),
                ..AudioInfo::default()
            }),
            data: bytes(65_536, 3),
        },
        Kind {
            name: "ptt",
            mimetype: "audio/ogg; codecs=opus",
            kind: MediaKind::Audio(AudioInfo {
                ptt: true,
                seconds: Some(1),
                ..AudioInfo::default()
            }),
            data: bytes(9_999, 4),
        },
        Kind {
            name: "document",
            mimetype: "application/pdf",
            kind: MediaKind::Document(DocumentInfo {
                file_name: Some("report.pdf".into()),
                ..DocumentInfo::default()
            }),
            data: bytes(16, 5),
        },
        Kind {
            name: "sticker",
            mimetype: "image/webp",
            kind: MediaKind::Sticker(StickerInfo::default()),
            data: bytes(4_321, 6),
        },
    ]
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The gateway sends `kind` to B; B's phone lists it with the kind and the SHA-256.
async fn gateway_to_phone(linked: &Linked, kind: &Kind) -> MessageId {
    let mut sim_events = linked.sim.subscribe();
    let media = OutgoingMedia {
        source: MediaSource::Bytes(kind.data.clone()),
        kind: kind.kind.clone(),
        mimetype: kind.mimetype.into(),
        reply: None,
        mentions: Vec::new(),
    };
    let sent = linked
        .gateway
        .send_media(&linked.id, user(B), media, SendOptions::default())
        .await
        .expect("sent");
    wait_for(
        &mut sim_events,
        DEADLINE,
        "B's phone fetched it",
        |e| match e {
            SimEvent::PhoneReceived { phone, id }
                if phone.as_str() == B && *id == sent.id.as_str() =>
            {
                Some(())
            }
            _ => None,
        },
    )
    .await
    .expect("B's phone fetched it");
    let inbox = linked.sim.phone_messages(B).expect("inbox");
    let entry = inbox
        .iter()
        .find(|m| m.id == sent.id.as_str())
        .expect("listed");
    assert_eq!(entry.kind, kind.name);
    assert_eq!(entry.media_error, None, "{}", kind.name);
    assert_eq!(
        entry.sha256.as_deref(),
        Some(sha256_hex(&kind.data).as_str())
    );
    sent.id
}

/// B's phone sends `kind` to the gateway; the received media message.
async fn phone_to_gateway(linked: &mut Linked, kind: &Kind) -> (MessageId, Media) {
    let request = PhoneSend {
        to: A.into(),
        media: Some(MediaBody {
            kind: kind.name.into(),
            mimetype: kind.mimetype.into(),
            data_base64: STANDARD.encode(&kind.data),
            caption: Some(format!("{} from B", kind.name)),
            file_name: Some("file.bin".into()),
            seconds: Some(1),
        }),
        ..PhoneSend::default()
    };
    let id = linked.sim.phone_send_kind(B, &request).expect("B sends");
    let media = wait_for(
        &mut linked.events,
        DEADLINE,
        "the media message",
        |e| match e {
            EventKind::Message(m) if m.id == id => match &m.content {
                Content::Media(media) => Some((**media).clone()),
                other => panic!("not media: {other:?}"),
            },
            _ => None,
        },
    )
    .await
    .expect("the gateway receives it");
    (id, media)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_goes_both_ways_with_equal_bytes() {
    let mut linked = linked(1301).await;
    for kind in kinds() {
        gateway_to_phone(&linked, &kind).await;
        let (_, media) = phone_to_gateway(&mut linked, &kind).await;
        assert_eq!(media.kind.name(), kind.name);
        assert_eq!(media.media_type(), kind.kind.media_type());
        if matches!(kind.name, "video" | "audio" | "ptt") {
            let sidecar = match &media.kind {
                MediaKind::Video(v) => v.streaming_sidecar.as_ref(),
                MediaKind::Audio(a) => a.streaming_sidecar.as_ref(),
                _ => None,
            };
            assert!(
                sidecar.is_some_and(|s| !s.is_empty()),
                "{}: streaming sidecar",
                kind.name
            );
        }
        let got = linked
            .gateway
            .download_media(&linked.id, &media)
            .await
            .expect("downloads and verifies");
        let bytes = got.read_all().expect("read");
        assert_eq!(bytes, kind.data, "{}", kind.name);
        assert_eq!(
            hex::encode(got.verified.file_sha256),
            sha256_hex(&kind.data)
        );
        assert_eq!(got.mimetype.as_deref(), Some(kind.mimetype));
    }
}

/// Waits until A's own phone verified (and so kept) the media of `id`.
async fn own_phone_has(linked: &Linked, id: &MessageId) {
    let mut events = linked.sim.subscribe();
    let fetched = |linked: &Linked| {
        linked
            .sim
            .phone_messages(A)
            .expect("inbox")
            .iter()
            .any(|m| m.id == id.as_str() && m.sha256.is_some())
    };
    if fetched(linked) {
        return;
    }
    wait_for(&mut events, DEADLINE, "A's phone fetched it", |e| match e {
        SimEvent::PhoneReceived { phone, id: i } if phone.as_str() == A && i == id.as_str() => {
            Some(())
        }
        _ => None,
    })
    .await
    .expect("A's phone fetched it");
    assert!(fetched(linked), "A's phone verified the file");
}

fn expire(linked: &Linked, media: &Media) {
    let path = media.file.direct_path.as_deref().expect("direct path");
    linked.sim.expire_media(path).expect("expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_file_comes_back_through_media_retry() {
    let mut linked = linked(1302).await;
    let kinds = kinds();
    // Received: B's image; A's phone got its own copy too.
    let (id, media) = phone_to_gateway(&mut linked, &kinds[0]).await;
    own_phone_has(&linked, &id).await;
    expire(&linked, &media);
    let gone = linked.gateway.download_media(&linked.id, &media).await;
    match gone {
        Err(wa_client::Error::Media(f)) => assert!(f.is_gone(), "{f}"),
        other => panic!("expected 410, got {other:?}"),
    }
    let origin = MediaOrigin {
        id: id.clone(),
        chat: user(B),
        from_me: false,
        participant: None,
    };
    let mut sim_events = linked.sim.subscribe();
    let got = linked
        .gateway
        .download_media_with_retry(&linked.id, &media, &origin)
        .await
        .expect("re-uploaded and downloaded");
    assert_eq!(got.read_all().expect("read"), kinds[0].data);
    // The request as the references build it: to our own user, the sealed request, `<rmr>`.
    let request = wait_for(&mut sim_events, DEADLINE, "the request", |e| match e {
        SimEvent::Stanza { node, .. } if MediaRetryRequest::is_request(node) => {
            Some(MediaRetryRequest::from_node(node).expect("parses"))
        }
        _ => None,
    })
    .await
    .expect("the gateway sent a server-error receipt");
    assert_eq!(request.id, id);
    assert_eq!(request.to, Some(user(A)));
    assert_eq!(request.sealed.iv.len(), 12);
    assert_eq!(
        (
            request.rmr.chat,
            request.rmr.from_me,
            request.rmr.participant
        ),
        (user(B), false, None)
    );
    let counters = linked.sim.counters();
    assert_eq!(counters.get("phone:media-retry:Success").copied(), Some(1));

    // Sent: the gateway's document to B; A's phone kept the own-device copy.
    let doc = &kinds[4];
    let sent = gateway_to_phone(&linked, doc).await;
    own_phone_has(&linked, &sent).await;
    let before = linked.sim.media().len();
    linked.sim.expire_all_media();
    let ours = media_of_sent(&linked, &sent, doc);
    let origin = MediaOrigin {
        id: sent.clone(),
        chat: user(B),
        from_me: true,
        participant: None,
    };
    let got = linked
        .gateway
        .download_media_with_retry(&linked.id, &ours, &origin)
        .await
        .expect("our own sent file comes back");
    assert_eq!(got.read_all().expect("read"), doc.data);
    assert_eq!(linked.sim.media().len(), before + 1, "one re-upload");

    // Not on the phone any more: refused with code 2.
    assert!(linked.sim.forget_phone_media() >= 2);
    linked.sim.expire_all_media();
    let refused = linked
        .gateway
        .download_media_with_retry(&linked.id, &media, &origin_of(&id))
        .await;
    match refused {
        Err(wa_client::Error::Media(MediaFailure::RetryRefused { code: 2 })) => {}
        other => panic!("expected code 2, got {other:?}"),
    }
}

fn origin_of(id: &MessageId) -> MediaOrigin {
    MediaOrigin {
        id: id.clone(),
        chat: user(B),
        from_me: false,
        participant: None,
    }
}

/// The media message of our own send `id` (the padded `Message` the outbox keeps).
fn media_of_sent(linked: &Linked, id: &MessageId, kind: &Kind) -> Media {
    let entry = linked
        .store
        .outbox_entry(&linked.id, id.as_str())
        .expect("store")
        .expect("in the outbox");
    let message = decode_padded(&entry.payload, EncVersion::V2).expect("padded message");
    match Content::from_message(&message).expect("content") {
        Content::Media(media) => {
            assert_eq!(media.media_type(), MediaType::Document);
            assert_eq!(media.file.file_length, Some(kind.data.len() as u64));
            *media
        }
        other => panic!("not media: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_upload_token_refreshes_media_conn() {
    let linked = linked(1303).await;
    let kinds = kinds();
    gateway_to_phone(&linked, &kinds[0]).await;
    let conns = |linked: &Linked| {
        linked
            .sim
            .counters()
            .get("media:conn")
            .copied()
            .unwrap_or(0)
    };
    let before = conns(&linked);
    assert!(linked.sim.revoke_media_auth() >= 1);
    gateway_to_phone(&linked, &kinds[5]).await;
    assert_eq!(
        conns(&linked),
        before + 1,
        "one new media_conn after the 401"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_media_retry_names_the_sender() {
    let mut linked = linked(1304).await;
    let group = linked
        .sim
        .create_group(B, "media retry", &[A])
        .expect("group");
    let kind = &kinds()[1];
    let request = PhoneSend {
        to: group.to_string(),
        media: Some(MediaBody {
            kind: kind.name.into(),
            mimetype: kind.mimetype.into(),
            data_base64: STANDARD.encode(&kind.data),
            ..MediaBody::default()
        }),
        ..PhoneSend::default()
    };
    let id = linked.sim.phone_send_kind(B, &request).expect("B sends");
    let received = wait_for(
        &mut linked.events,
        DEADLINE,
        "the group video",
        |e| match e {
            EventKind::Message(m) if m.id == id => Some((**m).clone()),
            _ => None,
        },
    )
    .await
    .expect("the gateway receives it");
    let Content::Media(media) = &received.content else {
        panic!("not media: {:?}", received.content)
    };
    own_phone_has(&linked, &id).await;
    expire(&linked, media);
    let origin = MediaOrigin::received(&received, false);
    assert_eq!(origin.chat, group);
    assert_eq!(origin.participant, Some(user(B)));
    let mut sim_events = linked.sim.subscribe();
    let got = linked
        .gateway
        .download_media_with_retry(&linked.id, media, &origin)
        .await
        .expect("re-uploaded and downloaded");
    assert_eq!(got.read_all().expect("read"), kind.data);
    let rmr = wait_for(&mut sim_events, DEADLINE, "the request", |e| match e {
        SimEvent::Stanza { node, .. } if MediaRetryRequest::is_request(node) => {
            Some(MediaRetryRequest::from_node(node).expect("parses").rmr)
        }
        _ => None,
    })
    .await
    .expect("the gateway sent a server-error receipt");
    assert_eq!((rmr.chat, rmr.participant), (group, Some(user(B))));
}

//! The simulated phones over real sockets and the admin API (`messaging.md` §6, §7, §10):
//! phone A texts phone B through the router (first `pkmsg`, then `msg` once B answered), B's
//! `GET /admin/phones/{phone}/messages` shows the decrypted texts, and A's linked companion,
//! offline meanwhile, receives after its next login, exactly once and in order, the
//! DeviceSentMessage copies of A's sends and B's text to A, and decrypts them with the keys in
//! its store. A LID-migrated A addresses by LID; a retry receipt with fresh keys gets the text
//! resent to the companion alone (§11).

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;
use wa_protocol::message::receive::decrypt_pairwise;
use wa_protocol::message::{decode_padded, unwrap_device_sent, Content, EncVersion};
use wa_protocol::signal::{PreKey, SessionRecord};
use wa_protocol::stanza::{
    EncType, MessageStanza, Receipt, ReceiptType, RetryInfo, RetryKeys, StanzaAck, UploadedPreKey,
    UploadedSignedPreKey,
};
use wa_protocol::PhoneNumber;
use wa_testkit::Linked;

mod common;

use common::{companion_keys, count, login_active, next, Admin};

const A: &str = "15550109001";
const B: &str = "15550109002";

#[tokio::test]
async fn phones_text_each_other_and_the_offline_companion_gets_its_copies_once() {
    let linked = Linked::new(A, 91).await;
    linked
        .sim
        .create_account(&B.parse::<PhoneNumber>().expect("phone"));
    linked.disconnect_gateway().await;
    let http = Admin {
        addr: linked.sim.addr(),
    };

    let (status, first) = http
        .post(
            format!("/admin/phones/{A}/send"),
            json!({"to": B, "text": "hello B"}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (
            count(&linked.sim, "phone:enc:pkmsg"),
            count(&linked.sim, "phone:enc:msg")
        ),
        (1, 0)
    );
    let b_jid = format!("{B}@s.whatsapp.net");
    let (status, reply) = http
        .post(
            format!("/admin/phones/{B}/send"),
            json!({"to": format!("{A}@s.whatsapp.net"), "text": "hi A"}),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let (status, second) = http
        .post(
            format!("/admin/phones/{A}/send"),
            json!({"to": b_jid, "text": "again"}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    // B answered from the session A's pkmsg started (a msg), so A's second text is a msg too.
    assert_eq!(
        (
            count(&linked.sim, "phone:enc:pkmsg"),
            count(&linked.sim, "phone:enc:msg")
        ),
        (1, 2)
    );

    let (status, inbox) = http.get(format!("/admin/phones/{B}/messages")).await;
    assert_eq!(status, 200);
    let inbox = inbox.as_array().expect("array").clone();
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    for (m, (id, text)) in inbox.iter().zip([(&first, "hello B"), (&second, "again")]) {
        assert_eq!(m["id"], id["id"]);
        assert_eq!(
            (m["from"].as_str(), m["kind"].as_str(), m["text"].as_str()),
            (Some(A), Some("text"), Some(text))
        );
        assert_eq!(m["chat"], json!(format!("{A}@s.whatsapp.net")));
        assert!(m["t"].as_u64().is_some());
    }
    let (_, a_inbox) = http.get(format!("/admin/phones/{A}/messages")).await;
    assert_eq!(a_inbox[0]["text"], json!("hi A"));

    let (status, _) = http
        .post(
            format!("/admin/phones/{B}/read"),
            json!({"chat": A, "ids": [first["id"]]}),
        )
        .await;
    assert_eq!(status, 204);
    admin_errors(&http).await;

    // Receipts went to the senders' devices: B's two delivery receipts and its read receipt
    // to A's phone, A's delivery receipt to B's phone.
    assert_eq!(count(&linked.sim, "phone:receipt"), 4);

    // The companion logs in: the three copies, in order, once (between them the three
    // receipts to A and the privacy token B's phone granted A); then the offline count of all
    // seven.
    let mut socket = login_active(&linked, A, 5).await;
    let (local, mut prekeys) = companion_keys(&linked);
    let mut sessions: std::collections::HashMap<String, SessionRecord> = Default::default();
    let expected = [
        (A, "hello B", Some(b_jid.as_str())),
        (B, "hi A", None),
        (A, "again", Some(b_jid.as_str())),
    ];
    for (from, text, destination) in expected {
        let node = next(&mut socket, "message").await;
        let msg = MessageStanza::from_node(&node).expect("parses");
        assert_eq!(
            msg.from.as_ref().map(|j| j.user_part().to_owned()),
            Some(from.to_owned())
        );
        assert!(msg.offline.is_some());
        let enc = &msg.encs[0];
        let key = msg.from.as_ref().expect("from").to_string();
        let mut rng = StdRng::seed_from_u64(9);
        let out = decrypt_pairwise(
            enc.kind,
            &enc.ciphertext,
            sessions.get(&key),
            &local,
            &prekeys,
            None,
            &mut rng,
        )
        .expect("decrypts");
        if let Some(id) = out.consumed_pre_key_id {
            prekeys.remove_one_time(id);
        }
        sessions.insert(key, out.record);
        let unwrapped =
            unwrap_device_sent(decode_padded(&out.plaintext, EncVersion::V2).expect("unpads"))
                .expect("unwraps");
        assert_eq!(
            Content::from_message(&unwrapped.message).expect("content"),
            Content::text(text)
        );
        assert_eq!(
            unwrapped.destination.map(|d| d.to_string()).as_deref(),
            destination
        );
        assert_eq!(msg.recipient.map(|r| r.to_string()).as_deref(), destination);
        let ack = StanzaAck::for_stanza(&node).expect("ack");
        socket.send_node(&ack.to_node()).await.expect("acked");
    }
    let marker = next(&mut socket, "ib").await;
    assert_eq!(
        marker.child("offline").and_then(|o| o.attr_str("count")),
        Some("7")
    );
    socket.close().await;

    let mut again = login_active(&linked, A, 6).await;
    let marker = next(&mut again, "ib").await;
    assert_eq!(
        marker.child("offline").and_then(|o| o.attr_str("count")),
        Some("0")
    );

    // A LID-migrated account's phone addresses the chat and every device by LID (§16); the
    // live companion's copy comes from A's LID device and B still decrypts.
    let update = wa_sim::SwitchesUpdate {
        lid_migrated: Some(true),
        require_privacy_tokens: None,
    };
    let a: PhoneNumber = A.parse().expect("phone");
    linked.sim.update_account(&a, update).expect("switched");
    let lid_id = linked.sim.phone_send(A, B, "by lid").expect("sent");
    let copy = MessageStanza::from_node(&next(&mut again, "message").await).expect("parses");
    let a_lid = linked.sim.account(A).expect("account").lid;
    assert_eq!(
        copy.from.as_ref().map(|j| j.user_part()),
        Some(a_lid.as_str())
    );
    let b_lid = linked.sim.account(B).expect("account").lid;
    assert_eq!(
        copy.recipient.as_ref().map(|j| j.user_part()),
        Some(b_lid.as_str())
    );
    let inbox = linked.sim.phone_messages(B).expect("inbox");
    let last = inbox.last().expect("a message");
    assert_eq!(
        (last.id.as_str(), last.text.as_str(), last.from.as_str()),
        (lid_id.as_str(), "by lid", A)
    );

    // The companion lost that session: its retry receipt with fresh keys (§11) makes A's phone
    // start a new session and send the text again to it alone, with the retry count.
    let (local, mut prekeys) = companion_keys(&linked);
    let mut rng = StdRng::seed_from_u64(11);
    let fresh = PreKey::generate(7000, &mut rng);
    prekeys.one_time.push(fresh.clone());
    let signed = prekeys.signed[0].clone();
    let mut receipt = Receipt::for_message(&copy, ReceiptType::Retry).expect("receipt");
    receipt.retry = Some(RetryInfo {
        count: 2,
        id: copy.id.clone(),
        t: copy.t.expect("t"),
        v: 1,
        error: None,
        registration_id: local.registration_id,
        keys: Some(RetryKeys {
            identity: *local.public_key(),
            prekey: Some(UploadedPreKey {
                id: fresh.id,
                public: fresh.key_pair.public,
            }),
            signed: UploadedSignedPreKey {
                id: signed.id,
                public: signed.key_pair.public,
                signature: signed.signature,
            },
            device_identity: None,
        }),
    });
    again.send_node(&receipt.to_node()).await.expect("sent");
    let resent = MessageStanza::from_node(&next(&mut again, "message").await).expect("parses");
    assert_eq!(resent.id, copy.id);
    assert_eq!(resent.recipient, copy.recipient);
    let enc = &resent.encs[0];
    assert_eq!((enc.kind, enc.count), (EncType::PkMsg, Some(2)));
    let out = decrypt_pairwise(
        enc.kind,
        &enc.ciphertext,
        None,
        &local,
        &prekeys,
        None,
        &mut rng,
    )
    .expect("decrypts with the fresh prekey");
    assert_eq!(out.consumed_pre_key_id, Some(7000));
    let plain = decode_padded(&out.plaintext, EncVersion::V2).expect("unpads");
    let unwrapped = unwrap_device_sent(plain).expect("unwraps");
    assert_eq!(
        Content::from_message(&unwrapped.message).expect("content"),
        Content::text("by lid")
    );
    assert_eq!(count(&linked.sim, "phone:retry-receipt"), 1);
}

/// 400 for malformed bodies, 404 for unknown phones.
async fn admin_errors(http: &Admin) {
    let (status, _) = http
        .post_raw(format!("/admin/phones/{A}/send"), "{\"to\": 5}")
        .await;
    assert_eq!(status, 400);
    let (status, _) = http
        .post(
            format!("/admin/phones/{A}/send"),
            json!({"to": "not a number", "text": "x"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = http
        .post(
            "/admin/phones/15550109999/send".to_owned(),
            json!({"to": B, "text": "x"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = http
        .get("/admin/phones/15550109999/messages".to_owned())
        .await;
    assert_eq!(status, 404);
    let (status, _) = http
        .post(format!("/admin/phones/{A}/read"), json!({"chat": B}))
        .await;
    assert_eq!(status, 400);
}

use rand::SeedableRng;

use super::message::{jid, wire};
use crate::binary::Node;
use crate::signal::KeyPair;
use crate::stanza::*;

fn id(s: &str) -> crate::MessageId {
    s.parse().expect("id")
}

/// §10: the delivery receipt we send echoes `participant` and `recipient`; `sender` for our own
/// device's message.
#[test]
fn delivery_receipts_round_trip() {
    let mut r = Receipt::new(id("3EB0A1"), ReceiptType::Delivery);
    r.to = Some(jid("120363000000000001@g.us"));
    r.participant = Some(jid("15550001111:7@s.whatsapp.net"));
    let node = r.to_node();
    assert_eq!(node.attr("type"), None, "delivery has no type");
    assert_eq!(Receipt::from_node(&wire(&node)), Ok(r));

    let mut s = Receipt::new(id("3EB0A2"), ReceiptType::Sender);
    s.to = Some(jid("15550001111:2@s.whatsapp.net"));
    s.recipient = Some(jid("15550003333@s.whatsapp.net"));
    assert_eq!(s.to_node().attr_str("type"), Some("sender"));
    assert_eq!(Receipt::from_node(&wire(&s.to_node())), Ok(s));
}

/// §8 / §10: read receipts with a `<list>` of further ids, as sketched, both directions.
#[test]
fn read_receipts_from_the_sketch() {
    let node = Node::new("receipt")
        .with_attr("from", "15550001111:7@s.whatsapp.net")
        .with_attr("id", "3EB0A1")
        .with_attr("t", "1700000000")
        .with_attr("type", "read")
        .with_children(vec![Node::new("list").with_children(vec![
            Node::new("item").with_attr("id", "3EB1"),
            Node::new("item").with_attr("id", "3EB2"),
        ])]);
    let r = Receipt::from_node(&wire(&node)).expect("parses");
    assert!(r.kind.is_read());
    let ids: Vec<&str> = r.ids().map(|i| i.as_str()).collect();
    assert_eq!(ids, ["3EB0A1", "3EB1", "3EB2"]);
    assert_eq!(r.t, Some(1_700_000_000));
    assert_eq!(Receipt::from_node(&wire(&r.to_node())), Ok(r));

    for (t, kind) in [
        ("read-self", ReceiptType::ReadSelf),
        ("inactive", ReceiptType::Inactive),
        ("peer_msg", ReceiptType::PeerMsg),
        ("played", ReceiptType::Played),
    ] {
        let n = node.clone().with_attr("type", t);
        assert_eq!(Receipt::from_node(&n).map(|r| r.kind), Ok(kind));
    }
    assert!(ReceiptType::Inactive.is_delivery());
}

fn retry_keys(seed: u64) -> RetryKeys {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let identity = KeyPair::generate(&mut rng);
    let spk = KeyPair::generate(&mut rng);
    RetryKeys {
        identity: identity.public,
        prekey: Some(UploadedPreKey {
            id: 0x01_0203,
            public: KeyPair::generate(&mut rng).public,
        }),
        signed: UploadedSignedPreKey {
            id: 7,
            public: spk.public,
            signature: identity.private.sign(&spk.public.to_djb(), &mut rng),
        },
        device_identity: Some(vec![0x0a, 0x01]),
    }
}

/// §11: a retry receipt with `<retry>`, `<registration>` and `<keys>` survives the wire, and the
/// hand-written count-1 form (no keys) parses.
#[test]
fn retry_receipts() {
    let mut r = Receipt::new(id("3EB0A1"), ReceiptType::Retry);
    r.to = Some(jid("15550001111:7@s.whatsapp.net"));
    r.retry = Some(RetryInfo {
        count: 2,
        id: id("3EB0A1"),
        t: 1_700_000_000,
        v: 1,
        error: Some(7),
        registration_id: 0x0102_0304,
        keys: Some(retry_keys(1)),
    });
    let node = r.to_node();
    let keys = node.child("keys").expect("keys");
    assert_eq!(keys.child("type").and_then(Node::bytes), Some(&[5u8][..]));
    assert_eq!(Receipt::from_node(&wire(&node)), Ok(r));

    let first = Node::new("receipt")
        .with_attr("id", "3EB0B1")
        .with_attr("to", "15550001111@s.whatsapp.net")
        .with_attr("type", "retry")
        .with_attr("category", "peer")
        .with_children(vec![
            Node::new("retry")
                .with_attr("count", "1")
                .with_attr("id", "3EB0B1")
                .with_attr("t", "1700000000")
                .with_attr("v", "1"),
            Node::new("registration").with_bytes(vec![0, 0, 0x30, 0x39]),
        ]);
    let r = Receipt::from_node(&wire(&first)).expect("parses");
    let retry = r.retry.expect("retry part");
    assert!(r.peer);
    assert_eq!((retry.count, retry.registration_id), (1, 12345));
    assert_eq!(retry.keys, None);
}

/// §8: the server's grouped receipt for groups.
#[test]
fn grouped_receipt() {
    let node = Node::new("receipt")
        .with_attr("from", "120363000000000001@g.us")
        .with_attr("id", "3EB0A1")
        .with_attr("type", "read")
        .with_children(vec![Node::new("participants")
            .with_attr("key", "3EB0A1")
            .with_children(vec![
                Node::new("user")
                    .with_attr("jid", "15550001111@s.whatsapp.net")
                    .with_attr("t", "5"),
                Node::new("user").with_attr("jid", "98765@lid"),
            ])]);
    let r = Receipt::from_node(&wire(&node)).expect("parses");
    let g = r.grouped.clone().expect("grouped");
    assert_eq!(g.users.len(), 2);
    assert_eq!(g.users[0].1, Some(5));
    assert_eq!(Receipt::from_node(&wire(&r.to_node())), Ok(r));
}

#[test]
fn malformed_receipts_are_typed_errors() {
    let base = || {
        Node::new("receipt")
            .with_attr("id", "3EB0A1")
            .with_attr("from", "15550001111@s.whatsapp.net")
    };
    let retry = |count: &str, reg: Vec<u8>| {
        base().with_attr("type", "retry").with_children(vec![
            Node::new("retry")
                .with_attr("count", count)
                .with_attr("id", "3EB0A1")
                .with_attr("t", "1")
                .with_attr("v", "1"),
            Node::new("registration").with_bytes(reg),
        ])
    };
    assert!(Receipt::from_node(&retry("1", vec![0; 4])).is_ok());
    let mut good = Receipt::new(id("3EB0A1"), ReceiptType::Retry);
    good.from = Some(jid("15550001111@s.whatsapp.net"));
    good.retry = Some(RetryInfo {
        count: 3,
        id: id("3EB0A1"),
        t: 1,
        v: 1,
        error: None,
        registration_id: 1,
        keys: Some(retry_keys(2)),
    });
    let with_keys = good.to_node();
    let mut bad_type = with_keys.clone();
    if let Some(crate::binary::Content::Nodes(children)) = &mut bad_type.content {
        if let Some(keys) = children.iter_mut().find(|c| c.tag == "keys") {
            *keys = Node::new("keys").with_children(vec![Node::new("type").with_bytes(vec![6])]);
        }
    }
    let many = base().with_children(vec![Node::new("list").with_children(vec![
        Node::new("item")
            .with_attr(
                "id", "x"
            );
        MAX_RECEIPT_IDS
    ])]);
    for (node, why) in [
        (Node::new("message").with_attr("id", "1"), "tag"),
        (
            Node::new("receipt").with_attr("from", "1@s.whatsapp.net"),
            "no id",
        ),
        (Node::new("receipt").with_attr("id", "1"), "no from/to"),
        (base().with_attr("type", "seen-by-cat"), "type"),
        (base().with_attr("type", "retry"), "retry without <retry>"),
        (retry("0", vec![0; 4]), "count 0"),
        (retry("200", vec![0; 4]), "count 200"),
        (retry("1", vec![0; 3]), "registration 3 bytes"),
        (bad_type, "key type"),
        (many, "too many ids"),
        (
            base().with_children(vec![Node::new("list").with_children(vec![Node::new("x")])]),
            "list child",
        ),
    ] {
        assert!(Receipt::from_node(&node).is_err(), "{why}");
    }
}

/// §10: the receipt of a received message echoes `from` as `to`, `participant` and
/// `recipient`; the delivery type follows who sent it and whether we are active.
#[test]
fn receipts_for_received_messages() {
    let group = Node::new("message")
        .with_attr("from", "120363000000000001@g.us")
        .with_attr("participant", "15550001111:2@s.whatsapp.net")
        .with_attr("id", "3EB0C1")
        .with_attr("type", "text")
        .with_children(vec![Node::new("enc")
            .with_attr("v", "2")
            .with_attr("type", "skmsg")
            .with_bytes(vec![1])]);
    let msg = MessageStanza::from_node(&group).expect("parses");
    let kind = ReceiptType::for_delivery(false, false, false);
    assert_eq!(kind, ReceiptType::Inactive);
    let r = Receipt::for_message(&msg, kind).expect("has from");
    assert_eq!(r.to, Some(jid("120363000000000001@g.us")));
    assert_eq!(r.participant, Some(jid("15550001111:2@s.whatsapp.net")));
    let node = r.to_node();
    assert_eq!(node.attr_str("type"), Some("inactive"));
    assert_eq!(node.attr_str("id"), Some("3EB0C1"));

    assert_eq!(
        ReceiptType::for_delivery(true, false, true),
        ReceiptType::Sender
    );
    assert_eq!(
        ReceiptType::for_delivery(true, true, true),
        ReceiptType::PeerMsg
    );
    assert_eq!(
        ReceiptType::for_delivery(false, false, true),
        ReceiptType::Delivery
    );
    let mut sent = msg;
    sent.from = None;
    assert!(Receipt::for_message(&sent, ReceiptType::Delivery).is_err());

    let ids = [id("3EB0D1"), id("3EB0D2"), id("3EB0D3")];
    let chat = jid("15550001111@s.whatsapp.net");
    let read = Receipt::read(chat.clone(), &ids, 1_700_000_000, None, false).expect("ids");
    let node = wire(&read.to_node());
    assert_eq!(node.attr_str("type"), Some("read"));
    assert_eq!(node.attr_str("t"), Some("1700000000"));
    let items = node.child("list").map(|l| l.children().len());
    assert_eq!(items, Some(2));
    assert_eq!(Receipt::from_node(&node).expect("parses").ids().count(), 3);
    let own = Receipt::read(chat.clone(), &ids[..1], 1, None, true).expect("ids");
    assert_eq!(own.kind, ReceiptType::ReadSelf);
    assert!(own.to_node().child("list").is_none());
    assert!(Receipt::read(chat, &[], 1, None, false).is_none());
}

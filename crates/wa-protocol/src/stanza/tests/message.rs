use crate::binary::{marshal, unmarshal, Jid, Limits, Node};
use crate::stanza::*;

pub(super) fn wire(node: &Node) -> Node {
    let bytes = marshal(node).expect("encodes");
    unmarshal(&bytes, &Limits::default()).expect("decodes")
}

pub(super) fn jid(s: &str) -> Jid {
    s.parse().expect("jid")
}

fn id(s: &str) -> crate::MessageId {
    s.parse().expect("id")
}

fn enc(kind: &str, count: Option<&str>) -> Node {
    let n = Node::new("enc").with_attr("v", "2").with_attr("type", kind);
    let n = match count {
        Some(c) => n.with_attr("count", c),
        None => n,
    };
    n.with_bytes(vec![1, 2, 3])
}

/// A 1:1 send as §7 sketches it: fan-out to the peer's devices and our own other device,
/// `<device-identity>` because of the pkmsg, a `<tctoken>` (§16), LID addressing with
/// `peer_recipient_pn`.
#[test]
fn dm_send_round_trips_through_the_wire() {
    let mut m = MessageStanza::new(id("3EB0AABBCCDDEEFF001122"), MessageType::Text);
    m.to = Some(jid("98765@lid"));
    m.alt.peer_recipient_pn = Some(jid("15550001111@s.whatsapp.net"));
    let mut first = Enc::new(EncType::PkMsg, vec![9; 40]);
    first.mediatype = Some("image".to_owned());
    m.participants = vec![
        DeviceEnc {
            jid: jid("98765@lid"),
            enc: first,
        },
        DeviceEnc {
            jid: jid("98765:7@lid"),
            enc: Enc::new(EncType::Msg, vec![8; 33]),
        },
        DeviceEnc {
            jid: jid("44444:3@lid"),
            enc: Enc::new(EncType::Msg, vec![7; 33]),
        },
    ];
    m.device_identity = Some(vec![0x0a, 1, 2]);
    m.tctoken = Some(vec![0xfe; 24]);
    let node = m.to_node();
    assert_eq!(node.attr_str("type"), Some("text"));
    assert!(node.child("participants").is_some());
    let back = MessageStanza::from_node(&wire(&node)).expect("parses");
    assert_eq!(back, m);
    assert!(back.has_pkmsg());
    assert_eq!(back.check_one_namespace(), Ok(()));

    let mut mixed = m.clone();
    mixed.participants[2].jid = jid("15550002222:3@s.whatsapp.net");
    assert!(mixed.check_one_namespace().is_err());
}

/// §9's group send, written as Baileys writes it (JIDs as text, skmsg enc after participants).
#[test]
fn group_send_from_the_sketch() {
    let node = Node::new("message")
        .with_attr("id", "3EB0C0FFEE")
        .with_attr("to", "120363000000000001@g.us")
        .with_attr("type", "text")
        .with_attr("phash", "2:AAv/hwhn")
        .with_attr("addressing_mode", "lid")
        .with_children(vec![
            Node::new("participants").with_children(vec![Node::new("to")
                .with_attr("jid", "98765:7@lid")
                .with_children(vec![enc("msg", None)])]),
            Node::new("device-identity").with_bytes(vec![1]),
            enc("skmsg", None),
        ]);
    let m = MessageStanza::from_node(&wire(&node)).expect("parses");
    assert_eq!(m.to, Some(jid("120363000000000001@g.us")));
    assert_eq!(m.phash.as_deref(), Some("2:AAv/hwhn"));
    assert_eq!(m.addressing_mode, Some(AddressingMode::Lid));
    assert_eq!(m.participants.len(), 1);
    assert_eq!(m.encs.len(), 1);
    assert_eq!(m.encs[0].kind, EncType::SkMsg);
    assert_eq!(m.check_one_namespace(), Ok(()));
    let mut pn_mode = m;
    pn_mode.addressing_mode = Some(AddressingMode::Pn);
    assert!(
        pn_mode.check_one_namespace().is_err(),
        "lid devices in a pn group send"
    );
}

/// §10's deliveries: a 1:1 from a PN sender with `sender_lid`, and a group one with the
/// pairwise SKDM enc before the skmsg and `participant_pn`.
#[test]
fn deliveries_from_the_sketch() {
    let dm = Node::new("message")
        .with_attr("from", "15550001111:7@s.whatsapp.net")
        .with_attr("id", "3EB0A1")
        .with_attr("t", "1700000000")
        .with_attr("type", "reaction")
        .with_attr("notify", "Alice")
        .with_attr("sender_lid", "98765:7@lid")
        .with_attr("offline", "1")
        .with_children(vec![enc("pkmsg", None)]);
    let m = MessageStanza::from_node(&wire(&dm)).expect("parses");
    assert_eq!(m.kind, MessageType::Reaction);
    assert_eq!(m.t, Some(1_700_000_000));
    assert_eq!(m.notify.as_deref(), Some("Alice"));
    assert_eq!(m.alt.sender_lid, Some(jid("98765:7@lid")));
    assert_eq!(m.offline.as_deref(), Some("1"));
    assert_eq!(m.encs[0].kind, EncType::PkMsg);
    assert_eq!(MessageStanza::from_node(&m.to_node()), Ok(m));

    let group = Node::new("message")
        .with_attr("from", "120363000000000001@g.us")
        .with_attr("participant", "98765:2@lid")
        .with_attr("participant_pn", "15550001111:2@s.whatsapp.net")
        .with_attr("addressing_mode", "lid")
        .with_attr("id", "3EB0A2")
        .with_attr("type", "text")
        .with_attr("edit", "7")
        .with_children(vec![enc("msg", None), enc("skmsg", None)]);
    let m = MessageStanza::from_node(&wire(&group)).expect("parses");
    assert_eq!(m.participant, Some(jid("98765:2@lid")));
    assert_eq!(
        m.alt.participant_pn,
        Some(jid("15550001111:2@s.whatsapp.net"))
    );
    assert_eq!(m.edit, Some(EditAttr::SenderRevoke));
    let kinds: Vec<EncType> = m.encs.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EncType::Msg, EncType::SkMsg]);
}

/// §11's resend: one enc with `count`, `device_fanout="false"`, `decrypt-fail="hide"`; and a
/// delivery the server could not decrypt for us (`<unavailable>`), peer category.
#[test]
fn retry_resend_and_unavailable() {
    let resend = Node::new("message")
        .with_attr("id", "3EB0A3")
        .with_attr("to", "15550001111:7@s.whatsapp.net")
        .with_attr("type", "text")
        .with_attr("device_fanout", "false")
        .with_children(vec![enc("msg", Some("2")).with_attr("decrypt-fail", "hide")]);
    let m = MessageStanza::from_node(&resend).expect("parses");
    assert_eq!(m.encs[0].count, Some(2));
    assert!(m.encs[0].decrypt_fail_hide);
    assert_eq!(m.device_fanout, Some(false));
    assert_eq!(MessageStanza::from_node(&wire(&m.to_node())), Ok(m));

    let unavailable = Node::new("message")
        .with_attr("id", "3EB0A4")
        .with_attr("from", "15550001111:2@s.whatsapp.net")
        .with_attr("type", "text")
        .with_attr("category", "peer")
        .with_children(vec![Node::new("unavailable").with_attr("type", "view_once")]);
    let m = MessageStanza::from_node(&unavailable).expect("parses");
    assert!(m.peer);
    assert_eq!(m.unavailable.as_deref(), Some("view_once"));
    assert_eq!(MessageStanza::from_node(&wire(&m.to_node())), Ok(m));
}

fn base() -> Node {
    Node::new("message")
        .with_attr("id", "3EB0A5")
        .with_attr("from", "15550001111@s.whatsapp.net")
        .with_attr("type", "text")
}

/// Each malformed stanza is a typed error that maps to nack 487 (§10).
fn refused(cases: Vec<(Node, &str)>) {
    for (node, why) in cases {
        let err = MessageStanza::from_node(&node).expect_err(why);
        assert_eq!(nack_for(&err), nack::PARSING_ERROR, "{why}: {err}");
    }
}

fn with_enc(enc: Node) -> Node {
    base().with_children(vec![enc])
}

#[test]
fn malformed_encs_are_typed_errors() {
    assert!(MessageStanza::from_node(&with_enc(enc("msg", Some("5")))).is_ok());
    let bare = Node::new("enc")
        .with_attr("v", "2")
        .with_attr("type", "msg");
    refused(vec![
        (with_enc(enc("frob", None)), "enc type"),
        (with_enc(enc("msg", Some("11"))), "count 11"),
        (with_enc(enc("msg", Some("0"))), "count 0"),
        (with_enc(enc("msg", Some("99999"))), "count 99999"),
        (with_enc(enc("msg", Some("x"))), "count x"),
        (with_enc(enc("msg", None).with_attr("v", "4")), "v"),
        (
            with_enc(enc("msg", None).with_attr("decrypt-fail", "x")),
            "decrypt-fail",
        ),
        (with_enc(bare), "no bytes"),
        (
            base().with_children(vec![enc("msg", None); MAX_DIRECT_ENCS + 1]),
            "encs",
        ),
    ]);
}

#[test]
fn malformed_messages_are_typed_errors() {
    let ok = enc("msg", None);
    let no_id = Node::new("message")
        .with_attr("from", "1@s.whatsapp.net")
        .with_attr("type", "text");
    let fanout = Node::new("to")
        .with_attr("jid", "1@s.whatsapp.net")
        .with_children(vec![ok.clone()]);
    refused(vec![
        (Node::new("receipt").with_children(vec![ok.clone()]), "tag"),
        (no_id.with_children(vec![ok.clone()]), "no id"),
        (with_enc(ok.clone()).with_attr("id", ""), "empty id"),
        (with_enc(ok.clone()).with_attr("id", "a b"), "id with space"),
        (with_enc(ok.clone()).with_attr("edit", "5"), "edit"),
        (with_enc(ok.clone()).with_attr("t", "-3"), "t"),
        (with_enc(ok.clone()).with_attr("from", "a@@b"), "jid"),
        (
            with_enc(ok.clone()).with_attr("addressing_mode", "x"),
            "mode",
        ),
        (with_enc(ok.clone()).with_attr("category", "x"), "category"),
        (
            base().with_children(vec![Node::new("participants")
                .with_children(vec![Node::new("to").with_attr("jid", "1@s.whatsapp.net")])]),
            "to without enc",
        ),
        (
            base().with_children(vec![Node::new("participants").with_children(vec![
                fanout;
                MAX_FANOUT
                    + 1
            ])]),
            "fan-out",
        ),
    ]);
}

#[test]
fn messages_without_ciphertext_or_with_unknown_type_get_their_nack() {
    let no_enc = MessageStanza::from_node(&base()).expect_err("no enc");
    assert_eq!(nack_for(&no_enc), nack::UNRECOGNIZED_STANZA);
    let odd = base()
        .with_attr("type", "hologram")
        .with_children(vec![enc("msg", None)]);
    let err = MessageStanza::from_node(&odd).expect_err("type");
    assert_eq!(nack_for(&err), nack::UNRECOGNIZED_STANZA_TYPE);
}

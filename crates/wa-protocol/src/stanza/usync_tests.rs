//! usync query and answer: the sketches of `messaging.md` §4, the wire, malformed input.

use rand::SeedableRng;

use super::*;
use crate::binary::{marshal, unmarshal, Limits};

fn jid(s: &str) -> Jid {
    s.parse().expect("jid")
}

fn wire(node: &Node) -> Node {
    unmarshal(&marshal(node).expect("encodes"), &Limits::default()).expect("decodes")
}

/// The request of §4, written as the sketch shows it.
fn sketch_request() -> Node {
    Node::new("iq")
        .with_attr("id", "1.2-3")
        .with_attr("xmlns", "usync")
        .with_attr("type", "get")
        .with_attr("to", "s.whatsapp.net")
        .with_children(vec![Node::new("usync")
            .with_attr("sid", "sid-1")
            .with_attr("mode", "query")
            .with_attr("last", "true")
            .with_attr("index", "0")
            .with_attr("context", "message")
            .with_children(vec![
                Node::new("query").with_children(vec![
                    Node::new("devices").with_attr("version", "2"),
                    Node::new("lid"),
                ]),
                Node::new("list").with_children(vec![
                    Node::new("user").with_attr("jid", "12345@s.whatsapp.net"),
                    Node::new("user").with_attr("jid", "98765@lid"),
                ]),
            ])])
}

#[test]
fn the_sketched_request_parses_and_ours_matches_it() {
    let q = UsyncQuery::from_node(&sketch_request()).expect("parses");
    assert_eq!(
        q,
        UsyncQuery::for_message("sid-1", vec![jid("12345@s.whatsapp.net"), jid("98765@lid")])
    );
    let ours = wire(&q.request().to_node("1.2-3"));
    assert_eq!(UsyncQuery::from_node(&ours), Ok(q.clone()));
    let usync = ours.child("usync").expect("usync");
    let tags: Vec<_> = usync.children().iter().map(|c| c.tag.as_str()).collect();
    assert_eq!(tags, ["query", "list"], "query before list (§4)");
    assert_eq!(usync.attr_str("context"), Some("message"));
    assert_eq!(usync.attr_str("mode"), Some("query"));
    // A device JID is written as its user.
    let mut q2 = q;
    q2.users = vec![jid("12345:7@s.whatsapp.net")];
    let back = UsyncQuery::from_node(&q2.request().to_node("x")).expect("parses");
    assert_eq!(back.users, [jid("12345@s.whatsapp.net")]);
}

#[test]
fn a_lid_only_background_query_parses() {
    let mut q = UsyncQuery::for_message("s", vec![jid("12345@s.whatsapp.net")]);
    q.devices = false;
    q.context = "background".to_owned();
    let back = UsyncQuery::from_node(&q.request().to_node("x")).expect("parses");
    assert!(back.lid && !back.devices);
}

fn strip(node: &Node, path: &[&str], f: impl Fn(Node) -> Node) -> Node {
    fn go(node: &Node, path: &[&str], f: &dyn Fn(Node) -> Node) -> Node {
        match path.split_first() {
            None => f(node.clone()),
            Some((head, rest)) => {
                let children = node
                    .children()
                    .iter()
                    .map(|c| {
                        if c.tag == *head {
                            go(c, rest, f)
                        } else {
                            c.clone()
                        }
                    })
                    .collect();
                let mut n = node.clone();
                n.content = Some(crate::binary::Content::Nodes(children));
                n
            }
        }
    }
    go(node, path, &f)
}

fn without_attr(mut n: Node, attr: &str) -> Node {
    n.attrs.remove(attr);
    n
}

#[test]
fn malformed_requests_are_refused() {
    let ok = sketch_request();
    let cases = [
        strip(&ok, &[], |n| without_attr(n, "xmlns")),
        strip(&ok, &[], |n| n.with_attr("type", "set")),
        strip(&ok, &["usync"], |n| without_attr(n, "sid")),
        strip(&ok, &["usync"], |n| without_attr(n, "context")),
        strip(&ok, &["usync"], |n| n.with_attr("mode", "")),
        strip(&ok, &["usync", "query"], |n| {
            n.with_children(vec![Node::new("status")])
        }),
        strip(&ok, &["usync", "query", "devices"], |n| {
            n.with_attr("version", "1")
        }),
        strip(&ok, &["usync", "list"], |n| n.with_children(vec![])),
        strip(&ok, &["usync", "list"], |n| {
            n.with_children(vec![
                Node::new("user").with_attr("jid", "12345:3@s.whatsapp.net")
            ])
        }),
        strip(&ok, &["usync", "list"], |n| {
            n.with_children(vec![Node::new("user").with_attr("jid", "123@g.us")])
        }),
        strip(&ok, &["usync", "list"], |n| {
            n.with_children(vec![Node::new("user")])
        }),
        strip(&ok, &["usync", "list"], |n| {
            n.with_children(vec![Node::new("item").with_attr("jid", "1@lid")])
        }),
        strip(&ok, &["usync", "list"], |n| {
            n.with_children(vec![
                Node::new("user").with_attr("jid", "1@lid");
                MAX_USYNC_USERS + 1
            ])
        }),
    ];
    for (i, case) in cases.iter().enumerate() {
        assert!(
            UsyncQuery::from_node(case).is_err(),
            "case {i} accepted: {case}"
        );
    }
}

/// The answer of §4, written as the sketch shows it.
fn sketch_result() -> Node {
    let user = Node::new("user")
        .with_attr("jid", "12345@s.whatsapp.net")
        .with_children(vec![
            Node::new("devices").with_children(vec![
                Node::new("device-list")
                    .with_attr("hash", "2:abc")
                    .with_children(vec![
                        Node::new("device").with_attr("id", "0"),
                        Node::new("device")
                            .with_attr("id", "7")
                            .with_attr("key-index", "3"),
                        Node::new("device")
                            .with_attr("id", "24")
                            .with_attr("key-index", "113")
                            .with_attr("is_hosted", "true"),
                    ]),
                Node::new("key-index-list")
                    .with_attr("ts", "1700000000")
                    .with_bytes(vec![1, 2, 3]),
            ]),
            Node::new("lid").with_attr("val", "98765@lid"),
        ]);
    Node::new("iq")
        .with_attr("from", "s.whatsapp.net")
        .with_attr("id", "1.2-3")
        .with_attr("type", "result")
        .with_children(vec![Node::new("usync")
            .with_attr("sid", "sid-1")
            .with_children(vec![Node::new("list").with_children(vec![user])])])
}

#[test]
fn the_sketched_answer_parses_and_ours_round_trips_over_the_wire() {
    let r = UsyncResult::from_node(&sketch_result()).expect("parses");
    assert_eq!(r.sid, "sid-1");
    let u = &r.users[0];
    assert_eq!(u.lid, Some(jid("98765@lid")));
    let list = u.devices.as_ref().expect("devices");
    assert_eq!(list.hash.as_deref(), Some("2:abc"));
    assert_eq!(
        list.devices,
        [
            UsyncDevice {
                id: 0,
                key_index: None,
                hosted: false
            },
            UsyncDevice {
                id: 7,
                key_index: Some(3),
                hosted: false
            },
            UsyncDevice {
                id: 24,
                key_index: Some(113),
                hosted: true
            },
        ]
    );
    let kil = list.key_index_list.as_ref().expect("key-index-list");
    assert_eq!(
        (kil.ts, kil.expected_ts, kil.signed.as_slice()),
        (1_700_000_000, None, &[1u8, 2, 3][..])
    );
    assert_eq!(
        u.device_jids(),
        [
            jid("12345@s.whatsapp.net"),
            jid("12345:7@s.whatsapp.net"),
            jid("12345:24@hosted")
        ]
    );
    let back = wire(&r.to_node("1.2-3"));
    assert_eq!(back.attr_str("type"), Some("result"));
    assert_eq!(UsyncResult::from_node(&back), Ok(r));
}

#[test]
fn malformed_answers_are_refused() {
    let ok = sketch_result();
    let dl = ["usync", "list", "user", "devices", "device-list"];
    let cases = [
        strip(&ok, &[], |n| n.with_attr("type", "error")),
        strip(&ok, &["usync"], |n| without_attr(n, "sid")),
        strip(&ok, &["usync", "list", "user"], |n| without_attr(n, "jid")),
        strip(&ok, &dl, |n| {
            n.with_children(vec![Node::new("device").with_attr("id", "256")])
        }),
        strip(&ok, &dl, |n| n.with_children(vec![Node::new("device")])),
        strip(&ok, &dl, |n| {
            n.with_children(vec![Node::new("device")
                .with_attr("id", "1")
                .with_attr("key-index", "x")])
        }),
        strip(&ok, &dl, |n| {
            n.with_children(vec![
                Node::new("device").with_attr("id", "1");
                MAX_USER_DEVICES + 1
            ])
        }),
        strip(
            &ok,
            &["usync", "list", "user", "devices", "key-index-list"],
            |n| n.with_attr("ts", "soon"),
        ),
        strip(&ok, &["usync", "list", "user", "devices"], |n| {
            n.with_children(vec![])
        }),
        strip(&ok, &["usync", "list", "user", "lid"], |n| {
            n.with_attr("val", "98765@s.whatsapp.net")
        }),
    ];
    for (i, case) in cases.iter().enumerate() {
        assert!(
            UsyncResult::from_node(case).is_err(),
            "case {i} accepted: {case}"
        );
    }
}

#[test]
fn key_index_lists_are_signed_and_checked() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let account = KeyPair::generate(&mut rng);
    let list = KeyIndexList {
        raw_id: 77,
        timestamp: 1_700_000_000,
        current_index: 4,
        valid_indexes: vec![2, 4],
    };
    let signed = list.sign(&account, &mut rng);
    assert_eq!(
        KeyIndexList::verify(&signed, &account.public),
        Ok(list.clone())
    );
    // The field numbers of §4: details=1, accountSignature=2; rawID=1 … validIndexes=4 packed.
    let outer = AdvSignedKeyIndexList::decode(signed.as_slice()).expect("protobuf");
    let details = outer.details.expect("details");
    assert_eq!(&details[..2], &[0x08, 77], "rawID is field 1");
    assert!(
        details.windows(4).any(|w| w == [0x22, 2, 2, 4]),
        "validIndexes packed in field 4"
    );
    let other = KeyPair::generate(&mut rng);
    assert!(KeyIndexList::verify(&signed, &other.public).is_err());
    let mut forged = signed;
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(KeyIndexList::verify(&forged, &account.public).is_err());
    assert!(KeyIndexList::verify(b"\xff\xff", &account.public).is_err());
    assert!(list.allows(2) && list.allows(4) && list.allows(5));
    assert!(!list.allows(3) && !list.allows(1));
}

use super::message::{jid, wire};
use crate::binary::Node;
use crate::stanza::*;

/// §16: a `privacy_token` notification as sketched.
#[test]
fn privacy_token_from_the_sketch() {
    let node = Node::new("notification")
        .with_attr("from", "15550001111@s.whatsapp.net")
        .with_attr("sender_lid", "98765@lid")
        .with_attr("type", "privacy_token")
        .with_attr("id", "1234")
        .with_attr("t", "1700000000")
        .with_children(vec![Node::new("tokens").with_children(vec![Node::new(
            "token",
        )
        .with_attr("jid", "98765@lid")
        .with_attr("type", "trusted_contact")
        .with_attr("t", "1700000000")
        .with_bytes(vec![0xab; 20])])]);
    let n = Notification::from_node(&wire(&node)).expect("parses");
    let NotificationBody::PrivacyToken(p) = &n.body else {
        panic!("not a privacy token: {n:?}");
    };
    assert_eq!(p.sender_lid, Some(jid("98765@lid")));
    assert_eq!(p.tokens[0].jid, jid("98765@lid"));
    assert_eq!(p.tokens[0].t, 1_700_000_000);
    assert_eq!(p.tokens[0].token, vec![0xab; 20]);
    assert_eq!(Notification::from_node(&wire(&n.to_node())), Ok(n));
}

/// §4: a device-list change with `device_hash`, `key-index` and the signed key index list.
#[test]
fn devices_notification() {
    let node = Node::new("notification")
        .with_attr("from", "15550001111@s.whatsapp.net")
        .with_attr("type", "devices")
        .with_attr("id", "55")
        .with_children(vec![
            Node::new("add")
                .with_attr("device_hash", "2:abc")
                .with_children(vec![
                    Node::new("device")
                        .with_attr("jid", "15550001111:9@s.whatsapp.net")
                        .with_attr("key-index", "4"),
                    Node::new("key-index-list")
                        .with_attr("ts", "1700000000")
                        .with_bytes(vec![1, 2]),
                ]),
            Node::new("remove").with_children(vec![
                Node::new("device").with_attr("jid", "15550001111:3@s.whatsapp.net")
            ]),
        ]);
    let n = Notification::from_node(&wire(&node)).expect("parses");
    assert_eq!(n.user(), Some(jid("15550001111@s.whatsapp.net")));
    let NotificationBody::Devices(changes) = &n.body else {
        panic!("not devices: {n:?}");
    };
    assert_eq!(changes[0].kind, DeviceChangeKind::Add);
    assert_eq!(
        changes[0].devices,
        [(jid("15550001111:9@s.whatsapp.net"), Some(4))]
    );
    assert_eq!(
        changes[0].key_index_list.as_ref().map(|k| k.ts),
        Some(1_700_000_000)
    );
    assert_eq!(changes[1].kind, DeviceChangeKind::Remove);
    assert_eq!(Notification::from_node(&wire(&n.to_node())), Ok(n));
}

/// §13 identity change, §12 low prekeys, and a type messaging does not handle.
#[test]
fn encrypt_and_other_notifications() {
    let base = |t: &str| {
        Node::new("notification")
            .with_attr("from", "15550001111@s.whatsapp.net")
            .with_attr("type", t)
            .with_attr("id", "77")
    };
    let identity = base("encrypt").with_children(vec![Node::new("identity")]);
    let n = Notification::from_node(&wire(&identity)).expect("parses");
    assert_eq!(n.body, NotificationBody::IdentityChange);
    assert_eq!(Notification::from_node(&n.to_node()), Ok(n));
    let low = base("encrypt")
        .with_attr("from", "s.whatsapp.net")
        .with_children(vec![Node::new("count").with_attr("value", "3")]);
    let n = Notification::from_node(&wire(&low)).expect("parses");
    assert_eq!(n.body, NotificationBody::PreKeysLow { count: 3 });
    assert_eq!(n.user(), None);
    let other = Notification::from_node(&base("w:gp2")).expect("parses");
    assert_eq!(other.kind(), "w:gp2");

    let token = |attrs: &[(&str, &str)], bytes: Vec<u8>| {
        let mut t = Node::new("token").with_bytes(bytes);
        for (k, v) in attrs {
            t = t.with_attr(*k, *v);
        }
        base("privacy_token").with_children(vec![Node::new("tokens").with_children(vec![t])])
    };
    let full = [
        ("jid", "98765@lid"),
        ("type", "trusted_contact"),
        ("t", "1"),
    ];
    assert!(Notification::from_node(&token(&full, vec![1])).is_ok());
    for (node, why) in [
        (base("devices"), "devices without changes"),
        (base("encrypt"), "encrypt without body"),
        (base("privacy_token"), "no tokens"),
        (
            base("privacy_token").with_children(vec![Node::new("tokens")]),
            "empty tokens",
        ),
        (token(&full[..2], vec![1]), "token without t"),
        (
            token(
                &[("jid", "98765@lid"), ("type", "other"), ("t", "1")],
                vec![1],
            ),
            "type",
        ),
        (token(&full, vec![]), "empty token"),
        (token(&full, vec![0; 5000]), "oversized token"),
        (
            Node::new("notification").with_attr("type", "encrypt"),
            "no id",
        ),
        (base("x").with_attr("id", ""), "empty id"),
        (Node::new("message").with_attr("type", "devices"), "tag"),
    ] {
        assert!(Notification::from_node(&node).is_err(), "{why}");
    }
}

/// §16: the `<tctoken>` of a send and the IQ that issues our own tokens.
#[test]
fn tctoken_and_issue_iq() {
    let t = TcToken(vec![1, 2, 3]);
    assert_eq!(TcToken::from_node(&wire(&t.to_node())), Ok(t));
    assert!(TcToken::from_node(&Node::new("tctoken")).is_err());
    assert!(TcToken::from_node(&Node::new("cstoken").with_bytes(vec![1])).is_err());

    let issue = IssuePrivacyTokens {
        tokens: vec![(jid("98765@lid"), 1_700_000_000)],
    };
    let node = issue.request().to_node("1.2-3");
    let token = node
        .child("tokens")
        .and_then(|t| t.child("token"))
        .expect("token");
    assert_eq!(token.attr_str("type"), Some("trusted_contact"));
    assert_eq!(IssuePrivacyTokens::from_node(&wire(&node)), Ok(issue));
    let empty = IssuePrivacyTokens { tokens: vec![] };
    assert!(IssuePrivacyTokens::from_node(&empty.request().to_node("1")).is_err());
}

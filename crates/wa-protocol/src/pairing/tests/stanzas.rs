//! The pairing stanzas' strict parsers.

use super::*;

// ---------------------------------------------------------------------------------------------
// Stanzas: strict parsers
// ---------------------------------------------------------------------------------------------

/// Removes the first descendant with `tag` (depth-first).
fn without(node: &Node, tag: &str) -> Node {
    fn strip(n: &mut Node, tag: &str) -> bool {
        if let Some(crate::binary::Content::Nodes(children)) = &mut n.content {
            if let Some(pos) = children.iter().position(|c| c.tag == tag) {
                children.remove(pos);
                return true;
            }
            for c in children.iter_mut() {
                if strip(c, tag) {
                    return true;
                }
            }
        }
        false
    }
    let mut n = node.clone();
    assert!(strip(&mut n, tag), "no <{tag}> in {node}");
    n
}

/// Removes attribute `attr` from the first node (depth-first) having it.
fn without_attr(node: &Node, attr: &str) -> Node {
    fn strip(n: &mut Node, attr: &str) -> bool {
        if n.attrs.remove(attr).is_some() {
            return true;
        }
        if let Some(crate::binary::Content::Nodes(children)) = &mut n.content {
            for c in children.iter_mut() {
                if strip(c, attr) {
                    return true;
                }
            }
        }
        false
    }
    let mut n = node.clone();
    assert!(strip(&mut n, attr), "no {attr} in {node}");
    n
}

fn samples() -> (
    PairDevice,
    PairSuccess,
    PairDeviceSign,
    PairErrorReply,
    CompanionHello,
    CompanionHelloResult,
    PrimaryHello,
    CompanionFinish,
) {
    let key = PublicKey::from_bytes([4; 32]);
    let phone = Jid::user("15551234567", Server::WhatsApp);
    (
        PairDevice {
            id: "1".into(),
            refs: vec!["2@a".into(), "2@b".into()],
        },
        PairSuccess {
            id: "2".into(),
            t: None,
            device_identity: vec![1, 2, 3],
            platform: None,
            device: Jid::device("15551234567", 3, Server::WhatsApp),
            lid: None,
            business_name: None,
            client_props: None,
        },
        PairDeviceSign {
            id: "3".into(),
            key_index: 7,
            device_identity: vec![9; 100],
        },
        PairErrorReply::new("4", &PairError::Rejected),
        CompanionHello {
            id: "5".into(),
            phone: phone.clone(),
            should_show_push_notification: false,
            wrapped_ephemeral: [1; 80],
            noise_pub: key,
            platform_id: "9".into(),
            platform_display: "Firefox (Windows)".into(),
        },
        CompanionHelloResult {
            id: "6".into(),
            pairing_ref: b"R".to_vec(),
        },
        PrimaryHello {
            id: "7".into(),
            t: None,
            wrapped_ephemeral: [2; 80],
            primary_identity: key,
            pairing_ref: b"R".to_vec(),
        },
        CompanionFinish {
            id: "8".into(),
            phone,
            wrapped_bundle: [3; 156],
            companion_identity: key,
            pairing_ref: b"R".to_vec(),
        },
    )
}

/// `<client-props>` carries `ClientPairingProps` (§4.4): `isChatDbLidMigrated = 1` is `08 01`
/// on the wire and parses into the typed result; malformed props make the pair-success a
/// typed error.
#[test]
fn pair_success_client_props_are_typed() {
    let (_, mut b, ..) = samples();
    b.client_props = Some(super::PairingProps {
        chat_db_lid_migrated: true,
        ..super::PairingProps::default()
    });
    let node = b.to_node();
    let ps = &node.children()[0];
    let props = ps.child("client-props").and_then(Node::bytes);
    assert_eq!(props, Some(&[0x08, 0x01][..]));
    let got = PairSuccess::from_node(&wire(&node)).unwrap();
    assert!(got.client_props.is_some_and(|p| p.chat_db_lid_migrated));
    let mut bad = without(&node, "client-props");
    if let Some(crate::binary::Content::Nodes(iq)) = &mut bad.content {
        if let Some(crate::binary::Content::Nodes(kids)) = &mut iq[0].content {
            kids.push(Node::new("client-props").with_bytes(vec![0x2a, 0x09]));
        }
    }
    assert!(matches!(
        PairSuccess::from_node(&bad),
        Err(PairError::Protobuf { .. })
    ));
}

#[test]
fn stanza_round_trips_minimal_forms() {
    let (a, b, c, d, e, f, g, h) = samples();
    assert_eq!(PairDevice::from_node(&wire(&a.to_node())).unwrap(), a);
    assert_eq!(PairSuccess::from_node(&wire(&b.to_node())).unwrap(), b);
    assert_eq!(PairDeviceSign::from_node(&wire(&c.to_node())).unwrap(), c);
    assert_eq!(PairErrorReply::from_node(&wire(&d.to_node())).unwrap(), d);
    assert_eq!((d.code, d.text.as_str()), (500, "internal-error"));
    assert_eq!(CompanionHello::from_node(&wire(&e.to_node())).unwrap(), e);
    assert_eq!(
        CompanionHelloResult::from_node(&wire(&f.to_node())).unwrap(),
        f
    );
    assert_eq!(PrimaryHello::from_node(&wire(&g.to_node())).unwrap(), g);
    assert_eq!(CompanionFinish::from_node(&wire(&h.to_node())).unwrap(), h);

    // Exact shapes of the documented stanzas.
    assert_eq!(
        c.to_node().to_string(),
        format!(
            "<iq to=\"s.whatsapp.net\" type=\"result\" id=\"3\"><pair-device-sign>\
             <device-identity key-index=\"7\"><100 bytes></device-identity></pair-device-sign></iq>"
        )
    );
    assert_eq!(
        d.to_node().to_string(),
        "<iq to=\"s.whatsapp.net\" type=\"error\" id=\"4\"><error code=\"500\" text=\"internal-error\"/></iq>"
    );
    assert_eq!(
        IqAck { id: "1".into() }.to_node().to_string(),
        "<iq to=\"s.whatsapp.net\" type=\"result\" id=\"1\"/>"
    );
    let hello = e.to_node();
    let reg = hello.child("link_code_companion_reg").unwrap();
    assert_eq!(reg.attr_str("should_show_push_notification"), Some("false"));
    assert_eq!(reg.attr_str("stage"), Some("companion_hello"));
    assert_eq!(
        reg.child("link_code_pairing_nonce").unwrap().content,
        Some(crate::binary::Content::Bytes(vec![0]))
    );
    assert_eq!(hello.attr_str("xmlns"), Some("md"));

    // Baileys' "0" nonce and plain-string JIDs are accepted.
    let mut bl = hello.clone();
    if let Some(crate::binary::Content::Nodes(ch)) = &mut bl.content {
        let reg = &mut ch[0];
        reg.attrs.insert("jid", "15551234567@s.whatsapp.net");
        if let Some(crate::binary::Content::Nodes(kids)) = &mut reg.content {
            kids[4] = Node::new("link_code_pairing_nonce").with_str("0");
        }
    }
    let bl = bl.with_attr("to", "@s.whatsapp.net");
    assert_eq!(CompanionHello::from_node(&wire(&bl)).unwrap(), e);
}

#[test]
fn stanza_parsers_report_missing_children() {
    let (a, b, c, d, e, f, g, h) = samples();
    fn missing(err: PairError, want: &str) {
        assert!(
            matches!(&err, PairError::MissingChild { child, .. } if *child == want),
            "{err:?} (wanted missing <{want}>)"
        );
    }
    missing(
        PairDevice::from_node(&without(&a.to_node(), "pair-device")).unwrap_err(),
        "pair-device",
    );
    let no_refs = without(&without(&a.to_node(), "ref"), "ref");
    missing(PairDevice::from_node(&no_refs).unwrap_err(), "ref");
    for child in ["pair-success", "device-identity", "device"] {
        missing(
            PairSuccess::from_node(&without(&b.to_node(), child)).unwrap_err(),
            child,
        );
    }
    for child in ["pair-device-sign", "device-identity"] {
        missing(
            PairDeviceSign::from_node(&without(&c.to_node(), child)).unwrap_err(),
            child,
        );
    }
    missing(
        PairErrorReply::from_node(&without(&d.to_node(), "error")).unwrap_err(),
        "error",
    );
    for child in [
        "link_code_companion_reg",
        "link_code_pairing_wrapped_companion_ephemeral_pub",
        "companion_server_auth_key_pub",
        "companion_platform_id",
        "companion_platform_display",
        "link_code_pairing_nonce",
    ] {
        missing(
            CompanionHello::from_node(&without(&e.to_node(), child)).unwrap_err(),
            child,
        );
    }
    for child in ["link_code_companion_reg", "link_code_pairing_ref"] {
        missing(
            CompanionHelloResult::from_node(&without(&f.to_node(), child)).unwrap_err(),
            child,
        );
    }
    for child in [
        "link_code_companion_reg",
        "link_code_pairing_wrapped_primary_ephemeral_pub",
        "primary_identity_pub",
        "link_code_pairing_ref",
    ] {
        missing(
            PrimaryHello::from_node(&without(&g.to_node(), child)).unwrap_err(),
            child,
        );
    }
    for child in [
        "link_code_companion_reg",
        "link_code_pairing_wrapped_key_bundle",
        "companion_identity_public",
        "link_code_pairing_ref",
    ] {
        missing(
            CompanionFinish::from_node(&without(&h.to_node(), child)).unwrap_err(),
            child,
        );
    }
}

#[test]
fn stanza_parsers_report_bad_attributes_and_lengths() {
    let (a, b, c, d, e, f, g, h) = samples();
    let missing_attr = |err: PairError, want: &str| {
        assert!(
            matches!(&err, PairError::MissingAttr { attr, .. } if *attr == want),
            "{err:?} (wanted missing {want})"
        );
    };
    missing_attr(
        PairDevice::from_node(&without_attr(&a.to_node(), "id")).unwrap_err(),
        "id",
    );
    missing_attr(
        PairDevice::from_node(&without_attr(&a.to_node(), "from")).unwrap_err(),
        "from",
    );
    missing_attr(
        PairSuccess::from_node(&without_attr(&b.to_node(), "jid")).unwrap_err(),
        "jid",
    );
    missing_attr(
        PairDeviceSign::from_node(&without_attr(&c.to_node(), "key-index")).unwrap_err(),
        "key-index",
    );
    missing_attr(
        PairDeviceSign::from_node(&without_attr(&c.to_node(), "to")).unwrap_err(),
        "to",
    );
    missing_attr(
        PairErrorReply::from_node(&without_attr(&d.to_node(), "text")).unwrap_err(),
        "text",
    );
    for attr in ["jid", "stage", "should_show_push_notification", "type"] {
        missing_attr(
            CompanionHello::from_node(&without_attr(&e.to_node(), attr)).unwrap_err(),
            attr,
        );
    }
    missing_attr(
        CompanionHelloResult::from_node(&without_attr(&f.to_node(), "from")).unwrap_err(),
        "from",
    );
    missing_attr(
        PrimaryHello::from_node(&without_attr(&g.to_node(), "id")).unwrap_err(),
        "id",
    );
    missing_attr(
        CompanionFinish::from_node(&without_attr(&h.to_node(), "stage")).unwrap_err(),
        "stage",
    );

    // Wrong values.
    let bad = |err: PairError| assert!(matches!(err, PairError::BadAttr { .. }), "{err:?}");
    bad(PairDevice::from_node(&a.to_node().with_attr("type", "get")).unwrap_err());
    bad(PairDevice::from_node(
        &a.to_node()
            .with_attr("from", Jid::user("1", Server::WhatsApp)),
    )
    .unwrap_err());
    bad(PairSuccess::from_node(&b.to_node().with_attr("t", "soon")).unwrap_err());
    bad(PairDeviceSign::from_node(&c.to_node().with_attr("to", "example.com")).unwrap_err());
    let mut refresh = g.to_node();
    if let Some(crate::binary::Content::Nodes(ch)) = &mut refresh.content {
        ch[0].attrs.insert("stage", "refresh_code");
    }
    bad(PrimaryHello::from_node(&refresh).unwrap_err());
    bad(CompanionHello::from_node(&h.to_node()).unwrap_err()); // stage companion_finish
    bad(CompanionFinish::from_node(&e.to_node()).unwrap_err()); // stage companion_hello
    assert!(matches!(
        PairSuccess::from_node(&Node::new("message")),
        Err(PairError::UnexpectedTag { expected: "iq", .. })
    ));
    assert!(matches!(
        PrimaryHello::from_node(&Node::new("iq")),
        Err(PairError::UnexpectedTag {
            expected: "notification",
            ..
        })
    ));

    // Wrong lengths.
    let mut short = e.to_node();
    if let Some(crate::binary::Content::Nodes(ch)) = &mut short.content {
        if let Some(crate::binary::Content::Nodes(kids)) = &mut ch[0].content {
            kids[1] = Node::new("companion_server_auth_key_pub").with_bytes(vec![0; 33]);
        }
    }
    assert!(matches!(
        CompanionHello::from_node(&short),
        Err(PairError::BadLength {
            expected: 32,
            got: 33,
            ..
        })
    ));
    let mut empty = f.to_node();
    if let Some(crate::binary::Content::Nodes(ch)) = &mut empty.content {
        if let Some(crate::binary::Content::Nodes(kids)) = &mut ch[0].content {
            kids[0] = Node::new("link_code_pairing_ref");
        }
    }
    assert_eq!(
        CompanionHelloResult::from_node(&empty),
        Err(PairError::MissingContent("link_code_pairing_ref"))
    );
}

//! Spec vectors (binary-node.md §4.2, §5, §6, §9, §1) and malformed-input tests.

#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod malformed;

use std::io::Write as _;

use super::encode::{encode_jid, encode_string};
use super::*;

/// Parses `"F8 09 19"`-style hex.
fn h(s: &str) -> Vec<u8> {
    let compact: String = s.split_whitespace().collect();
    hex::decode(compact).expect("test vector is valid hex")
}

fn wa_server() -> Jid {
    Jid::server_jid(Server::WhatsApp)
}

fn lim() -> Limits {
    Limits::default()
}

/// §9: every worked example decodes (via `unmarshal`, flags byte included) to the described
/// node and re-marshals byte for byte.
#[test]
fn spec_section_9_examples() {
    let cases: Vec<(Node, &str)> = vec![
        (
            Node::new("iq")
                .with_attr("id", "1.2-3")
                .with_attr("xmlns", "w:p")
                .with_attr("type", "get")
                .with_attr("to", wa_server()),
            "00 F8 09 19 08 FF 83 1B 2A 3F 16 57 04 29 11 FA 00 03",
        ),
        (
            Node::new("iq")
                .with_attr("id", "1.2-4")
                .with_attr("xmlns", "passive")
                .with_attr("type", "set")
                .with_attr("to", wa_server())
                .with_children(vec![Node::new("active")]),
            "00 F8 0A 19 08 FF 83 1B 2A 4F 16 EC 18 04 5A 11 FA 00 03 F8 01 F8 01 EC 01",
        ),
        (
            Node::new("iq")
                .with_attr("from", wa_server())
                .with_attr("id", "1.2-3")
                .with_attr("type", "result")
                .with_attr("t", "1700000000"),
            "00 F8 09 19 06 FA 00 03 08 FF 83 1B 2A 3F 04 14 1A FF 05 17 00 00 00 00",
        ),
        (
            Node::new("stream:error").with_attr("code", "515"),
            "00 F8 03 9D 70 FF 82 51 5F",
        ),
        (
            Node::new("stream:error")
                .with_children(vec![Node::new("conflict").with_attr("type", "replaced")]),
            "00 F8 02 9D F8 01 F8 03 EC 0E 04 EC 11",
        ),
        (
            Node::new("success")
                .with_attr("t", "1700000000")
                .with_attr("lid", Jid::lid("123456789012345")),
            "00 F8 05 4C 1A FF 05 17 00 00 00 00 76 FA FF 88 12 34 56 78 90 12 34 5F 76",
        ),
        (
            Node::new("ib").with_children(vec![Node::new("offline").with_attr("count", "0")]),
            "00 F8 02 FC 02 69 62 F8 01 F8 03 12 41 2D",
        ),
        (
            Node::new("ack")
                .with_attr("class", "receipt")
                .with_attr("id", "3EB0ABCDEF")
                .with_attr("to", Jid::device("1234567890", 12, Server::WhatsApp)),
            "00 F8 07 1B 15 07 08 FB 05 3E B0 AB CD EF 11 F7 00 0C FF 05 12 34 56 78 90",
        ),
        (
            Node::new("iq")
                .with_attr("to", wa_server())
                .with_attr("type", "result")
                .with_attr("id", "1A2B")
                .with_children(vec![Node::new("pair-device-sign").with_children(vec![
                    Node::new("device-identity")
                        .with_attr("key-index", "1")
                        .with_bytes(vec![1, 2, 3]),
                ])]),
            "00 F8 08 19 11 FA 00 03 04 14 08 FB 02 1A 2B F8 01 F8 02 FC 10 70 61 69 72 2D 64 \
             65 76 69 63 65 2D 73 69 67 6E F8 01 F8 04 E6 50 55 FC 03 01 02 03",
        ),
    ];
    for (node, bytes) in cases {
        let frame = h(bytes);
        let decoded = unmarshal(&frame, &lim()).expect("spec example decodes");
        assert_eq!(decoded, node, "decoding {bytes}");
        assert_eq!(
            marshal(&decoded).expect("marshal"),
            frame,
            "re-marshal of {node}"
        );
        assert_eq!(marshal(&node).expect("marshal"), frame, "marshal of {node}");
        assert_eq!(encode(&node).expect("encode"), frame[1..]);
        assert_eq!(decode(&frame[1..], &lim()).expect("decode"), node);
    }
}

/// §1: the compressed example.
#[test]
fn spec_compressed_example() {
    let frame = h("02 78 9c fb c1 2a c9 f1 bf 59 5a cb 9e 45 04 00 18 19 03 3d");
    let node = unmarshal(&frame, &lim()).expect("compressed example decodes");
    assert_eq!(
        node,
        Node::new("iq")
            .with_attr("id", "1.2-3")
            .with_attr("type", "result")
    );
}

/// §5 packed examples and the §4 string rules.
#[test]
fn spec_packed_and_string_rules() {
    assert_eq!(encode_string("1.2-3"), h("FF 83 1B 2A 3F"));
    assert_eq!(encode_string("515"), h("FF 82 51 5F"));
    assert_eq!(encode_string("3EB0ABCDEF"), h("FB 05 3E B0 AB CD EF"));
    assert_eq!(encode_string("1700000000"), h("FF 05 17 00 00 00 00"));
    // Empty string → FC 00 (not FF 00).
    assert_eq!(encode_string(""), h("FC 00"));
    // Lowercase hex is raw.
    assert_eq!(encode_string("3eb0"), h("FC 04 33 65 62 30"));
    // Odd-length hex.
    assert_eq!(encode_string("ABC"), h("FB 82 AB CF"));
    // 127 digits pack, 128 go raw.
    let d127 = "7".repeat(127);
    let enc = encode_string(&d127);
    assert_eq!(&enc[..2], &[0xFF, 0x80 | 64]);
    assert_eq!(enc.len(), 2 + 64);
    let d128 = "7".repeat(128);
    assert_eq!(&encode_string(&d128)[..2], &[0xFC, 128]);
    // Raw length classes.
    assert_eq!(&encode_string(&"x".repeat(255))[..2], &[0xFC, 0xFF]);
    assert_eq!(
        &encode_string(&"x".repeat(300))[..4],
        &[0xFD, 0x00, 0x01, 0x2C]
    );
    // JID-looking strings are never sniffed.
    assert_eq!(
        encode_string("1@g.us")[..2],
        [0xFC, 6],
        "plain strings must not become JIDs"
    );
}

/// §4.2 token indices.
#[test]
fn spec_token_table() {
    let table: &[(&str, &str)] = &[
        ("iq", "19"),
        ("xmlns", "16"),
        ("id", "08"),
        ("to", "11"),
        ("from", "06"),
        ("type", "04"),
        ("t", "1A"),
        ("get", "29"),
        ("set", "5A"),
        ("result", "14"),
        ("error", "A8"),
        ("code", "70"),
        ("text", "38"),
        ("s.whatsapp.net", "03"),
        ("g.us", "1C"),
        ("lid", "76"),
        ("w:p", "57"),
        ("ping", "56"),
        ("urn:xmpp:ping", "2B"),
        ("success", "4C"),
        ("failure", "EE 3C"),
        ("reason", "EC 2E"),
        ("stream:error", "9D"),
        ("conflict", "EC 0E"),
        ("replaced", "EC 11"),
        ("xmlstreamend", "02"),
        ("ack", "1B"),
        ("class", "15"),
        ("receipt", "07"),
        ("message", "13"),
        ("notification", "09"),
        ("presence", "1F"),
        ("available", "88"),
        ("unavailable", "30"),
        ("offline", "12"),
        ("offline_preview", "4E"),
        ("offline_batch", "ED 08"),
        ("count", "41"),
        ("value", "6C"),
        ("edge_routing", "28"),
        ("routing_info", "27"),
        ("dirty", "ED 01"),
        ("passive", "EC 18"),
        ("active", "EC 01"),
        ("encrypt", "CB"),
        ("registration", "AD"),
        ("identity", "9C"),
        ("list", "71"),
        ("key", "9E"),
        ("skey", "EC 2D"),
        ("signature", "D4"),
        ("pair-device", "ED EE"),
        ("ref", "ED 50"),
        ("device-identity", "E6"),
        ("key-index", "50"),
        ("platform", "4A"),
        ("device", "3B"),
        ("biz", "EE 54"),
        ("jid", "0C"),
        ("name", "89"),
        ("stage", "EC 8B"),
        ("participant", "05"),
        ("recipient", "94"),
        ("msgr", "CC"),
    ];
    for (s, bytes) in table {
        assert_eq!(encode_string(s), h(bytes), "{s}");
    }
    for s in [
        "ib",
        "md",
        "pair-success",
        "pair-device-sign",
        "digest",
        "device_removed",
        "link_code_companion_reg",
        "companion_hello",
        "companion_finish",
        "primary_hello",
        "link_code_pairing_ref",
        "unified_session",
        "hosted",
        "hosted.lid",
        "interop",
        "newsletter",
        "bot",
        "c.us",
    ] {
        let enc = encode_string(s);
        assert_eq!(enc[0], 0xFC, "{s} should be raw");
        assert_eq!(&enc[2..], s.as_bytes());
    }
    assert_eq!(DICT_VERSION, 3);
}

/// §6 JID examples and the AD_JID / FB_JID / INTEROP_JID forms.
#[test]
fn spec_jid_examples() -> Result<(), Box<dyn std::error::Error>> {
    assert_eq!(encode_jid(&wa_server())?, h("FA 00 03"));
    assert_eq!(
        encode_jid(&"123456789012345@lid".parse()?)?,
        h("FA FF 88 12 34 56 78 90 12 34 5F 76")
    );
    assert_eq!(
        encode_jid(&"1234567890:12@s.whatsapp.net".parse()?)?,
        h("F7 00 0C FF 05 12 34 56 78 90")
    );
    assert_eq!(
        encode_jid(&"123456789012345:3@lid".parse()?)?,
        h("F7 01 03 FF 88 12 34 56 78 90 12 34 5F")
    );
    // Device 0 → JID_PAIR; hosted with a device → AD_JID domain 128.
    assert_eq!(
        encode_jid(&Jid::device("555555", 0, Server::WhatsApp))?,
        h("FA FF 03 55 55 55 03")
    );
    assert_eq!(
        encode_jid(&Jid::device("555555", 2, Server::Hosted))?,
        h("F7 80 02 FF 03 55 55 55")
    );
    assert_eq!(
        encode_jid(&Jid::device("555555", 2, Server::HostedLid))?,
        h("F7 81 02 FF 03 55 55 55")
    );
    // Agent goes into the domain byte.
    assert_eq!(
        encode_jid(&Jid::with_agent("555555", 5, 3)?)?,
        h("F7 05 03 FF 03 55 55 55")
    );
    // FB_JID and INTEROP_JID (with trailing server).
    assert_eq!(
        encode_jid(&Jid::messenger("555555", 0x0102))?,
        h("F6 FF 03 55 55 55 01 02 CC")
    );
    assert_eq!(
        encode_jid(&Jid::interop("555555", 0x0102, 0x0304))?,
        h("F5 FF 03 55 55 55 01 02 03 04 FC 07 69 6E 74 65 72 6F 70")
    );
    // Group: nibble user + g.us token.
    assert_eq!(
        encode_jid(&Jid::group("120363"))?,
        h("FA FF 03 12 03 63 1C")
    );
    Ok(())
}

#[test]
fn jid_wire_forms_decode() -> Result<(), Box<dyn std::error::Error>> {
    let wrap = |jid: &str| h(&format!("F8 02 19 {jid}"));
    let content_jid = |bytes: &[u8]| -> Result<Jid, DecodeError> {
        match decode(bytes, &lim())?.content {
            Some(Content::Jid(j)) => Ok(j),
            other => panic!("expected JID content, got {other:?}"),
        }
    };
    // Unknown AD_JID domain: kept as agent on s.whatsapp.net.
    let j = content_jid(&wrap("F7 07 02 FF 03 55 55 55"))?;
    assert_eq!(j, Jid::with_agent("555555", 7, 2)?);
    assert_eq!(j.to_string(), "555555.7:2@s.whatsapp.net");
    // AD_JID with device 0 (Baileys ':0' form) equals the JID_PAIR form.
    assert_eq!(
        content_jid(&wrap("F7 00 00 FF 03 55 55 55"))?,
        Jid::user("555555", Server::WhatsApp)
    );
    assert_eq!(
        content_jid(&wrap("F7 81 04 FF 03 55 55 55"))?,
        Jid::device("555555", 4, Server::HostedLid)
    );
    assert_eq!(
        content_jid(&wrap("F6 FF 03 55 55 55 01 02 CC"))?,
        Jid::messenger("555555", 0x0102)
    );
    assert_eq!(
        content_jid(&wrap(
            "F5 FF 03 55 55 55 01 02 03 04 FC 07 69 6E 74 65 72 6F 70"
        ))?,
        Jid::interop("555555", 0x0102, 0x0304)
    );
    // JID_PAIR with a raw unknown server.
    let j = content_jid(&wrap("FA FF 03 55 55 55 FC 07 65 78 61 6D 70 6C 65"))?;
    assert_eq!(j.to_string(), "555555@example");
    assert_eq!(
        encode_jid(&j)?,
        h("FA FF 03 55 55 55 FC 07 65 78 61 6D 70 6C 65")
    );
    Ok(())
}

#[test]
fn unencodable_jids() {
    let bad = [
        Jid::device("1", 256, Server::WhatsApp),
        Jid::device("1", 1, Server::Group),
        Jid::device("1", 1, Server::Newsletter),
    ];
    for j in bad {
        let node = Node::new("x").with_attr("to", j);
        assert!(
            matches!(encode(&node), Err(EncodeError::UnencodableJid { .. })),
            "{node}"
        );
    }
}

#[test]
fn encode_errors_and_encode_to() {
    assert_eq!(encode(&Node::new("")), Err(EncodeError::EmptyTag));
    let many = Node::new("x").with_children(vec![Node::new("y"); 65_536]);
    assert!(matches!(
        encode(&many),
        Err(EncodeError::TooManyChildren { count: 65_536, .. })
    ));
    let ok = Node::new("x").with_children(vec![Node::new("y"); 65_535]);
    let bytes = encode(&ok).expect("65535 children fit");
    assert_eq!(&bytes[..4], &[0xF8, 0x02, 0xFC, 0x01]);
    assert_eq!(&bytes[5..8], &[0xF9, 0xFF, 0xFF]);
    assert_eq!(
        decode(&bytes, &lim()).expect("decodes").children().len(),
        65_535
    );

    let mut attrs = Node::new("x");
    for i in 0..32_768 {
        attrs.attrs.push(format!("k{i}"), "v");
    }
    assert!(matches!(
        encode(&attrs),
        Err(EncodeError::TooManyAttributes { count: 32_768, .. })
    ));
    attrs.attrs.remove("k0");
    assert!(
        encode(&attrs).is_ok(),
        "32767 attributes fit without content"
    );

    let mut out = vec![0xAA];
    let bad = Node::new("x").with_children(vec![Node::new("")]);
    assert_eq!(encode_to(&bad, &mut out), Err(EncodeError::EmptyTag));
    assert_eq!(out, vec![0xAA]);
    encode_to(&Node::new("iq"), &mut out).expect("encodes");
    assert_eq!(out, vec![0xAA, 0xF8, 0x01, 0x19]);
}

#[test]
fn large_binary_round_trip() {
    for len in [(1 << 20) - 1, 1 << 20] {
        let node = Node::new("x").with_bytes(vec![0x5A; len]);
        let bytes = encode(&node).expect("encodes");
        let tag = if len < 1 << 20 { 0xFD } else { 0xFE };
        assert_eq!(bytes[5], tag);
        assert_eq!(decode(&bytes, &lim()).expect("decodes"), node);
    }
}

#[test]
fn content_and_value_variants() {
    // Empty child list, string content (token / packed / raw), JID content, empty attr value.
    let node = Node::new("x").with_attr("a", "").with_children(vec![
        Node::new("e").with_children(vec![]),
        Node::new("t").with_str("text"),
        Node::new("p").with_str("12.5"),
        Node::new("r").with_str("hello"),
        Node::new("j").with_content(Jid::group("1")),
    ]);
    let decoded = decode(&encode(&node).expect("encodes"), &lim()).expect("decodes");
    assert_eq!(decoded.attr_str("a"), Some(""));
    let c = decoded.children();
    assert_eq!(c[0].content, Some(Content::Nodes(vec![])));
    assert_eq!(c[1].content, Some(Content::Str("text".into())));
    assert_eq!(c[2].content, Some(Content::Str("12.5".into())));
    // Raw strings come back as bytes (binary-node.md §3).
    assert_eq!(c[3].content, Some(Content::Bytes(b"hello".to_vec())));
    assert_eq!(c[3].content_str(), Some("hello"));
    assert_eq!(c[4].content, Some(Content::Jid(Jid::group("1"))));
    // LIST_EMPTY as attribute value reads as "".
    let n = decode(&h("F8 03 19 08 00"), &lim()).expect("decodes");
    assert_eq!(n.attr_str("id"), Some(""));
}

#[test]
fn flags_bits_other_than_compression_are_ignored() {
    let n = unmarshal(&h("FD F8 01 19"), &lim()).expect("decodes");
    assert_eq!(n, Node::new("iq"));
}

#[test]
fn sample_stanza_round_trips() {
    let node = sample_message_stanza();
    let bytes = marshal(&node).expect("encodes");
    assert!(bytes.len() > 270 && bytes.len() < 400, "{}", bytes.len());
    assert_eq!(unmarshal(&bytes, &lim()).expect("decodes"), node);
    let shown = node.to_string();
    assert!(shown.starts_with(
        "<message id=\"3EB0C1D2E3F4A5B6C7D8\" to=\"1234567890@s.whatsapp.net\" type=\"text\" \
         t=\"1700000000\"><participants><to jid=\"1234567890:3@s.whatsapp.net\"><enc v=\"2\" \
         type=\"msg\"><120 bytes></enc>"
    ));
}

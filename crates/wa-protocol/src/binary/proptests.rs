//! Property tests: node round trips, JID text round trips, decoder robustness.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use proptest::prelude::*;

use super::token::{DOUBLE_BYTE, SINGLE_BYTE};
use super::*;

fn token_string() -> impl Strategy<Value = String> {
    prop_oneof![
        (1usize..SINGLE_BYTE.len()).prop_map(|i| SINGLE_BYTE[i].to_owned()),
        (0usize..4, 0usize..256).prop_map(|(d, i)| DOUBLE_BYTE[d][i].to_owned()),
    ]
}

fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => token_string(),
        2 => "[0-9.-]{1,130}",
        2 => "[0-9A-F]{1,130}",
        1 => "[0-9a-f]{1,20}",
        3 => "\\PC{0,40}",
        1 => Just(String::new()),
        1 => "[a-z]{250,300}",
    ]
}

fn tag_string() -> impl Strategy<Value = String> {
    any_string().prop_filter("tags are non-empty", |s| !s.is_empty())
}

fn server() -> impl Strategy<Value = Server> {
    prop_oneof![
        Just(Server::WhatsApp),
        Just(Server::Group),
        Just(Server::Legacy),
        Just(Server::Broadcast),
        Just(Server::Lid),
        Just(Server::Messenger),
        Just(Server::Interop),
        Just(Server::Newsletter),
        Just(Server::Hosted),
        Just(Server::HostedLid),
        Just(Server::Bot),
        Just(Server::Call),
        "[a-z][a-z0-9._-]{0,12}".prop_map(|s| s.parse::<Server>().expect("valid server name")),
    ]
}

fn user() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,20}",
        "[A-Za-z0-9_-]{0,12}",
        token_string().prop_filter("user charset", |s| super::jid::valid_user(s)),
    ]
}

pub(crate) fn jid() -> impl Strategy<Value = Jid> {
    (
        server(),
        user(),
        any::<u16>(),
        any::<u16>(),
        any::<u8>(),
        0u8..4,
    )
        .prop_map(|(server, user, device, integrator, agent, shape)| {
            let device_small = device % 256;
            match server {
                Server::Messenger => Jid::messenger(user, device),
                Server::Interop => Jid::interop(user, device, integrator),
                Server::WhatsApp if shape == 0 && !matches!(agent, 1 | 128 | 129) => {
                    Jid::with_agent(user, agent, device_small as u8).expect("agent allowed")
                }
                Server::WhatsApp | Server::Lid | Server::Hosted | Server::HostedLid
                    if shape != 3 =>
                {
                    Jid::device(user, device_small, server)
                }
                _ => Jid::user(user, server),
            }
        })
}

fn attr_value() -> impl Strategy<Value = AttrValue> {
    prop_oneof![
        3 => any_string().prop_map(AttrValue::Str),
        1 => jid().prop_map(AttrValue::Jid),
    ]
}

fn leaf_content() -> impl Strategy<Value = Option<Content>> {
    prop_oneof![
        3 => Just(None),
        2 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| Some(Content::Bytes(b))),
        2 => any_string().prop_map(|s| Some(Content::Str(s))),
        1 => jid().prop_map(|j| Some(Content::Jid(j))),
        1 => Just(Some(Content::Nodes(Vec::new()))),
    ]
}

fn node_with(content: impl Strategy<Value = Option<Content>>) -> impl Strategy<Value = Node> {
    (
        tag_string(),
        proptest::collection::vec((any_string(), attr_value()), 0..5),
        content,
    )
        .prop_map(|(tag, attrs, content)| Node {
            tag,
            attrs: Attrs::from(attrs),
            content,
        })
}

fn node() -> impl Strategy<Value = Node> {
    node_with(leaf_content()).prop_recursive(4, 48, 5, |inner| {
        node_with(proptest::collection::vec(inner, 0..5).prop_map(|c| Some(Content::Nodes(c))))
    })
}

/// Equality modulo the documented normalisation: string content that goes raw on the wire
/// decodes as bytes.
fn equivalent(sent: &Node, got: &Node) -> bool {
    sent.tag == got.tag
        && sent.attrs == got.attrs
        && match (&sent.content, &got.content) {
            (Some(Content::Str(s)), Some(Content::Bytes(b))) => s.as_bytes() == b.as_slice(),
            (Some(Content::Nodes(a)), Some(Content::Nodes(b))) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equivalent(x, y))
            }
            (a, b) => a == b,
        }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn node_round_trip(n in node()) {
        let bytes = encode(&n).expect("generated nodes are encodable");
        let decoded = decode(&bytes, &Limits::default()).expect("own encoding decodes");
        prop_assert!(equivalent(&n, &decoded), "sent {n}\n got {decoded}");
        prop_assert_eq!(encode(&decoded).expect("re-encode"), bytes.clone());
        let framed = marshal(&n).expect("marshal");
        prop_assert_eq!(&framed[1..], &bytes[..]);
        prop_assert_eq!(unmarshal(&framed, &Limits::default()).expect("unmarshal"), decoded);
    }

    #[test]
    fn jid_text_round_trip(j in jid()) {
        let text = j.to_string();
        prop_assert_eq!(text.parse::<Jid>(), Ok(j.clone()), "text {}", text);
    }

    #[test]
    fn jid_codec_round_trip(j in jid()) {
        let n = Node::new("x").with_attr("jid", j.clone()).with_content(j.clone());
        let decoded = decode(&encode(&n).expect("encodable"), &Limits::default())
            .expect("decodes");
        prop_assert_eq!(decoded, n);
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode(&bytes, &Limits::default());
        let _ = unmarshal(&bytes, &Limits::default());
    }

    #[test]
    fn decode_mutated_never_panics(
        n in node(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&n).expect("encodable");
        for (i, v) in flips {
            let i = i.index(bytes.len());
            bytes[i] = v;
        }
        let _ = decode(&bytes, &Limits::default());
        let len = cut.index(bytes.len() + 1);
        let _ = decode(&bytes[..len], &Limits::default());
    }
}

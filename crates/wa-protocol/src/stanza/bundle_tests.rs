//! Prekey bundle request and answer: the sketches of `messaging.md` §5, the wire, the
//! conversion to [`PreKeyBundle`], malformed input.

use rand::SeedableRng;

use super::*;
use crate::binary::{marshal, unmarshal, Content, Limits};
use crate::signal::{LocalIdentity, PreKey, SignedPreKey};

fn jid(s: &str) -> Jid {
    s.parse().expect("jid")
}

fn wire(node: &Node) -> Node {
    unmarshal(&marshal(node).expect("encodes"), &Limits::default()).expect("decodes")
}

#[test]
fn the_sketched_request_parses_and_ours_matches_it() {
    let sketch = Node::new("iq")
        .with_attr("id", "7")
        .with_attr("xmlns", "encrypt")
        .with_attr("type", "get")
        .with_attr("to", "s.whatsapp.net")
        .with_children(vec![Node::new("key").with_children(vec![
            Node::new("user")
                .with_attr("jid", "12345:7@s.whatsapp.net")
                .with_attr("reason", "identity"),
            Node::new("user").with_attr("jid", "98765@lid"),
        ])]);
    let req = PreKeyBundleRequest::from_node(&sketch).expect("parses");
    assert_eq!(
        req.users,
        [
            BundleTarget {
                jid: jid("12345:7@s.whatsapp.net"),
                reason: Some("identity".to_owned())
            },
            BundleTarget {
                jid: jid("98765@lid"),
                reason: None
            },
        ]
    );
    let ours = wire(&req.request().to_node("7"));
    assert_eq!(PreKeyBundleRequest::from_node(&ours), Ok(req));
}

#[test]
fn malformed_requests_are_refused() {
    let iq = |users: Vec<Node>| {
        Node::new("iq")
            .with_attr("id", "7")
            .with_attr("xmlns", "encrypt")
            .with_attr("type", "get")
            .with_children(vec![Node::new("key").with_children(users)])
    };
    let user = |j: &str| Node::new("user").with_attr("jid", j);
    let cases = [
        iq(vec![]),
        iq(vec![Node::new("user")]),
        iq(vec![user("not a jid@@")]),
        iq(vec![user("123@g.us")]),
        iq(vec![user("s.whatsapp.net")]),
        iq(vec![Node::new("device").with_attr("jid", "1@lid")]),
        iq(vec![user("1@lid").with_attr("reason", "")]),
        iq(vec![user("1@lid"); MAX_BUNDLE_DEVICES + 1]),
        iq(vec![user("1@lid")]).with_attr("type", "set"),
        Node::new("iq")
            .with_attr("id", "7")
            .with_attr("xmlns", "encrypt")
            .with_attr("type", "get"),
    ];
    for (i, case) in cases.iter().enumerate() {
        assert!(
            PreKeyBundleRequest::from_node(case).is_err(),
            "case {i} accepted: {case}"
        );
    }
}

fn keys(seed: u64) -> (LocalIdentity, SignedPreKey, PreKey) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let identity = LocalIdentity::generate(&mut rng);
    let spk = SignedPreKey::generate(&identity.key_pair, 0x0a_0b0c, 0, &mut rng);
    (identity, spk, PreKey::generate(0x01_0203, &mut rng))
}

/// The answer of §5 as the sketch writes it, keys directly under `<user>`.
fn sketch_answer(identity: &LocalIdentity, spk: &SignedPreKey, opk: &PreKey) -> Node {
    Node::new("iq")
        .with_attr("from", "s.whatsapp.net")
        .with_attr("id", "7")
        .with_attr("type", "result")
        .with_children(vec![Node::new("list").with_children(vec![
            Node::new("user")
                .with_attr("jid", "12345:7@s.whatsapp.net")
                .with_children(vec![
                    Node::new("registration")
                        .with_bytes(identity.registration_id.to_be_bytes().to_vec()),
                    Node::new("type").with_bytes(vec![5]),
                    Node::new("identity").with_bytes(identity.key_pair.public.as_bytes().to_vec()),
                    Node::new("skey").with_children(vec![
                        Node::new("id").with_bytes(vec![0x0a, 0x0b, 0x0c]),
                        Node::new("value").with_bytes(spk.key_pair.public.as_bytes().to_vec()),
                        Node::new("signature").with_bytes(spk.signature.to_vec()),
                    ]),
                    Node::new("key").with_children(vec![
                        Node::new("id").with_bytes(vec![1, 2, 3]),
                        Node::new("value").with_bytes(opk.key_pair.public.as_bytes().to_vec()),
                    ]),
                    Node::new("device-identity").with_bytes(vec![9, 9]),
                ]),
            Node::new("user")
                .with_attr("jid", "98765@lid")
                .with_children(vec![Node::new("error")
                    .with_attr("code", "406")
                    .with_attr("text", "not-acceptable")]),
        ])])
}

#[test]
fn the_sketched_answer_parses_into_a_verifying_bundle() {
    let (identity, spk, opk) = keys(1);
    let r = PreKeyBundleResult::from_node(&sketch_answer(&identity, &spk, &opk)).expect("parses");
    let BundleOutcome::Bundle(first) = &r.users[0].outcome else {
        panic!("a bundle: {r:?}");
    };
    assert_eq!(r.users[0].jid, jid("12345:7@s.whatsapp.net"));
    assert_eq!(
        first.bundle,
        PreKeyBundle::from_local(&identity, &spk, Some(&opk))
    );
    assert_eq!(first.device_identity.as_deref(), Some(&[9u8, 9][..]));
    assert!(first.bundle.verify_signature());
    assert_eq!(
        r.users[1].outcome,
        BundleOutcome::Error {
            code: NO_BUNDLE_CODE,
            text: "not-acceptable".to_owned()
        }
    );
    let back = PreKeyBundleResult::from_node(&wire(&r.to_node("7"))).expect("parses");
    assert_eq!(back, r);
    let bundle: PreKeyBundle = (*back
        .users
        .into_iter()
        .next()
        .map(|u| match u.outcome {
            BundleOutcome::Bundle(b) => b,
            BundleOutcome::Error { .. } => panic!("a bundle"),
        })
        .expect("first"))
    .into();
    assert_eq!(DeviceBundle::from(bundle.clone()).bundle, bundle);
}

#[test]
fn keys_under_a_keys_child_and_without_a_one_time_prekey_parse() {
    let (identity, spk, _) = keys(2);
    let bundle = PreKeyBundle::from_local(&identity, &spk, None);
    let answer = PreKeyBundleResult {
        users: vec![BundleAnswer {
            jid: jid("1@lid"),
            outcome: BundleOutcome::Bundle(Box::new(bundle.clone().into())),
        }],
    }
    .to_node("1");
    let user = &answer.children()[0].children()[0];
    assert!(user.child("key").is_none(), "no <key> when exhausted");
    let nested = Node::new("iq")
        .with_attr("type", "result")
        .with_children(vec![Node::new("list").with_children(vec![Node::new(
            "user",
        )
        .with_attr("jid", "1@lid")
        .with_children(vec![
            Node::new("keys").with_children(user.children().to_vec())
        ])])]);
    let r = PreKeyBundleResult::from_node(&nested).expect("parses");
    assert_eq!(
        r.users[0].outcome,
        BundleOutcome::Bundle(Box::new(bundle.into()))
    );
}

#[test]
fn malformed_answers_are_refused() {
    let (identity, spk, opk) = keys(3);
    let ok = sketch_answer(&identity, &spk, &opk);
    let edit = |f: &dyn Fn(&mut Vec<Node>)| {
        let mut n = ok.clone();
        let list = &mut n.content;
        let Some(Content::Nodes(lists)) = list else {
            panic!()
        };
        let Some(Content::Nodes(users)) = &mut lists[0].content else {
            panic!()
        };
        let Some(Content::Nodes(children)) = &mut users[0].content else {
            panic!()
        };
        f(children);
        n
    };
    let set = |i: usize, bytes: Vec<u8>| {
        move |c: &mut Vec<Node>| c[i].content = Some(Content::Bytes(bytes.clone()))
    };
    let cases = [
        edit(&set(0, vec![0, 0, 1])),
        edit(&set(1, vec![6])),
        edit(&set(2, vec![1; 33])),
        edit(&|c| c.remove(3).tag.clear()),
        edit(&|c| {
            let Some(Content::Nodes(s)) = &mut c[3].content else {
                panic!()
            };
            s[2].content = Some(Content::Bytes(vec![0; 63]));
        }),
        edit(&|c| {
            let Some(Content::Nodes(k)) = &mut c[4].content else {
                panic!()
            };
            k[0].content = Some(Content::Bytes(vec![1, 2]));
        }),
        edit(&|c| c[0].tag = "reg".to_owned()),
        ok.clone().with_attr("type", "error"),
        Node::new("iq").with_attr("type", "result"),
    ];
    for (i, case) in cases.iter().enumerate() {
        assert!(
            PreKeyBundleResult::from_node(case).is_err(),
            "case {i} accepted: {case}"
        );
    }
    let mut code = ok.clone();
    let Some(Content::Nodes(lists)) = &mut code.content else {
        panic!()
    };
    let Some(Content::Nodes(users)) = &mut lists[0].content else {
        panic!()
    };
    users[1] = Node::new("user")
        .with_attr("jid", "1@lid")
        .with_children(vec![Node::new("error").with_attr("code", "x")]);
    assert!(PreKeyBundleResult::from_node(&code).is_err());
}

//! The group description (`<description>`; `stanza::group_topic`): the set IQ, the element in a
//! group's metadata and in a `w:gp2` notification, written node by node in the shapes whatsmeow
//! `group.go` sends (`SetGroupTopic`) and reads (`parseGroupNode`, `parseGroupChange`), round
//! trips through the wire codec, and malformed input.

use super::message::{jid, wire};
use crate::binary::Node;
use crate::stanza::*;

const GID: &str = "120363025246125888@g.us";
const ANA: &str = "15550001111@s.whatsapp.net";

/// `SetGroupTopic`: `<description id prev><body>text</body></description>` to the group.
#[test]
fn set_description_as_whatsmeow_sends_it() {
    let set = SetDescription {
        group: jid(GID),
        id: "3EB0AA".to_owned(),
        prev: Some("3EB0BB".to_owned()),
        text: "Trail maps".to_owned(),
    };
    let node = wire(&set.request().to_node("g.7"));
    let expected = Node::new("iq")
        .with_attr("id", "g.7")
        .with_attr("xmlns", "w:g2")
        .with_attr("type", "set")
        .with_attr("to", jid(GID))
        .with_children(vec![Node::new("description")
            .with_attr("id", "3EB0AA")
            .with_attr("prev", "3EB0BB")
            .with_children(vec![
                Node::new("body").with_bytes(b"Trail maps".to_vec())
            ])]);
    assert_eq!(node, wire(&expected));
    assert_eq!(SetDescription::from_node(&node), Ok(set.clone()));
    assert_eq!(
        GroupRequest::from_node(&node),
        Ok(GroupRequest::Description(set))
    );
}

/// An empty text deletes: `delete="true"` and no body; no `prev` when the group had none.
#[test]
fn empty_text_deletes_the_description() {
    let set = SetDescription {
        group: jid(GID),
        id: "3EB0CC".to_owned(),
        prev: None,
        text: String::new(),
    };
    let node = wire(&set.request().to_node("g.8"));
    let d = &node.children()[0];
    assert_eq!(d.attr_str("delete"), Some("true"));
    assert!(d.attr("prev").is_none() && d.children().is_empty());
    assert_eq!(SetDescription::from_node(&node), Ok(set));
}

#[test]
fn malformed_sets_are_refused() {
    let iq = |to: &str, d: Node| {
        wire(
            &Node::new("iq")
                .with_attr("id", "g.9")
                .with_attr("xmlns", "w:g2")
                .with_attr("type", "set")
                .with_attr("to", to)
                .with_children(vec![d]),
        )
    };
    let body = || Node::new("body").with_bytes(b"x".to_vec());
    let cases = [
        // Not to a group.
        iq(
            ANA,
            Node::new("description")
                .with_attr("id", "A")
                .with_children(vec![body()]),
        ),
        // No id.
        iq(GID, Node::new("description").with_children(vec![body()])),
        // Neither body nor delete; an empty body.
        iq(GID, Node::new("description").with_attr("id", "A")),
        iq(
            GID,
            Node::new("description")
                .with_attr("id", "A")
                .with_children(vec![Node::new("body").with_bytes(Vec::new())]),
        ),
        // Not UTF-8; over the bound.
        iq(
            GID,
            Node::new("description")
                .with_attr("id", "A")
                .with_children(vec![Node::new("body").with_bytes(vec![0xff, 0xfe])]),
        ),
        iq(
            GID,
            Node::new("description")
                .with_attr("id", "A")
                .with_children(vec![
                    Node::new("body").with_bytes(vec![b'a'; MAX_TOPIC_LEN + 1])
                ]),
        ),
    ];
    for node in cases {
        assert!(SetDescription::from_node(&node).is_err(), "{node:?}");
    }
}

/// `parseGroupNode`: the metadata's `<description id participant t><body/>`.
#[test]
fn metadata_carries_the_description() {
    let node = Node::new("group")
        .with_attr("id", "120363025246125888")
        .with_attr("subject", "Hiking")
        .with_attr("creation", "1700000000")
        .with_children(vec![
            Node::new("participant").with_attr("jid", ANA),
            Node::new("description")
                .with_attr("id", "3EB0AA")
                .with_attr("participant", ANA)
                .with_attr("t", "1700000200")
                .with_children(vec![Node::new("body").with_bytes(b"Trail maps".to_vec())]),
        ]);
    let info = GroupInfo::from_node(&wire(&node)).expect("parses");
    let want = GroupTopic {
        text: "Trail maps".to_owned(),
        id: "3EB0AA".to_owned(),
        set_by: Some(jid(ANA)),
        set_at: Some(1_700_000_200),
    };
    assert_eq!(info.topic, Some(want));
    assert_eq!(info.participants.len(), 1);
    assert_eq!(GroupInfo::from_node(&wire(&info.to_node())), Ok(info));
}

/// `parseGroupChange`: a new description (body) and a deleted one (`<delete/>`).
#[test]
fn notification_reports_a_new_or_deleted_description() {
    let node = |d: Node| {
        wire(
            &Node::new("notification")
                .with_attr("from", GID)
                .with_attr("type", "w:gp2")
                .with_attr("id", "79")
                .with_attr("t", "1700000300")
                .with_attr("participant", ANA)
                .with_children(vec![d]),
        )
    };
    let set = node(
        Node::new("description")
            .with_attr("id", "3EB0DD")
            .with_children(vec![Node::new("body").with_bytes(b"New maps".to_vec())]),
    );
    let deleted = node(
        Node::new("description")
            .with_attr("id", "3EB0EE")
            .with_children(vec![Node::new("delete")]),
    );
    for (n, text) in [(set, Some("New maps")), (deleted, None)] {
        let parsed = Notification::from_node(&n).expect("parses");
        let NotificationBody::Group(g) = &parsed.body else {
            panic!("not a group notification: {parsed:?}");
        };
        assert_eq!(g.author, Some(jid(ANA)));
        let [GroupChange::Description(d)] = g.changes.as_slice() else {
            panic!("one description change: {g:?}");
        };
        assert_eq!(d.text.as_deref(), text);
        assert_eq!(
            Notification::from_node(&wire(&parsed.to_node())),
            Ok(parsed.clone())
        );
    }
}

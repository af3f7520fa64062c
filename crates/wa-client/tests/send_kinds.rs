//! Every kind `Gateway::send` sends (issue 10 item 2) reaches a sim phone over real sockets
//! and decrypts there as that kind (`GET /admin/phones/{phone}/messages`), each through the
//! one encoder: text with a quoted reply and mentions, reaction, edit, location, contact,
//! revoke. The stanza carries the kind's `type`, `edit` and `mediatype` (`messaging.md` §7);
//! the caller's id is used when given, else WhatsApp's `3EB0` format (§3); the status moves
//! Sent → Delivered → Read. Presence and chat state go out as typed stanzas the server takes
//! without closing the connection.

mod support;

use support::{inbox_entry, linked, next_status, send_to_phone, user};
use wa_protocol::message::{
    Contact, Content, Edit, Location, MessageKey, Reaction, Reply, Revoke, Text,
};
use wa_protocol::stanza::{ChatStateKind, MessageStanza};
use wa_protocol::MessageId;
use wa_sim::SimEvent;
use wa_store::MessageStatus;
use wa_testkit::{wait_for, DEADLINE};

const A: &str = "15550107001";
const B: &str = "15550107002";

fn key(id: &MessageId) -> MessageKey {
    MessageKey {
        remote_jid: user(B),
        from_me: true,
        id: id.clone(),
        participant: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_reaches_the_phone_as_that_kind() {
    let mut linked = linked(&[A, B], 71).await;

    // A text under the caller's id; Sent, Delivered, then Read.
    let own_id: MessageId = "WAGATE-KINDS-0001".parse().expect("id");
    let (first, node) = send_to_phone(
        &linked,
        user(B),
        B,
        Content::text("hello"),
        Some(own_id.clone()),
    )
    .await;
    assert_eq!(first.id, own_id, "the caller's id");
    assert_eq!(node.attr_str("type"), Some("text"));
    assert_eq!(
        inbox_entry(&linked, B, &own_id),
        ("text".into(), "hello".into())
    );
    assert!(matches!(
        next_status(&mut linked, &own_id).await,
        MessageStatus::Sent { server_t: Some(_) }
    ));
    assert!(matches!(
        next_status(&mut linked, &own_id).await,
        MessageStatus::Delivered { .. }
    ));
    linked
        .sim
        .phone_read(B, A, &[own_id.as_str().to_owned()])
        .expect("the phone reads it");
    assert!(matches!(
        next_status(&mut linked, &own_id).await,
        MessageStatus::Read { .. }
    ));

    // A reply with a mention; the default id is WhatsApp's format.
    let reply = Content::Text(Text {
        text: "replying".into(),
        reply: Some(Reply {
            id: own_id.clone(),
            sender: Some(user(A)),
            quoted: None,
        }),
        mentions: vec![user(B)],
        forwarded: None,
    });
    let (sent, _) = send_to_phone(&linked, user(B), B, reply, None).await;
    let id = sent.id.as_str();
    assert!(id.starts_with("3EB0") && id.len() == 22, "{id}");
    assert!(id[4..]
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()));
    assert_eq!(
        inbox_entry(&linked, B, &sent.id),
        ("text".into(), "replying".into())
    );

    let reaction = Content::Reaction(Reaction {
        target: key(&own_id),
        emoji: "👍".into(),
        sent_at: None,
    });
    let (sent, node) = send_to_phone(&linked, user(B), B, reaction, None).await;
    assert_eq!(node.attr_str("type"), Some("reaction"));
    assert_hidden(&node);
    assert_eq!(
        inbox_entry(&linked, B, &sent.id),
        ("reaction".into(), "👍".into())
    );

    let edit = Content::Edit(Edit {
        target: key(&own_id),
        content: Box::new(Content::text("hello, edited")),
        edited_at: None,
    });
    let (sent, node) = send_to_phone(&linked, user(B), B, edit, None).await;
    assert_eq!(node.attr_str("edit"), Some("1"));
    assert_hidden(&node);
    assert_eq!(
        inbox_entry(&linked, B, &sent.id),
        ("edit".into(), "hello, edited".into())
    );

    let location = Content::Location(Location {
        latitude: 52.37,
        longitude: 4.89,
        name: Some("Dam".into()),
        address: None,
    });
    let (sent, node) = send_to_phone(&linked, user(B), B, location, None).await;
    assert_eq!(node.attr_str("type"), Some("text"));
    assert_eq!(inbox_entry(&linked, B, &sent.id).0, "location");

    let contact = Content::Contact(Contact {
        display_name: "Test Contact".into(),
        vcard: "BEGIN:VCARD\nVERSION:3.0\nFN:Test Contact\nTEL:+15550107999\nEND:VCARD".into(),
    });
    let (sent, node) = send_to_phone(&linked, user(B), B, contact, None).await;
    assert_eq!(node.attr_str("type"), Some("media"));
    let stanza = MessageStanza::from_node(&node).expect("parses");
    assert!(stanza
        .participants
        .iter()
        .all(|p| p.enc.mediatype.as_deref() == Some("vcard")));
    assert_eq!(inbox_entry(&linked, B, &sent.id).0, "contact");

    let revoke = Content::Revoke(Revoke {
        target: key(&own_id),
    });
    let (sent, node) = send_to_phone(&linked, user(B), B, revoke, None).await;
    assert_eq!(node.attr_str("edit"), Some("7"));
    assert_hidden(&node);
    assert_eq!(inbox_entry(&linked, B, &sent.id).0, "revoke");
}

/// Edits, revokes and reactions set `decrypt-fail="hide"` on every `<enc>` (§7).
fn assert_hidden(node: &wa_protocol::binary::Node) {
    let stanza = MessageStanza::from_node(node).expect("parses");
    assert!(!stanza.participants.is_empty());
    assert!(stanza.participants.iter().all(|p| p.enc.decrypt_fail_hide));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_and_chat_state_are_sent_as_typed_stanzas() {
    let linked = linked(&[A, B], 72).await;
    let mut events = linked.sim.subscribe();
    let gw = &linked.gateway;
    gw.set_presence(&linked.id, true).await.expect("available");
    gw.send_chat_state(&linked.id, user(B), ChatStateKind::Composing)
        .await
        .expect("composing");
    gw.send_chat_state(&linked.id, user(B), ChatStateKind::Paused)
        .await
        .expect("paused");
    gw.set_presence(&linked.id, false)
        .await
        .expect("unavailable");
    let mut seen = Vec::new();
    wait_for(&mut events, DEADLINE, "four stanzas", |e| {
        if let SimEvent::Stanza { node, .. } = e {
            if node.tag == "presence" || node.tag == "chatstate" {
                let what = match node.children().first() {
                    Some(child) => child.tag.clone(),
                    None => node.attr_str("type").unwrap_or_default().to_owned(),
                };
                seen.push((node.tag.clone(), what));
            }
        }
        (seen.len() == 4).then_some(())
    })
    .await
    .expect("the sim receives them");
    let expected = [
        ("presence", "available"),
        ("chatstate", "composing"),
        ("chatstate", "paused"),
        ("presence", "unavailable"),
    ];
    let seen: Vec<(&str, &str)> = seen.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(seen, expected);
    // A chat state to a device JID is refused before anything is sent.
    let device = wa_protocol::binary::Jid::device(B, 3, wa_protocol::binary::Server::WhatsApp);
    assert!(gw
        .send_chat_state(&linked.id, device, ChatStateKind::Composing)
        .await
        .is_err());
    // The connection is still up: a text goes through.
    send_to_phone(&linked, user(B), B, Content::text("still here"), None).await;
}

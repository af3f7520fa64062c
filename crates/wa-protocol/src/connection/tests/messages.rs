//! `messages.rs`: sends tracked until the server's ack (`messaging.md` §8), rejections with the
//! server's code (§16), deadlines, incoming messages and receipts typed, acked or nacked (§10).

use super::super::*;
use super::harness::{logged_in, Harness, T0};
use crate::binary::{Jid, Node, Server};
use crate::ids::MessageId;
use crate::stanza::{
    nack, AckClass, Enc, EncType, MessageStanza, MessageType, Receipt, ReceiptType, ServerAck,
    StanzaAck,
};

fn id(s: &str) -> MessageId {
    s.parse().expect("message id")
}

fn peer() -> Jid {
    Jid::user("15550002222", Server::WhatsApp)
}

fn outgoing(msg_id: &str) -> MessageStanza {
    let mut m = MessageStanza::new(id(msg_id), MessageType::Text);
    m.to = Some(peer());
    m.encs.push(Enc::new(EncType::Msg, vec![1, 2, 3]));
    m
}

fn send(h: &mut Harness, msg_id: &str) {
    let now = h.now;
    h.conn
        .handle_command(Command::SendMessage(Box::new(outgoing(msg_id))), now);
    h.pump();
}

fn sent_messages(h: &mut Harness) -> Vec<Node> {
    let (hit, rest): (Vec<Node>, Vec<Node>) = core::mem::take(&mut h.server.received)
        .into_iter()
        .partition(|n| n.tag == "message");
    h.server.received = rest;
    hit
}

fn acks(h: &mut Harness) -> Vec<StanzaAck> {
    let (hit, rest): (Vec<Node>, Vec<Node>) = core::mem::take(&mut h.server.received)
        .into_iter()
        .partition(|n| n.tag == "ack");
    h.server.received = rest;
    hit.iter()
        .map(|n| StanzaAck::from_node(n).expect("client ack parses"))
        .collect()
}

#[test]
fn pipelined_sends_resolve_by_id_in_any_order() {
    let mut h = logged_in(100, |_| {});
    h.take_events();
    for m in ["3EB0AA", "3EB0BB", "3EB0CC"] {
        send(&mut h, m);
    }
    let wire = sent_messages(&mut h);
    assert_eq!(wire.len(), 3, "all three leave before any ack");
    assert_eq!(h.conn.messages_in_flight(), 3);
    // Acks in another order; the second is refused for lack of a privacy token (§16).
    h.server_sends(ServerAck::message(id("3EB0CC"), Some(peer()), 1_800_000_005).to_node());
    let refused = ServerAck::refused(id("3EB0AA"), Some(peer()), 1_800_000_006, 463);
    h.server_sends(refused.to_node());
    h.server_sends(ServerAck::message(id("3EB0BB"), Some(peer()), 1_800_000_007).to_node());
    let got: Vec<String> = h
        .take_events()
        .into_iter()
        .map(|e| match e {
            Event::MessageAcked { id, t } => format!("acked {} {t:?}", id.as_str()),
            Event::MessageRejected { id, code } => format!("rejected {} {code}", id.as_str()),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            "acked 3EB0CC Some(1800000005)",
            "rejected 3EB0AA 463",
            "acked 3EB0BB Some(1800000007)"
        ]
    );
    assert_eq!(h.conn.messages_in_flight(), 0);
    // A second ack for the same id matches nothing: handed on, not a second outcome.
    h.server_sends(ServerAck::message(id("3EB0BB"), Some(peer()), 1).to_node());
    assert!(matches!(h.take_events().as_slice(), [Event::Stanza(_)]));
}

#[test]
fn error_zero_is_an_ack_and_a_duplicate_id_is_refused() {
    let mut h = logged_in(100, |_| {});
    h.take_events();
    send(&mut h, "3EB0DD");
    send(&mut h, "3EB0DD");
    assert_eq!(
        sent_messages(&mut h).len(),
        1,
        "the same id twice never leaves twice"
    );
    assert!(matches!(
        h.take_events().as_slice(),
        [Event::SendFailed { .. }]
    ));
    let mut ack = ServerAck::message(id("3EB0DD"), Some(peer()), 9);
    ack.error = Some(0);
    h.server_sends(ack.to_node());
    assert!(matches!(
        h.take_events().as_slice(),
        [Event::MessageAcked { t: Some(9), .. }]
    ));
}

#[test]
fn unacked_sends_are_unconfirmed_at_the_deadline_and_on_close() {
    let mut h = logged_in(100, |c| c.message_timeout_ms = 5_000);
    h.take_events();
    send(&mut h, "3EB0E1");
    h.advance_to(T0.after(2_000));
    send(&mut h, "3EB0E2");
    assert!(h.conn.poll_timeout().is_some_and(|t| t <= T0.after(5_000)));
    h.advance_to(T0.after(5_000));
    let events = h.take_events();
    assert!(
        matches!(events.as_slice(), [Event::MessageUnconfirmed { id }] if id.as_str() == "3EB0E1"),
        "{events:?}"
    );
    h.conn.handle_command(Command::Close, h.now);
    h.pump();
    let events = h.take_events();
    assert!(
        matches!(events.as_slice(), [Event::MessageUnconfirmed { id }, Event::Disconnected { .. }]
            if id.as_str() == "3EB0E2"),
        "{events:?}"
    );
}

fn incoming() -> Node {
    let mut m = MessageStanza::new(id("3EB0F00D"), MessageType::Text);
    m.from = Some(Jid::device("15550002222", 3, Server::WhatsApp));
    m.t = Some(1_800_000_010);
    m.notify = Some("Alice".into());
    m.encs.push(Enc::new(EncType::PkMsg, vec![9; 40]));
    m.to_node()
}

#[test]
fn incoming_message_is_typed_and_left_for_the_application_to_ack() {
    let mut h = logged_in(100, |_| {});
    h.take_events();
    h.server_sends(incoming());
    let events = h.take_events();
    let [Event::Message(m)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(m.id.as_str(), "3EB0F00D");
    assert_eq!(m.notify.as_deref(), Some("Alice"));
    assert_eq!(m.encs[0].kind, EncType::PkMsg);
    assert!(
        acks(&mut h).is_empty(),
        "acked only after the application's commit"
    );
}

#[test]
fn malformed_messages_are_nacked_and_the_connection_stays() {
    let mut h = logged_in(100, |_| {});
    h.take_events();
    // No <enc> at all: 488 (§10).
    let no_enc = Node::new("message")
        .with_attr("id", "3EB0BAD1")
        .with_attr("from", Jid::device("15550002222", 3, Server::WhatsApp))
        .with_attr("type", "text");
    h.server_sends(no_enc.clone());
    // An unknown enc type: 487.
    let bad_enc = no_enc
        .clone()
        .with_attr("id", "3EB0BAD2")
        .with_children(vec![Node::new("enc")
            .with_attr("v", "2")
            .with_attr("type", "weird")
            .with_bytes(vec![1])]);
    h.server_sends(bad_enc);
    // No id: nothing to ack, only reported.
    h.server_sends(Node::new("message").with_attr("from", peer()));
    let acks = acks(&mut h);
    let codes: Vec<(String, Option<u16>)> = acks
        .iter()
        .map(|a| (a.id.as_str().to_owned(), a.error))
        .collect();
    assert_eq!(
        codes,
        [
            ("3EB0BAD1".to_owned(), Some(nack::UNRECOGNIZED_STANZA)),
            ("3EB0BAD2".to_owned(), Some(nack::PARSING_ERROR)),
        ]
    );
    assert!(acks.iter().all(|a| a.class == AckClass::Message
        && a.to == Jid::device("15550002222", 3, Server::WhatsApp)
        && a.from.is_some()));
    let events = h.take_events();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.iter().all(|e| matches!(e, Event::BadStanza { .. })));
    assert_eq!(
        h.conn.phase(),
        Phase::LoggedIn,
        "never a dropped connection"
    );
}

#[test]
fn receipts_are_acked_echoing_recipient_and_participant() {
    let mut h = logged_in(100, |_| {});
    h.take_events();
    let mut r = Receipt::new(id("3EB0AA"), ReceiptType::Read);
    r.from = Some(Jid::device("15550002222", 3, Server::WhatsApp));
    r.recipient = Some(peer());
    r.participant = Some(Jid::device("15550003333", 0, Server::WhatsApp));
    r.t = Some(1_800_000_020);
    r.more_ids = vec![id("3EB0BB")];
    let node = r.to_node();
    h.server_sends(node.clone());
    let acks = acks(&mut h);
    assert_eq!(acks.len(), 1);
    assert!(acks[0].echoes(&node), "§16 echo: {:?}", acks[0]);
    assert_eq!(acks[0].class, AckClass::Receipt);
    assert_eq!(acks[0].kind.as_deref(), Some("read"));
    assert_eq!(acks[0].error, None);
    let events = h.take_events();
    let [Event::Receipt(got)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(got.kind, ReceiptType::Read);
    let ids: Vec<&str> = got.ids().map(MessageId::as_str).collect();
    assert_eq!(ids, ["3EB0AA", "3EB0BB"]);
    // An unknown receipt type is nacked with 490 and the connection stays.
    let bad = node.with_attr("type", "nonsense");
    h.server_sends(bad);
    let acks = self::acks(&mut h);
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].error, Some(nack::UNRECOGNIZED_STANZA_TYPE));
    assert!(matches!(
        h.take_events().as_slice(),
        [Event::BadStanza { .. }]
    ));
    assert_eq!(h.conn.phase(), Phase::LoggedIn);
}

#[test]
fn an_ack_with_refresh_lid_asks_to_requery_the_peer() {
    let mut h = logged_in(100, |_| {});
    h.take_events();
    send(&mut h, "3EB0EE");
    // §8's ack sketch: `refresh_lid="true"` from the peer's user JID (§16: re-query that user).
    let mut ack = ServerAck::message(id("3EB0EE"), Some(peer()), 11);
    ack.refresh_lid = true;
    h.server_sends(ack.to_node());
    let events = h.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::RefreshLid { user }, Event::MessageAcked { .. }] if *user == peer()
        ),
        "{events:?}"
    );
    // Without it, only the ack.
    send(&mut h, "3EB0EF");
    h.server_sends(ServerAck::message(id("3EB0EF"), Some(peer()), 12).to_node());
    assert!(matches!(
        h.take_events().as_slice(),
        [Event::MessageAcked { .. }]
    ));
}

#[test]
fn a_group_ack_with_another_phash_says_our_lists_are_stale() {
    let mut h = logged_in(100, |_| {});
    h.take_events();
    let group = Jid::user("120363000000000001", Server::Group);
    let group_send = |h: &mut Harness, msg_id: &str| {
        let mut m = MessageStanza::new(id(msg_id), MessageType::Text);
        m.to = Some(group.clone());
        m.phash = Some("2:RJWVxcMQ".to_owned());
        m.encs.push(Enc::new(EncType::SkMsg, vec![1, 2, 3]));
        let now = h.now;
        h.conn
            .handle_command(Command::SendMessage(Box::new(m)), now);
        h.pump();
    };
    // §8: the ack carries the server's phash; another than ours means our lists are stale.
    group_send(&mut h, "3EB0F1");
    let mut ack = ServerAck::message(id("3EB0F1"), Some(group.clone()), 13);
    ack.phash = Some("2:5s+YxCff".to_owned());
    h.server_sends(ack.to_node());
    let events = h.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::StalePhash { id: i, chat }, Event::MessageAcked { .. }]
                if *i == id("3EB0F1") && *chat == group
        ),
        "{events:?}"
    );
    // The same phash, or none in the ack: only the ack.
    group_send(&mut h, "3EB0F2");
    let mut ack = ServerAck::message(id("3EB0F2"), Some(group.clone()), 14);
    ack.phash = Some("2:RJWVxcMQ".to_owned());
    h.server_sends(ack.to_node());
    group_send(&mut h, "3EB0F3");
    h.server_sends(ServerAck::message(id("3EB0F3"), Some(group.clone()), 15).to_node());
    let events = h.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::MessageAcked { .. }, Event::MessageAcked { .. }]
        ),
        "{events:?}"
    );
}

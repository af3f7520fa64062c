use super::message::{jid, wire};
use crate::binary::Node;
use crate::stanza::*;

/// §8's server ack, as sketched, including a rejection and `refresh_lid`.
#[test]
fn server_ack_from_the_sketch() {
    let node = Node::new("ack")
        .with_attr("class", "message")
        .with_attr("id", "3EB0A1")
        .with_attr("from", "15550001111@s.whatsapp.net")
        .with_attr("t", "1700000000")
        .with_attr("phash", "2:AbCdEfGh")
        .with_attr("error", "479")
        .with_attr("server_id", "77")
        .with_attr("refresh_lid", "true");
    let ack = ServerAck::from_node(&wire(&node)).expect("parses");
    assert_eq!(ack.class, AckClass::Message);
    assert_eq!(ack.t, Some(1_700_000_000));
    assert_eq!(ack.failure(), Some(nack::STANZA_VALIDATION));
    assert!(ack.refresh_lid);
    assert_eq!(ServerAck::from_node(&wire(&ack.to_node())), Ok(ack));

    let mut ok = ServerAck::message("3EB0A2".parse().expect("id"), None, 1_700_000_001);
    assert_eq!(ok.failure(), None);
    ok.error = Some(0);
    assert_eq!(ok.failure(), None, "error=0 is no refusal");
    let refused = ServerAck::refused(ok.id.clone(), None, 1, nack::PRIVACY_TOKEN_REQUIRED);
    let node = wire(&refused.to_node());
    assert_eq!(node.attr_str("error"), Some("463"));
    assert_eq!(
        ServerAck::from_node(&node).expect("parses").failure(),
        Some(463)
    );

    for bad in [
        node.clone().with_attr("class", "iq"),
        node.clone().with_attr("error", "bad"),
        node.clone().with_attr("refresh_lid", "maybe"),
        Node::new("ack").with_attr("class", "message"),
        Node::new("iq")
            .with_attr("class", "message")
            .with_attr("id", "1"),
    ] {
        assert!(ServerAck::from_node(&bad).is_err(), "{bad}");
    }
}

/// §10 / §16: our ack of an own-device copy echoes `recipient` (and `participant`, `type`).
#[test]
fn stanza_ack_echoes_recipient() {
    let incoming = Node::new("message")
        .with_attr("from", "15550001111:2@s.whatsapp.net")
        .with_attr("recipient", "15550003333@s.whatsapp.net")
        .with_attr("id", "3EB0B1")
        .with_attr("type", "text");
    let ack = StanzaAck::for_stanza(&wire(&incoming))
        .expect("ackable")
        .with_from(jid("15550001111:5@s.whatsapp.net"));
    let node = ack.to_node();
    assert_eq!(node.attr_str("class"), Some("message"));
    assert_eq!(node.attr_str("type"), Some("text"));
    assert_eq!(
        node.attr_jid("to"),
        Some(&jid("15550001111:2@s.whatsapp.net"))
    );
    assert_eq!(
        node.attr_jid("recipient"),
        Some(&jid("15550003333@s.whatsapp.net"))
    );
    let back = StanzaAck::from_node(&wire(&node)).expect("parses");
    assert_eq!(back, ack);
    assert!(back.echoes(&incoming));

    let mut forgot = back.clone();
    forgot.recipient = None;
    assert!(
        !forgot.echoes(&incoming),
        "§16: the server closes the stream on this"
    );

    let nack = back.with_error(nack::UNHANDLED_ERROR);
    assert_eq!(
        StanzaAck::from_node(&nack.to_node()).expect("parses").error,
        Some(500)
    );
}

/// §12's notification ack shape: class, id, to, type.
#[test]
fn notification_and_receipt_acks() {
    let n = Node::new("notification")
        .with_attr("from", "s.whatsapp.net")
        .with_attr("type", "encrypt")
        .with_attr("id", "9911");
    let ack = StanzaAck::for_stanza(&n).expect("ackable");
    assert_eq!(ack.class, AckClass::Notification);
    assert_eq!(ack.kind.as_deref(), Some("encrypt"));
    assert_eq!(ack.to, server_jid());
    let r = Node::new("receipt")
        .with_attr("from", "15550001111:7@s.whatsapp.net")
        .with_attr("participant", "15550001111:7@s.whatsapp.net")
        .with_attr("id", "3EB0")
        .with_attr("type", "read");
    let ack = StanzaAck::for_stanza(&r).expect("ackable");
    assert_eq!(ack.class, AckClass::Receipt);
    assert!(ack.echoes(&r));
    assert!(!ack.echoes(&n));

    assert!(StanzaAck::for_stanza(&Node::new("iq").with_attr("id", "1")).is_err());
    assert!(StanzaAck::for_stanza(&Node::new("message").with_attr("id", "1")).is_err());
    assert!(StanzaAck::from_node(&Node::new("ack").with_attr("class", "message")).is_err());
}

/// §10 / §16: `MessageStanza::ack` answers a received group message by the echo rule (class,
/// id, `from` as `to`, `participant`, `recipient`, `type`), names our device, and carries a
/// nack code when given one; an ack built without `recipient` does not echo it.
#[test]
fn message_ack_echoes_the_message() {
    let mut msg = MessageStanza::new("3EB0C4".parse().expect("id"), MessageType::Text);
    msg.from = Some(jid("120363000000000001@g.us"));
    msg.participant = Some(jid("15550001111:2@s.whatsapp.net"));
    msg.recipient = Some(jid("15550002222@s.whatsapp.net"));
    let incoming = wire(&msg.to_node());
    let own = jid("15550003333:1@s.whatsapp.net");
    let ack = msg.ack(Some(own.clone()), None);
    assert!(ack.echoes(&incoming));
    assert_eq!(ack.from, Some(own));
    assert_eq!(ack.kind.as_deref(), Some("text"));
    let back = StanzaAck::from_node(&wire(&ack.to_node())).expect("parses");
    assert_eq!(back.class, AckClass::Message);
    assert_eq!(back.to, jid("120363000000000001@g.us"));
    assert_eq!(back.error, None);
    let nack = msg.ack(None, Some(nack::INVALID_PROTOBUF));
    let back = StanzaAck::from_node(&wire(&nack.to_node())).expect("parses");
    assert_eq!(back.error, Some(nack::INVALID_PROTOBUF));
    msg.recipient = None;
    assert!(!msg.ack(None, None).echoes(&incoming));
}

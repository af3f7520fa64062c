//! Every messaging parser is total: valid stanzas with each single byte of their wire form
//! corrupted decode (when they still decode) into nodes that parse or are refused — never a
//! panic.

use super::message::jid;
use crate::binary::{marshal, unmarshal, Limits, Node};
use crate::stanza::*;

fn samples() -> Vec<Node> {
    let mut m = MessageStanza::new("3EB0A1".parse().expect("id"), MessageType::Text);
    m.to = Some(jid("98765@lid"));
    m.participants = vec![DeviceEnc {
        jid: jid("98765:7@lid"),
        enc: Enc::new(EncType::PkMsg, vec![1; 8]),
    }];
    m.encs = vec![Enc::new(EncType::SkMsg, vec![2; 8])];
    m.device_identity = Some(vec![3; 4]);
    m.tctoken = Some(vec![4; 4]);
    let mut r = Receipt::new("3EB0A1".parse().expect("id"), ReceiptType::Retry);
    r.from = Some(jid("15550001111:7@s.whatsapp.net"));
    r.more_ids = vec!["3EB0A2".parse().expect("id")];
    r.retry = Some(RetryInfo {
        count: 2,
        id: "3EB0A1".parse().expect("id"),
        t: 5,
        v: 1,
        error: None,
        registration_id: 9,
        keys: None,
    });
    let ack = ServerAck::message("3EB0A1".parse().expect("id"), None, 7);
    let n = Notification {
        id: "n1".parse().expect("id"),
        from: jid("15550001111@s.whatsapp.net"),
        t: Some(1),
        offline: None,
        body: NotificationBody::PrivacyToken(PrivacyTokens {
            sender_lid: None,
            tokens: vec![PrivacyToken {
                jid: jid("98765@lid"),
                t: 1,
                token: vec![5; 6],
            }],
        }),
    };
    vec![m.to_node(), r.to_node(), ack.to_node(), n.to_node()]
}

fn parse_all(node: &Node) {
    // Results are irrelevant; only the absence of panics is checked.
    let _ = MessageStanza::from_node(node);
    let _ = Receipt::from_node(node);
    let _ = ServerAck::from_node(node);
    let _ = StanzaAck::from_node(node);
    let _ = StanzaAck::for_stanza(node).map(|a| a.echoes(node));
    let _ = Notification::from_node(node);
    let _ = TcToken::from_node(node);
    let _ = IssuePrivacyTokens::from_node(node);
}

#[test]
fn corrupted_stanzas_never_panic() {
    for node in samples() {
        parse_all(&node);
        let wire = marshal(&node).expect("encodes");
        for i in 1..wire.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = wire.clone();
                bad[i] ^= flip;
                if let Ok(decoded) = unmarshal(&bad, &Limits::default()) {
                    parse_all(&decoded);
                }
            }
        }
    }
}

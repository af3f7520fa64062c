//! The incoming-message path (issue 10): what the server hands a companion — `<message>`,
//! `<receipt>`, `<ack>`, `<notification>` — from bytes to typed values, and each `<enc>` payload
//! through the plaintext layer (unpad, `waE2E.Message`, the own-device copy, `Content`).

use crate::binary::{unmarshal, Limits};
use crate::message::{decode_padded, unwrap_device_sent, Content, EncVersion};
use crate::stanza::{MessageStanza, Notification, Receipt, ServerAck, StanzaAck};

/// Decodes `data` as one binary node and parses it as the stanza its tag names. A value that
/// parses must survive `to_node` → `from_node` unchanged; every `<enc>` payload (read as a
/// plaintext, as after decryption) goes through unpadding and content parsing. The ack we would
/// send is built for every node. Errors are fine; panics and round-trip mismatches are bugs.
pub fn incoming_stanza(data: &[u8]) {
    let Ok(node) = unmarshal(data, &Limits::default()) else {
        return;
    };
    let _ack = StanzaAck::for_stanza(&node);
    match node.tag.as_str() {
        "message" => {
            if let Ok(message) = MessageStanza::from_node(&node) {
                let again = MessageStanza::from_node(&message.to_node());
                assert_eq!(again.as_ref(), Ok(&message), "message round trip");
                for enc in message
                    .encs
                    .iter()
                    .chain(message.participants.iter().map(|p| &p.enc))
                {
                    plaintext(enc.v, &enc.ciphertext);
                }
            }
        }
        "receipt" => {
            if let Ok(receipt) = Receipt::from_node(&node) {
                let again = Receipt::from_node(&receipt.to_node());
                assert_eq!(again.as_ref(), Ok(&receipt), "receipt round trip");
            }
        }
        "ack" => {
            if let Ok(ack) = ServerAck::from_node(&node) {
                let again = ServerAck::from_node(&ack.to_node());
                assert_eq!(again.as_ref(), Ok(&ack), "ack round trip");
            }
        }
        "notification" => {
            if let Ok(notification) = Notification::from_node(&node) {
                let again = Notification::from_node(&notification.to_node());
                assert_eq!(again.as_ref(), Ok(&notification), "notification round trip");
            }
        }
        _ => {}
    }
}

/// A decrypted payload through the plaintext layer: nothing may panic.
fn plaintext(v: u8, bytes: &[u8]) {
    let Ok(version) = EncVersion::from_attr(&v.to_string()) else {
        return;
    };
    let Ok(message) = decode_padded(bytes, version) else {
        return;
    };
    let message = match unwrap_device_sent(message.clone()) {
        Ok(unwrapped) => unwrapped.message,
        Err(_) => message,
    };
    let _content = Content::from_message(&message);
}

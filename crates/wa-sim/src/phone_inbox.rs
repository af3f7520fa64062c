//! What reaches a simulated phone (device 0): it decrypts each message routed to it with its
//! session for the sender device (a `pkmsg` starts one from its own prekeys, consuming the
//! one-time prekey), unpads it, unwraps a DeviceSentMessage from its own companions and parses
//! the content (`messaging.md` §10), records it, and answers with a delivery receipt (`sender`
//! for its own companions' copies; a copy whose destination is in the other namespace than the
//! stanza is refused, §16). Group messages (`from=<group>`) are opened by
//! [`phone_group`] (their chat is the group). A message it cannot decrypt is answered with a
//! retry receipt, and retry receipts for its texts are answered, by [`phone_retry`]; other
//! receipts routed to it are counted.

use rand::rngs::StdRng;
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::message::{unwrap_device_sent, Content};
use wa_protocol::stanza::{MessageStanza, Receipt, ReceiptType};
use wa_protocol::PhoneNumber;

use crate::event::SimEvent;
use crate::mailbox::DeviceKey;
use crate::phone_group;
use crate::phone_retry;
use crate::phone_state::ReceivedMessage;
use crate::state::Shared;
use crate::world::World;

/// What the phone answers a stanza with.
#[derive(Debug)]
pub(crate) enum PhoneAnswer {
    /// A receipt for a message it received.
    Receipt(Receipt),
    /// A message sent again, for a retry receipt.
    Resend(MessageStanza),
}

/// A stanza routed to `phone`'s device 0; returns what the phone answers with.
pub(crate) fn receive(shared: &Shared, phone: &PhoneNumber, node: &Node) -> Option<PhoneAnswer> {
    if node.tag == "receipt" && node.attr_str("type") == Some("retry") {
        shared.count("phone:retry-receipt");
        let receipt = Receipt::from_node(node).ok()?;
        let mut rng = shared.fork_rng();
        let resend = shared.with_world(|w| phone_retry::resend(w, phone, &receipt, &mut rng));
        return resend.map(PhoneAnswer::Resend);
    }
    if node.tag != "message" {
        shared.count(format!("phone:{}", node.tag));
        return None;
    }
    let Ok(msg) = MessageStanza::from_node(node) else {
        shared.count("phone:malformed");
        return None;
    };
    if let Some(enc) = msg.encs.first() {
        shared.count(format!("phone:enc:{}", enc.kind.as_str()));
    }
    let mut rng = shared.fork_rng();
    let group = msg.from.as_ref().is_some_and(Jid::is_group);
    let decrypted = shared.with_world(|w| {
        if group {
            phone_group::decrypt(w, phone, &msg, &mut rng)
        } else {
            decrypt(w, phone, &msg, &mut rng)
        }
    });
    let Some((sender, content, destination)) = decrypted else {
        shared.count("phone:undecryptable");
        let t = shared.now_secs();
        let retry = shared.with_world(|w| phone_retry::request(w, phone, &msg, t, &mut rng));
        return retry.map(PhoneAnswer::Receipt);
    };
    let own = sender.0 == *phone;
    if own && !one_namespace(&msg, destination.as_ref()) {
        // §16: the DeviceSentMessage destination is in the stanza's one namespace.
        shared.count("phone:dsm-mixed");
        return None;
    }
    shared.count("phone:message");
    let chat = destination.unwrap_or_else(|| Jid::user(sender.0.as_str(), Server::WhatsApp));
    let id = msg.id.as_str().to_owned();
    let received = ReceivedMessage {
        id: msg.id.as_str().to_owned(),
        from: sender.0.as_str().to_owned(),
        chat: chat.to_string(),
        kind: content.kind().to_owned(),
        text: text_of(&content),
        t: msg.t.unwrap_or_else(|| shared.now_secs()),
    };
    let recorded = shared.with_world(|w| {
        w.account_mut(phone)
            .is_ok_and(|account| account.phone_state.record(received))
    });
    if recorded && shared.config.phone_events {
        shared.emit(SimEvent::PhoneReceived {
            phone: phone.clone(),
            id,
        });
    } else if !recorded {
        // Delivered again under a known id: kept once, receipted again (the sender waits for it).
        shared.count("phone:duplicate");
    }
    let kind = ReceiptType::for_delivery(own, msg.peer, true);
    Receipt::for_message(&msg, kind)
        .ok()
        .map(PhoneAnswer::Receipt)
}

/// Decrypts the message's `<enc>` with the phone's session for its sender; the sender device,
/// the content and (for a DeviceSentMessage) its destination chat.
fn decrypt(
    w: &mut World,
    phone: &PhoneNumber,
    msg: &MessageStanza,
    rng: &mut StdRng,
) -> Option<(DeviceKey, Content, Option<Jid>)> {
    let sender = w.device_of(msg.from.as_ref()?)?;
    let enc = msg.encs.first()?;
    let state = &mut w.account_mut(phone).ok()?.phone_state;
    let message = state.open_pairwise(&sender, enc, rng)?;
    let unwrapped = unwrap_device_sent(message).ok()?;
    let content = Content::from_message(&unwrapped.message).ok()?;
    Some((sender, content, unwrapped.destination))
}

/// Whether an own companion's copy names its destination chat in the namespace the stanza
/// came in (`from`, which the router writes in the sender's `to` namespace): mixing PN and LID
/// is what `messaging.md` §16 forbids; the strict phone records no such copy.
fn one_namespace(msg: &MessageStanza, destination: Option<&Jid>) -> bool {
    let (Some(from), Some(dest)) = (msg.from.as_ref(), destination) else {
        return true;
    };
    dest.is_group() || dest.server() == from.server()
}

/// The text the inbox shows: a text's, an edit's new text, a reaction's emoji; else empty.
fn text_of(content: &Content) -> String {
    match content {
        Content::Text(t) => t.text.clone(),
        Content::Edit(e) => text_of(&e.content),
        Content::Reaction(r) => r.emoji.clone(),
        Content::Media(m) => m.kind.caption().unwrap_or_default().to_owned(),
        Content::Revoke(_)
        | Content::Location(_)
        | Content::Contact(_)
        | Content::Unsupported(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use wa_protocol::stanza::MessageType;

    use super::*;

    fn from(jid: &str) -> MessageStanza {
        let mut msg = MessageStanza::new("3EB0AA".parse().expect("id"), MessageType::Text);
        msg.from = Some(jid.parse().expect("jid"));
        msg
    }

    #[test]
    fn an_own_copy_names_its_destination_in_the_stanzas_namespace() {
        let lid_dest: Jid = "200000000000002@lid".parse().expect("jid");
        let pn_dest: Jid = "15550000002@s.whatsapp.net".parse().expect("jid");
        let group: Jid = "120363000000000001@g.us".parse().expect("jid");
        let by_lid = from("100000000000001:3@lid");
        let by_pn = from("15550000001:3@s.whatsapp.net");
        assert!(one_namespace(&by_lid, Some(&lid_dest)));
        assert!(one_namespace(&by_pn, Some(&pn_dest)));
        assert!(!one_namespace(&by_lid, Some(&pn_dest)), "§16: never mixed");
        assert!(!one_namespace(&by_pn, Some(&lid_dest)), "§16: never mixed");
        assert!(one_namespace(&by_lid, Some(&group)));
        assert!(one_namespace(&by_lid, None), "not a DeviceSentMessage");
    }
}

//! What reaches a simulated phone (device 0): it decrypts each message routed to it with its
//! session for the sender device (a `pkmsg` starts one from its own prekeys, consuming the
//! one-time prekey), unpads it, unwraps a DeviceSentMessage from its own companions and parses
//! the content (`messaging.md` §10), records it, and answers with a delivery receipt (`sender`
//! for its own companions' copies; a copy whose destination is in the other namespace than the
//! stanza is refused, §16). Group messages (`from=<group>`) are opened by
//! [`phone_group`] (their chat is the group). A message it cannot decrypt is answered with a
//! retry receipt, and retry receipts for its texts are answered, by [`phone_retry`]; other
//! receipts routed to it are counted. A peer message from its own companion carrying an
//! on-demand history sync request is recorded as such ([`phone_peer`](crate::phone_peer)).

use rand::rngs::StdRng;
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::message::{unwrap_device_sent, Content, HistorySyncRequest};
use wa_protocol::stanza::{MessageStanza, Receipt, ReceiptType};
use wa_protocol::PhoneNumber;

use crate::event::SimEvent;
use crate::mailbox::DeviceKey;
use crate::phone_group;
use crate::phone_media_in::{self, Received};
use crate::phone_peer::HistoryRequestReceived;
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
            phone_group::decrypt(w, phone, &msg, &mut rng).map(|(s, c, d)| (s, c, d, None))
        } else {
            decrypt(w, phone, &msg, &mut rng)
        }
    });
    let Some((sender, content, destination, history)) = decrypted else {
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
    record(shared, phone, &msg, (sender, content, destination, history));
    let kind = ReceiptType::for_delivery(own, msg.peer, true);
    Receipt::for_message(&msg, kind)
        .ok()
        .map(PhoneAnswer::Receipt)
}

/// Keeps what the phone opened in its inbox (and a history sync request its own companion sent
/// as a peer message in its request list); announces it the first time.
fn record(shared: &Shared, phone: &PhoneNumber, msg: &MessageStanza, opened: Opened) {
    let (sender, content, destination, history) = opened;
    let chat = destination.unwrap_or_else(|| Jid::user(sender.0.as_str(), Server::WhatsApp));
    let id = msg.id.as_str().to_owned();
    let t = msg.t.unwrap_or_else(|| shared.now_secs());
    let mut received = entry(msg, &sender.0, &chat, &content, t);
    if history.is_some() {
        HISTORY_KIND.clone_into(&mut received.kind);
    }
    let history = history
        .filter(|_| sender.0 == *phone && msg.peer)
        .map(|r| HistoryRequestReceived::new(&id, sender.1, &r, t));
    let recorded = shared.with_world(|w| {
        w.account_mut(phone).is_ok_and(|account| {
            let state = &mut account.phone_state;
            let recorded = state.record(received);
            if let Some(request) = history.filter(|_| recorded) {
                state.record_history_request(request);
            }
            recorded
        })
    });
    if let (true, Received::Media(media)) = (recorded, content) {
        // Reported once fetched (or failed), with its hash.
        phone_media_in::start_fetch(shared, phone, sender.0.as_str(), &id, media);
    } else if recorded && shared.config.phone_events {
        shared.emit(SimEvent::PhoneReceived {
            phone: phone.clone(),
            id,
        });
    } else if !recorded {
        // Delivered again under a known id: kept once, receipted again (the sender waits for it).
        shared.count("phone:duplicate");
    }
}

/// What the phone opened: the sender device, the content, (for a DeviceSentMessage) its
/// destination chat and (for a peer message) the history sync request it carries.
type Opened = (DeviceKey, Received, Option<Jid>, Option<HistorySyncRequest>);

/// The inbox `kind` of an on-demand history sync request (`phone_peer`).
const HISTORY_KIND: &str = "history_sync_request";

/// The inbox entry of a message: media with its caption, MIME type and length (its hash comes
/// when it is fetched).
fn entry(
    msg: &MessageStanza,
    from: &PhoneNumber,
    chat: &Jid,
    content: &Received,
    t: u64,
) -> ReceivedMessage {
    let (text, mimetype, file_length, file_name) = match content {
        Received::Content(c) => (text_of(c), None, None, None),
        Received::Media(m) => (
            m.caption.clone().unwrap_or_default(),
            m.mimetype.clone(),
            m.file_length,
            m.file_name.clone(),
        ),
    };
    ReceivedMessage {
        id: msg.id.as_str().to_owned(),
        from: from.as_str().to_owned(),
        chat: chat.to_string(),
        kind: content.kind().to_owned(),
        text,
        t,
        mimetype,
        file_length,
        file_name,
        sha256: None,
        media_error: None,
        forwarded: match content {
            Received::Content(Content::Text(text)) => text.forwarded,
            _ => None,
        },
    }
}

/// Decrypts the message's `<enc>` with the phone's session for its sender; the sender device,
/// what it says, (for a DeviceSentMessage) its destination chat and (for a peer message) the
/// history sync request it carries.
fn decrypt(
    w: &mut World,
    phone: &PhoneNumber,
    msg: &MessageStanza,
    rng: &mut StdRng,
) -> Option<Opened> {
    let sender = w.device_of(msg.from.as_ref()?)?;
    let enc = msg.encs.first()?;
    let state = &mut w.account_mut(phone).ok()?.phone_state;
    let message = state.open_pairwise(&sender, enc, rng)?;
    let unwrapped = unwrap_device_sent(message).ok()?;
    let content = phone_media_in::read(&unwrapped.message)?;
    let history = HistorySyncRequest::from_message(&unwrapped.message).ok()?;
    Some((sender, content, unwrapped.destination, history))
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

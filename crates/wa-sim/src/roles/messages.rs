//! Routing of `<message>` and `<receipt>` stanzas between devices (`messaging.md` §7, §8, §10,
//! §14, §16).
//!
//! A message is checked (it parses as a [`MessageStanza`]; its `to` and every `<to jid>` are in
//! one namespace, else 400; every addressed device exists, else 479) and then each addressed
//! device gets its own `<message from=<sender device> id t type notify>` with its single
//! `<enc>` (plus `<device-identity>` when that enc is a `pkmsg`; `recipient=<chat>` on the
//! copies for the sender's own devices): a live companion now, an offline one from its queue
//! after its next login, device 0 through the simulated phone. A message without
//! `<participants>` carries one direct `<enc>`: a peer message for the own phone, or a retry
//! resend for the device its `to` names (§11 step 5, `count` kept). The sender gets
//! `<ack class="message" id t from=<chat>>` (§8), or the same ack with `error`.
//!
//! A receipt goes to every device of the account it is addressed to (other than the device
//! that sent it), as `<receipt from=<receipt sender> …>`; the sim acks it
//! (`class="receipt"`). Retry receipts travel the same way.
//!
//! Messages and receipts addressed to a group (`…@g.us`) are planned by [`group_fanout`]; the
//! ack of a group message carries the server's `phash` (§8).

use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::stanza::{nack, AckClass, EncType, MessageStanza, Receipt, ServerAck, StanzaAck};

use crate::mailbox::{Delivery, DeviceKey};
use crate::nodes;
use crate::phone_inbox::{self, PhoneAnswer};
use crate::roles::group_fanout;
use crate::state::{Action, Shared};
use crate::world::{address, World};

/// The `<ack class="message" error>` for a stanza that did not parse: its raw `id` echoed.
fn refusal(node: &Node, t: u64, code: u16) -> Node {
    let mut ack = Node::new("ack")
        .with_attr("class", node.tag.as_str())
        .with_attr("id", node.attr_str("id").unwrap_or_default())
        .with_attr("t", t.to_string());
    if let Some(to) = node.attr_str("to") {
        ack = ack.with_attr("from", to);
    }
    ack.with_attr("error", code.to_string())
}

/// A companion's `<message>`: routed, and answered with the server ack (unless the sender's
/// account has the `drop_messages` fault: then nothing happens; or `nack_messages`: then the
/// ack carries that error code and nothing is routed).
pub(crate) fn companion_message(shared: &Shared, sender: &DeviceKey, node: &Node) -> Vec<Action> {
    let t = shared.now_secs();
    if shared.with_world(|w| w.account(&sender.0).is_ok_and(|a| a.faults.drop_messages)) {
        shared.count("route:dropped");
        return vec![];
    }
    let nack = shared.with_world(|w| {
        w.account(&sender.0)
            .ok()
            .and_then(|a| a.faults.nack_messages)
    });
    if let Some(code) = nack {
        shared.count("route:nacked");
        return vec![Action::Send(refusal(node, t, code))];
    }
    let msg = match MessageStanza::from_node(node) {
        Ok(msg) => msg,
        Err(_) => {
            shared.count("route:refused");
            return vec![Action::Send(refusal(node, t, nack::STANZA_VALIDATION))];
        }
    };
    let routed = if msg.to.as_ref().is_some_and(Jid::is_group) {
        route_group(shared, sender, &msg, t).map(Some)
    } else {
        route_message(shared, sender, &msg, t).map(|()| None)
    };
    let ack = match routed {
        Ok(phash) => {
            let mut ack = ServerAck::message(msg.id.clone(), msg.to.clone(), t);
            ack.phash = phash;
            ack
        }
        Err(code) => {
            shared.count("route:refused");
            ServerAck::refused(msg.id.clone(), msg.to.clone(), t, code)
        }
    };
    vec![Action::Send(ack.to_node())]
}

/// Checks and delivers a message `sender` sent; `Err` with the error code of the server ack
/// when it is refused (400: namespaces mixed; 479: no chat, unknown device, a token on a peer
/// message, neither `<participants>` nor a single direct `<enc>`; 463: a companion's DM to an
/// account that requires privacy tokens without the token its phone granted).
pub(crate) fn route_message(
    shared: &Shared,
    sender: &DeviceKey,
    msg: &MessageStanza,
    t: u64,
) -> Result<(), u16> {
    let to = msg.to.clone().ok_or(nack::STANZA_VALIDATION)?;
    if msg.check_one_namespace().is_err() {
        return Err(nack::BAD_REQUEST);
    }
    if msg.peer && msg.tctoken.is_some() {
        return Err(nack::STANZA_VALIDATION);
    }
    if to.is_group() {
        return route_group(shared, sender, msg, t).map(drop);
    }
    let deliveries = shared.with_world(|w| plan(w, sender, msg, &to, t))?;
    dispatch(shared, deliveries);
    shared.count("route:message");
    Ok(())
}

/// Checks and delivers a group message `sender` sent (see [`group_fanout`]); the server's
/// `phash` for the ack, or the refusal code. A group message carries no privacy token (§16).
pub(crate) fn route_group(
    shared: &Shared,
    sender: &DeviceKey,
    msg: &MessageStanza,
    t: u64,
) -> Result<String, u16> {
    let to = msg.to.clone().ok_or(nack::STANZA_VALIDATION)?;
    if msg.check_one_namespace().is_err() {
        return Err(nack::BAD_REQUEST);
    }
    if msg.peer || msg.tctoken.is_some() {
        return Err(nack::STANZA_VALIDATION);
    }
    let route = shared.with_world(|w| group_fanout::plan(w, sender, msg, &to, t))?;
    if route.stale {
        shared.count("route:phash-stale");
    }
    for _ in 0..route.not_members {
        shared.count("route:not-member");
    }
    dispatch(shared, route.deliveries);
    shared.count("route:group");
    Ok(route.phash)
}

/// The copy of `msg` for each addressed device, or the refusal code.
fn plan(
    w: &World,
    sender: &DeviceKey,
    msg: &MessageStanza,
    to: &Jid,
    t: u64,
) -> Result<Vec<(DeviceKey, Node)>, u16> {
    let own = w.account(&sender.0).map_err(|_| nack::STANZA_VALIDATION)?;
    let chat = w.account_by_jid(to).ok_or(nack::STANZA_VALIDATION)?;
    let mut targets = Vec::with_capacity(msg.participants.len());
    if msg.participants.is_empty() {
        // A peer message: one direct `<enc>` for the own phone (§7); a retry resend: one
        // direct `<enc>` for the device `to` names (§11 step 5).
        let (device, enc) = match (msg.peer, msg.encs.as_slice()) {
            (true, [enc]) if chat.phone == own.phone => ((own.phone.clone(), 0), enc),
            (false, [enc]) => (w.device_of(to).ok_or(nack::STANZA_VALIDATION)?, enc),
            _ => return Err(nack::STANZA_VALIDATION),
        };
        if device == *sender {
            return Err(nack::STANZA_VALIDATION);
        }
        targets.push((device, to.server().clone(), enc));
    }
    for p in &msg.participants {
        let device = w.device_of(&p.jid).ok_or(nack::STANZA_VALIDATION)?;
        if device == *sender || (device.0 != own.phone && device.0 != chat.phone) {
            return Err(nack::STANZA_VALIDATION);
        }
        targets.push((device, p.jid.server().clone(), &p.enc));
    }
    if chat.switches.require_privacy_tokens && sender.1 != 0 && !msg.peer && chat.phone != own.phone
    {
        // §16: a DM to an account requiring tokens carries the one its phone granted.
        let granted = chat.phone_state.granted.get(&own.phone);
        if granted.is_none() || granted != msg.tctoken.as_ref() {
            return Err(nack::PRIVACY_TOKEN_REQUIRED);
        }
    }
    let notify = format!("wa-sim {}", own.phone);
    Ok(targets
        .into_iter()
        .map(|(device, server, enc)| {
            let mut copy = MessageStanza::new(msg.id.clone(), msg.kind);
            copy.from = Some(address(&own.phone, &own.lid, sender.1, &server));
            copy.t = Some(t);
            copy.edit = msg.edit;
            copy.peer = msg.peer;
            copy.notify = Some(notify.clone());
            if server == Server::Lid {
                copy.alt.sender_pn =
                    Some(address(&own.phone, &own.lid, sender.1, &Server::WhatsApp));
            } else {
                copy.alt.sender_lid = Some(address(&own.phone, &own.lid, sender.1, &Server::Lid));
            }
            if device.0 == own.phone && !msg.peer {
                // The chat: `recipient` of a retry resend to an own device, else `to`.
                copy.recipient = Some(msg.recipient.clone().unwrap_or_else(|| to.clone()));
            }
            copy.encs = vec![enc.clone()];
            if enc.kind == EncType::PkMsg {
                copy.device_identity.clone_from(&msg.device_identity);
            }
            (device, copy.to_node())
        })
        .collect())
}

/// Hands each copy to its device: the phone, a live connection or the offline queue.
pub(crate) fn dispatch(shared: &Shared, deliveries: Vec<(DeviceKey, Node)>) {
    let mut phone = Vec::new();
    let mut live = Vec::new();
    shared.with_world(|w| {
        for (device, node) in deliveries {
            if device.1 == 0 {
                phone.push((device.0, node));
                continue;
            }
            match w.mailbox.deliver(&device, node) {
                Delivery::Live(conn, node) => live.push((device, conn, node)),
                Delivery::Queued => shared.count("route:queued"),
                Delivery::Dropped => shared.count("route:dropped"),
            }
        }
    });
    for (device, conn, node) in live {
        shared.count("route:live");
        if !shared.push(conn, Action::Send(node.clone())) {
            // The connection ended meanwhile: the device is offline.
            shared.with_world(|w| w.mailbox.enqueue(&device, node));
        }
    }
    for (phone_number, node) in phone {
        shared.count("route:phone");
        let t = shared.now_secs();
        let sender = (phone_number.clone(), 0);
        let routed = match phone_inbox::receive(shared, &phone_number, &node) {
            Some(PhoneAnswer::Receipt(receipt)) => route_receipt(shared, &sender, receipt, t),
            Some(PhoneAnswer::Resend(msg)) => route_message(shared, &sender, &msg, t),
            None => Ok(()),
        };
        if routed.is_err() {
            shared.count("phone:answer-refused");
        }
    }
}

/// A companion's `<receipt>`: forwarded, and acked.
pub(crate) fn companion_receipt(shared: &Shared, sender: &DeviceKey, node: &Node) -> Vec<Action> {
    let t = shared.now_secs();
    let Ok(receipt) = Receipt::from_node(node) else {
        shared.count("route:refused");
        return vec![Action::Send(refusal(node, t, nack::STANZA_VALIDATION))];
    };
    let mut ack = ServerAck::message(receipt.id.clone(), receipt.to.clone(), t);
    ack.class = AckClass::Receipt;
    ack.kind = receipt.kind.as_str().map(str::to_owned);
    if let Err(code) = route_receipt(shared, sender, receipt, t) {
        shared.count("route:refused");
        ack.error = Some(code);
    }
    vec![Action::Send(ack.to_node())]
}

/// Forwards a receipt `sender` sent to every other device of the account it names.
pub(crate) fn route_receipt(
    shared: &Shared,
    sender: &DeviceKey,
    receipt: Receipt,
    t: u64,
) -> Result<(), u16> {
    let to = receipt.to.clone().ok_or(nack::STANZA_VALIDATION)?;
    if to.is_group() {
        let deliveries =
            shared.with_world(|w| group_fanout::receipt_targets(w, sender, receipt, &to, t))?;
        dispatch(shared, deliveries);
        shared.count("route:receipt");
        return Ok(());
    }
    let deliveries = shared.with_world(|w| {
        let own = w.account(&sender.0).map_err(|_| nack::STANZA_VALIDATION)?;
        let from = address(&own.phone, &own.lid, sender.1, to.server());
        let mut forwarded = receipt;
        forwarded.to = None;
        forwarded.from = Some(from);
        forwarded.t = forwarded.t.or(Some(t));
        let node = forwarded.to_node();
        let targets = w.devices_of(&to);
        if targets.is_empty() {
            return Err(nack::STANZA_VALIDATION);
        }
        Ok(targets
            .into_iter()
            .filter(|d| d != sender)
            .map(|d| (d, node.clone()))
            .collect::<Vec<_>>())
    })?;
    dispatch(shared, deliveries);
    shared.count("route:receipt");
    Ok(())
}

/// A companion's `<ack>` for what the sim delivered: an ack of a message that carried
/// `recipient` must echo it (§16), or the stream is closed with `<stream:error><ack/>`.
pub(crate) fn companion_ack(
    shared: &Shared,
    conn: crate::event::ConnId,
    node: &Node,
) -> Vec<Action> {
    let Ok(ack) = StanzaAck::from_node(node) else {
        shared.count("ack:malformed");
        return vec![];
    };
    if ack.class != AckClass::Message {
        return vec![];
    }
    let Some(original) = shared.with_world(|w| w.mailbox.take_awaiting(conn, ack.id.as_str()))
    else {
        return vec![];
    };
    let wanted = StanzaAck::for_stanza(&original)
        .ok()
        .and_then(|a| a.recipient);
    if wanted.is_some() && wanted != ack.recipient {
        shared.count("ack:bad-recipient");
        return vec![Action::Send(nodes::ack_stream_error()), Action::Close];
    }
    vec![]
}

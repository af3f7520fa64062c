//! Messages in flight and incoming messaging stanzas (`messaging.md` §7, §8, §10, §16), modelled
//! on `iq.rs`'s tracker:
//!
//! * **out**: [`super::Command::SendMessage`] writes the `<message>` and remembers its id with a
//!   deadline; the server's `<ack class="message" id t [error]>` (matched by id, §8) becomes
//!   [`Event::MessageAcked`] or, with a non-zero `error` (400, 463, 479, … §16),
//!   [`Event::MessageRejected`] (preceded by [`Event::RefreshLid`] when it says
//!   `refresh_lid`, §16, and by [`Event::StalePhash`] when a group message's ack carries a
//!   `phash` other than the one we sent, §8); no ack by the deadline, or the connection closing first, is
//!   [`Event::MessageUnconfirmed`] (the outcome is unknown: never reported as sent). Many sends
//!   may be in flight at once; acks come back in any order.
//! * **in**: a `<message>` becomes [`Event::Message`] (the application decrypts, commits, then
//!   acks it: the ack must not leave before the commit, §10); one our parser refuses is nacked at
//!   once with the code of [`nack_for`] (487/488/490, §10), never closing the connection. A
//!   `<receipt>` is acked here (`class="receipt"`, echoing `participant`/`recipient`/`type`, §16)
//!   and becomes [`Event::Receipt`]; a malformed one is nacked the same way.

use rand_core::CryptoRngCore;

use super::state::Connection;
use super::types::Event;
use crate::binary::Node;
use crate::stanza::{
    nack_for, AckClass, MessageStanza, Receipt, ServerAck, StanzaAck, StanzaError,
};
use crate::time::Millis;

impl<R: CryptoRngCore> Connection<R> {
    /// Writes `<message>` and tracks its id until the server's ack (or the deadline). An id
    /// already in flight is refused with [`Event::SendFailed`] and not written: the same id
    /// twice would make the acks ambiguous.
    pub(super) fn send_message(&mut self, message: &MessageStanza, now: Millis) {
        let deadline = now.after(self.config.message_timeout_ms);
        if !self.messages.register(message.id.clone(), deadline) {
            let error = StanzaError::BadValue {
                tag: "message".to_owned(),
                what: "id",
                value: format!("{} is in flight already", message.id.as_str()),
            };
            self.events.push_back(Event::SendFailed {
                error: error.into(),
            });
            return;
        }
        if let (Some(chat), Some(phash)) = (&message.to, &message.phash) {
            let chat = chat.clone();
            self.messages
                .set_phash(message.id.clone(), chat, phash.clone());
        }
        self.send_node(&message.to_node());
    }

    /// A server `<ack>`: a message ack resolves its send; any other is handed on.
    pub(super) fn handle_ack(&mut self, node: Node) {
        let (ack, sent) = match ServerAck::from_node(&node) {
            Ok(ack) if ack.class == AckClass::Message => match self.messages.take(&ack.id) {
                Some(sent) => (ack, sent),
                None => return self.events.push_back(Event::Stanza(node)),
            },
            Ok(_) | Err(_) => return self.events.push_back(Event::Stanza(node)),
        };
        if let (Some((chat, ours)), Some(theirs)) = (sent, ack.phash.as_ref()) {
            if ours != *theirs {
                let id = ack.id.clone();
                self.events.push_back(Event::StalePhash { id, chat });
            }
        }
        if ack.refresh_lid {
            if let Some(user) = ack.from.as_ref().filter(|f| !f.is_server_jid()) {
                let user = user.to_non_ad();
                self.events.push_back(Event::RefreshLid { user });
            }
        }
        let event = match ack.failure() {
            Some(code) => Event::MessageRejected { id: ack.id, code },
            None => Event::MessageAcked {
                id: ack.id,
                t: ack.t,
            },
        };
        self.events.push_back(event);
    }

    /// Pending sends whose deadline passed: their outcome is unknown.
    pub(super) fn expire_messages(&mut self, now: Millis) {
        for id in self.messages.expire(now) {
            self.events.push_back(Event::MessageUnconfirmed { id });
        }
    }

    /// The connection closed: every send still in flight is unconfirmed.
    pub(super) fn drain_messages(&mut self) {
        for id in self.messages.drain() {
            self.events.push_back(Event::MessageUnconfirmed { id });
        }
    }

    /// An incoming `<message>`: handed to the application (which acks it after its commit), or
    /// nacked at once when it does not parse.
    pub(super) fn handle_message(&mut self, node: Node) {
        match MessageStanza::from_node(&node) {
            Ok(message) => self.events.push_back(Event::Message(Box::new(message))),
            Err(error) => self.nack(&node, &error),
        }
    }

    /// An incoming `<receipt>`: acked (echoing what §16 requires), then handed on; a malformed
    /// one is nacked.
    pub(super) fn handle_receipt(&mut self, node: Node) {
        match Receipt::from_node(&node) {
            Ok(receipt) => {
                match StanzaAck::for_stanza(&node) {
                    Ok(ack) => self.send_node(&ack.to_node()),
                    Err(error) => self.events.push_back(Event::BadStanza {
                        node: Box::new(node),
                        error: error.into(),
                    }),
                }
                self.events.push_back(Event::Receipt(Box::new(receipt)));
            }
            Err(error) => self.nack(&node, &error),
        }
    }

    /// Answers a stanza our parsers refused with `<ack error>` (§10) and reports it. A stanza
    /// too broken to ack (no `id` or `from`) is only reported.
    fn nack(&mut self, node: &Node, error: &StanzaError) {
        if let Ok(mut ack) = StanzaAck::for_stanza(node) {
            ack = ack.with_error(nack_for(error));
            if node.tag == "message" {
                if let Some(device) = &self.creds.device {
                    ack = ack.with_from(device.jid.clone());
                }
            }
            self.send_node(&ack.to_node());
        }
        self.events.push_back(Event::BadStanza {
            node: Box::new(node.clone()),
            error: error.clone().into(),
        });
    }
}

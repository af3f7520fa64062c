//! What the messaging calls return and announce.

use wa_protocol::binary::Jid;
use wa_protocol::message::retry::{RetryDecision, RetryRequest, SenderRetryState};
use wa_protocol::message::Content;
use wa_protocol::time::Millis;
use wa_protocol::MessageId;

/// A message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// Its id.
    pub id: MessageId,
    /// The server's timestamp (unix seconds) from its ack, if it gave one.
    pub server_t: Option<u64>,
}

/// Who sent a received message: the device, with its phone number and LID when known
/// (`messaging.md` §16: the application always learns the phone number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The sending device as the wire named it.
    pub device: Jid,
    /// The sender's phone-number user JID, when known.
    pub phone: Option<Jid>,
    /// The sender's LID user JID, when known.
    pub lid: Option<Jid>,
}

/// A received, decrypted message of any kind ([`Content`]: text with reply and mentions,
/// reaction, edit, revoke, location, contact) as the application sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedText {
    /// Its id.
    pub id: MessageId,
    /// The chat (for a copy of our own other device's send, its destination).
    pub chat: Jid,
    /// The sender.
    pub sender: Sender,
    /// Server timestamp (unix seconds).
    pub t: u64,
    /// The sender's push name, if sent.
    pub push_name: Option<String>,
    /// The content.
    pub content: Content,
    /// Its place in the account's receive order (`Store::mark_reported`'s seq), when the store
    /// committed it as a report: with [`crate::ReportAcks::Consumer`] the consumer passes it to
    /// [`crate::Gateway::ack_report`] once it has persisted the message.
    pub report: Option<u64>,
}

impl ReceivedText {
    /// The id of the message it quotes (a reply), if any (`ContextInfo.stanzaID`,
    /// `messaging.md` §1).
    pub fn quoted_id(&self) -> Option<&MessageId> {
        self.content.quoted_id()
    }
}

/// How [`crate::Gateway::send`] sends one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// The message id to use (the caller's idempotency key); by default a new id in WhatsApp's
    /// format (`messaging.md` §3: `3EB0` + 18 hex digits).
    pub id: Option<MessageId>,
}

/// Retry receipts answered so far, per (requesting device, message id): the rule's state
/// (`wa_protocol::message::retry::SenderRetryState`) and the last count answered, so each
/// count is answered once (`messaging.md` §11). Bounded: the oldest entries go first.
#[derive(Debug, Default)]
pub(crate) struct RetryLog {
    entries: std::collections::HashMap<(Jid, MessageId), (SenderRetryState, u32)>,
    order: std::collections::VecDeque<(Jid, MessageId)>,
}

/// The most (device, message) pairs a [`RetryLog`] remembers.
const MAX_RETRY_LOG: usize = 4096;

impl RetryLog {
    /// The decision for one retry receipt (`Drop` for a count already answered), remembered.
    pub(crate) fn decide(
        &mut self,
        device: &Jid,
        id: &MessageId,
        request: RetryRequest,
        has_session: bool,
        now: Millis,
    ) -> RetryDecision {
        let key = (device.clone(), id.clone());
        let (state, last) = self.entries.get(&key).copied().unwrap_or_default();
        if last >= request.count {
            return RetryDecision::Drop;
        }
        let (next, decision) = state.decide(request, has_session, now);
        if !self.entries.contains_key(&key) {
            if self.order.len() >= MAX_RETRY_LOG {
                if let Some(old) = self.order.pop_front() {
                    self.entries.remove(&old);
                }
            }
            self.order.push_back(key.clone());
        }
        self.entries.insert(key, (next, request.count));
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wa_protocol::binary::Server;
    use wa_protocol::message::retry::SessionSource;

    #[test]
    fn each_retry_count_is_answered_once() {
        let mut log = RetryLog::default();
        let device = Jid::device("15550109002", 0, Server::WhatsApp);
        let id: MessageId = "3EB0AA".parse().expect("id");
        let now = Millis(1_700_000_000_000);
        let keys = |count| RetryRequest {
            count,
            has_keys: true,
        };
        let resend = RetryDecision::Resend {
            session: SessionSource::Keys,
        };
        assert_eq!(log.decide(&device, &id, keys(1), true, now), resend);
        assert_eq!(
            log.decide(&device, &id, keys(1), true, now),
            RetryDecision::Drop
        );
        assert_eq!(log.decide(&device, &id, keys(2), true, now), resend);
        // Another device asking about the same message is answered on its own.
        let other = Jid::device("15550109002", 3, Server::WhatsApp);
        assert_eq!(log.decide(&other, &id, keys(1), true, now), resend);
    }
}

/// A group member a `w:gp2` notification names, with its phone number and LID when the
/// notification gives both (`participant jid [lid|phone_number]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The member as the notification named it (PN or LID user JID).
    pub jid: Jid,
    /// Its phone-number user JID, when known.
    pub phone: Option<Jid>,
    /// Its LID user JID, when known.
    pub lid: Option<Jid>,
}

/// What changed in a group (one `w:gp2` change child).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupUpdate {
    /// Members joined or were added.
    Added(Vec<GroupMember>),
    /// Members left or were removed.
    Removed(Vec<GroupMember>),
    /// Members became admins.
    Promoted(Vec<GroupMember>),
    /// Admins became plain members.
    Demoted(Vec<GroupMember>),
    /// A new subject.
    Subject(String),
    /// The description was set (`text`) or deleted (`None`); `id` is the new description's id.
    Topic {
        /// The new description's id.
        id: String,
        /// The text; `None` when deleted.
        text: Option<String>,
    },
}

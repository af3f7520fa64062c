//! What the messaging calls return and announce.

use wa_protocol::binary::Jid;
use wa_protocol::message::Content;
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
}

impl ReceivedText {
    /// The id of the message it quotes (a reply), if any (`ContextInfo.stanzaID`,
    /// `messaging.md` §1).
    pub fn quoted_id(&self) -> Option<&MessageId> {
        self.content.quoted_id()
    }
}

//! What a simulated phone (device 0) keeps to send and receive end-to-end encrypted messages:
//! a Signal session per remote device, the identities it trusts (first use), its own prekeys
//! not yet consumed, and what it received and decrypted (`messaging.md` §10).

use std::collections::{HashMap, VecDeque};

use wa_protocol::binary::Jid;
use wa_protocol::message::receive::PreKeySet;
use wa_protocol::message::Content;
use wa_protocol::signal::{LocalIdentity, PublicKey, SessionRecord};
use wa_protocol::PhoneNumber;

use crate::mailbox::DeviceKey;

/// The most messages a phone keeps in its inbox (older ones go first).
const MAX_INBOX: usize = 100_000;

/// One message the phone received and decrypted, as `GET /admin/phones/{phone}/messages`
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReceivedMessage {
    /// The message id.
    pub id: String,
    /// The sender's phone number.
    pub from: String,
    /// The chat: the sender's user JID, or for a copy of what the account's own companion sent,
    /// the chat it went to.
    pub chat: String,
    /// `Content::kind()`: text, reaction, edit, revoke, location, contact, unsupported.
    pub kind: String,
    /// The text (the new text of an edit, the emoji of a reaction; empty for other kinds).
    pub text: String,
    /// The server timestamp (unix seconds).
    pub t: u64,
}

/// The most recent sends a phone keeps for retry receipts (whatsmeow keeps 256, §11).
const MAX_SENT: usize = 256;

/// A message the phone sent, kept to answer retry receipts.
#[derive(Debug, Clone)]
pub(crate) struct SentText {
    /// The message id.
    pub(crate) id: String,
    /// The chat it went to.
    pub(crate) chat: Jid,
    /// What it said.
    pub(crate) content: Content,
}

/// A phone's Signal state and inbox.
#[derive(Debug, Clone)]
pub(crate) struct PhoneState {
    /// The phone's identity and registration id.
    pub(crate) local: LocalIdentity,
    /// Its signed and unconsumed one-time prekeys.
    pub(crate) prekeys: PreKeySet,
    /// Sessions by remote device.
    pub(crate) sessions: HashMap<DeviceKey, SessionRecord>,
    /// Identities seen per remote device (trusted on first use).
    pub(crate) identities: HashMap<DeviceKey, PublicKey>,
    /// What it received, oldest first.
    pub(crate) inbox: Vec<ReceivedMessage>,
    /// The privacy tokens this phone granted, by the account that holds them (`messaging.md`
    /// §16): an account requiring tokens accepts a companion's DM from a holder only with it.
    pub(crate) granted: HashMap<PhoneNumber, Vec<u8>>,
    /// Its recent sends, oldest first.
    pub(crate) sent: VecDeque<SentText>,
}

impl PhoneState {
    /// A phone with these keys and nothing else yet.
    pub(crate) fn new(local: LocalIdentity, prekeys: PreKeySet) -> Self {
        Self {
            local,
            prekeys,
            sessions: HashMap::new(),
            identities: HashMap::new(),
            inbox: Vec::new(),
            granted: HashMap::new(),
            sent: VecDeque::new(),
        }
    }

    /// Keeps a sent text for retry receipts.
    pub(crate) fn remember_sent(&mut self, sent: SentText) {
        if self.sent.len() >= MAX_SENT {
            self.sent.pop_front();
        }
        self.sent.push_back(sent);
    }

    /// Records a received message.
    pub(crate) fn record(&mut self, message: ReceivedMessage) {
        if self.inbox.len() >= MAX_INBOX {
            self.inbox.remove(0);
        }
        self.inbox.push(message);
    }
}

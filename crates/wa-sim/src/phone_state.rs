//! What a simulated phone (device 0) keeps to send and receive end-to-end encrypted messages:
//! a Signal session per remote device, the identities it trusts (first use), its own prekeys
//! not yet consumed, its group sender keys, and what it received and decrypted (`messaging.md`
//! §10).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use rand::rngs::StdRng;
use wa_protocol::binary::Jid;
use wa_protocol::message::receive::{decrypt_pairwise, PreKeySet};
use wa_protocol::message::{decode_padded, EncVersion};
use wa_protocol::pb::e2e as pb;
use wa_protocol::signal::{LocalIdentity, PublicKey, SenderKeyRecord, SessionRecord};
use wa_protocol::stanza::Enc;
use wa_protocol::PhoneNumber;

use crate::mailbox::DeviceKey;
use crate::phone_outgoing::Outgoing;
use crate::phone_peer::HistoryRequestReceived;

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
    /// `Content::kind()`: text, reaction, edit, revoke, location, contact, unsupported; or the
    /// media kind: image, video, audio, ptt (a voice note), document, sticker.
    pub kind: String,
    /// The text (the new text of an edit, the emoji of a reaction, a media caption; empty for
    /// other kinds).
    pub text: String,
    /// The server timestamp (unix seconds).
    pub t: u64,
    /// A forwarded text (`contextInfo.isForwarded`): its `forwardingScore`; `null` otherwise.
    pub forwarded: Option<u32>,
    /// Media: the MIME type the message declares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mimetype: Option<String>,
    /// Media: the plaintext length the message declares (`fileLength`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_length: Option<u64>,
    /// A document's file name (`fileName`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Media: the hex SHA-256 of the decrypted bytes, once the phone downloaded, verified
    /// (MAC, then hashes) and decrypted them; absent while it downloads or when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Media: why the download failed (expired, MAC or hash mismatch, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_error: Option<String>,
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
    pub(crate) content: Outgoing,
}

/// Our sender key in one group and which member devices have it (`messaging.md` §9 step 4,
/// the Baileys `sender-key-memory` way).
#[derive(Debug, Clone, Default)]
pub(crate) struct OwnSenderKey {
    /// Our sending state (with the signing private key).
    pub(crate) record: SenderKeyRecord,
    /// The member devices our current key was sent to (in the group's namespace).
    pub(crate) distributed_to: BTreeSet<Jid>,
}

/// A phone's sender keys (`signal.md` §9): its own per group, and every member device's it was
/// given, per (group id, sender device).
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupKeys {
    /// Ours, by group id.
    pub(crate) own: HashMap<String, OwnSenderKey>,
    /// Others', by (group id, sender device).
    pub(crate) received: HashMap<(String, DeviceKey), SenderKeyRecord>,
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
    /// What it received, oldest first, once per (sender, id).
    pub(crate) inbox: VecDeque<ReceivedMessage>,
    /// The (sender, id) pairs in the inbox: a message delivered again under the same id (a
    /// resend after the sender's restart, a retry's answer) is kept once, as a real client
    /// keeps one message per id.
    inbox_ids: HashSet<(String, String)>,
    /// The privacy tokens this phone granted, by the account that holds them (`messaging.md`
    /// §16): an account requiring tokens accepts a companion's DM from a holder only with it.
    pub(crate) granted: HashMap<PhoneNumber, Vec<u8>>,
    /// Its recent sends, oldest first.
    pub(crate) sent: VecDeque<SentText>,
    /// Its group sender keys.
    pub(crate) group_keys: GroupKeys,
    /// The on-demand history sync requests its companions sent, oldest first.
    pub(crate) history_requests: VecDeque<HistoryRequestReceived>,
}

impl PhoneState {
    /// A phone with these keys and nothing else yet.
    pub(crate) fn new(local: LocalIdentity, prekeys: PreKeySet) -> Self {
        Self {
            local,
            prekeys,
            sessions: HashMap::new(),
            identities: HashMap::new(),
            inbox: VecDeque::new(),
            inbox_ids: HashSet::new(),
            granted: HashMap::new(),
            sent: VecDeque::new(),
            group_keys: GroupKeys::default(),
            history_requests: VecDeque::new(),
        }
    }

    /// Decrypts a pairwise `<enc>` (`pkmsg`/`msg`) from `sender` with its session (a `pkmsg`
    /// starts one, consuming the one-time prekey; `messaging.md` §10 step 1), keeps the
    /// session and the identity, and unpads the plaintext (step 2).
    pub(crate) fn open_pairwise(
        &mut self,
        sender: &DeviceKey,
        enc: &Enc,
        rng: &mut StdRng,
    ) -> Option<pb::Message> {
        let version = EncVersion::from_attr(&enc.v.to_string()).ok()?;
        let out = decrypt_pairwise(
            enc.kind,
            &enc.ciphertext,
            self.sessions.get(sender),
            &self.local,
            &self.prekeys,
            self.identities.get(sender),
            rng,
        )
        .ok()?;
        self.sessions.insert(sender.clone(), out.record);
        self.identities.insert(sender.clone(), out.remote_identity);
        if let Some(id) = out.consumed_pre_key_id {
            self.prekeys.remove_one_time(id);
        }
        decode_padded(&out.plaintext, version).ok()
    }

    /// Keeps a sent text for retry receipts.
    pub(crate) fn remember_sent(&mut self, sent: SentText) {
        if self.sent.len() >= MAX_SENT {
            self.sent.pop_front();
        }
        self.sent.push_back(sent);
    }

    /// Records how fetching the media of inbox entry (`from`, `id`) ended: the plaintext's hex
    /// SHA-256, or why it failed. `false` when the entry is no longer in the inbox.
    pub(crate) fn settle_media(
        &mut self,
        from: &str,
        id: &str,
        outcome: Result<String, String>,
    ) -> bool {
        let Some(entry) = self
            .inbox
            .iter_mut()
            .rev()
            .find(|m| m.from == from && m.id == id)
        else {
            return false;
        };
        match outcome {
            Ok(sha256) => entry.sha256 = Some(sha256),
            Err(error) => entry.media_error = Some(error),
        }
        true
    }

    /// Records a received message; `false` (nothing recorded) when the inbox already has the
    /// sender's message under that id.
    pub(crate) fn record(&mut self, message: ReceivedMessage) -> bool {
        if !self
            .inbox_ids
            .insert((message.from.clone(), message.id.clone()))
        {
            return false;
        }
        if self.inbox.len() >= MAX_INBOX {
            // The oldest goes (a deque: no shifting of the whole inbox per message).
            if let Some(old) = self.inbox.pop_front() {
                self.inbox_ids.remove(&(old.from, old.id));
            }
        }
        self.inbox.push_back(message);
        true
    }

    /// Keeps a history sync request (the most recent [`MAX_SENT`]).
    pub(crate) fn record_history_request(&mut self, request: HistoryRequestReceived) {
        if self.history_requests.len() >= MAX_SENT {
            self.history_requests.pop_front();
        }
        self.history_requests.push_back(request);
    }
}

//! The `<message>` stanza of 1:1 and group messaging, both directions (`messaging.md` §7, §9,
//! §10, §11, §16). One struct, [`MessageStanza`], serves the gateway (builds sends, parses
//! deliveries) and wa-sim (parses sends, builds deliveries); each field says which side sets it.
//!
//! Sketch (§7, §9, §10):
//! ```text
//! <message id to|from type [edit] [participant] [recipient] [phash] [addressing_mode] [t]
//!          [notify] [category="peer"] [offline] [device_fanout] [sender_lid|sender_pn]
//!          [participant_pn|participant_lid] [peer_recipient_pn]>
//!   [<participants><to jid><enc v type [count] [mediatype] [decrypt-fail]>…</enc></to>…</participants>]
//!   [<enc …>…</enc>]…  [<device-identity>…</device-identity>]  [<tctoken>…</tctoken>]
//!   [<unavailable type/>]
//! </message>
//! ```

use super::ack::{AckClass, StanzaAck};
use super::fields::{
    opt_child_bytes, opt_flag, opt_jid, opt_num, opt_text, put, req_id, req_jid, MAX_TEXT,
};
use super::parse::{bad, expect_tag, req_attr, server_jid, StanzaError};
use crate::binary::{Jid, Node, Server};
use crate::ids::MessageId;

/// Most `<to>` entries accepted in `<participants>` (a 1024-member group with a few devices
/// each stays far below it; the binary codec's list limit is 65535).
pub const MAX_FANOUT: usize = 16_384;
/// Most `<enc>` children directly under `<message>` (§10: a pairwise one and an `skmsg`).
pub const MAX_DIRECT_ENCS: usize = 4;
/// Highest retry `count` accepted on `<enc>`: the references send 1..=5 (§11), so anything above
/// this bound is refused as malformed.
pub const MAX_ENC_COUNT: u8 = 10;

/// `type` of `<enc>` (§7, §9, §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncType {
    /// `pkmsg`: a PreKeySignalMessage (session setup).
    PkMsg,
    /// `msg`: a SignalMessage on an established session.
    Msg,
    /// `skmsg`: a SenderKeyMessage (groups).
    SkMsg,
}

impl EncType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            EncType::PkMsg => "pkmsg",
            EncType::Msg => "msg",
            EncType::SkMsg => "skmsg",
        }
    }

    fn parse(node: &Node) -> Result<Self, StanzaError> {
        match req_attr(node, "type")? {
            "pkmsg" => Ok(EncType::PkMsg),
            "msg" => Ok(EncType::Msg),
            "skmsg" => Ok(EncType::SkMsg),
            other => Err(bad(node, "type", other)),
        }
    }
}

/// One `<enc>`: a ciphertext for one device (or, `skmsg`, for the whole group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enc {
    /// `v`: 2 for padded `waE2E.Message` payloads (§2); 3 (unpadded) is parsed but out of scope.
    pub v: u8,
    /// `type`.
    pub kind: EncType,
    /// `count`: set on a resend answering a retry receipt (§11), 1..=[`MAX_ENC_COUNT`].
    pub count: Option<u8>,
    /// `mediatype` (§7: `image`, `video`, `vcard`, `url`, …).
    pub mediatype: Option<String>,
    /// `decrypt-fail="hide"`: set on edits, revokes and reactions (§7).
    pub decrypt_fail_hide: bool,
    /// The Signal ciphertext.
    pub ciphertext: Vec<u8>,
}

impl Enc {
    /// A v2 `<enc>` with no optional attributes.
    pub fn new(kind: EncType, ciphertext: Vec<u8>) -> Self {
        Self {
            v: 2,
            kind,
            count: None,
            mediatype: None,
            decrypt_fail_hide: false,
            ciphertext,
        }
    }

    /// Builds `<enc v type [count] [mediatype] [decrypt-fail]>bytes</enc>`.
    pub fn to_node(&self) -> Node {
        let mut node = Node::new("enc")
            .with_attr("v", self.v)
            .with_attr("type", self.kind.as_str());
        node = put(node, "count", self.count);
        node = put(node, "mediatype", self.mediatype.as_deref());
        if self.decrypt_fail_hide {
            node = node.with_attr("decrypt-fail", "hide");
        }
        node.with_bytes(self.ciphertext.clone())
    }

    /// Parses an `<enc>`; unknown `type`, `v` other than 2/3, a `count` outside
    /// 1..=[`MAX_ENC_COUNT`] or missing ciphertext are errors.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "enc")?;
        let v = req_attr(node, "v")?;
        let v = match v {
            "2" => 2,
            "3" => 3,
            other => return Err(bad(node, "v", other)),
        };
        let count = opt_num::<u8>(node, "count")?;
        if let Some(c) = count {
            if c == 0 || c > MAX_ENC_COUNT {
                return Err(bad(node, "count", c));
            }
        }
        let decrypt_fail_hide = match node.attr_str("decrypt-fail") {
            None if node.attr("decrypt-fail").is_none() => false,
            Some("hide") => true,
            _ => return Err(bad(node, "decrypt-fail", node.attr("decrypt-fail"))),
        };
        let ciphertext = node.bytes().filter(|b| !b.is_empty());
        Ok(Self {
            v,
            kind: EncType::parse(node)?,
            count,
            mediatype: opt_text(node, "mediatype")?,
            decrypt_fail_hide,
            ciphertext: ciphertext
                .ok_or_else(|| bad(node, "content", "no ciphertext"))?
                .to_vec(),
        })
    }
}

/// One `<to jid><enc/></to>` of `<participants>`: the ciphertext for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEnc {
    /// The device JID (device 0 written without `:0`, §7).
    pub jid: Jid,
    /// Its ciphertext.
    pub enc: Enc,
}

/// `type` of `<message>` (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// `text`: text and protocol messages (edits, revokes, SKDM-only).
    Text,
    /// `media`: when a `mediatype` applies.
    Media,
    /// `reaction`.
    Reaction,
    /// `poll`.
    Poll,
    /// `event` (Baileys).
    Event,
}

impl MessageType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Text => "text",
            MessageType::Media => "media",
            MessageType::Reaction => "reaction",
            MessageType::Poll => "poll",
            MessageType::Event => "event",
        }
    }

    /// Parses the wire value (`None` for an unknown type: nack 490, see `ack::nack`).
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "text" => MessageType::Text,
            "media" => MessageType::Media,
            "reaction" => MessageType::Reaction,
            "poll" => MessageType::Poll,
            "event" => MessageType::Event,
            _ => return None,
        })
    }
}

/// The `edit` attribute (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EditAttr {
    /// `1`: message edit.
    MessageEdit,
    /// `2`: pin.
    Pin,
    /// `3`: admin edit (newsletters).
    AdminEdit,
    /// `7`: sender revoke (delete for everyone).
    SenderRevoke,
    /// `8`: admin revoke.
    AdminRevoke,
}

impl EditAttr {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            EditAttr::MessageEdit => "1",
            EditAttr::Pin => "2",
            EditAttr::AdminEdit => "3",
            EditAttr::SenderRevoke => "7",
            EditAttr::AdminRevoke => "8",
        }
    }

    /// Reads an `edit` attribute value; `None` for an unknown one.
    pub fn from_attr(value: &str) -> Option<Self> {
        Some(match value {
            "1" => EditAttr::MessageEdit,
            "2" => EditAttr::Pin,
            "3" => EditAttr::AdminEdit,
            "7" => EditAttr::SenderRevoke,
            "8" => EditAttr::AdminRevoke,
            _ => return None,
        })
    }

    fn parse(node: &Node) -> Result<Option<Self>, StanzaError> {
        if node.attr("edit").is_none() {
            return Ok(None);
        }
        match node.attr_str("edit").and_then(Self::from_attr) {
            Some(edit) => Ok(Some(edit)),
            None => Err(bad(
                node,
                "edit",
                node.attr("edit").map(ToString::to_string),
            )),
        }
    }
}

/// `addressing_mode` of group messages (§9, §10, §16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressingMode {
    /// `pn`: phone-number namespace.
    Pn,
    /// `lid`: LID namespace.
    Lid,
}

impl AddressingMode {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressingMode::Pn => "pn",
            AddressingMode::Lid => "lid",
        }
    }

    /// The namespace of a user or device JID (`None` for groups, server and others).
    pub fn of(jid: &Jid) -> Option<Self> {
        match jid.server() {
            Server::WhatsApp | Server::Hosted => Some(AddressingMode::Pn),
            Server::Lid | Server::HostedLid => Some(AddressingMode::Lid),
            _ => None,
        }
    }

    pub(crate) fn parse(node: &Node) -> Result<Option<Self>, StanzaError> {
        match node.attr_str("addressing_mode") {
            None if node.attr("addressing_mode").is_none() => Ok(None),
            Some("pn") => Ok(Some(AddressingMode::Pn)),
            Some("lid") => Ok(Some(AddressingMode::Lid)),
            _ => Err(bad(node, "addressing_mode", node.attr("addressing_mode"))),
        }
    }
}

/// The PN ↔ LID attributes of §16: the server tells the other namespace's address of the sender
/// (1:1: `sender_lid`/`sender_pn`; groups: `participant_lid`/`participant_pn`); a LID-addressed
/// send names the peer's phone number in `peer_recipient_pn`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AltAddresses {
    /// `sender_lid` (server → receiver, 1:1 from a PN sender).
    pub sender_lid: Option<Jid>,
    /// `sender_pn` (server → receiver, 1:1 from a LID sender).
    pub sender_pn: Option<Jid>,
    /// `participant_lid` (server → receiver, groups).
    pub participant_lid: Option<Jid>,
    /// `participant_pn` (server → receiver, groups).
    pub participant_pn: Option<Jid>,
    /// `peer_recipient_pn` (sender → server, LID-addressed DM).
    pub peer_recipient_pn: Option<Jid>,
}

const ALT_ATTRS: [&str; 5] = [
    "sender_lid",
    "sender_pn",
    "participant_lid",
    "participant_pn",
    "peer_recipient_pn",
];

impl AltAddresses {
    fn slots(&self) -> [&Option<Jid>; 5] {
        [
            &self.sender_lid,
            &self.sender_pn,
            &self.participant_lid,
            &self.participant_pn,
            &self.peer_recipient_pn,
        ]
    }

    fn write(&self, mut node: Node) -> Node {
        for (attr, value) in ALT_ATTRS.into_iter().zip(self.slots()) {
            node = put(node, attr, value.as_ref());
        }
        node
    }

    fn parse(node: &Node) -> Result<Self, StanzaError> {
        Ok(Self {
            sender_lid: opt_jid(node, "sender_lid")?,
            sender_pn: opt_jid(node, "sender_pn")?,
            participant_lid: opt_jid(node, "participant_lid")?,
            participant_pn: opt_jid(node, "participant_pn")?,
            peer_recipient_pn: opt_jid(node, "peer_recipient_pn")?,
        })
    }
}

/// A `<message>` stanza. Which side sets what:
/// * **sender → server** (§7, §9, §11): `id`, `to` (user JID, group, or — retry resend — device),
///   `kind`, `edit`, `phash` (groups), `addressing_mode` (groups), `alt.peer_recipient_pn`,
///   `participants` (fan-out), `encs` (group `skmsg`; a retry resend's single enc), `device_identity`
///   (when any `pkmsg`), `tctoken` (1:1), `peer` (own-device messages), `device_fanout`
///   (`false` on a 1:1 retry resend), and on a resend `t`, `participant`, `recipient`.
/// * **server → receiver** (§10): `id`, `from` (sender device, or the group), `kind`, `t`,
///   `notify`, `participant` (group sender device), `recipient` (chat of an own-device copy),
///   `alt` (`sender_*` / `participant_*`), `addressing_mode`, `offline`, `edit`, `peer`,
///   `encs` (this device's ciphertexts, pairwise first), `device_identity`, `unavailable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStanza {
    /// `id`.
    pub id: MessageId,
    /// `to`.
    pub to: Option<Jid>,
    /// `from`.
    pub from: Option<Jid>,
    /// `type`.
    pub kind: MessageType,
    /// `edit`.
    pub edit: Option<EditAttr>,
    /// `participant`: the sender device in a group delivery; the device on a group retry resend.
    pub participant: Option<Jid>,
    /// `recipient`: the chat of a message from our own other device.
    pub recipient: Option<Jid>,
    /// `phash` (`"2:" + 8 base64 chars`, §8).
    pub phash: Option<String>,
    /// `addressing_mode`.
    pub addressing_mode: Option<AddressingMode>,
    /// PN ↔ LID attributes (§16).
    pub alt: AltAddresses,
    /// `t`: unix seconds.
    pub t: Option<u64>,
    /// `notify`: the sender's push name.
    pub notify: Option<String>,
    /// `category="peer"`: an own-device-only message (§7).
    pub peer: bool,
    /// `offline`: present on stanzas of the offline backlog (`session-lifecycle.md` §8).
    pub offline: Option<String>,
    /// `device_fanout` (`false` on a 1:1 retry resend, §11).
    pub device_fanout: Option<bool>,
    /// `<participants>`: one ciphertext per recipient device.
    pub participants: Vec<DeviceEnc>,
    /// `<enc>` children directly under `<message>`, in document order.
    pub encs: Vec<Enc>,
    /// `<device-identity>`: our `ADVSignedDeviceIdentity` protobuf.
    pub device_identity: Option<Vec<u8>>,
    /// `<tctoken>`: the privacy token for this contact (§16).
    pub tctoken: Option<Vec<u8>>,
    /// `<unavailable type>`: the server could not deliver ciphertext (§10).
    pub unavailable: Option<String>,
}

impl MessageStanza {
    /// Our `<ack class="message">` for this received message (`messaging.md` §10): its `id`
    /// and `type`, its `from` as `to`, `participant` and `recipient` echoed (§16), our device
    /// as `from`; a nack when `error` is set.
    pub fn ack(&self, own_device: Option<Jid>, error: Option<u16>) -> StanzaAck {
        StanzaAck {
            class: AckClass::Message,
            id: self.id.clone(),
            to: self.from.clone().unwrap_or_else(server_jid),
            participant: self.participant.clone(),
            recipient: self.recipient.clone(),
            kind: Some(self.kind.as_str().to_owned()),
            from: own_device,
            error,
        }
    }

    /// A stanza with only `id`, `kind` and nothing else; callers set the rest.
    pub fn new(id: MessageId, kind: MessageType) -> Self {
        Self {
            id,
            to: None,
            from: None,
            kind,
            edit: None,
            participant: None,
            recipient: None,
            phash: None,
            addressing_mode: None,
            alt: AltAddresses::default(),
            t: None,
            notify: None,
            peer: false,
            offline: None,
            device_fanout: None,
            participants: Vec::new(),
            encs: Vec::new(),
            device_identity: None,
            tctoken: None,
            unavailable: None,
        }
    }

    /// Builds the node: `<participants>` first, then direct `<enc>`s, `<device-identity>`,
    /// `<tctoken>`, `<unavailable>` (whatsmeow's order, §9).
    pub fn to_node(&self) -> Node {
        let mut node = Node::new("message").with_attr("id", self.id.as_str());
        node = put(node, "to", self.to.as_ref());
        node = put(node, "from", self.from.as_ref());
        node = node.with_attr("type", self.kind.as_str());
        node = put(node, "edit", self.edit.map(EditAttr::as_str));
        node = put(node, "participant", self.participant.as_ref());
        node = put(node, "recipient", self.recipient.as_ref());
        node = put(node, "phash", self.phash.as_deref());
        node = put(
            node,
            "addressing_mode",
            self.addressing_mode.map(AddressingMode::as_str),
        );
        node = self.alt.write(node);
        node = put(node, "t", self.t);
        node = put(node, "notify", self.notify.as_deref());
        if self.peer {
            node = node.with_attr("category", "peer");
        }
        node = put(node, "offline", self.offline.as_deref());
        node = put(node, "device_fanout", self.device_fanout);
        let mut children = Vec::with_capacity(self.encs.len() + 4);
        if !self.participants.is_empty() {
            let to = self.participants.iter().map(|p| {
                Node::new("to")
                    .with_attr("jid", &p.jid)
                    .with_children(vec![p.enc.to_node()])
            });
            children.push(Node::new("participants").with_children(to.collect()));
        }
        children.extend(self.encs.iter().map(Enc::to_node));
        for (tag, bytes) in [
            ("device-identity", &self.device_identity),
            ("tctoken", &self.tctoken),
        ] {
            if let Some(b) = bytes {
                children.push(Node::new(tag).with_bytes(b.clone()));
            }
        }
        if let Some(kind) = &self.unavailable {
            children.push(Node::new("unavailable").with_attr("type", kind.as_str()));
        }
        node.with_children(children)
    }

    /// Parses a `<message>`. Refused: another tag, a missing or malformed `id`, neither `to` nor
    /// `from`, an unknown `type`/`edit`/`addressing_mode`, a malformed JID or number, a bad
    /// `<enc>`, more than [`MAX_FANOUT`] participants or [`MAX_DIRECT_ENCS`] direct encs, and a
    /// stanza with no ciphertext at all and no `<unavailable>` (§10: nack 488).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "message")?;
        let id = req_id(node, "id")?;
        let kind_str = req_attr(node, "type")?;
        let kind = MessageType::parse(kind_str).ok_or_else(|| bad(node, "type", kind_str))?;
        let mut msg = Self::new(id, kind);
        msg.to = opt_jid(node, "to")?;
        msg.from = opt_jid(node, "from")?;
        if msg.to.is_none() && msg.from.is_none() {
            req_jid(node, "from")?;
        }
        msg.edit = EditAttr::parse(node)?;
        msg.participant = opt_jid(node, "participant")?;
        msg.recipient = opt_jid(node, "recipient")?;
        msg.phash = opt_text(node, "phash")?;
        msg.addressing_mode = AddressingMode::parse(node)?;
        msg.alt = AltAddresses::parse(node)?;
        msg.t = opt_num(node, "t")?;
        msg.notify = opt_text(node, "notify")?;
        msg.peer = match node.attr_str("category") {
            None if node.attr("category").is_none() => false,
            Some("peer") => true,
            _ => return Err(bad(node, "category", node.attr("category"))),
        };
        msg.offline = opt_text(node, "offline")?;
        msg.device_fanout = node
            .attr("device_fanout")
            .map(|_| opt_flag(node, "device_fanout"))
            .transpose()?;
        msg.parse_children(node)?;
        Ok(msg)
    }

    fn parse_children(&mut self, node: &Node) -> Result<(), StanzaError> {
        if let Some(list) = node.child("participants") {
            if list.children().len() > MAX_FANOUT {
                return Err(bad(list, "count", list.children().len()));
            }
            self.participants = list
                .children()
                .iter()
                .map(|to| {
                    expect_tag(to, "to")?;
                    let enc = to.child("enc").ok_or_else(|| StanzaError::MissingChild {
                        tag: "to".to_owned(),
                        child: "enc",
                    })?;
                    Ok(DeviceEnc {
                        jid: req_jid(to, "jid")?,
                        enc: Enc::from_node(enc)?,
                    })
                })
                .collect::<Result<_, StanzaError>>()?;
        }
        let encs: Vec<&Node> = node.children_by_tag("enc").collect();
        if encs.len() > MAX_DIRECT_ENCS {
            return Err(bad(node, "enc count", encs.len()));
        }
        self.encs = encs
            .into_iter()
            .map(Enc::from_node)
            .collect::<Result<_, _>>()?;
        self.device_identity = opt_child_bytes(node, "device-identity")?;
        self.tctoken = opt_child_bytes(node, "tctoken")?;
        if let Some(u) = node.child("unavailable") {
            self.unavailable = Some(opt_text(u, "type")?.unwrap_or_default());
        }
        if self.participants.is_empty() && self.encs.is_empty() && self.unavailable.is_none() {
            return Err(StanzaError::MissingChild {
                tag: node.tag.clone(),
                child: "enc",
            });
        }
        Ok(())
    }

    /// Whether any ciphertext is a `pkmsg` (then `<device-identity>` must go along, §6 step 5).
    pub fn has_pkmsg(&self) -> bool {
        self.encs
            .iter()
            .chain(self.participants.iter().map(|p| &p.enc))
            .any(|e| e.kind == EncType::PkMsg)
    }

    /// The §16 one-namespace rule of a send: the outer `to` (when it is a user) and every
    /// `<to jid>` must all be PN or all LID — and match `addressing_mode` when it is set;
    /// mixing is what the server answers with 400 ([`super::ack::nack::BAD_REQUEST`]).
    /// Hosted devices count in their PN or LID namespace.
    pub fn check_one_namespace(&self) -> Result<(), StanzaError> {
        let mut seen: Option<AddressingMode> = self.addressing_mode;
        let user_to = self.to.iter().filter(|j| AddressingMode::of(j).is_some());
        for jid in user_to.chain(self.participants.iter().map(|p| &p.jid)) {
            let mode = AddressingMode::of(jid);
            match (seen, mode) {
                (_, None) => return Err(bad_ns(jid)),
                (None, Some(m)) => seen = Some(m),
                (Some(a), Some(b)) if a != b => return Err(bad_ns(jid)),
                (Some(_), Some(_)) => {}
            }
        }
        Ok(())
    }
}

fn bad_ns(jid: &Jid) -> StanzaError {
    let mut value = jid.to_string();
    value.truncate(MAX_TEXT);
    StanzaError::BadValue {
        tag: "message".to_owned(),
        what: "namespace",
        value,
    }
}

//! `<ack>` both ways (`messaging.md` §8, §10, §16; `session-lifecycle.md` §7.1, §7.2):
//! [`ServerAck`], the server's answer to a stanza we sent (its `t`, `phash`, `error` code,
//! `refresh_lid`, `server_id`), and [`StanzaAck`], the ack we send for every `message`,
//! `receipt`, `notification` and `call` we receive, echoing `id`, `from` (as `to`),
//! `participant`, `recipient` (§16: the server closes the stream when `recipient` is not
//! echoed) and `type`.

use super::fields::{opt_flag, opt_jid, opt_num, opt_text, put, req_id, req_jid};
use super::parse::{bad, expect_tag, req_attr, StanzaError};
use crate::binary::{Jid, Node};
use crate::ids::MessageId;

/// Error codes of `<ack error>`: the nacks a client sends (§10, whatsmeow `Nack*`) and the
/// rejections a server answers a send with (§8, §16).
pub mod nack {
    /// Client: the stanza could not be parsed.
    pub const PARSING_ERROR: u16 = 487;
    /// Client: unrecognized stanza (e.g. a `<message>` without any `<enc>`).
    pub const UNRECOGNIZED_STANZA: u16 = 488;
    /// Client: unrecognized stanza class.
    pub const UNRECOGNIZED_STANZA_CLASS: u16 = 489;
    /// Client: unrecognized stanza type.
    pub const UNRECOGNIZED_STANZA_TYPE: u16 = 490;
    /// Client: the decrypted payload is not a valid protobuf.
    pub const INVALID_PROTOBUF: u16 = 491;
    /// Client: invalid hosted companion stanza.
    pub const INVALID_HOSTED_COMPANION_STANZA: u16 = 493;
    /// Client: the message secret is missing.
    pub const MISSING_MESSAGE_SECRET: u16 = 495;
    /// Client: Signal duplicate / old counter.
    pub const SIGNAL_ERROR_OLD_COUNTER: u16 = 496;
    /// Client: the message was deleted on the peer.
    pub const MESSAGE_DELETED_ON_PEER: u16 = 499;
    /// Client: unhandled error (Baileys acks a failed decryption with it).
    pub const UNHANDLED_ERROR: u16 = 500;
    /// Client: unsupported admin revoke.
    pub const UNSUPPORTED_ADMIN_REVOKE: u16 = 550;
    /// Client: unsupported LID group.
    pub const UNSUPPORTED_LID_GROUP: u16 = 551;
    /// Client: a database operation failed.
    pub const DB_OPERATION_FAILED: u16 = 552;
    /// Server: bad request (e.g. PN and LID mixed in one stanza, §16).
    pub const BAD_REQUEST: u16 = 400;
    /// Server: reach-out refused for lack of a privacy token (§16); never retry blindly.
    pub const PRIVACY_TOKEN_REQUIRED: u16 = 463;
    /// Server: stanza validation failure (e.g. `<tctoken>` on a peer message, §16).
    pub const STANZA_VALIDATION: u16 = 479;
}

/// `class` of an ack: the tag of the acknowledged stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckClass {
    /// `message`.
    Message,
    /// `receipt`.
    Receipt,
    /// `notification`.
    Notification,
    /// `call`.
    Call,
}

impl AckClass {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            AckClass::Message => "message",
            AckClass::Receipt => "receipt",
            AckClass::Notification => "notification",
            AckClass::Call => "call",
        }
    }

    /// The class of a stanza tag (`None` for tags that are not acked).
    pub fn of_tag(tag: &str) -> Option<Self> {
        Some(match tag {
            "message" => AckClass::Message,
            "receipt" => AckClass::Receipt,
            "notification" => AckClass::Notification,
            "call" => AckClass::Call,
            _ => return None,
        })
    }

    fn parse(node: &Node) -> Result<Self, StanzaError> {
        let class = req_attr(node, "class")?;
        Self::of_tag(class).ok_or_else(|| bad(node, "class", class))
    }
}

/// The server's `<ack class id from t [phash] [error] [server_id] [refresh_lid]>` for a stanza
/// we sent (§8). wa-sim builds it; the gateway matches it to the send by `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAck {
    /// `class`.
    pub class: AckClass,
    /// `id`: the id of our stanza.
    pub id: MessageId,
    /// `from`: the chat (or the server).
    pub from: Option<Jid>,
    /// `type`, when the server names one.
    pub kind: Option<String>,
    /// `t`: the server's timestamp of the message (unix seconds).
    pub t: Option<u64>,
    /// `phash`: the server's participant-device-list hash.
    pub phash: Option<String>,
    /// `error`: set = the stanza was refused (see [`nack`]).
    pub error: Option<u16>,
    /// `server_id` (newsletters).
    pub server_id: Option<String>,
    /// `refresh_lid="true"`: re-query the peer's LID (§16).
    pub refresh_lid: bool,
}

impl ServerAck {
    /// A successful message ack at `t`.
    pub fn message(id: MessageId, from: Option<Jid>, t: u64) -> Self {
        Self {
            class: AckClass::Message,
            id,
            from,
            kind: None,
            t: Some(t),
            phash: None,
            error: None,
            server_id: None,
            refresh_lid: false,
        }
    }

    /// A message refused with `code` (see [`nack`]), e.g. 463 for a missing privacy token.
    pub fn refused(id: MessageId, from: Option<Jid>, t: u64, code: u16) -> Self {
        Self {
            error: Some(code),
            ..Self::message(id, from, t)
        }
    }

    /// The refusal code, if the server refused the stanza (`error` present and not 0).
    pub fn failure(&self) -> Option<u16> {
        self.error.filter(|&e| e != 0)
    }

    /// Builds the node (server side).
    pub fn to_node(&self) -> Node {
        let mut node = Node::new("ack")
            .with_attr("class", self.class.as_str())
            .with_attr("id", self.id.as_str());
        node = put(node, "from", self.from.as_ref());
        node = put(node, "type", self.kind.as_deref());
        node = put(node, "t", self.t);
        node = put(node, "phash", self.phash.as_deref());
        node = put(node, "error", self.error);
        node = put(node, "server_id", self.server_id.as_deref());
        if self.refresh_lid {
            node = node.with_attr("refresh_lid", "true");
        }
        node
    }

    /// Parses the server's ack; a non-numeric `t` or `error` is an error.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "ack")?;
        Ok(Self {
            class: AckClass::parse(node)?,
            id: req_id(node, "id")?,
            from: opt_jid(node, "from")?,
            kind: opt_text(node, "type")?,
            t: opt_num(node, "t")?,
            phash: opt_text(node, "phash")?,
            error: opt_num(node, "error")?,
            server_id: opt_text(node, "server_id")?,
            refresh_lid: opt_flag(node, "refresh_lid")?,
        })
    }
}

/// The ack we send for a received stanza (§10, `session-lifecycle.md` §7.1):
/// `<ack class id to [participant] [recipient] [type] [from] [error]/>`. `type` is echoed for
/// every class and `from` (our device) is set on message acks, as Baileys, whatsapp-rust and WA
/// Web do (§15). wa-sim parses it and checks [`StanzaAck::echoes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaAck {
    /// `class`: the acknowledged stanza's tag.
    pub class: AckClass,
    /// `id`: the stanza's id.
    pub id: MessageId,
    /// `to`: the stanza's `from`.
    pub to: Jid,
    /// `participant`, echoed.
    pub participant: Option<Jid>,
    /// `recipient`, echoed (§16: required when the stanza had one).
    pub recipient: Option<Jid>,
    /// `type`, echoed.
    pub kind: Option<String>,
    /// `from`: our own device JID (message acks).
    pub from: Option<Jid>,
    /// `error`: a nack code (see [`nack`]).
    pub error: Option<u16>,
}

impl StanzaAck {
    /// The ack of a received `message`/`receipt`/`notification`/`call` node: its tag as
    /// `class`, its `id`, `from` → `to`, and its `participant`, `recipient` and `type`.
    /// A stanza of another tag, or without `id`/`from`, is an error.
    pub fn for_stanza(stanza: &Node) -> Result<Self, StanzaError> {
        let class = AckClass::of_tag(&stanza.tag).ok_or_else(|| StanzaError::UnexpectedTag {
            expected: "message|receipt|notification|call",
            got: stanza.tag.clone(),
        })?;
        Ok(Self {
            class,
            id: req_id(stanza, "id")?,
            to: req_jid(stanza, "from")?,
            participant: opt_jid(stanza, "participant")?,
            recipient: opt_jid(stanza, "recipient")?,
            kind: opt_text(stanza, "type")?,
            from: None,
            error: None,
        })
    }

    /// This ack as a nack with `code`.
    #[must_use]
    pub fn with_error(mut self, code: u16) -> Self {
        self.error = Some(code);
        self
    }

    /// This ack naming our device as `from` (message acks).
    #[must_use]
    pub fn with_from(mut self, own_device: Jid) -> Self {
        self.from = Some(own_device);
        self
    }

    /// Whether this ack answers `stanza` by the §16 rule: same class, id and (as `to`) its
    /// `from`, and the stanza's `recipient` and `participant` echoed exactly.
    pub fn echoes(&self, stanza: &Node) -> bool {
        match Self::for_stanza(stanza) {
            Ok(want) => {
                want.class == self.class
                    && want.id == self.id
                    && want.to == self.to
                    && want.recipient == self.recipient
                    && want.participant == self.participant
            }
            Err(_) => false,
        }
    }

    /// Builds the node.
    pub fn to_node(&self) -> Node {
        let mut node = Node::new("ack")
            .with_attr("class", self.class.as_str())
            .with_attr("id", self.id.as_str())
            .with_attr("to", &self.to);
        node = put(node, "participant", self.participant.as_ref());
        node = put(node, "recipient", self.recipient.as_ref());
        node = put(node, "type", self.kind.as_deref());
        node = put(node, "from", self.from.as_ref());
        put(node, "error", self.error)
    }

    /// Parses a client ack (server side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "ack")?;
        Ok(Self {
            class: AckClass::parse(node)?,
            id: req_id(node, "id")?,
            to: req_jid(node, "to")?,
            participant: opt_jid(node, "participant")?,
            recipient: opt_jid(node, "recipient")?,
            kind: opt_text(node, "type")?,
            from: opt_jid(node, "from")?,
            error: opt_num(node, "error")?,
        })
    }
}

/// The nack code for a stanza our parsers refused (§10): a `<message>` without any `<enc>` is
/// 488 (unrecognized stanza), an unknown `type` of the stanza itself 490, anything else 487 (parsing error).
pub fn nack_for(err: &StanzaError) -> u16 {
    match err {
        StanzaError::MissingChild { child: "enc", tag } if tag == "message" => {
            nack::UNRECOGNIZED_STANZA
        }
        StanzaError::BadValue {
            what: "type", tag, ..
        } if AckClass::of_tag(tag).is_some() => nack::UNRECOGNIZED_STANZA_TYPE,
        StanzaError::UnexpectedTag { .. }
        | StanzaError::MissingAttr { .. }
        | StanzaError::MissingChild { .. }
        | StanzaError::BadValue { .. } => nack::PARSING_ERROR,
    }
}

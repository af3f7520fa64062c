//! The group metadata every `w:g2` answer and `w:gp2` notification carries: `<group>` and its
//! `<participant>`s (`messaging.md` §9 step 1; the attributes the doc leaves out — `creator`,
//! `s_t`, `s_o`, `error` — are read the way whatsmeow `group.go` (`parseGroupNode`,
//! `parseParticipant`) reads them). A leaf: `group.rs` and `group_notify.rs` build on it.
//!
//! ```text
//! <group id="120363…" subject="…" creation="…" [creator="…"] [s_t="…"] [s_o="…"]
//!        [addressing_mode="lid|pn"]>
//!   <participant jid="…" [type="admin|superadmin"] [lid="…"|phone_number="…"] [error="403"]/>…
//!   [<description id participant t><body>〈text〉</body></description>]  (`group_topic.rs`)
//! </group>
//! ```

use super::fields::{opt_jid, opt_num, opt_text, put, req_jid, req_num};
use super::message::AddressingMode;
use super::parse::{bad, expect_tag, req_attr, StanzaError};
use crate::binary::{Jid, Node, Server};

/// The group IQ namespace.
pub const GROUP_XMLNS: &str = "w:g2";

/// Most participants a group (and one participant change) may list: WhatsApp's group size limit.
pub const MAX_GROUP_PARTICIPANTS: usize = 1024;

/// A participant's role (`type`: absent, `admin`, `superadmin`; a superadmin is also an admin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ParticipantRole {
    /// No `type`: an ordinary member.
    #[default]
    Member,
    /// `type="admin"`.
    Admin,
    /// `type="superadmin"`: the creator.
    SuperAdmin,
}

impl ParticipantRole {
    /// The `type` value (`None` for a member).
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            ParticipantRole::Member => None,
            ParticipantRole::Admin => Some("admin"),
            ParticipantRole::SuperAdmin => Some("superadmin"),
        }
    }

    /// Whether the participant administers the group (admin or superadmin).
    pub fn is_admin(self) -> bool {
        match self {
            ParticipantRole::Member => false,
            ParticipantRole::Admin | ParticipantRole::SuperAdmin => true,
        }
    }

    fn parse(node: &Node) -> Result<Self, StanzaError> {
        match node.attr_str("type") {
            None if node.attr("type").is_none() => Ok(ParticipantRole::Member),
            Some("admin") => Ok(ParticipantRole::Admin),
            Some("superadmin") => Ok(ParticipantRole::SuperAdmin),
            _ => Err(bad(node, "type", node.attr("type"))),
        }
    }
}

/// One `<participant>`: in a group's metadata, in a participant-change answer (with its
/// per-participant `error` code) or in a `w:gp2` notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupParticipant {
    /// `jid`: the user (PN or LID, as the group's addressing mode says).
    pub jid: Jid,
    /// `type`.
    pub role: ParticipantRole,
    /// `lid`: the user's LID when `jid` is a phone number.
    pub lid: Option<Jid>,
    /// `phone_number`: the user's phone number when `jid` is a LID.
    pub phone_number: Option<Jid>,
    /// `error`: the per-participant result code of a change (absent = done; e.g. 403 refused by
    /// the user's privacy settings, 409 already a member, 404 not a member).
    pub error: Option<u16>,
}

impl GroupParticipant {
    /// A plain member.
    pub fn member(jid: Jid) -> Self {
        Self {
            jid,
            role: ParticipantRole::Member,
            lid: None,
            phone_number: None,
            error: None,
        }
    }

    /// The `<participant>` node.
    pub fn to_node(&self) -> Node {
        let mut node = Node::new("participant").with_attr("jid", &self.jid);
        node = put(node, "type", self.role.as_str());
        node = put(node, "lid", self.lid.as_ref());
        node = put(node, "phone_number", self.phone_number.as_ref());
        put(node, "error", self.error)
    }

    /// Parses a `<participant>`: a user JID (PN or LID, no device), the optional role, the
    /// other-namespace address and the result code.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "participant")?;
        Ok(Self {
            jid: user_jid(node, "jid")?,
            role: ParticipantRole::parse(node)?,
            lid: opt_jid(node, "lid")?,
            phone_number: opt_jid(node, "phone_number")?,
            error: opt_num(node, "error")?,
        })
    }
}

/// A required user JID attribute (PN or LID; a device part is dropped).
pub(crate) fn user_jid(node: &Node, attr: &'static str) -> Result<Jid, StanzaError> {
    let jid = req_jid(node, attr)?;
    match jid.server() {
        Server::WhatsApp | Server::Lid if !jid.user_part().is_empty() => Ok(jid.to_non_ad()),
        _ => Err(bad(node, attr, jid)),
    }
}

/// A group JID attribute: `id@g.us` (text or JID form) with a non-empty id.
pub(crate) fn group_jid(node: &Node, attr: &'static str) -> Result<Jid, StanzaError> {
    let jid = req_jid(node, attr)?;
    if jid.is_group() && !jid.user_part().is_empty() {
        Ok(jid)
    } else {
        Err(bad(node, attr, jid))
    }
}

/// The `<participant>` children of `node`, 0 to [`MAX_GROUP_PARTICIPANTS`] (other children are
/// left to the caller).
pub(crate) fn participants_of(node: &Node) -> Result<Vec<GroupParticipant>, StanzaError> {
    let list: Vec<&Node> = node.children_by_tag("participant").collect();
    if list.len() > MAX_GROUP_PARTICIPANTS {
        return Err(bad(node, "participant count", list.len()));
    }
    list.into_iter().map(GroupParticipant::from_node).collect()
}

/// A group's metadata (`<group>`): what `create`, `query` and `participating` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group, `id@g.us` (written as the bare `id`).
    pub jid: Jid,
    /// `subject`.
    pub subject: String,
    /// `s_t`: when the subject was set (unix seconds).
    pub subject_time: Option<u64>,
    /// `s_o`: who set the subject.
    pub subject_owner: Option<Jid>,
    /// `creation`: unix seconds.
    pub creation: u64,
    /// `creator`: the owner.
    pub creator: Option<Jid>,
    /// `addressing_mode`: the namespace participants are listed (and messages addressed) in.
    pub addressing_mode: Option<AddressingMode>,
    /// The participants.
    pub participants: Vec<GroupParticipant>,
    /// `<description>`: the group's description, if it has one.
    pub topic: Option<GroupTopic>,
}

impl GroupInfo {
    /// The `<group>` node.
    pub fn to_node(&self) -> Node {
        let mut node = Node::new("group")
            .with_attr("id", self.jid.user_part())
            .with_attr("subject", self.subject.as_str())
            .with_attr("creation", self.creation);
        node = put(node, "creator", self.creator.as_ref());
        node = put(node, "s_t", self.subject_time);
        node = put(node, "s_o", self.subject_owner.as_ref());
        node = put(
            node,
            "addressing_mode",
            self.addressing_mode.map(|m| m.as_str()),
        );
        let mut participants: Vec<Node> = self
            .participants
            .iter()
            .map(GroupParticipant::to_node)
            .collect();
        participants.extend(self.topic.as_ref().map(GroupTopic::to_node));
        if participants.is_empty() {
            node
        } else {
            node.with_children(participants)
        }
    }

    /// Parses a `<group>`: `id` (bare or `…@g.us`), `creation`, the optional attributes and up
    /// to [`MAX_GROUP_PARTICIPANTS`] participants, the description; other children (settings)
    /// are ignored.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "group")?;
        let id = req_attr(node, "id")?;
        let jid = if id.contains('@') {
            group_jid(node, "id")?
        } else if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            Jid::group(id)
        } else {
            return Err(bad(node, "id", id));
        };
        Ok(Self {
            jid,
            subject: opt_text(node, "subject")?.unwrap_or_default(),
            subject_time: opt_num(node, "s_t")?,
            subject_owner: opt_jid(node, "s_o")?,
            creation: req_num(node, "creation")?,
            creator: opt_jid(node, "creator")?,
            addressing_mode: AddressingMode::parse(node)?,
            participants: participants_of(node)?,
            topic: match node.child("description") {
                Some(d) => GroupTopic::from_node(d)?,
                None => None,
            },
        })
    }

    /// The participant `jid`, if a member (matched on `jid`, `lid` or `phone_number`).
    pub fn participant(&self, user: &Jid) -> Option<&GroupParticipant> {
        let user = user.to_non_ad();
        self.participants.iter().find(|p| {
            p.jid == user || p.lid.as_ref() == Some(&user) || p.phone_number.as_ref() == Some(&user)
        })
    }
}

/// Longest description accepted, in bytes (WhatsApp shows 2,048 characters at most; a bound of
/// this crate: the notes give none).
pub const MAX_TOPIC_LEN: usize = 8192;

/// The text of a `<body>` child: UTF-8 of at most [`MAX_TOPIC_LEN`] bytes.
pub(crate) fn body_text(node: &Node) -> Result<Option<String>, StanzaError> {
    let Some(body) = node.child("body") else {
        return Ok(None);
    };
    let text = match (body.bytes(), body.content_str()) {
        (Some(b), _) => core::str::from_utf8(b).map_err(|_| bad(body, "content", b))?,
        (None, Some(s)) => s,
        (None, None) => "",
    };
    if text.len() > MAX_TOPIC_LEN {
        return Err(bad(body, "length", text.len()));
    }
    Ok(Some(text.to_owned()))
}

pub(crate) fn body_node(text: &str) -> Node {
    Node::new("body").with_bytes(text.as_bytes().to_vec())
}

/// A group's current description, as its metadata carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTopic {
    /// The text.
    pub text: String,
    /// `id`: the description's id (the next change names it as `prev`).
    pub id: String,
    /// `participant`: who set it.
    pub set_by: Option<Jid>,
    /// `t`: when it was set (unix seconds).
    pub set_at: Option<u64>,
}

impl GroupTopic {
    /// The `<description>` child of a `<group>`.
    pub fn to_node(&self) -> Node {
        let node = Node::new("description").with_attr("id", self.id.as_str());
        let node = put(node, "participant", self.set_by.as_ref());
        put(node, "t", self.set_at).with_children(vec![body_node(&self.text)])
    }

    /// Parses a `<group>`'s `<description>`; `None` without a `<body>` (no description).
    pub fn from_node(node: &Node) -> Result<Option<Self>, StanzaError> {
        expect_tag(node, "description")?;
        let Some(text) = body_text(node)? else {
            return Ok(None);
        };
        Ok(Some(Self {
            text,
            id: opt_text(node, "id")?.unwrap_or_default(),
            set_by: opt_jid(node, "participant")?,
            set_at: opt_num(node, "t")?,
        }))
    }
}

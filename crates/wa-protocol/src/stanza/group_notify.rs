//! The `w:gp2` notification: a group changed (members added, removed, promoted, demoted; a new
//! subject; the group created with us in it). The doc is silent on its shape; attribute names as
//! whatsmeow `group.go` reads them (`parseGroupChange`, `parseGroupCreate`,
//! `parseParticipantList`).
//!
//! ```text
//! <notification id type="w:gp2" from="<gid>@g.us" t [participant="<author>"]
//!               [participant_pn="<author pn>"] [notify="<push name>"]>
//!   <add|remove|promote|demote [reason]><participant jid [lid|phone_number]/>…</…>
//!   <subject subject s_t [s_o]/>
//!   <create [reason] [key]><group …/></create>
//!   <invite code/>
//!   <description id><body>〈text〉</body>|<delete/></description>
//! </notification>
//! ```

use super::fields::{opt_jid, opt_text, put, req_num};
use super::group::ParticipantAction;
use super::group_info::{participants_of, GroupInfo, GroupParticipant, MAX_GROUP_PARTICIPANTS};
use super::group_topic::DescriptionChange;
use super::parse::{bad, req_attr, req_child, StanzaError};
use crate::binary::{Jid, Node};

/// The notification `type`.
pub const GROUP_NOTIFICATION_TYPE: &str = "w:gp2";

/// One change a `w:gp2` notification reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    /// Participants added, removed, promoted or demoted.
    Participants {
        /// Which.
        action: ParticipantAction,
        /// `reason` (e.g. `invite` for a join through a link).
        reason: Option<String>,
        /// Who.
        participants: Vec<GroupParticipant>,
    },
    /// A new subject.
    Subject {
        /// `subject`.
        subject: String,
        /// `s_t`: unix seconds.
        time: u64,
        /// `s_o`: who set it.
        by: Option<Jid>,
    },
    /// The group was created with us in it (or we were added to an existing group).
    Create {
        /// `reason`.
        reason: Option<String>,
        /// `key`: the creator's dedup key.
        key: Option<String>,
        /// The group's metadata.
        group: Box<GroupInfo>,
    },
    /// The invite code changed.
    Invite {
        /// The new code.
        code: String,
    },
    /// The description was set or deleted (`group_topic.rs`; who and when are the
    /// notification's `participant` and `t`).
    Description(DescriptionChange),
}

impl GroupChange {
    fn to_node(&self) -> Node {
        match self {
            GroupChange::Participants {
                action,
                reason,
                participants,
            } => put(Node::new(action.as_str()), "reason", reason.as_deref())
                .with_children(participants.iter().map(GroupParticipant::to_node).collect()),
            GroupChange::Subject { subject, time, by } => {
                let node = Node::new("subject")
                    .with_attr("subject", subject.as_str())
                    .with_attr("s_t", *time);
                put(node, "s_o", by.as_ref())
            }
            GroupChange::Create { reason, key, group } => {
                let node = put(Node::new("create"), "reason", reason.as_deref());
                put(node, "key", key.as_deref()).with_children(vec![group.to_node()])
            }
            GroupChange::Invite { code } => Node::new("invite").with_attr("code", code.as_str()),
            GroupChange::Description(d) => d.to_node(),
        }
    }

    /// The change a child describes; `None` for a child this crate does not model (settings,
    /// …), which the caller skips.
    fn from_node(node: &Node) -> Result<Option<Self>, StanzaError> {
        if let Some(action) = ParticipantAction::of_tag(&node.tag) {
            let participants = participants_of(node)?;
            if participants.is_empty() {
                return Err(StanzaError::MissingChild {
                    tag: node.tag.clone(),
                    child: "participant",
                });
            }
            return Ok(Some(GroupChange::Participants {
                action,
                reason: opt_text(node, "reason")?,
                participants,
            }));
        }
        Ok(Some(match node.tag.as_str() {
            "subject" => GroupChange::Subject {
                subject: req_attr(node, "subject")?.to_owned(),
                time: req_num(node, "s_t")?,
                by: opt_jid(node, "s_o")?,
            },
            "create" => GroupChange::Create {
                reason: opt_text(node, "reason")?,
                key: opt_text(node, "key")?,
                group: Box::new(GroupInfo::from_node(req_child(node, "group")?)?),
            },
            "invite" => GroupChange::Invite {
                code: opt_text(node, "code")?
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| bad(node, "code", ""))?,
            },
            "description" => GroupChange::Description(DescriptionChange::from_node(node)?),
            _ => return Ok(None),
        }))
    }
}

/// The body of a `w:gp2` notification (the envelope's `from` is the group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNotification {
    /// `participant`: who made the change (absent for server-made changes).
    pub author: Option<Jid>,
    /// `participant_pn`: the author's phone number when `participant` is a LID.
    pub author_pn: Option<Jid>,
    /// `notify`: the author's push name.
    pub notify: Option<String>,
    /// The modelled changes, in document order (at least one).
    pub changes: Vec<GroupChange>,
}

impl GroupNotification {
    /// Adds the body's attributes and children to the notification envelope.
    pub(crate) fn write(&self, node: Node) -> Node {
        let node = put(node, "participant", self.author.as_ref());
        let node = put(node, "participant_pn", self.author_pn.as_ref());
        let node = put(node, "notify", self.notify.as_deref());
        node.with_children(self.changes.iter().map(GroupChange::to_node).collect())
    }

    /// Parses the body of `<notification type="w:gp2">` (at most [`MAX_GROUP_PARTICIPANTS`]
    /// children). `None` when no child is a change modelled here (settings, …):
    /// the caller treats it as an unhandled type and still acks it.
    pub fn from_notification(node: &Node) -> Result<Option<Self>, StanzaError> {
        if node.children().len() > MAX_GROUP_PARTICIPANTS {
            return Err(bad(node, "change count", node.children().len()));
        }
        let mut changes = Vec::new();
        for child in node.children() {
            if let Some(change) = GroupChange::from_node(child)? {
                changes.push(change);
            }
        }
        if changes.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            author: opt_jid(node, "participant")?,
            author_pn: opt_jid(node, "participant_pn")?,
            notify: opt_text(node, "notify")?,
            changes,
        }))
    }

    /// Members that left or were removed (a sender-key rotation is due, issue 10 item 5).
    pub fn removed(&self) -> impl Iterator<Item = &GroupParticipant> {
        self.changes.iter().flat_map(|c| match c {
            GroupChange::Participants {
                action: ParticipantAction::Remove,
                participants,
                ..
            } => participants.as_slice(),
            _ => &[],
        })
    }
}

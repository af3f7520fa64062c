//! The group description ("topic"): the `<description>` set in a `w:g2` IQ, the same element in
//! a group's metadata and in a `w:gp2` notification. The protocol notes are silent on it
//! (`messaging.md` §9 covers the metadata query only); the shapes are the ones whatsmeow
//! `group.go` writes and reads (`SetGroupTopic`; `parseGroupNode` and `parseGroupChange`,
//! case `description`). `GroupTopic` (the metadata's element) is in `group_info.rs`; `group.rs` dispatches the set,
//! `group_notify.rs` reports the change.
//!
//! ```text
//! set:          set to <gid>  <description id="<new id>" [prev="<current id>"]>
//!                               <body>〈text〉</body>
//!                             </description>                     (empty text: delete="true",
//!                                                                 no body)  → (empty result)
//! metadata:     <group …><description id participant t><body>〈text〉</body></description></group>
//! notification: <notification type="w:gp2" participant t>
//!                 <description id><body>〈text〉</body></description>  (or <delete/> for a
//!               </notification>                                        removed description)
//! ```

use super::fields::{opt_text, put, req_jid};
use super::group_info::{body_node, body_text, GROUP_XMLNS};
use super::iq::{expect_iq, IqKind, IqRequest};
use super::parse::{bad, expect_tag, req_attr, StanzaError};
use crate::binary::{Jid, Node};

/// Set (or, with an empty text, delete) a group's description: `<description id [prev]>` to the
/// group, answered with an empty result (`GroupDone`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDescription {
    /// The group.
    pub group: Jid,
    /// `id`: the new description's id (a message id, chosen by the client).
    pub id: String,
    /// `prev`: the id of the description it replaces (absent when the group has none).
    pub prev: Option<String>,
    /// The new text; empty deletes the description.
    pub text: String,
}

impl SetDescription {
    /// The request.
    pub fn request(&self) -> IqRequest {
        let node = Node::new("description").with_attr("id", self.id.as_str());
        let node = put(node, "prev", self.prev.as_deref());
        let node = if self.text.is_empty() {
            node.with_attr("delete", "true")
        } else {
            node.with_children(vec![body_node(&self.text)])
        };
        IqRequest {
            xmlns: GROUP_XMLNS,
            kind: IqKind::Set,
            to: self.group.clone(),
            children: vec![node],
        }
    }

    /// Parses the request (server side): to a group, a non-empty `id`, a `<body>` of at most
    /// [`MAX_TOPIC_LEN`] bytes or `delete="true"`.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_iq(node, IqKind::Set, GROUP_XMLNS)?;
        let group = req_jid(node, "to")?;
        if !group.is_group() || group.user_part().is_empty() {
            return Err(bad(node, "to", group));
        }
        let description = match node.children() {
            [child] => child,
            other => return Err(bad(node, "child count", other.len())),
        };
        expect_tag(description, "description")?;
        let id = req_attr(description, "id")?;
        if id.is_empty() || id.len() > 64 {
            return Err(bad(description, "id", id));
        }
        let delete = description.attr_str("delete") == Some("true");
        let text = match (body_text(description)?, delete) {
            (Some(text), false) if !text.is_empty() => text,
            (None, true) => String::new(),
            (text, _) => return Err(bad(description, "body", text)),
        };
        Ok(Self {
            group,
            id: id.to_owned(),
            prev: opt_text(description, "prev")?,
            text,
        })
    }
}

/// The `<description>` change of a `w:gp2` notification: a new text, or `<delete/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptionChange {
    /// `id`: the new description's id.
    pub id: String,
    /// The new text; `None` when the description was deleted.
    pub text: Option<String>,
}

impl DescriptionChange {
    /// The `<description>` child of the notification.
    pub fn to_node(&self) -> Node {
        let node = Node::new("description").with_attr("id", self.id.as_str());
        match &self.text {
            Some(text) => node.with_children(vec![body_node(text)]),
            None => node.with_children(vec![Node::new("delete")]),
        }
    }

    /// Parses the notification's `<description>`: a `<body>` or a `<delete/>`.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "description")?;
        let text = if node.child("delete").is_some() {
            None
        } else {
            Some(body_text(node)?.ok_or_else(|| StanzaError::MissingChild {
                tag: node.tag.clone(),
                child: "body",
            })?)
        };
        Ok(Self {
            id: opt_text(node, "id")?.unwrap_or_default(),
            text,
        })
    }
}

//! The `<notification>`s messaging needs, parsed into typed values (`messaging.md` §4, §12,
//! §13, §16): `privacy_token` (tokens per contact), `devices` (a user's device list changed),
//! `encrypt` (identity change, or prekeys running low), `w:gp2` (a group changed,
//! `group_notify.rs`). Every other type parses as
//! [`NotificationBody::Other`] so the caller still acks it (`session-lifecycle.md` §7.1).
//!
//! ```text
//! <notification id from type t [offline] …>
//!   type="devices":       <add|remove|update [device_hash] [hash]><device jid [key-index]/>…
//!                           [<key-index-list ts>〈ADVSignedKeyIndexList〉</key-index-list>]</…>
//!   type="encrypt":       <identity/>  |  <count value/>
//!   type="privacy_token": <tokens><token jid type t>〈bytes〉</token>…</tokens>
//! </notification>
//! ```

use super::fields::{opt_num, opt_text, put, req_id, req_jid, req_num};
use super::group_notify::{GroupNotification, GROUP_NOTIFICATION_TYPE};
use super::parse::{bad, expect_tag, req_attr, req_child, StanzaError};
use super::privacy::PrivacyTokens;
use super::usync::KeyIndexListNode;
use crate::binary::{Jid, Node};
use crate::ids::MessageId;

/// Most `<add>`/`<remove>`/`<update>` children, and devices in each, accepted.
pub const MAX_DEVICE_CHANGES: usize = 64;

/// Which way a user's device list changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceChangeKind {
    /// `<add>`: a companion was linked.
    Add,
    /// `<remove>`: a companion was unlinked.
    Remove,
    /// `<update>`: the list changed (refetch by hash).
    Update,
}

impl DeviceChangeKind {
    /// The child tag.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceChangeKind::Add => "add",
            DeviceChangeKind::Remove => "remove",
            DeviceChangeKind::Update => "update",
        }
    }

    fn of_tag(tag: &str) -> Option<Self> {
        Some(match tag {
            "add" => DeviceChangeKind::Add,
            "remove" => DeviceChangeKind::Remove,
            "update" => DeviceChangeKind::Update,
            _ => return None,
        })
    }
}

/// One `<add>`/`<remove>`/`<update>` of a `devices` notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceChange {
    /// Which way.
    pub kind: DeviceChangeKind,
    /// The devices, each with its `key-index` when given.
    pub devices: Vec<(Jid, Option<u32>)>,
    /// `device_hash`.
    pub device_hash: Option<String>,
    /// `hash` (updates).
    pub hash: Option<String>,
    /// `<key-index-list>`.
    pub key_index_list: Option<KeyIndexListNode>,
}

impl DeviceChange {
    fn to_node(&self) -> Node {
        let mut node = Node::new(self.kind.as_str());
        node = put(node, "device_hash", self.device_hash.as_deref());
        node = put(node, "hash", self.hash.as_deref());
        let mut children: Vec<Node> = self
            .devices
            .iter()
            .map(|(jid, ki)| put(Node::new("device").with_attr("jid", jid), "key-index", *ki))
            .collect();
        if let Some(k) = &self.key_index_list {
            children.push(k.to_node());
        }
        node.with_children(children)
    }

    fn from_node(kind: DeviceChangeKind, node: &Node) -> Result<Self, StanzaError> {
        let devices: Vec<&Node> = node.children_by_tag("device").collect();
        if devices.len() > MAX_DEVICE_CHANGES {
            return Err(bad(node, "device count", devices.len()));
        }
        let key_index_list = node
            .child("key-index-list")
            .map(KeyIndexListNode::from_node)
            .transpose()?;
        Ok(Self {
            kind,
            devices: devices
                .into_iter()
                .map(|d| Ok((req_jid(d, "jid")?, opt_num(d, "key-index")?)))
                .collect::<Result<_, StanzaError>>()?,
            device_hash: opt_text(node, "device_hash")?,
            hash: opt_text(node, "hash")?,
            key_index_list,
        })
    }
}

/// What a notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationBody {
    /// `type="privacy_token"`: tokens granted to us (§16).
    PrivacyToken(PrivacyTokens),
    /// `type="devices"`: the sender's device list changed (§4); drop its cached list.
    Devices(Vec<DeviceChange>),
    /// `type="encrypt"` with `<identity/>`: the sender re-registered; drop its identities and
    /// sessions (§13).
    IdentityChange,
    /// `type="encrypt"` with `<count value/>`: our one-time prekeys run low (§12).
    PreKeysLow {
        /// Prekeys the server still holds.
        count: u32,
    },
    /// `type="w:gp2"` with a change modelled here: a group changed (`from` is the group; see
    /// [`GroupNotification`]); one with only other changes (settings, …) parses as `Other`.
    Group(GroupNotification),
    /// Any other type (acked, otherwise not handled by messaging).
    Other {
        /// The `type`.
        kind: String,
    },
}

/// A `<notification>`: the envelope and its typed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// `id`.
    pub id: MessageId,
    /// `from`: the user concerned, or the server.
    pub from: Jid,
    /// `t`: unix seconds.
    pub t: Option<u64>,
    /// `offline`: present when it comes from the offline backlog.
    pub offline: Option<String>,
    /// What it says.
    pub body: NotificationBody,
}

impl Notification {
    /// The `type` attribute of this body.
    pub fn kind(&self) -> &str {
        match &self.body {
            NotificationBody::PrivacyToken(_) => "privacy_token",
            NotificationBody::Devices(_) => "devices",
            NotificationBody::IdentityChange | NotificationBody::PreKeysLow { .. } => "encrypt",
            NotificationBody::Group(_) => GROUP_NOTIFICATION_TYPE,
            NotificationBody::Other { kind } => kind,
        }
    }

    /// The user the notification concerns (`devices`, `encrypt` identity) as a user JID;
    /// `None` when it comes from the server.
    pub fn user(&self) -> Option<Jid> {
        (!self.from.is_server_jid()).then(|| self.from.to_non_ad())
    }

    /// Builds the node (server side).
    pub fn to_node(&self) -> Node {
        let mut node = Node::new("notification")
            .with_attr("id", self.id.as_str())
            .with_attr("from", &self.from)
            .with_attr("type", self.kind());
        node = put(node, "t", self.t);
        node = put(node, "offline", self.offline.as_deref());
        let children = match &self.body {
            NotificationBody::PrivacyToken(p) => {
                node = put(node, "sender_lid", p.sender_lid.as_ref());
                vec![p.tokens_node()]
            }
            NotificationBody::Devices(changes) => {
                changes.iter().map(DeviceChange::to_node).collect()
            }
            NotificationBody::IdentityChange => vec![Node::new("identity")],
            NotificationBody::PreKeysLow { count } => {
                vec![Node::new("count").with_attr("value", *count)]
            }
            NotificationBody::Group(g) => return g.write(node),
            NotificationBody::Other { .. } => Vec::new(),
        };
        if children.is_empty() {
            node
        } else {
            node.with_children(children)
        }
    }

    /// Parses a notification. Refused: another tag, missing `id`/`from`/`type`, a malformed
    /// body of one of the three messaging types (e.g. `devices` without any change, `encrypt`
    /// without `<identity>` or `<count>`, a bad token).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "notification")?;
        let kind = req_attr(node, "type")?;
        let body = match kind {
            "privacy_token" => {
                NotificationBody::PrivacyToken(PrivacyTokens::from_notification(node)?)
            }
            "devices" => NotificationBody::Devices(parse_devices(node)?),
            "encrypt" => parse_encrypt(node)?,
            GROUP_NOTIFICATION_TYPE => match GroupNotification::from_notification(node)? {
                Some(group) => NotificationBody::Group(group),
                None => NotificationBody::Other {
                    kind: GROUP_NOTIFICATION_TYPE.to_owned(),
                },
            },
            _ => NotificationBody::Other {
                kind: opt_text(node, "type")?.unwrap_or_default(),
            },
        };
        Ok(Self {
            id: req_id(node, "id")?,
            from: req_jid(node, "from")?,
            t: opt_num(node, "t")?,
            offline: opt_text(node, "offline")?,
            body,
        })
    }
}

fn parse_devices(node: &Node) -> Result<Vec<DeviceChange>, StanzaError> {
    let mut changes = Vec::new();
    for child in node.children() {
        let Some(kind) = DeviceChangeKind::of_tag(&child.tag) else {
            continue;
        };
        if changes.len() == MAX_DEVICE_CHANGES {
            return Err(bad(node, "change count", changes.len() + 1));
        }
        changes.push(DeviceChange::from_node(kind, child)?);
    }
    if changes.is_empty() {
        return Err(StanzaError::MissingChild {
            tag: node.tag.clone(),
            child: "add",
        });
    }
    Ok(changes)
}

fn parse_encrypt(node: &Node) -> Result<NotificationBody, StanzaError> {
    if node.child("identity").is_some() {
        return Ok(NotificationBody::IdentityChange);
    }
    let count = req_child(node, "count")?;
    Ok(NotificationBody::PreKeysLow {
        count: req_num(count, "value")?,
    })
}

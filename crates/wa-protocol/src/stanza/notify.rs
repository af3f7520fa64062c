//! Notifications and their acks, and the `<ib>` info bulletins (`session-lifecycle.md` §5, §7).

use super::parse::{bad, expect_tag, req_attr, req_child, StanzaError};
use crate::binary::{AttrValue, Node};

/// `<ack class="notification" id type participant to/>`: the client's receipt of a notification.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationAck {
    /// The notification's id.
    pub id: Option<String>,
    /// The notification's type.
    pub kind: Option<String>,
    /// The notification's participant.
    pub participant: Option<String>,
    /// The notification's sender (`from`), as it came.
    pub to: Option<AttrValue>,
}

impl NotificationAck {
    /// The ack of `notification`: its id, type and participant, addressed to its sender.
    pub fn for_notification(notification: &Node) -> Self {
        let text = |key: &str| notification.attr_str(key).map(str::to_owned);
        Self {
            id: text("id"),
            kind: text("type"),
            participant: text("participant"),
            to: notification.attr("from").cloned(),
        }
    }

    /// Builds the ack.
    pub fn to_node(&self) -> Node {
        let mut ack = Node::new("ack").with_attr("class", "notification");
        for (key, value) in [
            ("id", &self.id),
            ("type", &self.kind),
            ("participant", &self.participant),
        ] {
            if let Some(v) = value {
                ack = ack.with_attr(key, v.as_str());
            }
        }
        if let Some(to) = &self.to {
            ack = ack.with_attr("to", to.clone());
        }
        ack
    }

    /// Parses an ack of class `notification`.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "ack")?;
        let class = req_attr(node, "class")?;
        if class != "notification" {
            return Err(bad(node, "class", class));
        }
        let text = |key: &str| node.attr_str(key).map(str::to_owned);
        Ok(Self {
            id: text("id"),
            kind: text("type"),
            participant: text("participant"),
            to: node.attr("to").cloned(),
        })
    }
}

/// An `<ib>` bulletin from the server that the connection handles itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ib {
    /// `<ib><offline count/></ib>`: the offline backlog has been delivered.
    Offline {
        /// How many stanzas it held (0 if absent or malformed).
        count: u32,
    },
    /// `<ib><offline_preview …/></ib>`: a backlog waits; answered with [`OfflineBatch`].
    OfflinePreview,
    /// `<ib><edge_routing><routing_info>…</routing_info></edge_routing></ib>`.
    EdgeRouting(Vec<u8>),
}

impl Ib {
    /// Builds the bulletin (server side).
    pub fn to_node(&self) -> Node {
        let child = match self {
            Ib::Offline { count } => Node::new("offline").with_attr("count", count.to_string()),
            Ib::OfflinePreview => Node::new("offline_preview"),
            Ib::EdgeRouting(data) => Node::new("edge_routing")
                .with_children(vec![Node::new("routing_info").with_bytes(data.clone())]),
        };
        Node::new("ib").with_children(vec![child])
    }

    /// Parses a bulletin; any other `<ib>` is an error (the caller hands it on as it is).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "ib")?;
        if let Some(offline) = node.child("offline") {
            let count = offline
                .attr_str("count")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            return Ok(Ib::Offline { count });
        }
        if node.child("offline_preview").is_some() {
            return Ok(Ib::OfflinePreview);
        }
        if let Some(routing) = node
            .child("edge_routing")
            .and_then(|e| e.child("routing_info"))
            .and_then(Node::bytes)
        {
            return Ok(Ib::EdgeRouting(routing.to_vec()));
        }
        Err(StanzaError::MissingChild {
            tag: node.tag.clone(),
            child: "offline",
        })
    }
}

/// `<ib><offline_batch count/></ib>`: the client asks for the next batch of the offline backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineBatch {
    /// Stanzas per batch (100).
    pub count: u32,
}

impl Default for OfflineBatch {
    fn default() -> Self {
        Self { count: 100 }
    }
}

impl OfflineBatch {
    /// Builds the request.
    pub fn to_node(&self) -> Node {
        Node::new("ib").with_children(vec![
            Node::new("offline_batch").with_attr("count", self.count.to_string())
        ])
    }

    /// Parses the request (server side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "ib")?;
        let batch = req_child(node, "offline_batch")?;
        let count = req_attr(batch, "count")?;
        Ok(Self {
            count: count.parse().map_err(|_| bad(batch, "count", count))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stanza::server_jid;

    #[test]
    fn ack_echoes_the_notification() {
        let n = Node::new("notification")
            .with_attr("id", "n1")
            .with_attr("type", "encrypt")
            .with_attr("from", server_jid());
        let ack = NotificationAck::for_notification(&n);
        let node = ack.to_node();
        assert_eq!(node.attr_str("class"), Some("notification"));
        assert_eq!(node.attr_jid("to"), Some(&server_jid()));
        assert_eq!(NotificationAck::from_node(&node), Ok(ack));
    }

    #[test]
    fn bulletins_round_trip() {
        for ib in [
            Ib::Offline { count: 7 },
            Ib::OfflinePreview,
            Ib::EdgeRouting(vec![1, 2, 3]),
        ] {
            assert_eq!(Ib::from_node(&ib.to_node()), Ok(ib));
        }
        assert!(Ib::from_node(&Node::new("ib")).is_err());
        let batch = OfflineBatch::default();
        assert_eq!(OfflineBatch::from_node(&batch.to_node()), Ok(batch));
    }
}

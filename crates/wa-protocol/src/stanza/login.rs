//! What a client sends once logged in: `passive`/`active`, the server props query and presence
//! (`session-lifecycle.md` §3).

use super::iq::{expect_iq, IqKind, IqRequest};
use super::parse::{bad, expect_tag, req_attr, req_child, StanzaError};
use crate::binary::Node;

/// `<iq xmlns="passive" type="set"><active/></iq>` (or `<passive/>`): whether the server may push
/// offline stanzas to this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Passive {
    /// `true` for `<active/>`.
    pub active: bool,
}

impl Passive {
    /// The request (the connection allocates the id).
    pub fn request(&self) -> IqRequest {
        let child = if self.active { "active" } else { "passive" };
        IqRequest::new("passive", IqKind::Set, vec![Node::new(child)])
    }

    /// Parses the request (server side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_iq(node, IqKind::Set, "passive")?;
        if node.child("active").is_some() {
            Ok(Passive { active: true })
        } else {
            req_child(node, "passive").map(|_| Passive { active: false })
        }
    }
}

/// `<iq xmlns="abt" type="get"><props protocol="1"/></iq>`: the server's A/B props.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropsRequest {
    /// The props protocol version (1).
    pub protocol: u32,
}

impl Default for PropsRequest {
    fn default() -> Self {
        Self { protocol: 1 }
    }
}

impl PropsRequest {
    /// The request (the connection allocates the id).
    pub fn request(&self) -> IqRequest {
        IqRequest::new(
            "abt",
            IqKind::Get,
            vec![Node::new("props").with_attr("protocol", self.protocol.to_string())],
        )
    }

    /// Parses the request (server side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_iq(node, IqKind::Get, "abt")?;
        let props = req_child(node, "props")?;
        let protocol = req_attr(props, "protocol")?;
        Ok(Self {
            protocol: protocol
                .parse()
                .map_err(|_| bad(props, "protocol", protocol))?,
        })
    }
}

/// `<presence name type="available|unavailable"/>`: our own presence, with the push name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// The push name, if any.
    pub name: Option<String>,
    /// `available` or `unavailable`.
    pub available: bool,
}

impl Presence {
    /// Builds the stanza.
    pub fn to_node(&self) -> Node {
        let mut node = Node::new("presence");
        if let Some(name) = &self.name {
            node = node.with_attr("name", name.as_str());
        }
        node.with_attr(
            "type",
            if self.available {
                "available"
            } else {
                "unavailable"
            },
        )
    }

    /// Parses the stanza.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "presence")?;
        let available = match req_attr(node, "type")? {
            "available" => true,
            "unavailable" => false,
            other => return Err(bad(node, "type", other)),
        };
        Ok(Self {
            name: node.attr_str("name").map(str::to_owned),
            available,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for active in [true, false] {
            let p = Passive { active };
            assert_eq!(Passive::from_node(&p.request().to_node("1")), Ok(p));
        }
        let props = PropsRequest::default();
        assert_eq!(
            PropsRequest::from_node(&props.request().to_node("2")),
            Ok(props)
        );
        let presence = Presence {
            name: Some("Ada".to_owned()),
            available: true,
        };
        let node = presence.to_node();
        assert_eq!(node.attr_str("type"), Some("available"));
        assert_eq!(Presence::from_node(&node), Ok(presence));
        assert!(Passive::from_node(&Node::new("iq")).is_err());
    }
}

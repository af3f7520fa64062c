//! The stanza error and the strict parsing helpers every stanza file shares (a leaf).

use crate::binary::{Jid, Node, Server};

/// Why a stanza was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StanzaError {
    /// The node has another tag than expected.
    #[error("expected <{expected}>, got <{got}>")]
    UnexpectedTag {
        /// What the parser wanted.
        expected: &'static str,
        /// What arrived.
        got: String,
    },
    /// A required attribute is absent.
    #[error("<{tag}> lacks attribute {attr}")]
    MissingAttr {
        /// Node tag.
        tag: String,
        /// Attribute name.
        attr: &'static str,
    },
    /// A required child is absent.
    #[error("<{tag}> lacks child <{child}>")]
    MissingChild {
        /// Node tag.
        tag: String,
        /// Child tag.
        child: &'static str,
    },
    /// A value is malformed (wrong length, not a number, unknown enum value).
    #[error("<{tag}> has a bad {what}: {value}")]
    BadValue {
        /// Node tag.
        tag: String,
        /// Which attribute or child.
        what: &'static str,
        /// What was there (shortened).
        value: String,
    },
}

/// The server's JID, `s.whatsapp.net`, used as `to`/`from` of server stanzas.
pub fn server_jid() -> Jid {
    Jid::server_jid(Server::WhatsApp)
}

pub(crate) fn expect_tag(node: &Node, tag: &'static str) -> Result<(), StanzaError> {
    if node.tag == tag {
        Ok(())
    } else {
        Err(StanzaError::UnexpectedTag {
            expected: tag,
            got: node.tag.clone(),
        })
    }
}

pub(crate) fn req_attr<'a>(node: &'a Node, attr: &'static str) -> Result<&'a str, StanzaError> {
    node.attr_str(attr).ok_or_else(|| StanzaError::MissingAttr {
        tag: node.tag.clone(),
        attr,
    })
}

pub(crate) fn req_child<'a>(node: &'a Node, child: &'static str) -> Result<&'a Node, StanzaError> {
    node.child(child).ok_or_else(|| StanzaError::MissingChild {
        tag: node.tag.clone(),
        child,
    })
}

pub(crate) fn bad(node: &Node, what: &'static str, value: impl core::fmt::Debug) -> StanzaError {
    let mut value = format!("{value:?}");
    value.truncate(64);
    StanzaError::BadValue {
        tag: node.tag.clone(),
        what,
        value,
    }
}

/// Exactly `N` bytes of a child's content.
pub(crate) fn child_bytes<const N: usize>(
    node: &Node,
    child: &'static str,
) -> Result<[u8; N], StanzaError> {
    let c = req_child(node, child)?;
    let b = c.bytes().unwrap_or_default();
    <[u8; N]>::try_from(b).map_err(|_| bad(node, child, b))
}

/// A big-endian integer of 1..=4 bytes.
pub(crate) fn be_uint(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 4 {
        return None;
    }
    Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

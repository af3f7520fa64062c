//! Typed attribute and child readers shared by the messaging stanzas (`message`, `receipt`,
//! `ack`, `notification`, `privacy`): a leaf, so those files never refer back to `mod.rs`.
//! Every reader is total: a malformed value is a [`StanzaError`], never a panic.

use super::parse::{bad, req_attr, StanzaError};
use crate::binary::{AttrValue, Jid, Node};
use crate::ids::MessageId;

/// Longest free-text attribute kept (push names, `phash`, `mediatype`, server ids, …).
pub(crate) const MAX_TEXT: usize = 256;

/// A JID attribute, on the wire either as a JID or as its text form (Baileys writes text).
pub(crate) fn opt_jid(node: &Node, attr: &'static str) -> Result<Option<Jid>, StanzaError> {
    match node.attr(attr) {
        None => Ok(None),
        Some(AttrValue::Jid(j)) => Ok(Some(j.clone())),
        Some(AttrValue::Str(s)) => s.parse().map(Some).map_err(|_| bad(node, attr, s)),
    }
}

/// A required JID attribute.
pub(crate) fn req_jid(node: &Node, attr: &'static str) -> Result<Jid, StanzaError> {
    opt_jid(node, attr)?.ok_or_else(|| StanzaError::MissingAttr {
        tag: node.tag.clone(),
        attr,
    })
}

/// The required `id` attribute as a [`MessageId`].
pub(crate) fn req_id(node: &Node, attr: &'static str) -> Result<MessageId, StanzaError> {
    let id = req_attr(node, attr)?;
    id.parse().map_err(|_| bad(node, attr, id))
}

/// A decimal attribute (`t`, `count`, `error`, …); absent is `None`, malformed an error.
pub(crate) fn opt_num<T: core::str::FromStr>(
    node: &Node,
    attr: &'static str,
) -> Result<Option<T>, StanzaError> {
    match node.attr(attr) {
        None => Ok(None),
        Some(AttrValue::Str(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map(Some).map_err(|_| bad(node, attr, s))
        }
        Some(other) => Err(bad(node, attr, other.to_string())),
    }
}

/// A required decimal attribute.
pub(crate) fn req_num<T: core::str::FromStr>(
    node: &Node,
    attr: &'static str,
) -> Result<T, StanzaError> {
    opt_num(node, attr)?.ok_or_else(|| StanzaError::MissingAttr {
        tag: node.tag.clone(),
        attr,
    })
}

/// A free-text attribute of at most [`MAX_TEXT`] bytes.
pub(crate) fn opt_text(node: &Node, attr: &'static str) -> Result<Option<String>, StanzaError> {
    match node.attr(attr) {
        None => Ok(None),
        Some(AttrValue::Str(s)) if s.len() <= MAX_TEXT => Ok(Some(s.clone())),
        Some(other) => Err(bad(node, attr, other.to_string())),
    }
}

/// `attr="true"` → `true`; absent or `"false"` → `false`; anything else is an error.
pub(crate) fn opt_flag(node: &Node, attr: &'static str) -> Result<bool, StanzaError> {
    match node.attr_str(attr) {
        None if node.attr(attr).is_none() => Ok(false),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(bad(
            node,
            attr,
            node.attr(attr).map(ToString::to_string).unwrap_or_default(),
        )),
    }
}

/// The bytes of an optional child (`<device-identity>`, `<tctoken>`, …); a child without byte
/// content is an error.
pub(crate) fn opt_child_bytes(
    node: &Node,
    child: &'static str,
) -> Result<Option<Vec<u8>>, StanzaError> {
    match node.child(child) {
        None => Ok(None),
        Some(c) => c
            .bytes()
            .map(|b| Some(b.to_vec()))
            .ok_or_else(|| bad(node, child, "no byte content")),
    }
}

/// Adds `attr` when `value` is set.
pub(crate) fn put<V: Into<AttrValue>>(node: Node, attr: &'static str, value: Option<V>) -> Node {
    match value {
        Some(v) => node.with_attr(attr, v),
        None => node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_are_total() {
        let n = Node::new("x")
            .with_attr("a", "12")
            .with_attr("b", "-1")
            .with_attr("c", "99999999999999999999999")
            .with_attr("j", "123@s.whatsapp.net")
            .with_attr("bad", "not a jid@@")
            .with_attr("f", "yes");
        assert_eq!(opt_num::<u32>(&n, "a"), Ok(Some(12)));
        assert!(opt_num::<u32>(&n, "b").is_err());
        assert!(opt_num::<u64>(&n, "c").is_err());
        assert_eq!(opt_num::<u32>(&n, "zz"), Ok(None));
        assert!(req_num::<u32>(&n, "zz").is_err());
        assert_eq!(
            opt_jid(&n, "j").map(|j| j.map(|j| j.to_string())),
            Ok(Some("123@s.whatsapp.net".to_owned()))
        );
        assert!(opt_jid(&n, "bad").is_err());
        assert!(req_jid(&n, "zz").is_err());
        assert!(opt_flag(&n, "f").is_err());
        assert_eq!(opt_flag(&n, "zz"), Ok(false));
        let long = Node::new("x").with_attr("n", "a".repeat(MAX_TEXT + 1));
        assert!(opt_text(&long, "n").is_err());
        let empty = Node::new("x").with_children(vec![Node::new("tctoken")]);
        assert!(opt_child_bytes(&empty, "tctoken").is_err());
    }
}

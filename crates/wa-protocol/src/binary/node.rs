//! The node tree: [`Node`], [`Attrs`], [`AttrValue`], [`Content`].

use std::fmt;

use super::jid::Jid;

/// An attribute value: a string or a typed JID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// A string value (tokens, packed and raw strings all decode to this).
    Str(String),
    /// A JID value (JID_PAIR / AD_JID / FB_JID / INTEROP_JID on the wire).
    Jid(Jid),
}

impl AttrValue {
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            AttrValue::Jid(_) => None,
        }
    }

    /// The JID, if this is a JID value.
    pub fn as_jid(&self) -> Option<&Jid> {
        match self {
            AttrValue::Jid(j) => Some(j),
            AttrValue::Str(_) => None,
        }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Str(s) => f.write_str(s),
            AttrValue::Jid(j) => fmt::Display::fmt(j, f),
        }
    }
}

impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Str(s)
    }
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::Str(s.to_owned())
    }
}

impl From<&String> for AttrValue {
    fn from(s: &String) -> Self {
        AttrValue::Str(s.clone())
    }
}

impl From<Jid> for AttrValue {
    fn from(j: Jid) -> Self {
        AttrValue::Jid(j)
    }
}

impl From<&Jid> for AttrValue {
    fn from(j: &Jid) -> Self {
        AttrValue::Jid(j.clone())
    }
}

macro_rules! attr_from_display {
    ($($t:ty),*) => {$(
        impl From<$t> for AttrValue {
            /// Formats the value in decimal (`true`/`false` for `bool`), as the protocol expects.
            fn from(v: $t) -> Self {
                AttrValue::Str(v.to_string())
            }
        }
    )*};
}
attr_from_display!(u8, u16, u32, u64, usize, i32, i64, bool);

/// Ordered attribute list. Order is preserved but not significant on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attrs(Vec<(String, AttrValue)>);

impl Attrs {
    /// An empty attribute list.
    pub fn new() -> Self {
        Attrs(Vec::new())
    }

    /// An empty attribute list with room for `n` attributes.
    pub fn with_capacity(n: usize) -> Self {
        Attrs(Vec::with_capacity(n))
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of the first attribute named `key`.
    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether an attribute named `key` exists.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`, replacing the first existing value (returned) or appending.
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        value: impl Into<AttrValue>,
    ) -> Option<AttrValue> {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.0.push((key, value));
                None
            }
        }
    }

    /// Appends an attribute without checking for an existing one with the same key.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<AttrValue>) {
        self.0.push((key.into(), value.into()));
    }

    /// Removes and returns the first attribute named `key`.
    pub fn remove(&mut self, key: &str) -> Option<AttrValue> {
        let pos = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(pos).1)
    }

    /// Iterates over `(key, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AttrValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The attributes as a slice.
    pub fn as_slice(&self) -> &[(String, AttrValue)] {
        &self.0
    }

    /// Consumes the list, returning the underlying vector.
    pub fn into_vec(self) -> Vec<(String, AttrValue)> {
        self.0
    }
}

impl From<Vec<(String, AttrValue)>> for Attrs {
    fn from(v: Vec<(String, AttrValue)>) -> Self {
        Attrs(v)
    }
}

impl<K: Into<String>, V: Into<AttrValue>> FromIterator<(K, V)> for Attrs {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Attrs(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl IntoIterator for Attrs {
    type Item = (String, AttrValue);
    type IntoIter = std::vec::IntoIter<(String, AttrValue)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Attrs {
    type Item = &'a (String, AttrValue);
    type IntoIter = std::slice::Iter<'a, (String, AttrValue)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Child nodes (possibly none: an empty list).
    Nodes(Vec<Node>),
    /// Binary data (BINARY_8/20/32 on the wire).
    Bytes(Vec<u8>),
    /// A string. Encoded with the string rules; a string that is neither a token nor
    /// packable is sent raw and therefore decodes as [`Content::Bytes`].
    Str(String),
    /// A JID.
    Jid(Jid),
}

impl From<Vec<Node>> for Content {
    fn from(v: Vec<Node>) -> Self {
        Content::Nodes(v)
    }
}

impl From<Vec<u8>> for Content {
    fn from(v: Vec<u8>) -> Self {
        Content::Bytes(v)
    }
}

impl From<String> for Content {
    fn from(v: String) -> Self {
        Content::Str(v)
    }
}

impl From<&str> for Content {
    fn from(v: &str) -> Self {
        Content::Str(v.to_owned())
    }
}

impl From<Jid> for Content {
    fn from(v: Jid) -> Self {
        Content::Jid(v)
    }
}

/// A binary XML node: `<tag attrs…>content</tag>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Element name (never empty in valid nodes).
    pub tag: String,
    /// Attributes.
    pub attrs: Attrs,
    /// Content; `None` for a node without content (`<tag/>`).
    pub content: Option<Content>,
}

impl Node {
    /// A node with no attributes and no content.
    pub fn new(tag: impl Into<String>) -> Self {
        Node {
            tag: tag.into(),
            attrs: Attrs::new(),
            content: None,
        }
    }

    /// Sets an attribute (replacing an existing one with the same key).
    #[must_use]
    pub fn with_attr(mut self, key: impl Into<String>, value: impl Into<AttrValue>) -> Self {
        self.attrs.insert(key, value);
        self
    }

    /// Replaces the content with the given child nodes.
    #[must_use]
    pub fn with_children(mut self, children: Vec<Node>) -> Self {
        self.content = Some(Content::Nodes(children));
        self
    }

    /// Appends one child node (turning non-list content into a one-element list).
    #[must_use]
    pub fn with_child(mut self, child: Node) -> Self {
        match &mut self.content {
            Some(Content::Nodes(v)) => v.push(child),
            _ => self.content = Some(Content::Nodes(vec![child])),
        }
        self
    }

    /// Replaces the content with binary data.
    #[must_use]
    pub fn with_bytes(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.content = Some(Content::Bytes(bytes.into()));
        self
    }

    /// Replaces the content with a string.
    #[must_use]
    pub fn with_str(mut self, s: impl Into<String>) -> Self {
        self.content = Some(Content::Str(s.into()));
        self
    }

    /// Replaces the content.
    #[must_use]
    pub fn with_content(mut self, content: impl Into<Content>) -> Self {
        self.content = Some(content.into());
        self
    }

    /// The value of attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attrs.get(key)
    }

    /// The value of attribute `key` if it is a string.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).and_then(AttrValue::as_str)
    }

    /// The value of attribute `key` if it is a JID.
    pub fn attr_jid(&self, key: &str) -> Option<&Jid> {
        self.attrs.get(key).and_then(AttrValue::as_jid)
    }

    /// Child nodes (empty if the content is not a node list).
    pub fn children(&self) -> &[Node] {
        match &self.content {
            Some(Content::Nodes(v)) => v,
            _ => &[],
        }
    }

    /// The first child with the given tag.
    pub fn child(&self, tag: &str) -> Option<&Node> {
        self.children().iter().find(|n| n.tag == tag)
    }

    /// All children with the given tag.
    pub fn children_by_tag<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children().iter().filter(move |n| n.tag == tag)
    }

    /// The content as bytes: binary content, or a string's UTF-8 bytes.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.content {
            Some(Content::Bytes(b)) => Some(b),
            Some(Content::Str(s)) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The content as text: string content, or binary content that is valid UTF-8.
    pub fn content_str(&self) -> Option<&str> {
        match &self.content {
            Some(Content::Str(s)) => Some(s),
            Some(Content::Bytes(b)) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

/// Writes `s` with `&`, `<`, `>` and `"` escaped.
fn write_escaped(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let mut last = 0;
    for (i, c) in s.char_indices() {
        let rep = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            _ => continue,
        };
        f.write_str(s.get(last..i).unwrap_or_default())?;
        f.write_str(rep)?;
        last = i + c.len_utf8();
    }
    f.write_str(s.get(last..).unwrap_or_default())
}

/// Byte content longer than this is shown as `<N bytes>` instead of hex.
const DISPLAY_HEX_MAX: usize = 64;

/// Compact XML-like rendering for logs, e.g.
/// `<iq id="1" to="s.whatsapp.net"><ping/></iq>`. Byte content up to 64 bytes is shown as
/// hex, longer content as `<N bytes>`.
impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<")?;
        write_escaped(f, &self.tag)?;
        for (k, v) in self.attrs.iter() {
            f.write_str(" ")?;
            write_escaped(f, k)?;
            f.write_str("=\"")?;
            match v {
                AttrValue::Str(s) => write_escaped(f, s)?,
                AttrValue::Jid(j) => write!(f, "{j}")?,
            }
            f.write_str("\"")?;
        }
        let Some(content) = &self.content else {
            return f.write_str("/>");
        };
        f.write_str(">")?;
        match content {
            Content::Nodes(children) => {
                for c in children {
                    fmt::Display::fmt(c, f)?;
                }
            }
            Content::Bytes(b) if b.len() <= DISPLAY_HEX_MAX => f.write_str(&hex::encode(b))?,
            Content::Bytes(b) => write!(f, "<{} bytes>", b.len())?,
            Content::Str(s) => write_escaped(f, s)?,
            Content::Jid(j) => write!(f, "{j}")?,
        }
        f.write_str("</")?;
        write_escaped(f, &self.tag)?;
        f.write_str(">")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binary::Server;

    #[test]
    fn builders_and_accessors() {
        let jid = Jid::device("123", 3, Server::WhatsApp);
        let n = Node::new("iq")
            .with_attr("id", "1")
            .with_attr("v", 2)
            .with_attr("t", 1_700_000_000u64)
            .with_attr("to", &jid)
            .with_attr("id", "2")
            .with_children(vec![
                Node::new("a").with_bytes(vec![1, 2]),
                Node::new("b").with_str("x"),
                Node::new("a"),
            ]);
        assert_eq!(n.attr_str("id"), Some("2"));
        assert_eq!(n.attrs.len(), 4);
        assert_eq!(n.attr_str("v"), Some("2"));
        assert_eq!(n.attr_str("t"), Some("1700000000"));
        assert_eq!(n.attr_jid("to"), Some(&jid));
        assert_eq!(n.attr_str("to"), None);
        assert_eq!(n.children().len(), 3);
        assert_eq!(n.child("b").and_then(Node::bytes), Some(&b"x"[..]));
        assert_eq!(n.child("a").and_then(Node::bytes), Some(&[1u8, 2][..]));
        assert_eq!(n.children_by_tag("a").count(), 2);
        assert!(n.child("zz").is_none());
        assert_eq!(
            n.to_string(),
            "<iq id=\"2\" v=\"2\" t=\"1700000000\" to=\"123:3@s.whatsapp.net\">\
             <a>0102</a><b>x</b><a/></iq>"
        );
        let big = Node::new("x").with_str("a<\"&>").with_attr("k", "\"");
        assert_eq!(big.to_string(), "<x k=\"&quot;\">a&lt;&quot;&amp;&gt;</x>");
        assert_eq!(
            Node::new("x").with_bytes(vec![0; 65]).to_string(),
            "<x><65 bytes></x>"
        );
        assert_eq!(Node::new("x").with_children(vec![]).to_string(), "<x></x>");
    }

    #[test]
    fn attrs_ops() {
        let mut a: Attrs = [("a", "1"), ("b", "2")].into_iter().collect();
        assert_eq!(a.insert("a", "3"), Some(AttrValue::Str("1".into())));
        a.push("a", "4");
        assert_eq!(a.len(), 3);
        assert_eq!(a.get("a").and_then(AttrValue::as_str), Some("3"));
        assert_eq!(a.remove("a"), Some(AttrValue::Str("3".into())));
        assert_eq!(a.get("a").and_then(AttrValue::as_str), Some("4"));
        assert!(a.contains_key("b"));
        assert!(!a.is_empty());
        assert_eq!(a.iter().count(), 2);
    }
}

//! `<iq>` requests and responses (`session-lifecycle.md` §4).

use super::parse::{bad, expect_tag, req_attr, server_jid, StanzaError};
use crate::binary::{Jid, Node};

/// `get` or `set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IqKind {
    /// A query.
    Get,
    /// A command.
    Set,
}

impl IqKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            IqKind::Get => "get",
            IqKind::Set => "set",
        }
    }
}

/// An IQ request to build: namespace, kind and children; the id is allocated by the connection.
#[derive(Debug, Clone, PartialEq)]
pub struct IqRequest {
    /// `xmlns`.
    pub xmlns: &'static str,
    /// `get` or `set`.
    pub kind: IqKind,
    /// Target (normally the server).
    pub to: Jid,
    /// Child nodes.
    pub children: Vec<Node>,
}

impl IqRequest {
    /// A request to the server.
    pub fn new(xmlns: &'static str, kind: IqKind, children: Vec<Node>) -> Self {
        Self {
            xmlns,
            kind,
            to: server_jid(),
            children,
        }
    }

    /// The node with id `id`.
    pub fn to_node(&self, id: &str) -> Node {
        let node = Node::new("iq")
            .with_attr("id", id)
            .with_attr("xmlns", self.xmlns)
            .with_attr("type", self.kind.as_str())
            .with_attr("to", self.to.clone());
        if self.children.is_empty() {
            node
        } else {
            node.with_children(self.children.clone())
        }
    }
}

/// A parsed IQ answer.
#[derive(Debug, Clone, PartialEq)]
pub enum IqResponse {
    /// `type="result"`: the node itself.
    Result(Node),
    /// `type="error"` with its `<error code text>`.
    Error {
        /// Error code (e.g. 404).
        code: u16,
        /// Error text (e.g. `item-not-found`).
        text: String,
    },
}

impl IqResponse {
    /// Parses an `<iq type="result|error">`.
    pub fn parse(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "iq")?;
        match req_attr(node, "type")? {
            "result" => Ok(IqResponse::Result(node.clone())),
            "error" => {
                let err = node.child("error");
                let code = err
                    .and_then(|e| e.attr_str("code"))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                let text = err
                    .and_then(|e| e.attr_str("text"))
                    .unwrap_or_default()
                    .to_owned();
                Ok(IqResponse::Error { code, text })
            }
            other => Err(bad(node, "type", other)),
        }
    }
}

/// An IQ the connection depends on (prekey count or upload, `passive`) that the server refused
/// or did not answer in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IqFailure {
    /// The answer was `type="error"`.
    #[error("iq {id} failed: {code} {text}")]
    Refused {
        /// The IQ id.
        id: String,
        /// Error code.
        code: u16,
        /// Error text.
        text: String,
    },
    /// No answer before the deadline.
    #[error("iq {id} timed out")]
    TimedOut {
        /// The IQ id.
        id: String,
    },
}

impl IqFailure {
    /// Whether a fresh connection may succeed: a timeout or a server error (5xx) may pass, a
    /// refusal (4xx) repeats.
    pub fn is_transient(&self) -> bool {
        match self {
            IqFailure::TimedOut { .. } => true,
            IqFailure::Refused { code, .. } => *code >= 500,
        }
    }
}

/// Checks the head of an IQ request: tag, `type` and `xmlns`.
pub(crate) fn expect_iq(node: &Node, kind: IqKind, xmlns: &str) -> Result<(), StanzaError> {
    expect_tag(node, "iq")?;
    let got = req_attr(node, "type")?;
    if got != kind.as_str() {
        return Err(bad(node, "type", got));
    }
    let got = req_attr(node, "xmlns")?;
    if got != xmlns {
        return Err(bad(node, "xmlns", got));
    }
    Ok(())
}

/// The client's keepalive ping, `<iq xmlns="w:p" type="get"/>` (whatsmeow `keepalive.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ping;

impl Ping {
    /// The request (the connection allocates the id).
    pub fn request(&self) -> IqRequest {
        IqRequest::new("w:p", IqKind::Get, vec![])
    }

    /// Parses the request (server side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_iq(node, IqKind::Get, "w:p").map(|()| Ping)
    }
}

/// The server's ping, `<iq xmlns="urn:xmpp:ping" type="get" id/>`, answered with an empty result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPing {
    /// The IQ id to answer.
    pub id: String,
}

impl ServerPing {
    /// Builds the ping (server side).
    pub fn to_node(&self) -> Node {
        Node::new("iq")
            .with_attr("from", server_jid())
            .with_attr("id", self.id.as_str())
            .with_attr("type", "get")
            .with_attr("xmlns", "urn:xmpp:ping")
    }

    /// Parses a server ping: an IQ in the `urn:xmpp:ping` namespace with an id.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "iq")?;
        let xmlns = req_attr(node, "xmlns")?;
        if xmlns != "urn:xmpp:ping" {
            return Err(bad(node, "xmlns", xmlns));
        }
        Ok(ServerPing {
            id: node.attr_str("id").unwrap_or_default().to_owned(),
        })
    }

    /// The answer.
    pub fn reply(&self) -> Node {
        iq_result(&self.id, vec![])
    }
}

/// `<iq to="s.whatsapp.net" id="ID" type="result"/>` answering a server request.
pub fn iq_result(id: &str, children: Vec<Node>) -> Node {
    let node = Node::new("iq")
        .with_attr("to", server_jid())
        .with_attr("id", id)
        .with_attr("type", "result");
    if children.is_empty() {
        node
    } else {
        node.with_children(children)
    }
}

/// `<iq id type="error"><error code text/></iq>` (server side, or a client refusing a request).
pub fn iq_error(id: &str, to: Jid, code: u16, text: &str) -> Node {
    Node::new("iq")
        .with_attr("to", to)
        .with_attr("id", id)
        .with_attr("type", "error")
        .with_children(vec![Node::new("error")
            .with_attr("code", code.to_string())
            .with_attr("text", text)])
}

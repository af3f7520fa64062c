//! Privacy tokens (`messaging.md` §16): the `privacy_token` notification's tokens, the
//! `<tctoken>` a 1:1 send carries, and the IQ that issues our own tokens.
//!
//! ```text
//! <notification type="privacy_token" [sender_lid]>
//!   <tokens><token jid type="trusted_contact" t>〈bytes〉</token>…</tokens>
//! </notification>
//! <message …><tctoken>〈bytes〉</tctoken></message>
//! <iq xmlns="privacy" type="set"><tokens><token jid t type="trusted_contact"/>…</tokens></iq>
//! ```

use super::fields::{opt_jid, req_jid, req_num};
use super::iq::{expect_iq, IqKind, IqRequest};
use super::parse::{bad, expect_tag, req_attr, req_child, StanzaError};
use crate::binary::{Jid, Node};

/// Most tokens accepted in one `<tokens>` list.
pub const MAX_TOKENS: usize = 1024;
/// Longest token accepted (the tokens the references see are tens of bytes).
pub const MAX_TOKEN_LEN: usize = 4096;
/// The only token type the references use.
const TRUSTED_CONTACT: &str = "trusted_contact";

/// One privacy token granted to us by `jid`, with the time it was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyToken {
    /// `jid`: the contact the token lets us reach (LID or PN).
    pub jid: Jid,
    /// `t`: issue time, unix seconds (tokens age out in 7-day buckets, §16).
    pub t: u64,
    /// The token bytes, carried back in `<tctoken>`.
    pub token: Vec<u8>,
}

impl PrivacyToken {
    fn to_node(&self) -> Node {
        Node::new("token")
            .with_attr("jid", &self.jid)
            .with_attr("type", TRUSTED_CONTACT)
            .with_attr("t", self.t)
            .with_bytes(self.token.clone())
    }

    fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "token")?;
        let kind = req_attr(node, "type")?;
        if kind != TRUSTED_CONTACT {
            return Err(bad(node, "type", kind));
        }
        let token = node.bytes().unwrap_or_default();
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(bad(node, "token", token.len()));
        }
        Ok(Self {
            jid: req_jid(node, "jid")?,
            t: req_num(node, "t")?,
            token: token.to_vec(),
        })
    }
}

/// The body of a `privacy_token` notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyTokens {
    /// `sender_lid` of the notification, when the server names the granter's LID.
    pub sender_lid: Option<Jid>,
    /// The tokens.
    pub tokens: Vec<PrivacyToken>,
}

impl PrivacyTokens {
    /// The `<tokens>` child (the notification envelope is [`super::notification::Notification`]).
    pub fn tokens_node(&self) -> Node {
        Node::new("tokens").with_children(self.tokens.iter().map(PrivacyToken::to_node).collect())
    }

    /// Parses the body of `<notification type="privacy_token">`: `<tokens>` with 1 to
    /// [`MAX_TOKENS`] `<token>` children, each with `jid`, `t`, `type="trusted_contact"` and
    /// 1 to [`MAX_TOKEN_LEN`] bytes.
    pub fn from_notification(node: &Node) -> Result<Self, StanzaError> {
        let list = req_child(node, "tokens")?;
        let n = list.children().len();
        if n == 0 || n > MAX_TOKENS {
            return Err(bad(list, "count", n));
        }
        Ok(Self {
            sender_lid: opt_jid(node, "sender_lid")?,
            tokens: list
                .children()
                .iter()
                .map(PrivacyToken::from_node)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// The `<tctoken>` child of a 1:1 send (§7, §16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcToken(pub Vec<u8>);

impl TcToken {
    /// Builds `<tctoken>bytes</tctoken>`.
    pub fn to_node(&self) -> Node {
        Node::new("tctoken").with_bytes(self.0.clone())
    }

    /// Parses it: 1 to [`MAX_TOKEN_LEN`] bytes.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "tctoken")?;
        let b = node.bytes().unwrap_or_default();
        if b.is_empty() || b.len() > MAX_TOKEN_LEN {
            return Err(bad(node, "token", b.len()));
        }
        Ok(Self(b.to_vec()))
    }
}

/// Issues our own tokens to contacts (§16), after a send whose bucket rolled over:
/// `<iq xmlns="privacy" type="set"><tokens><token jid t type="trusted_contact"/>…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuePrivacyTokens {
    /// Each contact and the issue time (unix seconds).
    pub tokens: Vec<(Jid, u64)>,
}

impl IssuePrivacyTokens {
    /// The request (the connection allocates the id).
    pub fn request(&self) -> IqRequest {
        let tokens = self.tokens.iter().map(|(jid, t)| {
            Node::new("token")
                .with_attr("jid", jid)
                .with_attr("t", *t)
                .with_attr("type", TRUSTED_CONTACT)
        });
        IqRequest::new(
            "privacy",
            IqKind::Set,
            vec![Node::new("tokens").with_children(tokens.collect())],
        )
    }

    /// Parses the request (server side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_iq(node, IqKind::Set, "privacy")?;
        let list = req_child(node, "tokens")?;
        let n = list.children().len();
        if n == 0 || n > MAX_TOKENS {
            return Err(bad(list, "count", n));
        }
        let tokens = list.children().iter().map(|t| {
            expect_tag(t, "token")?;
            let kind = req_attr(t, "type")?;
            if kind != TRUSTED_CONTACT {
                return Err(bad(t, "type", kind));
            }
            Ok((req_jid(t, "jid")?, req_num(t, "t")?))
        });
        Ok(Self {
            tokens: tokens.collect::<Result<_, StanzaError>>()?,
        })
    }
}

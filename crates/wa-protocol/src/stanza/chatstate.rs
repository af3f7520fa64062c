//! `<chatstate>`: "typing…" in one chat.
//!
//! ```text
//! <chatstate to="<user or group JID>"><composing/></chatstate>      typing
//! <chatstate to="…"><composing media="audio"/></chatstate>           recording a voice note
//! <chatstate to="…"><paused/></chatstate>                            stopped
//! ```
//!
//! Not yet described in `/work/shared/protocol` (issue 10 item 2 names the states); the shape
//! is whatsmeow's `SendChatPresence` (`presence.go`) and Baileys' `sendPresenceUpdate`
//! (`chats.ts`). The server routes it to the chat's devices (ours: `from` and `to` swapped),
//! and answers nothing.

use super::fields::{opt_jid, put, req_jid};
use super::parse::{bad, expect_tag, StanzaError};
use crate::binary::{Jid, Node};

/// The state one chat shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatStateKind {
    /// `<composing/>`: typing.
    Composing,
    /// `<composing media="audio"/>`: recording a voice note.
    Recording,
    /// `<paused/>`: stopped typing.
    Paused,
}

/// A `<chatstate>`: ours (with `to`), or a contact's as the server routes it (with `from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatState {
    /// `to`: the chat (we send).
    pub to: Option<Jid>,
    /// `from`: the chat the state comes from (the server routes).
    pub from: Option<Jid>,
    /// `participant`: the typing member, in a group (the server routes).
    pub participant: Option<Jid>,
    /// The state.
    pub state: ChatStateKind,
}

impl ChatState {
    /// Our state `state` in chat `to`.
    pub fn to_chat(to: Jid, state: ChatStateKind) -> Self {
        Self {
            to: Some(to),
            from: None,
            participant: None,
            state,
        }
    }

    /// Builds the stanza.
    pub fn to_node(&self) -> Node {
        let mut node = Node::new("chatstate");
        node = put(node, "to", self.to.as_ref());
        node = put(node, "from", self.from.as_ref());
        node = put(node, "participant", self.participant.as_ref());
        let child = match self.state {
            ChatStateKind::Composing => Node::new("composing"),
            ChatStateKind::Recording => Node::new("composing").with_attr("media", "audio"),
            ChatStateKind::Paused => Node::new("paused"),
        };
        node.with_children(vec![child])
    }

    /// Parses the stanza: exactly one `<composing>` (optionally `media="audio"`) or `<paused>`,
    /// and a `to` or a `from`.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "chatstate")?;
        let [child] = node.children() else {
            return Err(bad(node, "children", node.children().len()));
        };
        let state = match (child.tag.as_str(), child.attr_str("media")) {
            ("composing", None) => ChatStateKind::Composing,
            ("composing", Some("audio")) => ChatStateKind::Recording,
            ("paused", None) => ChatStateKind::Paused,
            (tag, _) => return Err(bad(child, "state", tag)),
        };
        let to = opt_jid(node, "to")?;
        let from = opt_jid(node, "from")?;
        if to.is_none() && from.is_none() {
            // Neither side named: report the missing `to`.
            req_jid(node, "to")?;
        }
        Ok(Self {
            to,
            from,
            participant: opt_jid(node, "participant")?,
            state,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binary::Server;

    #[test]
    fn builds_the_documented_shape_and_reads_it_back() {
        let to = Jid::user("15550001111", Server::WhatsApp);
        let node = ChatState::to_chat(to.clone(), ChatStateKind::Composing).to_node();
        assert_eq!(node.tag, "chatstate");
        assert_eq!(node.attr_str("to"), Some("15550001111@s.whatsapp.net"));
        assert_eq!(node.children().len(), 1);
        assert_eq!(node.children()[0].tag, "composing");
        let rec = ChatState::to_chat(to.clone(), ChatStateKind::Recording).to_node();
        assert_eq!(rec.children()[0].attr_str("media"), Some("audio"));
        let paused = ChatState::to_chat(to, ChatStateKind::Paused).to_node();
        assert_eq!(paused.children()[0].tag, "paused");
        for n in [node, rec, paused] {
            assert_eq!(ChatState::from_node(&n).expect("parses").to_node(), n);
        }
    }

    #[test]
    fn refuses_malformed_states() {
        let to = Jid::user("15550001111", Server::WhatsApp);
        let empty = Node::new("chatstate").with_attr("to", &to);
        assert!(ChatState::from_node(&empty).is_err());
        let odd = empty.clone().with_children(vec![Node::new("typing")]);
        assert!(ChatState::from_node(&odd).is_err());
        let video = empty
            .clone()
            .with_children(vec![Node::new("composing").with_attr("media", "video")]);
        assert!(ChatState::from_node(&video).is_err());
        let nobody = Node::new("chatstate").with_children(vec![Node::new("paused")]);
        assert!(ChatState::from_node(&nobody).is_err());
        let two = empty.with_children(vec![Node::new("paused"), Node::new("paused")]);
        assert!(ChatState::from_node(&two).is_err());
    }
}

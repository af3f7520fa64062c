//! The two stanzas of a media retry (issue 13: "media-retry requests when a download is
//! gone"). The protocol docs name only the `mediaretry` notification type
//! (`baileys-peer.md` §4, "Other server pushes"); the layout is a fact of the references,
//! whatsmeow `mediaretry.go` (`SendMediaRetryReceipt`, `parseMediaRetryNotification`) and
//! Baileys `Utils/messages-media.ts` (`encryptMediaRetryRequest`, `decodeMediaRetryNode`).
//! The payload crypto is `media::retry`.
//!
//! ```text
//! the device that cannot download, to its own user (non-AD JID):
//! <receipt id=<message id> to=<own user> type="server-error">
//!   <encrypt><enc_p>〈ServerErrorReceipt, sealed〉</enc_p><enc_iv>〈12 B〉</enc_iv></encrypt>
//!   <rmr jid=<chat> from_me="true|false" [participant=<sender, groups>]/>
//! </receipt>
//! the answer, to the requesting device:
//! <notification id=<message id> from type="mediaretry" t>
//!   <rmr jid from_me [participant]/>
//!   <encrypt><enc_p>〈MediaRetryNotification, sealed〉</enc_p><enc_iv/></encrypt>
//!     | <error code/>          (code 2: "media no longer available on phone", whatsmeow
//!                                `ErrMediaNotAvailableOnPhone`)
//! </notification>
//! ```

use super::fields::{opt_flag, opt_jid, opt_num, put, req_id, req_jid, req_num};
use super::parse::{bad, expect_tag, req_attr, req_child, StanzaError};
use crate::binary::{Jid, Node};
use crate::ids::MessageId;

/// `type` of the request receipt.
pub const SERVER_ERROR_RECEIPT_TYPE: &str = "server-error";
/// `type` of the answer notification.
pub const MEDIA_RETRY_NOTIFICATION_TYPE: &str = "mediaretry";
/// `<error code>` of an answer whose device no longer has the file (whatsmeow
/// `DecryptMediaRetryNotification`: code 2 is `ErrMediaNotAvailableOnPhone`).
pub const MEDIA_NOT_ON_PHONE: u32 = 2;
/// Longest `enc_p` accepted (the payloads are a few protobuf fields).
const MAX_SEALED: usize = 4096;

/// `<rmr>`: which message the retry is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryMessageRef {
    /// `jid`: the chat.
    pub chat: Jid,
    /// `from_me`: the message was sent by this account.
    pub from_me: bool,
    /// `participant`: the sender, in a group.
    pub participant: Option<Jid>,
}

impl RetryMessageRef {
    fn to_node(&self) -> Node {
        let node = Node::new("rmr")
            .with_attr("jid", &self.chat)
            .with_attr("from_me", if self.from_me { "true" } else { "false" });
        put(node, "participant", self.participant.as_ref())
    }

    fn from_node(node: &Node) -> Result<Self, StanzaError> {
        let rmr = req_child(node, "rmr")?;
        Ok(Self {
            chat: req_jid(rmr, "jid")?,
            from_me: opt_flag(rmr, "from_me")?,
            participant: opt_jid(rmr, "participant")?,
        })
    }
}

/// A sealed payload: `<encrypt><enc_p/><enc_iv/></encrypt>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// `enc_p`: AES-GCM ciphertext with its tag.
    pub ciphertext: Vec<u8>,
    /// `enc_iv`: the 12-byte IV.
    pub iv: Vec<u8>,
}

impl Sealed {
    fn to_node(&self) -> Node {
        Node::new("encrypt").with_children(vec![
            Node::new("enc_p").with_bytes(self.ciphertext.clone()),
            Node::new("enc_iv").with_bytes(self.iv.clone()),
        ])
    }

    fn from_node(node: &Node) -> Result<Self, StanzaError> {
        let encrypt = req_child(node, "encrypt")?;
        let bytes = |child: &'static str| -> Result<Vec<u8>, StanzaError> {
            let c = req_child(encrypt, child)?;
            match c.bytes() {
                Some(b) if b.len() <= MAX_SEALED => Ok(b.to_vec()),
                other => Err(bad(encrypt, child, other.map(<[u8]>::len))),
            }
        };
        Ok(Self {
            ciphertext: bytes("enc_p")?,
            iv: bytes("enc_iv")?,
        })
    }
}

/// `<receipt type="server-error">`: asks the account's other device to upload a message's file
/// again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRetryRequest {
    /// `id`: the media message's id.
    pub id: MessageId,
    /// `to`: the own user (whatsmeow `getOwnID().ToNonAD()`, Baileys `jidNormalizedUser(meId)`).
    pub to: Option<Jid>,
    /// `from`: the requesting device, as the server forwards it.
    pub from: Option<Jid>,
    /// The sealed `ServerErrorReceipt`.
    pub sealed: Sealed,
    /// The message.
    pub rmr: RetryMessageRef,
}

impl MediaRetryRequest {
    /// Builds the receipt.
    pub fn to_node(&self) -> Node {
        let node = Node::new("receipt").with_attr("id", self.id.as_str());
        let node = put(node, "to", self.to.as_ref());
        let node = put(node, "from", self.from.as_ref());
        node.with_attr("type", SERVER_ERROR_RECEIPT_TYPE)
            .with_children(vec![self.sealed.to_node(), self.rmr.to_node()])
    }

    /// Whether `node` is a request (a `<receipt type="server-error">`).
    pub fn is_request(node: &Node) -> bool {
        node.tag == "receipt" && node.attr_str("type") == Some(SERVER_ERROR_RECEIPT_TYPE)
    }

    /// Parses the receipt; another tag or type, a missing `<encrypt>` or `<rmr>` is refused.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "receipt")?;
        let kind = req_attr(node, "type")?;
        if kind != SERVER_ERROR_RECEIPT_TYPE {
            return Err(bad(node, "type", kind));
        }
        Ok(Self {
            id: req_id(node, "id")?,
            to: opt_jid(node, "to")?,
            from: opt_jid(node, "from")?,
            sealed: Sealed::from_node(node)?,
            rmr: RetryMessageRef::from_node(node)?,
        })
    }
}

/// What a `mediaretry` notification carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaRetryBody {
    /// The sealed `MediaRetryNotification`.
    Sealed(Sealed),
    /// `<error code>`: no re-upload (see [`MEDIA_NOT_ON_PHONE`]).
    Error {
        /// `code`.
        code: u32,
    },
}

/// `<notification type="mediaretry">`: the answer to a [`MediaRetryRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRetryNotice {
    /// `id`: the media message's id.
    pub id: MessageId,
    /// `from`: who answers (the references read no `from`; wa-sim sends the own user).
    pub from: Jid,
    /// `t`: unix seconds (whatsmeow reads it with `UnixTime("t")`).
    pub t: Option<u64>,
    /// The message.
    pub rmr: RetryMessageRef,
    /// The answer.
    pub body: MediaRetryBody,
}

impl MediaRetryNotice {
    /// Builds the notification.
    pub fn to_node(&self) -> Node {
        let node = Node::new("notification")
            .with_attr("id", self.id.as_str())
            .with_attr("from", &self.from)
            .with_attr("type", MEDIA_RETRY_NOTIFICATION_TYPE);
        let node = put(node, "t", self.t);
        let body = match &self.body {
            MediaRetryBody::Sealed(s) => s.to_node(),
            MediaRetryBody::Error { code } => Node::new("error").with_attr("code", *code),
        };
        node.with_children(vec![self.rmr.to_node(), body])
    }

    /// Whether `node` is a `mediaretry` notification.
    pub fn is_notice(node: &Node) -> bool {
        node.tag == "notification" && node.attr_str("type") == Some(MEDIA_RETRY_NOTIFICATION_TYPE)
    }

    /// Parses the notification. Like the references, an `<error>` child wins over
    /// `<encrypt>`; a notification with neither, or without `<rmr>`, is refused.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "notification")?;
        let kind = req_attr(node, "type")?;
        if kind != MEDIA_RETRY_NOTIFICATION_TYPE {
            return Err(bad(node, "type", kind));
        }
        let body = match node.child("error") {
            Some(e) => MediaRetryBody::Error {
                code: req_num(e, "code")?,
            },
            None => MediaRetryBody::Sealed(Sealed::from_node(node)?),
        };
        Ok(Self {
            id: req_id(node, "id")?,
            from: req_jid(node, "from")?,
            t: opt_num(node, "t")?,
            rmr: RetryMessageRef::from_node(node)?,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rmr(group: bool) -> RetryMessageRef {
        RetryMessageRef {
            chat: if group {
                "120363000000000001@g.us".parse().expect("jid")
            } else {
                "15550001111@s.whatsapp.net".parse().expect("jid")
            },
            from_me: !group,
            participant: group.then(|| "15550002222@s.whatsapp.net".parse().expect("jid")),
        }
    }

    fn sealed() -> Sealed {
        Sealed {
            ciphertext: vec![1, 2, 3],
            iv: vec![7; 12],
        }
    }

    #[test]
    fn the_request_has_the_references_layout() {
        let request = MediaRetryRequest {
            id: "3EB0AA".parse().expect("id"),
            to: Some("15550009999@s.whatsapp.net".parse().expect("jid")),
            from: None,
            sealed: sealed(),
            rmr: rmr(false),
        };
        let node = request.to_node();
        assert_eq!(node.tag, "receipt");
        assert_eq!(node.attr_str("type"), Some("server-error"));
        assert_eq!(node.attr_str("id"), Some("3EB0AA"));
        let enc = node.child("encrypt").expect("encrypt");
        assert_eq!(
            enc.child("enc_p").and_then(Node::bytes),
            Some(&[1u8, 2, 3][..])
        );
        assert_eq!(
            enc.child("enc_iv").and_then(Node::bytes),
            Some(&[7u8; 12][..])
        );
        let r = node.child("rmr").expect("rmr");
        assert_eq!(r.attr_str("from_me"), Some("true"));
        assert!(r.attr("participant").is_none());
        assert!(MediaRetryRequest::is_request(&node));
        assert_eq!(MediaRetryRequest::from_node(&node), Ok(request));
    }

    #[test]
    fn the_notice_round_trips_both_bodies_and_error_wins() {
        for body in [
            MediaRetryBody::Sealed(sealed()),
            MediaRetryBody::Error {
                code: MEDIA_NOT_ON_PHONE,
            },
        ] {
            let notice = MediaRetryNotice {
                id: "3EB0AA".parse().expect("id"),
                from: "15550009999@s.whatsapp.net".parse().expect("jid"),
                t: Some(1_700_000_000),
                rmr: rmr(true),
                body,
            };
            let node = notice.to_node();
            assert!(MediaRetryNotice::is_notice(&node));
            assert_eq!(
                node.child("rmr").and_then(|r| r.attr_str("from_me")),
                Some("false")
            );
            assert_eq!(MediaRetryNotice::from_node(&node), Ok(notice));
        }
        let both = Node::new("notification")
            .with_attr("id", "3EB0AA")
            .with_attr("from", "15550009999@s.whatsapp.net")
            .with_attr("type", "mediaretry")
            .with_children(vec![
                rmr(false).to_node(),
                sealed().to_node(),
                Node::new("error").with_attr("code", "2"),
            ]);
        let parsed = MediaRetryNotice::from_node(&both).expect("parses");
        assert_eq!(parsed.body, MediaRetryBody::Error { code: 2 });
    }

    #[test]
    fn malformed_stanzas_are_refused() {
        let no_rmr = Node::new("receipt")
            .with_attr("id", "3EB0AA")
            .with_attr("type", "server-error")
            .with_child(sealed().to_node());
        assert!(MediaRetryRequest::from_node(&no_rmr).is_err());
        let retry = Node::new("receipt")
            .with_attr("id", "3EB0AA")
            .with_attr("type", "retry");
        assert!(MediaRetryRequest::from_node(&retry).is_err());
        let empty = Node::new("notification")
            .with_attr("id", "3EB0AA")
            .with_attr("from", "15550009999@s.whatsapp.net")
            .with_attr("type", "mediaretry")
            .with_child(rmr(false).to_node());
        assert!(MediaRetryNotice::from_node(&empty).is_err());
        let huge = Sealed {
            ciphertext: vec![0; MAX_SEALED + 1],
            iv: vec![0; 12],
        };
        let node = Node::new("x").with_child(huge.to_node());
        assert!(Sealed::from_node(&node).is_err());
    }
}

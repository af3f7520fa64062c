//! What a simulated phone sends, as its send, group-send and retry paths handle it: one of the
//! modelled [`Content`] kinds, or a media message built by `phone_media` (its protobuf made
//! once, with the upload's URL and keys in it, so a resend for a retry receipt carries the
//! same file).

use wa_protocol::message::Content;
use wa_protocol::pb::e2e as pb;
use wa_protocol::stanza::{EditAttr, MessageType};

use crate::media_kind::MediaKind;

/// One message a phone sends.
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    /// Text, reaction, edit, revoke, location or contact.
    Content(Content),
    /// A media message: its kind and the whole `Message`.
    Media {
        /// The kind.
        kind: MediaKind,
        /// The message with its `imageMessage`/`videoMessage`/… set.
        message: Box<pb::Message>,
    },
}

impl Outgoing {
    /// The protobuf to pad and encrypt.
    pub(crate) fn to_message(&self) -> pb::Message {
        match self {
            Outgoing::Content(c) => c.to_message(),
            Outgoing::Media { message, .. } => (**message).clone(),
        }
    }

    /// The stanza `type` (`messaging.md` §7: `media` for media).
    pub(crate) fn stanza_type(&self) -> MessageType {
        match self {
            Outgoing::Content(c) => c.stanza_type(),
            Outgoing::Media { .. } => MessageType::Media,
        }
    }

    /// The `<enc mediatype>` (`messaging.md` §7).
    pub(crate) fn media_type(&self) -> Option<&'static str> {
        match self {
            Outgoing::Content(c) => c.media_type(),
            Outgoing::Media { kind, .. } => Some(kind.as_str()),
        }
    }

    /// The stanza `edit` attribute (none for media).
    pub(crate) fn edit_attr(&self) -> Option<EditAttr> {
        match self {
            Outgoing::Content(c) => c.edit_attr(),
            Outgoing::Media { .. } => None,
        }
    }

    /// Whether the `<enc>` carries `decrypt-fail="hide"` (not for media).
    pub(crate) fn hides_decrypt_failure(&self) -> bool {
        match self {
            Outgoing::Content(c) => c.hides_decrypt_failure(),
            Outgoing::Media { .. } => false,
        }
    }

    /// The counter label: `Content::kind()`, or the media kind.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Outgoing::Content(c) => c.kind(),
            Outgoing::Media { kind, .. } => kind.as_str(),
        }
    }
}

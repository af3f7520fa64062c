//! [`Content`]: the everyday kinds of message (issue 10 item 2) as types, converted to and from
//! the `waE2E.Message` protobuf (`messaging.md` §1; field numbers in `proto/e2e.proto`, each
//! cited there), plus the `<message>` stanza attributes each kind implies (§7).
//!
//! Parsing is total: a message of a kind wagate does not model is [`Content::Unsupported`], a
//! known kind with a missing or invalid required field is a [`ContentError`]; nothing panics.

use crate::binary::Jid;
use crate::ids::MessageId;
use crate::pb::e2e as pb;
use crate::pb::e2e::protocol_message::Type as ProtocolType;
use crate::stanza::{EditAttr, MessageType};
use crate::time::Millis;

use super::key::MessageKey;
use super::media::{media_from_pb, media_into, Media};
use super::plaintext::ContentError;
pub use super::reply::Reply;
use super::reply::{context_info, read_context};

/// One message's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Text, optionally replying to a message and mentioning users.
    Text(Text),
    /// An emoji reaction to a message (an empty emoji removes ours).
    Reaction(Reaction),
    /// A new text (or other content) for a message we sent.
    Edit(Edit),
    /// Delete for everyone.
    Revoke(Revoke),
    /// A static location.
    Location(Location),
    /// A shared contact card.
    Contact(Contact),
    /// An uploaded image, video, audio or voice note, document or sticker (`media.md` §4).
    Media(Box<Media>),
    /// A kind wagate does not model.
    Unsupported(Unsupported),
}

/// Text (`conversation`=1, or `extendedTextMessage`=6 {text=1, contextInfo=17} when it replies
/// or mentions, `messaging.md` §1).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Text {
    /// The text.
    pub text: String,
    /// The message this one replies to.
    pub reply: Option<Reply>,
    /// Users mentioned (`contextInfo.mentionedJID`=15), in order.
    pub mentions: Vec<Jid>,
    /// Forwarded: `contextInfo.isForwarded`=22 with this `forwardingScore`=21 (how many times
    /// it was forwarded; whatsmeow WAWebProtobufsE2E.proto `ContextInfo`, CONTRACTS §A.4).
    pub forwarded: Option<u32>,
}

/// `reactionMessage`=46 {key=1, text=2, senderTimestampMS=4}.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// The message reacted to.
    pub target: MessageKey,
    /// The emoji; empty removes the reaction (whatsmeow `RemoveReactionText`).
    pub emoji: String,
    /// When the reaction was made, if given.
    pub sent_at: Option<Millis>,
}

/// `protocolMessage`=12 {key=1, type=2 MESSAGE_EDIT(14), editedMessage=14, timestampMS=15}.
/// Sent at the top level (Baileys `generateWAMessageContent`); whatsmeow's `BuildEdit` wraps
/// the same protocolMessage in `editedMessage`=58 {message=1}: both are read.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    /// The message edited (ours: `from_me` true).
    pub target: MessageKey,
    /// Its new content (text in practice).
    pub content: Box<Content>,
    /// When the edit was made, if given.
    pub edited_at: Option<Millis>,
}

/// `protocolMessage`=12 {key=1, type=2 REVOKE(0)}: delete for everyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoke {
    /// The message deleted; `from_me` false is a group admin deleting someone else's.
    pub target: MessageKey,
}

/// `locationMessage`=5 {degreesLatitude=1, degreesLongitude=2, name=3, address=4}.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Location {
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// Name of the place.
    pub name: Option<String>,
    /// Address of the place.
    pub address: Option<String>,
}

/// `contactMessage`=4 {displayName=1, vcard=16}.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    /// The name shown on the card.
    pub display_name: String,
    /// The vCard text.
    pub vcard: String,
}

/// What a message wagate does not model holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsupported {
    /// No field wagate declares is set: an empty message, or another kind (polls, …;
    /// the decoder skips fields it does not declare).
    Unknown,
    /// Only a sender key distribution (`messaging.md` §9): key material, no user content.
    SenderKeyOnly,
    /// A `protocolMessage` of another type (the raw `type` number): app-state keys, history
    /// sync, ephemeral settings, …
    Protocol(i32),
}

impl Content {
    /// Plain text without reply or mentions.
    pub fn text(text: impl Into<String>) -> Self {
        Content::Text(Text {
            text: text.into(),
            ..Text::default()
        })
    }

    /// A short name of the kind: `text`, `reaction`, `edit`, `revoke`, `location`, `contact` or
    /// `unsupported` (the labels of wa-sim's admin API, issue 10 item 9).
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Text(_) => "text",
            Content::Reaction(_) => "reaction",
            Content::Edit(_) => "edit",
            Content::Revoke(_) => "revoke",
            Content::Location(_) => "location",
            Content::Contact(_) => "contact",
            Content::Media(m) => m.kind.name(),
            Content::Unsupported(_) => "unsupported",
        }
    }

    /// The id of the message this one replies to, if any.
    pub fn quoted_id(&self) -> Option<&MessageId> {
        match self {
            Content::Text(t) => t.reply.as_ref().map(|r| &r.id),
            Content::Media(m) => m.reply.as_ref().map(|r| &r.id),
            Content::Reaction(_)
            | Content::Edit(_)
            | Content::Revoke(_)
            | Content::Location(_)
            | Content::Contact(_)
            | Content::Unsupported(_) => None,
        }
    }

    /// The stanza `type` this content is sent with.
    pub fn stanza_type(&self) -> MessageType {
        match self {
            Content::Reaction(_) => MessageType::Reaction,
            Content::Contact(_) | Content::Media(_) => MessageType::Media,
            Content::Text(_)
            | Content::Edit(_)
            | Content::Revoke(_)
            | Content::Location(_)
            | Content::Unsupported(_) => MessageType::Text,
        }
    }

    /// The `mediatype` attribute of `<enc>` (`messaging.md` §7), if any.
    pub fn media_type(&self) -> Option<&'static str> {
        match self {
            Content::Contact(_) => Some("vcard"),
            Content::Media(m) => Some(m.kind.enc_mediatype()),
            Content::Text(_)
            | Content::Reaction(_)
            | Content::Edit(_)
            | Content::Revoke(_)
            | Content::Location(_)
            | Content::Unsupported(_) => None,
        }
    }

    /// The stanza `edit` attribute, if any: `1` for an edit, `7` for revoking one's own message
    /// or removing a reaction, `8` for an admin revoking someone else's.
    pub fn edit_attr(&self) -> Option<EditAttr> {
        match self {
            Content::Edit(_) => Some(EditAttr::MessageEdit),
            Content::Revoke(r) if r.target.from_me => Some(EditAttr::SenderRevoke),
            Content::Revoke(_) => Some(EditAttr::AdminRevoke),
            Content::Reaction(r) if r.emoji.is_empty() => Some(EditAttr::SenderRevoke),
            Content::Text(_)
            | Content::Reaction(_)
            | Content::Location(_)
            | Content::Contact(_)
            | Content::Media(_)
            | Content::Unsupported(_) => None,
        }
    }

    /// Whether the `<enc>` nodes carry `decrypt-fail="hide"` (edits, revokes and reactions,
    /// `messaging.md` §7).
    pub fn hides_decrypt_failure(&self) -> bool {
        matches!(
            self,
            Content::Edit(_) | Content::Revoke(_) | Content::Reaction(_)
        )
    }

    /// The protobuf to serialize. [`Content::Unsupported`] has nothing to say and gives an
    /// empty message.
    pub fn to_message(&self) -> pb::Message {
        let mut m = pb::Message::default();
        match self {
            Content::Text(t) => text_into(t, &mut m),
            Content::Reaction(r) => {
                m.reaction_message = Some(pb::ReactionMessage {
                    key: Some(r.target.to_pb()),
                    text: Some(r.emoji.clone()),
                    grouping_key: None,
                    sender_timestamp_ms: r.sent_at.map(millis_to_pb),
                });
            }
            Content::Edit(e) => {
                m.protocol_message = Some(Box::new(pb::ProtocolMessage {
                    key: Some(e.target.to_pb()),
                    r#type: Some(ProtocolType::MessageEdit as i32),
                    edited_message: Some(Box::new(e.content.to_message())),
                    timestamp_ms: e.edited_at.map(millis_to_pb),
                    ..Default::default()
                }));
            }
            Content::Revoke(r) => {
                m.protocol_message = Some(Box::new(pb::ProtocolMessage {
                    key: Some(r.target.to_pb()),
                    r#type: Some(ProtocolType::Revoke as i32),
                    ..Default::default()
                }));
            }
            Content::Location(l) => {
                m.location_message = Some(Box::new(pb::LocationMessage {
                    degrees_latitude: Some(l.latitude),
                    degrees_longitude: Some(l.longitude),
                    name: l.name.clone(),
                    address: l.address.clone(),
                    ..Default::default()
                }));
            }
            Content::Contact(c) => {
                m.contact_message = Some(Box::new(pb::ContactMessage {
                    display_name: Some(c.display_name.clone()),
                    vcard: Some(c.vcard.clone()),
                    context_info: None,
                }));
            }
            Content::Media(media) => media_into(media, &mut m),
            Content::Unsupported(_) => {}
        }
        m
    }

    /// Reads the content of a (DSM-unwrapped) message. Precedence when several kinds are set:
    /// protocol message, the `editedMessage` wrapper, reaction, text, location, contact,
    /// media.
    pub fn from_message(m: &pb::Message) -> Result<Content, ContentError> {
        if let Some(p) = &m.protocol_message {
            return protocol_from_pb(p);
        }
        if let Some(inner) = m.edited_message.as_ref().and_then(|f| f.message.as_deref()) {
            if let Some(p) = &inner.protocol_message {
                return protocol_from_pb(p);
            }
        }
        if let Some(r) = &m.reaction_message {
            let key = r.key.as_ref().ok_or(ContentError::Missing {
                kind: "ReactionMessage",
                field: "key",
            })?;
            return Ok(Content::Reaction(Reaction {
                target: MessageKey::from_pb(key)?,
                emoji: r.text.clone().unwrap_or_default(),
                sent_at: r.sender_timestamp_ms.and_then(millis_from_pb),
            }));
        }
        if let Some(x) = &m.extended_text_message {
            return text_from_pb(x).map(Content::Text);
        }
        if let Some(text) = &m.conversation {
            return Ok(Content::text(text.clone()));
        }
        if let Some(l) = &m.location_message {
            return location_from_pb(l).map(Content::Location);
        }
        if let Some(c) = &m.contact_message {
            let vcard = c.vcard.clone().ok_or(ContentError::Missing {
                kind: "ContactMessage",
                field: "vcard",
            })?;
            return Ok(Content::Contact(Contact {
                display_name: c.display_name.clone().unwrap_or_default(),
                vcard,
            }));
        }
        if let Some(media) = media_from_pb(m) {
            return media.map(|m| Content::Media(Box::new(m)));
        }
        if m.sender_key_distribution_message.is_some() {
            return Ok(Content::Unsupported(Unsupported::SenderKeyOnly));
        }
        Ok(Content::Unsupported(Unsupported::Unknown))
    }
}

fn millis_to_pb(t: Millis) -> i64 {
    i64::try_from(t.0).unwrap_or(i64::MAX)
}

/// A negative timestamp is no timestamp.
fn millis_from_pb(t: i64) -> Option<Millis> {
    u64::try_from(t).ok().map(Millis)
}

fn text_into(t: &Text, m: &mut pb::Message) {
    if t.reply.is_none() && t.mentions.is_empty() && t.forwarded.is_none() {
        m.conversation = Some(t.text.clone());
        return;
    }
    m.extended_text_message = Some(Box::new(pb::ExtendedTextMessage {
        text: Some(t.text.clone()),
        context_info: Some({
            let mut ctx = context_info(t.reply.as_ref(), &t.mentions).unwrap_or_default();
            ctx.forwarding_score = t.forwarded;
            ctx.is_forwarded = t.forwarded.map(|_| true);
            ctx
        }),
        ..Default::default()
    }));
}

fn text_from_pb(x: &pb::ExtendedTextMessage) -> Result<Text, ContentError> {
    let (reply, mentions) = read_context(x.context_info.as_deref())?;
    Ok(Text {
        text: x.text.clone().unwrap_or_default(),
        reply,
        mentions,
        forwarded: x
            .context_info
            .as_deref()
            .filter(|c| c.is_forwarded == Some(true))
            .map(|c| c.forwarding_score.unwrap_or(0)),
    })
}

fn protocol_from_pb(p: &pb::ProtocolMessage) -> Result<Content, ContentError> {
    let missing = |field| ContentError::Missing {
        kind: "ProtocolMessage",
        field,
    };
    // proto2 default of `type` is its first value, REVOKE (0).
    let kind = p.r#type.unwrap_or(ProtocolType::Revoke as i32);
    if kind == ProtocolType::Revoke as i32 {
        let key = p.key.as_ref().ok_or(missing("key"))?;
        return Ok(Content::Revoke(Revoke {
            target: MessageKey::from_pb(key)?,
        }));
    }
    if kind == ProtocolType::MessageEdit as i32 {
        let key = p.key.as_ref().ok_or(missing("key"))?;
        let edited = p
            .edited_message
            .as_deref()
            .ok_or(missing("editedMessage"))?;
        return Ok(Content::Edit(Edit {
            target: MessageKey::from_pb(key)?,
            content: Box::new(Content::from_message(edited)?),
            edited_at: p.timestamp_ms.and_then(millis_from_pb),
        }));
    }
    Ok(Content::Unsupported(Unsupported::Protocol(kind)))
}

fn location_from_pb(l: &pb::LocationMessage) -> Result<Location, ContentError> {
    let missing = |field| ContentError::Missing {
        kind: "LocationMessage",
        field,
    };
    Ok(Location {
        latitude: l.degrees_latitude.ok_or(missing("degreesLatitude"))?,
        longitude: l.degrees_longitude.ok_or(missing("degreesLongitude"))?,
        name: l.name.clone(),
        address: l.address.clone(),
    })
}

#[cfg(test)]
mod forward_tests;
#[cfg(test)]
mod tests;

//! What a simulated phone can send: the body of `POST /admin/phones/{phone}/send` (and
//! [`SimServer::phone_send_kind`](crate::SimServer::phone_send_kind)), turned into one
//! [`Content`] of `messaging.md` §1.
//!
//! | field | kind |
//! |---|---|
//! | `"text"` (with optional `"reply_to": "<id>"`, `"mentions": ["<phone or JID>", …]`) | text (`conversation`, or `extendedTextMessage` with `contextInfo` when it replies or mentions) |
//! | `"reaction": {"id", "emoji"}` | reaction to message `id` of the chat (an empty emoji removes it) |
//! | `"edit": {"id", "text"}` | the phone's own message `id` gets a new text |
//! | `"revoke": "<id>"` | the phone deletes its own message `id` for everyone |
//! | `"location": {"lat", "lng", "name"}` | a static location (`name` optional) |
//! | `"contact": {"name", "vcard"}` | a contact card |
//! | `"media": {"kind", "mimetype", "data_base64", "caption", "file_name", "seconds"}` | a media message ([`MediaBody`]; encrypted and uploaded by `phone_media`) |
//!
//! Exactly one kind per request: `text`, or one of the others (a `reply_to`/`mentions` without
//! `text` is refused). A referenced message counts as the phone's own (`fromMe`) when the phone
//! sent it (its recent sends, kept for retry receipts); otherwise as the chat peer's.

use wa_protocol::binary::Jid;
use wa_protocol::message::{
    Contact, Content, Edit, Location, MessageKey, Reaction, Reply, Revoke, Text,
};
use wa_protocol::time::Millis;
use wa_protocol::MessageId;

use crate::error::SimError;
use crate::media_kind::MediaBody;

/// One send of a simulated phone: the recipient and one kind (see the module table).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneSend {
    /// The recipient: a phone number or a user JID.
    pub to: String,
    /// A text.
    #[serde(default)]
    pub text: Option<String>,
    /// With `text`: the id of the message it quotes.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// With `text`: users mentioned (phone numbers or JIDs), in order.
    #[serde(default)]
    pub mentions: Vec<String>,
    /// A reaction.
    #[serde(default)]
    pub reaction: Option<ReactionBody>,
    /// An edit of the phone's own message.
    #[serde(default)]
    pub edit: Option<EditBody>,
    /// Delete the phone's own message with this id for everyone.
    #[serde(default)]
    pub revoke: Option<String>,
    /// A location.
    #[serde(default)]
    pub location: Option<LocationBody>,
    /// A contact card.
    #[serde(default)]
    pub contact: Option<ContactBody>,
    /// A media message (image, video, audio, voice note, document, sticker).
    #[serde(default)]
    pub media: Option<MediaBody>,
}

/// `"reaction": {"id", "emoji"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactionBody {
    /// The message reacted to.
    pub id: String,
    /// The emoji (empty removes the reaction).
    pub emoji: String,
}

/// `"edit": {"id", "text"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    /// The phone's message edited.
    pub id: String,
    /// Its new text.
    pub text: String,
}

/// `"location": {"lat", "lng", "name"}`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationBody {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lng: f64,
    /// Name of the place.
    #[serde(default)]
    pub name: Option<String>,
}

/// `"contact": {"name", "vcard"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    /// The name shown on the card.
    pub name: String,
    /// The vCard text.
    pub vcard: String,
}

impl PhoneSend {
    /// A plain text to `to`.
    pub fn text(to: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            to: to.into(),
            text: Some(text.into()),
            ..Self::default()
        }
    }
}

/// What building the content needs to know about the phone and its chat.
pub(crate) struct KindContext<'a> {
    /// The chat: the recipient's user JID.
    pub(crate) chat: &'a Jid,
    /// The phone's own user JID.
    pub(crate) own: &'a Jid,
    /// Whether the phone sent the message with this id.
    pub(crate) sent_by_phone: &'a dyn Fn(&str) -> bool,
    /// Now.
    pub(crate) now: Millis,
    /// Parses a mention (a phone number or JID) into a user JID.
    pub(crate) parse_user: &'a dyn Fn(&str) -> Result<Jid, SimError>,
}

/// Refuses a request naming no kind or more than one (a `reply_to`/`mentions` without `text`).
pub(crate) fn one_kind(request: &PhoneSend) -> Result<(), SimError> {
    let kinds = [
        request.text.is_some(),
        request.reaction.is_some(),
        request.edit.is_some(),
        request.revoke.is_some(),
        request.location.is_some(),
        request.contact.is_some(),
        request.media.is_some(),
    ];
    let named = kinds.iter().filter(|k| **k).count();
    let text_extras = request.reply_to.is_some() || !request.mentions.is_empty();
    if named != 1 || (text_extras && request.text.is_none()) {
        return Err(SimError::BadSend(
            "name exactly one kind: text (with reply_to/mentions), reaction, edit, revoke, \
             location, contact or media",
        ));
    }
    Ok(())
}

/// The content `request` asks for (a media request is `phone_media`'s); a request naming no
/// kind or more than one is refused.
pub(crate) fn content_of(request: &PhoneSend, cx: &KindContext<'_>) -> Result<Content, SimError> {
    one_kind(request)?;
    if let Some(text) = &request.text {
        return text_content(text, request, cx);
    }
    if let Some(r) = &request.reaction {
        return Ok(Content::Reaction(Reaction {
            target: key(cx, &r.id)?,
            emoji: r.emoji.clone(),
            sent_at: Some(cx.now),
        }));
    }
    if let Some(e) = &request.edit {
        return Ok(Content::Edit(Edit {
            target: own_key(cx, &e.id)?,
            content: Box::new(Content::text(e.text.as_str())),
            edited_at: Some(cx.now),
        }));
    }
    if let Some(id) = &request.revoke {
        return Ok(Content::Revoke(Revoke {
            target: own_key(cx, id)?,
        }));
    }
    if let Some(l) = &request.location {
        return Ok(Content::Location(Location {
            latitude: l.lat,
            longitude: l.lng,
            name: l.name.clone(),
            address: None,
        }));
    }
    match &request.contact {
        Some(c) => Ok(Content::Contact(Contact {
            display_name: c.name.clone(),
            vcard: c.vcard.clone(),
        })),
        None => Err(SimError::BadSend("no kind named")),
    }
}

fn text_content(
    text: &str,
    request: &PhoneSend,
    cx: &KindContext<'_>,
) -> Result<Content, SimError> {
    let reply = match &request.reply_to {
        Some(id) => {
            let id = message_id(id)?;
            let mine = (cx.sent_by_phone)(id.as_str());
            Some(Reply {
                id,
                sender: Some(if mine {
                    cx.own.clone()
                } else {
                    cx.chat.clone()
                }),
                quoted: None,
            })
        }
        None => None,
    };
    let mentions = request
        .mentions
        .iter()
        .map(|m| (cx.parse_user)(m))
        .collect::<Result<Vec<Jid>, SimError>>()?;
    Ok(Content::Text(Text {
        text: text.to_owned(),
        reply,
        mentions,
        forwarded: None,
    }))
}

fn message_id(id: &str) -> Result<MessageId, SimError> {
    id.parse()
        .map_err(|_| SimError::BadAddress(id.chars().take(64).collect()))
}

/// The key of message `id` in the chat: the phone's own when it sent it, else the peer's.
fn key(cx: &KindContext<'_>, id: &str) -> Result<MessageKey, SimError> {
    let id = message_id(id)?;
    Ok(MessageKey {
        remote_jid: cx.chat.clone(),
        from_me: (cx.sent_by_phone)(id.as_str()),
        id,
        participant: None,
    })
}

/// The key of the phone's own message `id` (edits and revokes change only one's own).
fn own_key(cx: &KindContext<'_>, id: &str) -> Result<MessageKey, SimError> {
    Ok(MessageKey {
        remote_jid: cx.chat.clone(),
        from_me: true,
        id: message_id(id)?,
        participant: None,
    })
}

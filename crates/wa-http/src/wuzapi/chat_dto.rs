//! The chat routes' request and response bodies (CONTRACTS §A.4, §A.5) and their validation into
//! the gateway's types ([`Content`], [`MessageId`], [`Jid`]). Request fields are declared under
//! their lowercase wire names (the bodies are decoded by [`crate::json::GoJson`], which folds key
//! case as Go does); missing fields take zero values and are refused here with the contract's
//! texts (`missing <Field> in Payload`).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wa_protocol::binary::Jid;
use wa_protocol::message::{Contact, Content, Edit, Location, MessageKey, Reply, Revoke, Text};
use wa_protocol::pb::e2e as pb;
use wa_protocol::stanza::ChatStateKind;
use wa_protocol::time::Millis;
use wa_protocol::MessageId;

use crate::error::ApiError;
use crate::phone::{parse_phone, parse_recipient};

/// Replies, mentions and the forwarded flag (`ContextInfo`, CONTRACTS §A.4; `StanzaID` and
/// `StanzaId` fold to the same name).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ContextInfoBody {
    /// Id of the quoted message (needs `Participant`).
    #[serde(rename = "stanzaid")]
    pub stanza_id: String,
    /// Sender of the quoted message (needs `StanzaID`).
    #[serde(rename = "participant")]
    pub participant: String,
    /// Users mentioned (phone numbers or JIDs).
    #[serde(rename = "mentionedjid")]
    pub mentioned_jid: Vec<String>,
    /// Mark the message forwarded (`contextInfo.isForwarded`, `forwardingScore` 1; text sends —
    /// location and contact sends accept and ignore it).
    #[serde(rename = "isforwarded")]
    pub is_forwarded: bool,
}

/// `POST /chat/send/text`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SendTextBody {
    /// Recipient: phone number (with or without `+`) or JID.
    #[serde(rename = "phone")]
    pub phone: String,
    /// The text.
    #[serde(rename = "body")]
    pub body: String,
    /// Caller-chosen message id (else a new one).
    #[serde(rename = "id")]
    pub id: String,
    /// Text shown as the quoted message when `ContextInfo.StanzaID` is set.
    #[serde(rename = "quotedtext")]
    pub quoted_text: String,
    /// Accepted for compatibility (no OpenGraph fetch).
    #[serde(rename = "linkpreview")]
    pub link_preview: bool,
    /// Reply and mentions.
    #[serde(rename = "contextinfo")]
    pub context_info: Option<ContextInfoBody>,
    /// Accept into the durable outbox and answer `202` with the id at once; the outcome
    /// arrives by webhook (issue 12; also `?async=true`).
    #[serde(rename = "async")]
    pub is_async: bool,
}

/// `POST /chat/send/location`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SendLocationBody {
    /// Recipient.
    #[serde(rename = "phone")]
    pub phone: String,
    /// Latitude in degrees (≠ 0).
    #[serde(rename = "latitude")]
    pub latitude: f64,
    /// Longitude in degrees (≠ 0).
    #[serde(rename = "longitude")]
    pub longitude: f64,
    /// Name of the place.
    #[serde(rename = "name")]
    pub name: String,
    /// Caller-chosen message id.
    #[serde(rename = "id")]
    pub id: String,
    /// Validated (paired fields) like every send's.
    #[serde(rename = "contextinfo")]
    pub context_info: Option<ContextInfoBody>,
    /// Accept into the durable outbox and answer `202` with the id at once; the outcome
    /// arrives by webhook (issue 12; also `?async=true`).
    #[serde(rename = "async")]
    pub is_async: bool,
}

/// `POST /chat/send/contact`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SendContactBody {
    /// Recipient.
    #[serde(rename = "phone")]
    pub phone: String,
    /// The name shown on the card.
    #[serde(rename = "name")]
    pub name: String,
    /// The vCard text.
    #[serde(rename = "vcard")]
    pub vcard: String,
    /// Caller-chosen message id.
    #[serde(rename = "id")]
    pub id: String,
    /// Validated (paired fields) like every send's.
    #[serde(rename = "contextinfo")]
    pub context_info: Option<ContextInfoBody>,
    /// Accept into the durable outbox and answer `202` with the id at once; the outcome
    /// arrives by webhook (issue 12; also `?async=true`).
    #[serde(rename = "async")]
    pub is_async: bool,
}

/// `POST /chat/send/edit` (`Id`: the message to edit) and `POST /chat/delete` (`Body` unused).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct TargetBody {
    /// The chat of the message.
    #[serde(rename = "phone")]
    pub phone: String,
    /// The new text (edit).
    #[serde(rename = "body")]
    pub body: String,
    /// The id of our message to edit or delete.
    #[serde(rename = "id")]
    pub id: String,
}

/// `POST /chat/react`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ReactBody {
    /// The chat of the message.
    #[serde(rename = "phone")]
    pub phone: String,
    /// The emoji; `remove` removes our reaction.
    #[serde(rename = "body")]
    pub body: String,
    /// The message reacted to; `me:<id>` for one of ours.
    #[serde(rename = "id")]
    pub id: String,
    /// The sender of the message in a group.
    #[serde(rename = "participant")]
    pub participant: String,
}

/// `POST /chat/markread`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct MarkReadBody {
    /// The ids to mark read.
    #[serde(rename = "id")]
    pub id: Vec<String>,
    /// The chat (phone or JID; preferred).
    #[serde(rename = "chatphone")]
    pub chat_phone: String,
    /// Legacy: the chat as a full JID.
    #[serde(rename = "chat")]
    pub chat: String,
    /// The sender in a group (phone or JID; preferred).
    #[serde(rename = "senderphone")]
    pub sender_phone: String,
    /// Legacy: the sender as a full JID.
    #[serde(rename = "sender")]
    pub sender: String,
}

/// `POST /chat/presence`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ChatPresenceBody {
    /// The chat.
    #[serde(rename = "phone")]
    pub phone: String,
    /// `composing` or `paused`.
    #[serde(rename = "state")]
    pub state: String,
    /// `""` or `audio` (recording a voice note).
    #[serde(rename = "media")]
    pub media: String,
}

/// A send's answer: `{"Details":"Sent","Id","Timestamp"}` (CONTRACTS §A.0; Go's key order).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SentData {
    /// `Sent` (or `Deleted`).
    #[serde(rename = "Details")]
    pub details: &'static str,
    /// The message id.
    #[serde(rename = "Id")]
    pub id: String,
    /// The server's timestamp, unix seconds.
    #[serde(rename = "Timestamp")]
    pub timestamp: u64,
}

/// An answer with only `Details`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct DetailsData {
    /// What was done.
    #[serde(rename = "Details")]
    pub details: &'static str,
}

/// What a send asks the gateway for.
#[derive(Debug, Clone)]
pub(crate) struct SendPlan {
    /// The chat.
    pub to: Jid,
    /// The message.
    pub content: Content,
    /// The caller's message id, if given.
    pub id: Option<MessageId>,
}

/// Now, in unix milliseconds (for the `senderTimestampMS`/`timestampMS` fields).
pub(crate) fn now_millis() -> Millis {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Millis(ms)
}

/// `Phone`: refused when empty or unparsable.
fn required_phone(phone: &str) -> Result<Jid, ApiError> {
    if phone.is_empty() {
        return Err(ApiError::missing("Phone"));
    }
    parse_phone(phone)
}

fn message_id(value: &str) -> Result<MessageId, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::bad_request("could not parse Id"))
}

/// An optional caller-chosen id (`Id`).
pub(crate) fn optional_id(value: &str) -> Result<Option<MessageId>, ApiError> {
    (!value.is_empty()).then(|| message_id(value)).transpose()
}

impl ContextInfoBody {
    /// The reply it names (`StanzaID` and `Participant` come together, CONTRACTS §A.4) and the
    /// mentioned users.
    fn validate(&self, quoted_text: &str) -> Result<(Option<Reply>, Vec<Jid>), ApiError> {
        let reply = match (self.stanza_id.is_empty(), self.participant.is_empty()) {
            (true, true) => None,
            (false, true) => {
                return Err(ApiError::bad_request("missing Participant in ContextInfo"))
            }
            (true, false) => return Err(ApiError::bad_request("missing StanzaID in ContextInfo")),
            (false, false) => Some(Reply {
                id: message_id(&self.stanza_id)?,
                sender: Some(parse_recipient(&self.participant, "Participant")?),
                quoted: (!quoted_text.is_empty()).then(|| {
                    Box::new(pb::Message {
                        conversation: Some(quoted_text.to_owned()),
                        ..Default::default()
                    })
                }),
            }),
        };
        let mentions = self
            .mentioned_jid
            .iter()
            .map(|m| parse_recipient(m, "MentionedJID"))
            .collect::<Result<_, _>>()?;
        Ok((reply, mentions))
    }
}

pub(crate) fn context(
    info: Option<&ContextInfoBody>,
    quoted: &str,
) -> Result<(Option<Reply>, Vec<Jid>), ApiError> {
    info.map_or(Ok((None, Vec::new())), |c| c.validate(quoted))
}

impl SendTextBody {
    /// Validates into a send (CONTRACTS §A.4 `/chat/send/text`).
    pub(crate) fn plan(&self) -> Result<SendPlan, ApiError> {
        if self.phone.is_empty() {
            return Err(ApiError::missing("Phone"));
        }
        if self.body.is_empty() {
            return Err(ApiError::missing("Body"));
        }
        let to = parse_phone(&self.phone)?;
        let (reply, mentions) = context(self.context_info.as_ref(), &self.quoted_text)?;
        Ok(SendPlan {
            to,
            content: Content::Text(Text {
                text: self.body.clone(),
                reply,
                mentions,
                // CONTRACTS §A.4 `IsForwarded`: forwarded once (`forwardingScore` 1).
                forwarded: self
                    .context_info
                    .as_ref()
                    .is_some_and(|c| c.is_forwarded)
                    .then_some(1),
            }),
            id: optional_id(&self.id)?,
        })
    }
}

impl SendLocationBody {
    /// Validates into a send (`/chat/send/location`: `Latitude`, `Longitude` ≠ 0).
    pub(crate) fn plan(&self) -> Result<SendPlan, ApiError> {
        let to = required_phone(&self.phone)?;
        if self.latitude == 0.0 {
            return Err(ApiError::missing("Latitude"));
        }
        if self.longitude == 0.0 {
            return Err(ApiError::missing("Longitude"));
        }
        if !(-90.0..=90.0).contains(&self.latitude) || !(-180.0..=180.0).contains(&self.longitude) {
            return Err(ApiError::bad_request("invalid Latitude or Longitude"));
        }
        context(self.context_info.as_ref(), "")?;
        Ok(SendPlan {
            to,
            content: Content::Location(Location {
                latitude: self.latitude,
                longitude: self.longitude,
                name: (!self.name.is_empty()).then(|| self.name.clone()),
                address: None,
            }),
            id: optional_id(&self.id)?,
        })
    }
}

impl SendContactBody {
    /// Validates into a send (`/chat/send/contact`: `Name`, `Vcard`).
    pub(crate) fn plan(&self) -> Result<SendPlan, ApiError> {
        let to = required_phone(&self.phone)?;
        if self.name.is_empty() {
            return Err(ApiError::missing("Name"));
        }
        if self.vcard.is_empty() {
            return Err(ApiError::missing("Vcard"));
        }
        context(self.context_info.as_ref(), "")?;
        Ok(SendPlan {
            to,
            content: Content::Contact(Contact {
                display_name: self.name.clone(),
                vcard: self.vcard.clone(),
            }),
            id: optional_id(&self.id)?,
        })
    }
}

impl TargetBody {
    fn target(&self) -> Result<MessageKey, ApiError> {
        let chat = required_phone(&self.phone)?;
        if self.id.is_empty() {
            return Err(ApiError::missing("Id"));
        }
        Ok(MessageKey {
            remote_jid: chat,
            from_me: true,
            id: message_id(&self.id)?,
            participant: None,
        })
    }

    /// `/chat/send/edit`: a new text for our message `Id`.
    pub(crate) fn edit(&self) -> Result<SendPlan, ApiError> {
        let target = self.target()?;
        if self.body.is_empty() {
            return Err(ApiError::missing("Body"));
        }
        Ok(SendPlan {
            to: target.remote_jid.clone(),
            content: Content::Edit(Edit {
                target,
                content: Box::new(Content::text(self.body.clone())),
                edited_at: Some(now_millis()),
            }),
            id: None,
        })
    }

    /// `/chat/delete`: revoke our message `Id`.
    pub(crate) fn revoke(&self) -> Result<SendPlan, ApiError> {
        let target = self.target()?;
        Ok(SendPlan {
            to: target.remote_jid.clone(),
            content: Content::Revoke(Revoke { target }),
            id: None,
        })
    }
}

impl ReactBody {
    /// `/chat/react`: the reaction, and the target id without its `me:` prefix (the answer's
    /// `Id`, CONTRACTS §A.5).
    pub(crate) fn plan(&self) -> Result<(SendPlan, MessageId), ApiError> {
        if self.phone.is_empty() {
            return Err(ApiError::missing("Phone"));
        }
        // wuzapi's text for a bad Phone here (sic, CONTRACTS §A.5).
        let chat = parse_phone(&self.phone)
            .map_err(|_| ApiError::bad_request("could not parse Group JID"))?;
        if self.body.is_empty() {
            return Err(ApiError::missing("Body"));
        }
        if self.id.is_empty() {
            return Err(ApiError::missing("Id"));
        }
        let (from_me, raw) = match self.id.strip_prefix("me:") {
            Some(rest) => (true, rest),
            None => (false, self.id.as_str()),
        };
        let id = message_id(raw)?;
        let participant = match (from_me, self.participant.is_empty()) {
            (false, false) => Some(parse_recipient(&self.participant, "Participant")?),
            _ => None,
        };
        let emoji = if self.body == "remove" {
            String::new()
        } else {
            self.body.clone()
        };
        let target = MessageKey {
            remote_jid: chat.clone(),
            from_me,
            id: id.clone(),
            participant,
        };
        let content = Content::Reaction(wa_protocol::message::Reaction {
            target,
            emoji,
            sent_at: Some(now_millis()),
        });
        Ok((
            SendPlan {
                to: chat,
                content,
                id: None,
            },
            id,
        ))
    }
}

/// What `/chat/markread` asks for: chat, group sender, ids.
pub(crate) type ReadPlan = (Jid, Option<Jid>, Vec<MessageId>);

impl MarkReadBody {
    /// Validates (`Id[]` required; `ChatPhone` or legacy `Chat`; `SenderPhone` or `Sender`).
    pub(crate) fn plan(&self) -> Result<ReadPlan, ApiError> {
        if self.id.is_empty() {
            return Err(ApiError::missing("Id"));
        }
        let chat = match (self.chat_phone.as_str(), self.chat.as_str()) {
            ("", "") => return Err(ApiError::missing("ChatPhone")),
            ("", chat) => parse_recipient(chat, "Chat")?,
            (phone, _) => parse_recipient(phone, "ChatPhone")?,
        };
        let sender = match (self.sender_phone.as_str(), self.sender.as_str()) {
            ("", "") => None,
            ("", sender) => Some(parse_recipient(sender, "Sender")?),
            (phone, _) => Some(parse_recipient(phone, "SenderPhone")?),
        };
        let ids = self
            .id
            .iter()
            .map(|i| message_id(i))
            .collect::<Result<_, _>>()?;
        Ok((chat, sender, ids))
    }
}

impl ChatPresenceBody {
    /// Validates (`State`: `composing` | `paused`; `Media`: `""` | `audio`).
    pub(crate) fn plan(&self) -> Result<(Jid, ChatStateKind), ApiError> {
        let to = required_phone(&self.phone)?;
        let state = match (self.state.as_str(), self.media.as_str()) {
            ("", _) => return Err(ApiError::missing("State")),
            ("composing", "audio") => ChatStateKind::Recording,
            ("composing", "") => ChatStateKind::Composing,
            ("paused", "" | "audio") => ChatStateKind::Paused,
            ("composing" | "paused", _) => {
                return Err(ApiError::bad_request(
                    "invalid Media: allowed are '' and 'audio'",
                ))
            }
            _ => {
                return Err(ApiError::bad_request(
                    "invalid State: allowed are 'composing' and 'paused'",
                ))
            }
        };
        Ok((to, state))
    }
}

#[cfg(test)]
#[path = "chat_dto_tests.rs"]
mod tests;

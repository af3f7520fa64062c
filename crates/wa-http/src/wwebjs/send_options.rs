//! `POST /client/sendMessage/{id}`'s `options` (CONTRACTS §C.3: whatsapp-web.js
//! `MessageSendOptions`), applied to the content of `contentType` `string`, `Location` and
//! `Contact`:
//!
//! | option | here |
//! |---|---|
//! | `quotedMessageId` (`<fromMe>_<chat>_<id>[_<participant>]`) | a quoted reply (`contextInfo` stanzaID=1, participant=2) of a text; a location or a contact card has no reply here (no `contextInfo` in wagate's location and contact content): sent without it |
//! | `ignoreQuoteErrors` (default true) | `false`: a malformed `quotedMessageId`, or a quote that cannot be sent, is 400 instead of sending without the quote |
//! | `mentions` (ids `<digits>@c.us`, or objects with `id._serialized`) | the mentioned users of a text (`contextInfo.mentionedJID`=15) |
//! | `parseVCards` (default true) | a `string` content that is a vCard (`BEGIN:VCARD` … `END:VCARD`) goes out as a contact card |
//! | `media` | media attached to a text, the text its caption (read by `media.rs`, with `caption`, `sendMediaAsDocument`, `sendMediaAsSticker`, `sendAudioAsVoice`) |
//! | `linkPreview`, `sendSeen`, `groupMentions`, `sendVideoAsGif` | accepted and ignored: wagate generates no link previews, keeps no unread state to mark seen, and sends videos as videos |
//!
//! Unknown options are ignored, as whatsapp-web.js ignores them.

use serde_json::Value;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::{Contact, Content, Reply};
use wa_protocol::MessageId;

use crate::error::ApiError;
use crate::phone::parse_recipient;

/// `options` read into what this gateway does with them.
#[derive(Debug, Default)]
pub(crate) struct SendOptions {
    /// The message quoted, if any (and well formed).
    pub reply: Option<Reply>,
    /// Users mentioned, in order.
    pub mentions: Vec<Jid>,
    /// `ignoreQuoteErrors` (default true).
    pub ignore_quote_errors: bool,
    /// `parseVCards` (default true).
    pub parse_vcards: bool,
}

impl SendOptions {
    /// Reads `options` (`null` or absent: the defaults); `own` is the session's own JID (the
    /// sender of a quoted message of ours).
    pub(crate) fn read(options: &Value, own: Option<&Jid>) -> Result<Self, ApiError> {
        let flag = |name: &str| options.get(name).and_then(Value::as_bool).unwrap_or(true);
        let ignore_quote_errors = flag("ignoreQuoteErrors");
        let reply = match options.get("quotedMessageId").and_then(Value::as_str) {
            None | Some("") => None,
            Some(serialized) => match quoted(serialized, own) {
                Some(reply) => Some(reply),
                None if ignore_quote_errors => None,
                None => {
                    return Err(ApiError::bad_request(
                        "options.quotedMessageId is not a serialized message id",
                    ))
                }
            },
        };
        let mentions = match options.get("mentions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(ids)) => ids.iter().map(mention).collect::<Result<_, _>>()?,
            Some(_) => return Err(ApiError::bad_request("options.mentions must be an array")),
        };
        Ok(Self {
            reply,
            mentions,
            ignore_quote_errors,
            parse_vcards: flag("parseVCards"),
        })
    }

    /// `content` with the options applied.
    pub(crate) fn apply(self, content: Content) -> Result<Content, ApiError> {
        match content {
            Content::Text(mut text) => {
                if self.parse_vcards {
                    if let Some(card) = vcard(&text.text) {
                        return self.without_reply(Content::Contact(card));
                    }
                }
                text.reply = self.reply;
                text.mentions = self.mentions;
                Ok(Content::Text(text))
            }
            other => self.without_reply(other),
        }
    }

    /// A content that carries no reply here: sent without the quote unless quote errors count.
    fn without_reply(self, content: Content) -> Result<Content, ApiError> {
        if self.reply.is_some() && !self.ignore_quote_errors {
            return Err(ApiError::bad_request(
                "options.quotedMessageId: only a text can quote a message here",
            ));
        }
        Ok(content)
    }
}

/// A whatsapp-web.js serialized message id `<fromMe>_<chat>_<id>[_<participant>]` as a reply:
/// the quoted message's sender is us (`fromMe`), else the group participant, else the chat.
fn quoted(serialized: &str, own: Option<&Jid>) -> Option<Reply> {
    let mut parts = serialized.splitn(4, '_');
    let from_me = match parts.next()? {
        "true" => true,
        "false" => false,
        _ => return None,
    };
    let chat = parse_recipient(parts.next()?, "chat").ok()?;
    let id: MessageId = parts.next()?.parse().ok()?;
    let participant = match parts.next() {
        Some(p) => Some(parse_recipient(p, "participant").ok()?),
        None => None,
    };
    let sender = if from_me {
        own.map(Jid::to_non_ad)
    } else if chat.is_group() {
        participant
    } else {
        Some(chat)
    };
    Some(Reply {
        id,
        sender,
        quoted: None,
    })
}

/// One `mentions` entry: an id string, or a Contact object (`id._serialized`).
fn mention(entry: &Value) -> Result<Jid, ApiError> {
    let id = match entry {
        Value::String(id) => Some(id.as_str()),
        Value::Object(_) => entry
            .get("id")
            .and_then(|id| id.get("_serialized"))
            .and_then(Value::as_str),
        _ => None,
    };
    let jid = id
        .ok_or_else(|| ApiError::bad_request("could not parse options.mentions"))
        .and_then(|id| parse_recipient(id, "options.mentions"))?;
    match jid.server() {
        Server::WhatsApp | Server::Lid => Ok(jid),
        _ => Err(ApiError::bad_request("could not parse options.mentions")),
    }
}

/// `text` as a contact card when it is a vCard (its `FN` is the card's name).
fn vcard(text: &str) -> Option<Contact> {
    let trimmed = text.trim();
    if !(trimmed.starts_with("BEGIN:VCARD") && trimmed.ends_with("END:VCARD")) {
        return None;
    }
    let display_name = trimmed
        .lines()
        .find_map(|l| l.strip_prefix("FN:"))
        .map(|n| n.trim().to_owned())
        .unwrap_or_default();
    Some(Contact {
        display_name,
        vcard: trimmed.to_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use wa_protocol::message::{Location, Text};

    fn own() -> Jid {
        Jid::device("15550100001", 3, Server::WhatsApp)
    }

    fn text(options: Value) -> Result<Content, ApiError> {
        SendOptions::read(&options, Some(&own()))?.apply(Content::text("hi"))
    }

    #[test]
    fn a_quoted_message_id_names_the_reply_and_its_sender() {
        let id = "3EB0AABBCCDDEEFF001122";
        let Content::Text(t) =
            text(json!({"quotedMessageId": format!("false_15550100002@c.us_{id}")})).unwrap()
        else {
            panic!()
        };
        let reply = t.reply.unwrap();
        assert_eq!(reply.id.as_str(), id);
        assert_eq!(
            reply.sender.unwrap().to_string(),
            "15550100002@s.whatsapp.net"
        );
        let ours = text(json!({"quotedMessageId": format!("true_15550100002@c.us_{id}")})).unwrap();
        let Content::Text(Text { reply, .. }) = ours else {
            panic!()
        };
        assert_eq!(reply.unwrap().sender, Some(own().to_non_ad()));
        let group = format!("false_120363000000000001@g.us_{id}_15550100004@c.us");
        let Content::Text(t) = text(json!({ "quotedMessageId": group })).unwrap() else {
            panic!()
        };
        assert_eq!(
            t.reply.unwrap().sender.unwrap().to_string(),
            "15550100004@s.whatsapp.net"
        );
    }

    #[test]
    fn quote_errors_are_ignored_unless_asked() {
        let Content::Text(t) = text(json!({"quotedMessageId": "nonsense"})).unwrap() else {
            panic!()
        };
        assert!(t.reply.is_none());
        let strict = json!({"quotedMessageId": "nonsense", "ignoreQuoteErrors": false});
        assert!(matches!(text(strict), Err(ApiError::BadRequest(_))));
        let place = Content::Location(Location::default());
        let quote = json!({"quotedMessageId": "false_15550100002@c.us_3EB0AABBCCDDEEFF001122",
            "ignoreQuoteErrors": false});
        let refused = SendOptions::read(&quote, None)
            .unwrap()
            .apply(place.clone());
        assert!(matches!(refused, Err(ApiError::BadRequest(_))));
        let lenient = json!({"quotedMessageId": "false_15550100002@c.us_3EB0AABBCCDDEEFF001122"});
        let sent = SendOptions::read(&lenient, None)
            .unwrap()
            .apply(place.clone());
        assert_eq!(sent.unwrap(), place);
    }

    #[test]
    fn mentions_vcards_media_and_ignored_options() {
        let options = json!({"mentions": ["15550100002@c.us", {"id": {"_serialized": "15550100003@c.us"}}],
            "linkPreview": false, "sendSeen": true, "caption": "x"});
        let Content::Text(t) = text(options).unwrap() else {
            panic!()
        };
        let ids: Vec<String> = t.mentions.iter().map(ToString::to_string).collect();
        assert_eq!(
            ids,
            ["15550100002@s.whatsapp.net", "15550100003@s.whatsapp.net"]
        );
        assert!(matches!(
            text(json!({"mentions": "x"})),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            text(json!({"mentions": [5]})),
            Err(ApiError::BadRequest(_))
        ));
        // `media` is `media.rs`'s: the options themselves still read.
        let media = json!({"media": {"mimetype": "image/png", "data": "AAAA"}});
        assert_eq!(text(media).unwrap(), Content::text("hi"));
        let card = "BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nTEL;waid=15550100002:+15550100002\nEND:VCARD";
        let read = SendOptions::read(&Value::Null, None).unwrap();
        let Content::Contact(c) = read.apply(Content::text(card)).unwrap() else {
            panic!()
        };
        assert_eq!((c.display_name.as_str(), c.vcard.as_str()), ("Ana", card));
        let off = SendOptions::read(&json!({"parseVCards": false}), None).unwrap();
        assert_eq!(off.apply(Content::text(card)).unwrap(), Content::text(card));
    }
}

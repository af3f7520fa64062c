//! [`Reply`] and the reply/mention part of `ContextInfo` {stanzaID=1, participant=2,
//! quotedMessage=3, mentionedJID=15} (`messaging.md` §1), shared by text and media content.

use crate::binary::Jid;
use crate::ids::MessageId;
use crate::pb::e2e as pb;

use super::key::{optional_jid, parse_id, parse_jid};
use super::plaintext::ContentError;

/// A quoted reply (`ContextInfo` {stanzaID=1, participant=2, quotedMessage=3}).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Id of the quoted message.
    pub id: MessageId,
    /// Sender of the quoted message (`participant`), when known.
    pub sender: Option<Jid>,
    /// A copy of the quoted message for display (any kind, hence the protobuf).
    pub quoted: Option<Box<pb::Message>>,
}

/// The `ContextInfo` of a reply and mentions; `None` when there is neither.
pub(crate) fn context_info(
    reply: Option<&Reply>,
    mentions: &[Jid],
) -> Option<Box<pb::ContextInfo>> {
    if reply.is_none() && mentions.is_empty() {
        return None;
    }
    Some(Box::new(pb::ContextInfo {
        stanza_id: reply.map(|r| r.id.as_str().to_owned()),
        participant: reply.and_then(|r| r.sender.as_ref()).map(Jid::to_string),
        quoted_message: reply.and_then(|r| r.quoted.clone()),
        remote_jid: None,
        mentioned_jid: mentions.iter().map(Jid::to_string).collect(),
        ..Default::default()
    }))
}

/// The reply (a non-empty `stanzaID`) and mentions of a `ContextInfo`.
pub(crate) fn read_context(
    ctx: Option<&pb::ContextInfo>,
) -> Result<(Option<Reply>, Vec<Jid>), ContentError> {
    let Some(ctx) = ctx else {
        return Ok((None, Vec::new()));
    };
    let mentions = ctx
        .mentioned_jid
        .iter()
        .map(|j| parse_jid("ContextInfo.mentionedJID", j))
        .collect::<Result<_, _>>()?;
    let reply = match ctx.stanza_id.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(id) => Some(Reply {
            id: parse_id("ContextInfo.stanzaID", id)?,
            sender: optional_jid("ContextInfo.participant", ctx.participant.as_deref())?,
            quoted: ctx.quoted_message.clone(),
        }),
    };
    Ok((reply, mentions))
}

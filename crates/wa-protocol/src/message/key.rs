//! [`MessageKey`]: which message of which chat a reaction, edit, revoke or reply refers to
//! (`MessageKey` {remoteJID=1, fromMe=2, ID=3, participant=4}, whatsmeow
//! `proto/waCommon/WACommon.proto`, as `messaging.md` §1 points).

use crate::binary::Jid;
use crate::ids::MessageId;
use crate::pb::e2e as pb;

use super::plaintext::ContentError;

/// A typed message key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageKey {
    /// The chat: the peer's user JID in a 1:1 chat, the group JID in a group.
    pub remote_jid: Jid,
    /// Whether the referenced message was sent by the account that writes this key.
    pub from_me: bool,
    /// The referenced message's id.
    pub id: MessageId,
    /// In groups, the sender of the referenced message when it is not us.
    pub participant: Option<Jid>,
}

impl MessageKey {
    /// The protobuf form.
    pub fn to_pb(&self) -> pb::MessageKey {
        pb::MessageKey {
            remote_jid: Some(self.remote_jid.to_string()),
            from_me: Some(self.from_me),
            id: Some(self.id.as_str().to_owned()),
            participant: self.participant.as_ref().map(Jid::to_string),
        }
    }

    /// Parses a received key: `remoteJID` and `ID` are required, `fromMe` defaults to false,
    /// an absent or empty `participant` is none.
    pub fn from_pb(key: &pb::MessageKey) -> Result<Self, ContentError> {
        let remote_jid = key.remote_jid.as_deref().unwrap_or_default();
        if remote_jid.is_empty() {
            return Err(missing("remoteJID"));
        }
        let id = key.id.as_deref().ok_or_else(|| missing("ID"))?;
        Ok(MessageKey {
            remote_jid: parse_jid("MessageKey.remoteJID", remote_jid)?,
            from_me: key.from_me.unwrap_or(false),
            id: parse_id("MessageKey.ID", id)?,
            participant: optional_jid("MessageKey.participant", key.participant.as_deref())?,
        })
    }
}

fn missing(field: &'static str) -> ContentError {
    ContentError::Missing {
        kind: "MessageKey",
        field,
    }
}

/// Parses a required JID field.
pub(crate) fn parse_jid(field: &'static str, s: &str) -> Result<Jid, ContentError> {
    s.parse()
        .map_err(|source| ContentError::Jid { field, source })
}

/// Parses an optional JID field; absent or empty is `None`.
pub(crate) fn optional_jid(
    field: &'static str,
    s: Option<&str>,
) -> Result<Option<Jid>, ContentError> {
    match s {
        None | Some("") => Ok(None),
        Some(s) => parse_jid(field, s).map(Some),
    }
}

/// Parses a message id field.
pub(crate) fn parse_id(field: &'static str, s: &str) -> Result<MessageId, ContentError> {
    s.parse()
        .map_err(|source| ContentError::MessageId { field, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn key() -> MessageKey {
        MessageKey {
            remote_jid: "120363001@g.us".parse().expect("jid"),
            from_me: false,
            id: "3EB0ABCDEF".parse().expect("id"),
            participant: Some("15550001111@s.whatsapp.net".parse().expect("jid")),
        }
    }

    #[test]
    fn round_trip_and_field_numbers() {
        let k = key();
        assert_eq!(MessageKey::from_pb(&k.to_pb()).expect("parse"), k);
        let bytes = k.to_pb().encode_to_vec();
        // remoteJID = field 1 (0x0a), fromMe = field 2 varint (0x10), ID = 3 (0x1a),
        // participant = 4 (0x22).
        let mut expected = vec![0x0a, 14];
        expected.extend_from_slice(b"120363001@g.us");
        expected.extend_from_slice(&[0x10, 0x00, 0x1a, 10]);
        expected.extend_from_slice(b"3EB0ABCDEF");
        expected.extend_from_slice(&[0x22, 26]);
        expected.extend_from_slice(b"15550001111@s.whatsapp.net");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn missing_and_invalid_fields() {
        let mut pb = key().to_pb();
        pb.participant = Some(String::new());
        assert_eq!(
            MessageKey::from_pb(&pb)
                .expect("empty participant")
                .participant,
            None
        );
        pb.from_me = None;
        assert!(!MessageKey::from_pb(&pb).expect("no fromMe").from_me);

        let mut no_id = key().to_pb();
        no_id.id = None;
        assert_eq!(MessageKey::from_pb(&no_id), Err(missing("ID")));
        let mut no_chat = key().to_pb();
        no_chat.remote_jid = None;
        assert_eq!(MessageKey::from_pb(&no_chat), Err(missing("remoteJID")));
        let mut bad_jid = key().to_pb();
        bad_jid.remote_jid = Some("a b@s.whatsapp.net".into());
        assert!(matches!(
            MessageKey::from_pb(&bad_jid),
            Err(ContentError::Jid { .. })
        ));
        let mut bad_id = key().to_pb();
        bad_id.id = Some("has space".into());
        assert!(matches!(
            MessageKey::from_pb(&bad_id),
            Err(ContentError::MessageId { .. })
        ));
    }
}

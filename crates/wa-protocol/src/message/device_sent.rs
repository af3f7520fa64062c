//! The own-device copy of a 1:1 message: `deviceSentMessage`=31 {destinationJID=1, message=2,
//! phash=3} with the original's `messageContextInfo`=35 copied to the wrapper's top level
//! (`messaging.md` §6 step 3), and its unwrapping on receipt (§10 step 3).

use crate::binary::Jid;
use crate::pb::e2e as pb;

use super::key::parse_jid;
use super::plaintext::ContentError;

/// Wraps `message` for our own other devices. `destination` is the chat JID exactly as the
/// stanza's `to` names it (one namespace, PN or LID: `messaging.md` §16). Groups never use the
/// wrapper (§6): the caller only wraps 1:1 sends.
pub fn wrap_device_sent(
    message: &pb::Message,
    destination: &Jid,
    phash: Option<&str>,
) -> pb::Message {
    pb::Message {
        device_sent_message: Some(Box::new(pb::DeviceSentMessage {
            destination_jid: Some(destination.to_string()),
            message: Some(Box::new(message.clone())),
            phash: phash.map(str::to_owned),
        })),
        message_context_info: message.message_context_info.clone(),
        ..Default::default()
    }
}

/// A received message after [`unwrap_device_sent`].
#[derive(Debug, Clone, PartialEq)]
pub struct Unwrapped {
    /// The message itself (the wrapper's inner message, or the received one as it was).
    pub message: pb::Message,
    /// For a copy of what our own other device sent: the chat it went to (the DSM
    /// `destinationJID`). `None` for an ordinary message.
    pub destination: Option<Jid>,
    /// The wrapper's `phash`, if any.
    pub phash: Option<String>,
}

/// Unwraps a `deviceSentMessage` whose inner `message` is set (whatsmeow `UnwrapRaw`); any
/// other message passes through unchanged. The inner message keeps its own
/// `messageContextInfo`; if it has none, the wrapper's top-level copy (§6) is moved in.
/// A wrapper without a `destinationJID` is refused: the chat would be unknown.
pub fn unwrap_device_sent(mut message: pb::Message) -> Result<Unwrapped, ContentError> {
    let Some(dsm) = message.device_sent_message.take() else {
        return Ok(Unwrapped {
            message,
            destination: None,
            phash: None,
        });
    };
    let dsm = *dsm;
    let Some(inner) = dsm.message else {
        // No inner message: nothing to unwrap (whatsmeow passes it through as is).
        message.device_sent_message = Some(Box::new(pb::DeviceSentMessage {
            message: None,
            ..dsm
        }));
        return Ok(Unwrapped {
            message,
            destination: None,
            phash: None,
        });
    };
    let destination = match dsm.destination_jid.as_deref() {
        None | Some("") => {
            return Err(ContentError::Missing {
                kind: "DeviceSentMessage",
                field: "destinationJID",
            })
        }
        Some(jid) => parse_jid("DeviceSentMessage.destinationJID", jid)?,
    };
    let mut inner = *inner;
    if inner.message_context_info.is_none() {
        inner.message_context_info = message.message_context_info.take();
    }
    Ok(Unwrapped {
        message: inner,
        destination: Some(destination),
        phash: dsm.phash,
    })
}

/// Sets `messageContextInfo.messageSecret` (field 3, 32 random bytes from the caller), the key
/// seed of encrypted reactions, poll votes and edits (`messaging.md` §1). Other context fields
/// are kept.
pub fn set_message_secret(message: &mut pb::Message, secret: [u8; 32]) {
    message
        .message_context_info
        .get_or_insert_with(Default::default)
        .message_secret = Some(secret.to_vec());
}

/// The `messageContextInfo.messageSecret` of a message, if set.
pub fn message_secret(message: &pb::Message) -> Option<&[u8]> {
    message
        .message_context_info
        .as_ref()
        .and_then(|c| c.message_secret.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn hello() -> pb::Message {
        pb::Message {
            conversation: Some("hi".into()),
            ..Default::default()
        }
    }

    fn peer() -> Jid {
        "15550002222@s.whatsapp.net".parse().expect("jid")
    }

    #[test]
    fn wrap_layout_and_round_trip() {
        let mut msg = hello();
        set_message_secret(&mut msg, [7; 32]);
        let wrapped = wrap_device_sent(&msg, &peer(), None);
        assert_eq!(message_secret(&wrapped), Some(&[7u8; 32][..]));
        let bytes = wrapped.encode_to_vec();
        // Field 31, wire type 2 → key 0xfa 0x01; inside: destinationJID = 1 (0x0a), message = 2 (0x12).
        assert_eq!(&bytes[..2], &[0xfa, 0x01]);
        let dsm_len = usize::from(bytes[2]);
        let dsm = &bytes[3..3 + dsm_len];
        assert_eq!(dsm[0], 0x0a);
        assert_eq!(usize::from(dsm[1]), "15550002222@s.whatsapp.net".len());
        let rest = &dsm[2 + usize::from(dsm[1])..];
        assert_eq!(rest[0], 0x12);
        assert_eq!(&rest[2..6], b"\x0a\x02hi");
        // Then the top-level messageContextInfo copy: field 35 → key 0x9a 0x02.
        assert_eq!(&bytes[3 + dsm_len..3 + dsm_len + 2], &[0x9a, 0x02]);

        let back = pb::Message::decode(&bytes[..]).expect("decode");
        let un = unwrap_device_sent(back).expect("unwrap");
        assert_eq!(un.message, msg);
        assert_eq!(un.destination, Some(peer()));
        assert_eq!(un.phash, None);
    }

    #[test]
    fn plain_messages_pass_through() {
        let un = unwrap_device_sent(hello()).expect("plain");
        assert_eq!(un.message, hello());
        assert_eq!(un.destination, None);
    }

    #[test]
    fn outer_context_info_moves_in_when_inner_has_none() {
        let mut outer = wrap_device_sent(&hello(), &peer(), Some("2:abcdef"));
        set_message_secret(&mut outer, [9; 32]);
        let un = unwrap_device_sent(outer).expect("unwrap");
        assert_eq!(message_secret(&un.message), Some(&[9u8; 32][..]));
        assert_eq!(un.phash.as_deref(), Some("2:abcdef"));
        assert_eq!(un.message.conversation.as_deref(), Some("hi"));
    }

    #[test]
    fn wrapper_without_destination_or_with_bad_jid_is_refused() {
        let mut w = wrap_device_sent(&hello(), &peer(), None);
        if let Some(d) = w.device_sent_message.as_mut() {
            d.destination_jid = None;
        }
        assert!(matches!(
            unwrap_device_sent(w),
            Err(ContentError::Missing { .. })
        ));
        let mut w = wrap_device_sent(&hello(), &peer(), None);
        if let Some(d) = w.device_sent_message.as_mut() {
            d.destination_jid = Some("not a jid@@".into());
        }
        assert!(matches!(
            unwrap_device_sent(w),
            Err(ContentError::Jid { .. })
        ));
    }

    #[test]
    fn wrapper_without_inner_message_is_left_alone() {
        let mut w = wrap_device_sent(&hello(), &peer(), None);
        if let Some(d) = w.device_sent_message.as_mut() {
            d.message = None;
        }
        let un = unwrap_device_sent(w.clone()).expect("no inner");
        assert_eq!(un.message, w);
        assert_eq!(un.destination, None);
    }
}

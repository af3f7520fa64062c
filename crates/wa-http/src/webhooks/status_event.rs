//! The `MessageStatus` webhook (our extension, issue 12 item 3): every durable status change
//! of a message we sent, `sent` (the server's ack, with its timestamp), `delivered`, `read`,
//! or `failed` (with WhatsApp's error code from the ack: 463, 479, …; `messaging.md` §8,
//! §16), beside wuzapi's `ReadReceipt` (which stays as wuzapi sends it, for delivered and
//! read). An async send's outcome arrives this way.
//!
//! ```json
//! {"type": "MessageStatus", "state": "failed",
//!  "event": {"Chat": "…@s.whatsapp.net", "ErrorCode": 463, "Id": "3EB0…", "Status": "failed"}}
//! ```
//! `Timestamp` (unix seconds, the server's) is there for `sent`, `delivered` and `read`;
//! `ErrorCode` for a `failed` the server refused. Receivers dedupe by `Id` and `Status`.

use serde_json::{Map, Value};
use wa_client::EventKind;
use wa_store::MessageStatus;

use super::events::Context;

/// The webhook type.
pub const TYPE: &str = "MessageStatus";

/// The wire name, server timestamp and error code of a status.
pub fn status_parts(s: MessageStatus) -> (&'static str, Option<u64>, Option<u16>) {
    match s {
        MessageStatus::Queued => ("queued", None, None),
        MessageStatus::Sent { server_t } => ("sent", server_t, None),
        MessageStatus::Delivered { t } => ("delivered", Some(t), None),
        MessageStatus::Read { t } => ("read", Some(t), None),
        MessageStatus::Failed { code } => ("failed", None, code),
    }
}

/// `MessageStatus` for a status change, else `None`.
pub fn type_name(kind: &EventKind) -> Option<&'static str> {
    matches!(kind, EventKind::MessageStatus { .. }).then_some(TYPE)
}

/// The payload object of a status change (`ctx.receipt_chat`: the message's chat).
pub fn payload(kind: &EventKind, ctx: &Context<'_>) -> Option<Map<String, Value>> {
    let EventKind::MessageStatus { id, status } = kind else {
        return None;
    };
    let (name, timestamp, code) = status_parts(*status);
    let mut event = Map::new();
    let chat = ctx
        .receipt_chat
        .map(ToString::to_string)
        .unwrap_or_default();
    event.insert("Chat".into(), Value::from(chat));
    if let Some(code) = code {
        event.insert("ErrorCode".into(), Value::from(code));
    }
    event.insert("Id".into(), Value::from(id.as_str()));
    event.insert("Status".into(), Value::from(name));
    if let Some(t) = timestamp {
        event.insert("Timestamp".into(), Value::from(t));
    }
    let mut object = Map::new();
    object.insert("type".into(), Value::from(TYPE));
    object.insert("state".into(), Value::from(name));
    object.insert("event".into(), Value::Object(event));
    Some(object)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_change_is_a_message_status_with_its_code_or_timestamp() {
        let id: wa_protocol::MessageId = "3EB0AABBCCDDEEFF001122".parse().unwrap();
        let chat: wa_protocol::binary::Jid = "15550100001@s.whatsapp.net".parse().unwrap();
        let ctx = Context {
            receipt_chat: Some(&chat),
            ..Context::default()
        };
        let failed = EventKind::MessageStatus {
            id: id.clone(),
            status: MessageStatus::Failed { code: Some(463) },
        };
        let p = payload(&failed, &ctx).unwrap();
        assert_eq!(p["type"], "MessageStatus");
        assert_eq!(p["state"], "failed");
        assert_eq!(p["event"]["ErrorCode"], 463);
        assert_eq!(p["event"]["Chat"], "15550100001@s.whatsapp.net");
        assert!(p["event"].get("Timestamp").is_none());
        let sent = EventKind::MessageStatus {
            id,
            status: MessageStatus::Sent {
                server_t: Some(1_717_776_749),
            },
        };
        let p = payload(&sent, &ctx).unwrap();
        assert_eq!(
            (p["state"].as_str(), p["event"]["Timestamp"].as_u64()),
            (Some("sent"), Some(1_717_776_749))
        );
        assert!(payload(&EventKind::QrTimeout, &ctx).is_none());
    }
}

//! The gateway's events as wuzapi webhook payloads (CONTRACTS §B.6): the `type` name of each
//! [`EventKind`] and the payload object `{"type", "event", …extras}` before encoding.
//!
//! | wa-client event | `type` | `event` and extras |
//! |---|---|---|
//! | `Qr` | `QR` | `event:"code"`, `qrCodeBase64` (PNG data URL) |
//! | `QrTimeout` | `QRTimeout` | `event:"timeout"` |
//! | `Paired` | `PairSuccess` | `{ID, LID, BusinessName, Platform}` |
//! | `PairError` | `PairError` | `{ID, BusinessName, Platform, Error}` |
//! | `Connected` | `Connected` | `{}` |
//! | `Disconnected` (not the 515 restart after pairing) | `Disconnected` | `{}` |
//! | `LoggedOut` | `LoggedOut` | `{OnConnect, Reason}` |
//! | `KeepAliveTimeout` / `KeepAliveRestored` | same names | `{ErrorCount}` / `{}` |
//! | `ClientOutdated`, `TemporaryBan`, `StreamError` | same names | `{}`, `{Code, Expire}`, `{Code}` |
//! | `Message` | `Message` | whatsmeow's message event ([`super::message`]) |
//! | `MessageStatus` delivered / read | `ReadReceipt` | the receipt, `state: Delivered / Read` |
//! | `GroupChanged` | `GroupInfo` | `{JID, Sender, Timestamp, Name / Join / Leave / Promote / Demote}` |
//!
//! Other events (connecting, prekey uploads, pair codes, raw stanzas, task stop, the server's
//! ack of our sends) produce no webhook: whatsmeow has no such event, or wuzapi does not
//! forward it ("Other receipt kinds produce no webhook").

use serde_json::{json, Map, Value};
use wa_client::{EventKind, GroupMember, GroupUpdate};
use wa_protocol::binary::Jid;
use wa_protocol::connection::{DisconnectCause, LogoutReason};
use wa_protocol::stanza::FailureReason;
use wa_store::MessageStatus;

use super::message::{message_event, receipt_event, ReceiptState};

/// What the payload needs beyond the event itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct Context<'a> {
    /// The account's own phone-number JID (for `IsFromMe`).
    pub own: Option<&'a Jid>,
    /// The chat of the message a receipt is about (from the outbox), if known.
    pub receipt_chat: Option<&'a Jid>,
    /// The QR code as a PNG data URL (for `QR`).
    pub qr_data_url: Option<&'a str>,
}

/// The wuzapi `type` of `kind`, or `None` when it produces no webhook.
pub fn type_name(kind: &EventKind) -> Option<&'static str> {
    Some(match kind {
        EventKind::Qr { .. } => "QR",
        EventKind::QrTimeout => "QRTimeout",
        EventKind::Paired { .. } => "PairSuccess",
        EventKind::PairError { .. } => "PairError",
        EventKind::Connected { .. } => "Connected",
        EventKind::Disconnected { cause, .. } => match cause {
            DisconnectCause::RestartRequired => return None,
            _ => "Disconnected",
        },
        EventKind::LoggedOut { .. } => "LoggedOut",
        EventKind::KeepAliveTimeout { .. } => "KeepAliveTimeout",
        EventKind::KeepAliveRestored => "KeepAliveRestored",
        EventKind::ClientOutdated => "ClientOutdated",
        EventKind::TemporaryBan { .. } => "TemporaryBan",
        EventKind::StreamError { .. } => "StreamError",
        EventKind::Message(_) => "Message",
        EventKind::MessageStatus { status, .. } => match status {
            MessageStatus::Delivered { .. } | MessageStatus::Read { .. } => "ReadReceipt",
            MessageStatus::Queued | MessageStatus::Sent { .. } | MessageStatus::Failed { .. } => {
                return None
            }
        },
        EventKind::GroupChanged { .. } => "GroupInfo",
        _ => return None,
    })
}

/// The payload object of `kind` (`None` when it produces no webhook).
pub fn payload(kind: &EventKind, ctx: &Context<'_>) -> Option<Map<String, Value>> {
    let name = type_name(kind)?;
    let mut object = Map::new();
    object.insert("type".into(), Value::from(name));
    let event = match kind {
        EventKind::Qr { .. } => {
            object.insert(
                "qrCodeBase64".into(),
                Value::from(ctx.qr_data_url.unwrap_or_default()),
            );
            Value::from("code")
        }
        EventKind::QrTimeout => Value::from("timeout"),
        EventKind::MessageStatus { id, status } => {
            let (t, state) = match status {
                MessageStatus::Delivered { t } => (*t, ReceiptState::Delivered),
                MessageStatus::Read { t } => (*t, ReceiptState::Read),
                _ => return None,
            };
            object.insert("state".into(), Value::from(state.as_str()));
            receipt_event(id, ctx.receipt_chat, t, state)
        }
        EventKind::Message(m) => message_event(m, ctx.own),
        other => session_event(other)?,
    };
    object.insert("event".into(), event);
    Some(object)
}

fn jid_text(jid: Option<&Jid>) -> String {
    jid.map(ToString::to_string).unwrap_or_default()
}

/// whatsmeow's `ConnectFailureReason` number of a login refusal.
fn failure_code(reason: &FailureReason) -> u16 {
    match reason {
        FailureReason::LoggedOut => 401,
        FailureReason::TempBanned { .. } => 402,
        FailureReason::MainDeviceGone => 403,
        FailureReason::ClientOutdated => 405,
        FailureReason::UnknownLogout => 406,
        FailureReason::ServerError(code) | FailureReason::Other(code) => *code,
        _ => 0,
    }
}

fn session_event(kind: &EventKind) -> Option<Value> {
    Some(match kind {
        EventKind::Paired {
            jid,
            lid,
            platform,
            business_name,
        } => json!({
            "ID": jid.to_string(),
            "LID": jid_text(lid.as_ref()),
            "BusinessName": business_name.clone().unwrap_or_default(),
            "Platform": platform.clone().unwrap_or_default(),
        }),
        EventKind::PairError { code, text } => json!({
            "ID": "", "BusinessName": "", "Platform": "", "Error": format!("{code}: {text}"),
        }),
        EventKind::LoggedOut { reason } => {
            let (on_connect, code) = match reason {
                LogoutReason::UserInitiated => (false, 0),
                LogoutReason::DeviceRemoved => (false, 401),
                LogoutReason::Failure(f) => (true, failure_code(f)),
                _ => (false, 0),
            };
            json!({ "OnConnect": on_connect, "Reason": code })
        }
        EventKind::KeepAliveTimeout { failures } => json!({ "ErrorCount": failures }),
        EventKind::TemporaryBan { code, expires_in } => {
            json!({ "Code": code, "Expire": expires_in.as_secs() })
        }
        EventKind::StreamError { code } => json!({ "Code": code.map(|c| c.to_string()) }),
        EventKind::GroupChanged { group, change, by } => group_event(group, change, by.as_ref()),
        EventKind::Connected { .. }
        | EventKind::Disconnected { .. }
        | EventKind::KeepAliveRestored
        | EventKind::ClientOutdated => json!({}),
        _ => return None,
    })
}

fn members(list: &[GroupMember]) -> Value {
    Value::from(
        list.iter()
            .map(|m| m.phone.as_ref().unwrap_or(&m.jid).to_string())
            .collect::<Vec<_>>(),
    )
}

/// whatsmeow's `events.GroupInfo`: the group, who changed it, and what changed.
fn group_event(group: &Jid, change: &GroupUpdate, by: Option<&GroupMember>) -> Value {
    let mut o = Map::new();
    o.insert("JID".into(), Value::from(group.to_string()));
    o.insert("Notify".into(), Value::from(""));
    o.insert(
        "Sender".into(),
        Value::from(jid_text(by.map(|b| b.phone.as_ref().unwrap_or(&b.jid)))),
    );
    o.insert(
        "SenderPN".into(),
        Value::from(jid_text(by.and_then(|b| b.phone.as_ref()))),
    );
    match change {
        GroupUpdate::Added(list) => o.insert("Join".into(), members(list)),
        GroupUpdate::Removed(list) => o.insert("Leave".into(), members(list)),
        GroupUpdate::Promoted(list) => o.insert("Promote".into(), members(list)),
        GroupUpdate::Demoted(list) => o.insert("Demote".into(), members(list)),
        GroupUpdate::Subject(name) => o.insert("Name".into(), json!({ "Name": name })),
        GroupUpdate::Topic { id, text } => o.insert(
            "Topic".into(),
            json!({
                "Topic": text.as_deref().unwrap_or_default(),
                "TopicID": id,
                "TopicSetBy": jid_text(by.map(|b| b.phone.as_ref().unwrap_or(&b.jid))),
                "TopicDeleted": text.is_none(),
            }),
        ),
        _ => None,
    };
    Value::Object(o)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn session_events_have_wuzapis_names() {
        let ctx = Context {
            qr_data_url: Some("data:image/png;base64,AAAA"),
            ..Context::default()
        };
        let qr = EventKind::Qr {
            code: "2@abc".into(),
            expires_at: wa_protocol::Millis(0),
        };
        let p = payload(&qr, &ctx).unwrap();
        assert_eq!(p["type"], "QR");
        assert_eq!(p["event"], "code");
        assert_eq!(p["qrCodeBase64"], "data:image/png;base64,AAAA");
        let p = payload(&EventKind::QrTimeout, &ctx).unwrap();
        assert_eq!(
            (p["type"].as_str(), p["event"].as_str()),
            (Some("QRTimeout"), Some("timeout"))
        );
        let restart = EventKind::Disconnected {
            cause: DisconnectCause::RestartRequired,
            reconnect_in: None,
        };
        assert!(payload(&restart, &ctx).is_none());
        let dropped = EventKind::Disconnected {
            cause: DisconnectCause::Transport,
            reconnect_in: None,
        };
        assert_eq!(payload(&dropped, &ctx).unwrap()["type"], "Disconnected");
        assert!(payload(&EventKind::Stopped, &ctx).is_none());
    }

    #[test]
    fn only_delivery_and_read_become_read_receipts() {
        let id: wa_protocol::MessageId = "3EB0AABBCCDDEEFF001122".parse().unwrap();
        let read = EventKind::MessageStatus {
            id: id.clone(),
            status: MessageStatus::Read { t: 1_717_776_749 },
        };
        let p = payload(&read, &Context::default()).unwrap();
        assert_eq!(p["type"], "ReadReceipt");
        assert_eq!(p["state"], "Read");
        let delivered = EventKind::MessageStatus {
            id: id.clone(),
            status: MessageStatus::Delivered { t: 1 },
        };
        assert_eq!(
            payload(&delivered, &Context::default()).unwrap()["state"],
            "Delivered"
        );
        let sent = EventKind::MessageStatus {
            id,
            status: MessageStatus::Sent { server_t: None },
        };
        assert!(payload(&sent, &Context::default()).is_none());
    }
}

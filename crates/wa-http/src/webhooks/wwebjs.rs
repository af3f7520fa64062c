//! whatsapp-web.js webhooks (CONTRACTS §C.5), beside wuzapi's: every session's events are
//! POSTed as JSON `{"dataType": "<event>", "data": {…}, "sessionId": "<id>"}` (the session id is
//! the account's name) to `BASE_WEBHOOK_URL`, or to `<SESSIONID_UPPERCASE>_WEBHOOK_URL` when set
//! for that session, with `x-api-key: <API_KEY>`; the types listed in `DISABLED_CALLBACKS`
//! (`|`-separated) are skipped. Independent of wuzapi's per-user subscriptions.
//!
//! | wa-client event | `dataType` and `data` |
//! |---|---|
//! | `Qr` | `qr` `{qr}` (the raw code) |
//! | `Paired` | `authenticated` (no `data`, as upstream) |
//! | `Connected` | `ready` (no `data`; after every login, also after a reconnect) |
//! | `Disconnected` that reconnects (not the 515 after pairing) | `change_state` `{state: "OPENING"}` |
//! | `Disconnected` for good: replaced / every QR expired / refused | `change_state` `{state}` then `disconnected` `{reason}`: `CONFLICT` / `Max qrcode retries reached` / `TIMEOUT` |
//! | `LoggedOut` | `disconnected` `{reason: "LOGOUT"}` |
//! | `TemporaryBan` / `ClientOutdated` | `change_state` `{state: "TOS_BLOCK" / "DEPRECATED_VERSION"}` |
//! | `Message`: text, location, contact | `message` `{message}` (`message_create` for our own other device's send) |
//! | `Message`: reaction / edit / revoke | `message_reaction` `{reaction}` / `message_edit` `{message, newBody, prevBody}` / `message_revoke_everyone` `{message}` |
//! | `MessageStatus` sent / delivered / read / failed | `message_ack` `{message, ack}`: 1 / 2 / 3 / -1 |
//! | `GroupChanged` added / removed / other | `group_join` / `group_leave` / `group_update` `{notification}` |
//!
//! A `message` is a whatsapp-web.js `Message` object with the fields apps read (§C.3): `id`
//! `{fromMe, remote, id, _serialized}`, `body`, `type`, `timestamp`, `from`, `to`, `author`
//! (group sender), `fromMe`, `hasMedia`, `hasQuotedMsg`, `location`, `vCards`, `mentionedIds`.

use std::collections::HashMap;

use serde_json::{json, Value};
use wa_client::{EventKind, GroupUpdate, ReceivedText};
use wa_protocol::binary::{Jid, Server};
use wa_protocol::connection::DisconnectCause;
use wa_protocol::message::Content;
use wa_protocol::MessageId;
use wa_store::MessageStatus;

/// The header carrying `API_KEY`, as upstream sends it.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The whatsapp-web.js webhooks' configuration.
#[derive(Clone, Default)]
pub struct WwebjsHooks {
    /// `BASE_WEBHOOK_URL`: every session's events.
    pub base_url: Option<String>,
    /// `<SESSIONID_UPPERCASE>_WEBHOOK_URL`: one session's events instead (key: the uppercase id).
    pub per_session: HashMap<String, String>,
    /// `DISABLED_CALLBACKS`: `dataType`s not sent.
    pub disabled: Vec<String>,
    /// `API_KEY`, sent as `x-api-key` (never the admin token). Never logged.
    pub api_key: Option<String>,
}

impl std::fmt::Debug for WwebjsHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WwebjsHooks")
            .field("base_url", &self.base_url)
            .field("per_session", &self.per_session)
            .field("disabled", &self.disabled)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish()
    }
}

impl WwebjsHooks {
    /// From `BASE_WEBHOOK_URL`, `DISABLED_CALLBACKS`, `API_KEY` and the environment `vars`
    /// (every `<ID>_WEBHOOK_URL` but the base one is a session's override).
    pub fn new(
        base_url: Option<String>,
        disabled: Option<&str>,
        api_key: Option<String>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let per_session = vars
            .into_iter()
            .filter(|(name, url)| name != "BASE_WEBHOOK_URL" && !url.trim().is_empty())
            .filter_map(|(name, url)| {
                let id = name.strip_suffix("_WEBHOOK_URL")?;
                (!id.is_empty()).then(|| (id.to_owned(), url.trim().to_owned()))
            })
            .collect();
        let disabled = disabled
            .unwrap_or_default()
            .split('|')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        Self {
            base_url,
            per_session,
            disabled,
            api_key,
        }
    }

    /// Whether any URL is set.
    pub fn enabled(&self) -> bool {
        self.base_url.is_some() || !self.per_session.is_empty()
    }

    /// The URL of session `id` (its override, else the base URL).
    pub fn url_for(&self, id: &str) -> Option<&str> {
        self.per_session
            .get(&id.to_uppercase())
            .or(self.base_url.as_ref())
            .map(String::as_str)
    }

    /// Whether `data_type` is sent.
    pub fn wants(&self, data_type: &str) -> bool {
        !self.disabled.iter().any(|d| d == data_type)
    }
}

/// One callback to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// The receiver.
    pub url: String,
    /// `dataType`.
    pub data_type: &'static str,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// The callbacks of `kind` for session `session_id` (none when no URL applies or every type
/// is disabled).
pub fn prepare(
    hooks: &WwebjsHooks,
    session_id: &str,
    kind: &EventKind,
    ctx: &Context<'_>,
) -> Vec<Callback> {
    let Some(url) = hooks.url_for(session_id) else {
        return Vec::new();
    };
    callbacks(kind, ctx)
        .into_iter()
        .filter(|(data_type, _)| hooks.wants(data_type))
        .map(|(data_type, data)| Callback {
            url: url.to_owned(),
            data_type,
            body: body(data_type, data.as_ref(), session_id),
        })
        .collect()
}

/// The body of one callback: `{"dataType", "data"?, "sessionId"}`.
pub fn body(data_type: &str, data: Option<&Value>, session_id: &str) -> Vec<u8> {
    let mut object = serde_json::Map::new();
    object.insert("dataType".into(), Value::from(data_type));
    if let Some(data) = data {
        object.insert("data".into(), data.clone());
    }
    object.insert("sessionId".into(), Value::from(session_id));
    Value::Object(object).to_string().into_bytes()
}

/// What the callbacks need beyond the event.
#[derive(Debug, Default, Clone, Copy)]
pub struct Context<'a> {
    /// The account's own JID.
    pub own: Option<&'a Jid>,
    /// The chat of the message a receipt is about, if known.
    pub receipt_chat: Option<&'a Jid>,
}

/// The callbacks `(dataType, data)` of `kind`, in order (none for most session internals).
pub fn callbacks(kind: &EventKind, ctx: &Context<'_>) -> Vec<(&'static str, Option<Value>)> {
    let state = |s: &str| ("change_state", Some(json!({ "state": s })));
    let gone = |reason: &str| ("disconnected", Some(json!({ "reason": reason })));
    match kind {
        EventKind::Qr { code, .. } => vec![("qr", Some(json!({ "qr": code })))],
        EventKind::Paired { .. } => vec![("authenticated", None)],
        EventKind::Connected { .. } => vec![("ready", None)],
        EventKind::Disconnected {
            cause,
            reconnect_in,
        } => match (cause, reconnect_in) {
            (DisconnectCause::RestartRequired, _) => Vec::new(),
            (_, Some(_)) => vec![state("OPENING")],
            (DisconnectCause::Replaced, None) => vec![state("CONFLICT"), gone("CONFLICT")],
            (DisconnectCause::QrTimeout, None) => {
                vec![state("UNPAIRED_IDLE"), gone("Max qrcode retries reached")]
            }
            (DisconnectCause::Requested | DisconnectCause::LoggedOut, None) => Vec::new(),
            (_, None) => vec![state("TIMEOUT"), gone("TIMEOUT")],
        },
        EventKind::LoggedOut { .. } => vec![gone("LOGOUT")],
        EventKind::TemporaryBan { .. } => vec![state("TOS_BLOCK")],
        EventKind::ClientOutdated => vec![state("DEPRECATED_VERSION")],
        EventKind::Message(m) => vec![received(m, ctx.own)],
        EventKind::MessageStatus { id, status } => ack(id, status, ctx).into_iter().collect(),
        EventKind::GroupChanged { group, change, by } => {
            let (data_type, kind) = match change {
                GroupUpdate::Added(_) => ("group_join", "add"),
                GroupUpdate::Removed(_) => ("group_leave", "remove"),
                GroupUpdate::Promoted(_) => ("group_update", "promote"),
                GroupUpdate::Demoted(_) => ("group_update", "demote"),
                GroupUpdate::Subject(_) => ("group_update", "subject"),
                _ => ("group_update", "update"),
            };
            let recipients: Vec<String> = match change {
                GroupUpdate::Added(l)
                | GroupUpdate::Removed(l)
                | GroupUpdate::Promoted(l)
                | GroupUpdate::Demoted(l) => l
                    .iter()
                    .map(|m| wweb_id(m.phone.as_ref().unwrap_or(&m.jid)))
                    .collect(),
                _ => Vec::new(),
            };
            let body = match change {
                GroupUpdate::Subject(name) => name.clone(),
                _ => String::new(),
            };
            let author = by
                .as_ref()
                .map(|b| wweb_id(b.phone.as_ref().unwrap_or(&b.jid)))
                .unwrap_or_default();
            let notification = json!({
                "chatId": wweb_id(group), "author": author, "type": kind,
                "recipientIds": recipients, "body": body,
            });
            vec![(data_type, Some(json!({ "notification": notification })))]
        }
        _ => Vec::new(),
    }
}

/// A JID as whatsapp-web.js writes it: phone-number users on `c.us`, no device.
pub fn wweb_id(jid: &Jid) -> String {
    match jid.server() {
        Server::WhatsApp | Server::Legacy => format!("{}@c.us", jid.user_part()),
        _ => jid.to_non_ad().to_string(),
    }
}

/// A message key `{fromMe, remote, id, _serialized}` (group messages of others name their
/// author last).
fn key(from_me: bool, remote: &str, id: &MessageId, author: Option<&str>) -> Value {
    let serialized = match author {
        Some(a) if !from_me => format!("{from_me}_{remote}_{}_{a}", id.as_str()),
        _ => format!("{from_me}_{remote}_{}", id.as_str()),
    };
    json!({ "fromMe": from_me, "remote": remote, "id": id.as_str(), "_serialized": serialized })
}

/// A received message as a whatsapp-web.js event.
fn received(m: &ReceivedText, own: Option<&Jid>) -> (&'static str, Option<Value>) {
    let sender = m.sender.phone.as_ref().unwrap_or(&m.sender.device);
    let from_me = own.is_some_and(|o| o.user_part() == sender.user_part());
    let remote = wweb_id(&m.chat);
    let author = m.chat.is_group().then(|| wweb_id(sender));
    let own_id = own.map(wweb_id).unwrap_or_default();
    let (from, to) = if from_me {
        (own_id, remote.clone())
    } else {
        (remote.clone(), own_id)
    };
    let (kind, body, location, v_cards) = match &m.content {
        Content::Text(t) => ("chat", t.text.clone(), Value::Null, Vec::new()),
        Content::Location(l) => {
            let description = [l.name.as_deref(), l.address.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("\n");
            let place = json!({"latitude": l.latitude, "longitude": l.longitude,
                "description": description});
            ("location", String::new(), place, Vec::new())
        }
        Content::Contact(c) => ("vcard", c.vcard.clone(), Value::Null, vec![c.vcard.clone()]),
        _ => ("unknown", String::new(), Value::Null, Vec::new()),
    };
    let (quoted, mentions) = match &m.content {
        Content::Text(t) => (t.reply.is_some(), t.mentions.iter().map(wweb_id).collect()),
        _ => (false, Vec::new()),
    };
    let message = json!({
        "id": key(from_me, &remote, &m.id, author.as_deref()),
        "ack": 1, "hasMedia": false, "body": body, "type": kind, "timestamp": m.t,
        "from": from, "to": to, "author": author, "deviceType": "android",
        "isForwarded": false, "fromMe": from_me, "hasQuotedMsg": quoted,
        "location": location, "vCards": v_cards, "mentionedIds": mentions,
        "notifyName": m.push_name.clone().unwrap_or_default(),
    });
    let data = match &m.content {
        Content::Reaction(r) => {
            let reaction = json!({
                "id": key(from_me, &remote, &m.id, author.as_deref()),
                "msgId": key(r.target.from_me, &remote, &r.target.id, None),
                "reaction": r.emoji, "senderId": wweb_id(sender), "timestamp": m.t,
            });
            return ("message_reaction", Some(json!({ "reaction": reaction })));
        }
        Content::Edit(e) => {
            let new_body = match e.content.as_ref() {
                Content::Text(t) => t.text.clone(),
                _ => String::new(),
            };
            let data = json!({ "message": message, "newBody": new_body, "prevBody": "" });
            return ("message_edit", Some(data));
        }
        Content::Revoke(_) => {
            return (
                "message_revoke_everyone",
                Some(json!({ "message": message })),
            )
        }
        _ => json!({ "message": message }),
    };
    let data_type = if from_me { "message_create" } else { "message" };
    (data_type, Some(data))
}

/// `message_ack` for a status of one of our messages.
fn ack(
    id: &MessageId,
    status: &MessageStatus,
    ctx: &Context<'_>,
) -> Option<(&'static str, Option<Value>)> {
    let ack = match status {
        MessageStatus::Sent { .. } => 1,
        MessageStatus::Delivered { .. } => 2,
        MessageStatus::Read { .. } => 3,
        MessageStatus::Failed { .. } => -1,
        MessageStatus::Queued => return None,
    };
    let remote = ctx.receipt_chat.map(wweb_id).unwrap_or_default();
    let message = json!({
        "id": key(true, &remote, id, None), "ack": ack, "fromMe": true,
        "from": ctx.own.map(wweb_id).unwrap_or_default(), "to": remote,
    });
    Some((
        "message_ack",
        Some(json!({ "message": message, "ack": ack })),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hooks() -> WwebjsHooks {
        let vars = [
            ("SHOP-1_WEBHOOK_URL", "http://shop/1"),
            ("BASE_WEBHOOK_URL", "http://base/"),
            ("PATH", "/bin"),
        ];
        WwebjsHooks::new(
            Some("http://base/".into()),
            Some("message_ack| qr"),
            Some("k".into()),
            vars.map(|(k, v)| (k.to_owned(), v.to_owned())),
        )
    }

    #[test]
    fn urls_per_session_and_disabled_callbacks() {
        let h = hooks();
        assert_eq!(h.url_for("shop-1"), Some("http://shop/1"));
        assert_eq!(h.url_for("other"), Some("http://base/"));
        assert!(!h.wants("qr") && !h.wants("message_ack") && h.wants("ready"));
        assert!(!format!("{h:?}").contains("\"k\""), "the key is masked");
        let qr = EventKind::Qr {
            code: "2@x".into(),
            expires_at: wa_protocol::Millis(0),
        };
        assert!(prepare(&h, "shop-1", &qr, &Context::default()).is_empty());
        let ready = EventKind::Connected {
            jid: Jid::device("15550100001", 1, Server::WhatsApp),
            lid: None,
        };
        let out = prepare(&h, "shop-1", &ready, &Context::default());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].url, "http://shop/1");
        let body: Value = serde_json::from_slice(&out[0].body).unwrap();
        assert_eq!(body, json!({"dataType": "ready", "sessionId": "shop-1"}));
        assert!(!WwebjsHooks::default().enabled());
    }

    #[test]
    fn session_events_as_whatsapp_web_js_names_them() {
        let ctx = Context::default();
        let gone = |cause, reconnect: bool| EventKind::Disconnected {
            cause,
            reconnect_in: reconnect.then_some(std::time::Duration::ZERO),
        };
        let names = |kind: &EventKind| -> Vec<&'static str> {
            callbacks(kind, &ctx).into_iter().map(|(t, _)| t).collect()
        };
        assert!(names(&gone(DisconnectCause::RestartRequired, true)).is_empty());
        assert_eq!(
            names(&gone(DisconnectCause::Transport, true)),
            ["change_state"]
        );
        let replaced = callbacks(&gone(DisconnectCause::Replaced, false), &ctx);
        assert_eq!(
            replaced[1],
            ("disconnected", Some(json!({"reason": "CONFLICT"})))
        );
        let logout = EventKind::LoggedOut {
            reason: wa_protocol::connection::LogoutReason::DeviceRemoved,
        };
        assert_eq!(
            callbacks(&logout, &ctx),
            [("disconnected", Some(json!({"reason": "LOGOUT"})))]
        );
        let read = EventKind::MessageStatus {
            id: "3EB0AABBCCDDEEFF001122".parse().unwrap(),
            status: MessageStatus::Read { t: 1 },
        };
        assert_eq!(callbacks(&read, &ctx)[0].1.as_ref().unwrap()["ack"], 3);
    }
}

//! The whatsapp-web.js dialect's request and response shapes (CONTRACTS §C.2–§C.4), separate
//! from the gateway's domain types, and the session id of the path (`^[\w-]+$`, §C.1).

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, Plain};

/// The `{sessionId}` path parameter, checked against upstream's `^[\w-]+$` (JavaScript's `\w`:
/// ASCII letters, digits and `_`); anything else is 422 `Session should be alphanumerical or -`
/// (§C.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionId(pub String);

/// Whether `id` matches `^[\w-]+$`.
pub(crate) fn valid_session_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl<S: Send + Sync> FromRequestParts<S> for SessionId {
    type Rejection = Plain;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Plain> {
        let refuse = || Plain(ApiError::Unprocessable(INVALID_ID.into()));
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| refuse())?;
        if valid_session_id(&id) {
            Ok(SessionId(id))
        } else {
            Err(refuse())
        }
    }
}

/// Upstream's text for a session id outside `^[\w-]+$`.
const INVALID_ID: &str = "Session should be alphanumerical or -";

/// `{"success", "message"}`: `/ping`, start, restart, terminate, stop, flushes.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Done {
    /// Whether it was done.
    pub success: bool,
    /// What was done (upstream's fixed texts).
    pub message: &'static str,
}

impl Done {
    /// A success with `message`.
    pub fn ok(message: &'static str) -> Self {
        Self {
            success: true,
            message,
        }
    }
}

/// `/session/status` (and the not-found answer of restart/terminate): the session check as is
/// (§C.4): `state` is `null` when WhatsApp Web has none to report.
#[derive(Debug, Serialize, ToSchema, PartialEq, Eq)]
pub(crate) struct SessionStatus {
    /// True only when CONNECTED.
    pub success: bool,
    /// whatsapp-web.js `getState()` (`CONNECTED`, `UNPAIRED`, `PAIRING`, `OPENING`, …) or null.
    pub state: Option<&'static str>,
    /// `session_connected`, `session_not_connected` or `session_not_found`.
    pub message: &'static str,
}

impl SessionStatus {
    /// `{false, null, "session_not_found"}`.
    pub fn not_found() -> Self {
        Self {
            success: false,
            state: None,
            message: NOT_FOUND,
        }
    }
}

/// The session check's text for an unknown (or stopped) session.
pub(crate) const NOT_FOUND: &str = "session_not_found";

/// `/session/qr/{id}`: `{"success": true, "qr"}` while a QR code is pending, otherwise
/// `{"success": false, "message"}` (HTTP 200 either way, §C.2).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WwebjsQrAnswer)]
pub(crate) struct QrAnswer {
    /// Whether a code is pending.
    pub success: bool,
    /// The raw QR text (`2@…,…,…`), to render or to hand to a phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
    /// `qr code not ready or already scanned` or `session_not_found`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
}

/// `/client/getState/{id}`: `{"success": true, "state"}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StateAnswer {
    /// Always true.
    pub success: bool,
    /// As in [`SessionStatus::state`].
    pub state: Option<&'static str>,
}

/// `/session/getSessions`: `{"success": true, "result": [ids]}` (avoylenko fork).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionList {
    /// Always true.
    pub success: bool,
    /// The session ids (account names), sorted, each once.
    pub result: Vec<String>,
}

/// `POST /session/requestPairingCode/{id}` body (avoylenko fork).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct PairingCodeRequest {
    /// The phone number to link, with country code (`+`, spaces and `@c.us` accepted).
    pub phone_number: String,
    /// Whether the phone shows a notification (the phone always does here; accepted and
    /// ignored).
    pub show_notification: Option<bool>,
}

/// `{"success": true, "result": "<code>"}`: the code to type on the phone; for an unknown
/// session `{"success": false, "message": "session_not_found"}` (HTTP 200 either way).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PairingCodeAnswer {
    /// Whether a code is given.
    pub success: bool,
    /// The pair code (`XXXX-XXXX`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// `session_not_found` when there is no such session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
}

/// `POST /client/sendMessage/{id}` body (§C.3). Names are case-sensitive, as in Express.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct SendMessageRequest {
    /// `<digits>@c.us` for a person, `…@g.us` for a group.
    pub chat_id: String,
    /// `string`, `MessageMedia`, `MessageMediaFromURL`, `Location` or `Contact` here;
    /// `Buttons`, `List` and `Poll` are refused.
    pub content_type: String,
    /// `string`: the text. `MessageMedia`: `{mimetype, data (base64), filename}`.
    /// `MessageMediaFromURL`: an http(s) URL. `Location`: `{latitude, longitude, description}`.
    /// `Contact`: `{contactId}`.
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
    /// whatsapp-web.js send options: `quotedMessageId`, `ignoreQuoteErrors`, `mentions`,
    /// `parseVCards`, `media`, `caption`, `sendMediaAsDocument`, `sendMediaAsSticker`,
    /// `sendAudioAsVoice` are honoured; `linkPreview`, `sendSeen`, `sendVideoAsGif` are
    /// ignored.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// `{"success": true, "message": <Message>}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SendMessageAnswer {
    /// Always true.
    pub success: bool,
    /// The message as whatsapp-web.js describes it.
    pub message: Message,
}

/// A whatsapp-web.js `Message` object (the fields apps read, §C.3).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Message {
    /// Its key.
    pub id: MessageKey,
    /// 1: the server has it (`ACK_SERVER`).
    pub ack: u8,
    /// No media in these content types.
    pub has_media: bool,
    /// The text, or the vCard of a contact; empty for a location.
    pub body: String,
    /// `chat`, `location` or `vcard`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Server time, unix seconds.
    pub timestamp: u64,
    /// Our own id (`<digits>@c.us`).
    pub from: String,
    /// The chat (`…@c.us` or `…@g.us`).
    pub to: String,
    /// `web`: sent by this companion.
    pub device_type: &'static str,
    /// Never forwarded.
    pub is_forwarded: bool,
    /// Always ours.
    pub from_me: bool,
    /// Whether it quotes a message (`options.quotedMessageId`).
    pub has_quoted_msg: bool,
    /// The location, for `location`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<MessageLocation>,
    /// The vCards, for `vcard` (empty otherwise).
    #[serde(rename = "vCards")]
    pub v_cards: Vec<String>,
    /// The users mentioned (`options.mentions`), `<digits>@c.us`.
    pub mentioned_ids: Vec<String>,
}

/// A whatsapp-web.js `MessageId`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageKey {
    /// Ours.
    #[serde(rename = "fromMe")]
    pub from_me: bool,
    /// The chat.
    pub remote: String,
    /// The message id (`3EB0…`).
    pub id: String,
    /// `<fromMe>_<remote>_<id>`.
    #[serde(rename = "_serialized")]
    pub serialized: String,
}

/// A whatsapp-web.js `Location`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageLocation {
    /// Degrees.
    pub latitude: f64,
    /// Degrees.
    pub longitude: f64,
    /// The name and address, one per line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_follow_upstreams_pattern() {
        for ok in ["6285893429926", "my-session", "a_b", "ABC-123_x"] {
            assert!(valid_session_id(ok), "{ok}");
        }
        for bad in ["", "a b", "a.b", "a/b", "é", "a+b", "a@c.us"] {
            assert!(!valid_session_id(bad), "{bad}");
        }
    }

    #[test]
    fn status_keeps_a_null_state() {
        let json = serde_json::to_value(SessionStatus::not_found()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"success": false, "state": null, "message": "session_not_found"})
        );
    }
}

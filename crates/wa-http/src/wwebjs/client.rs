//! Client routes of the whatsapp-web.js dialect: `getState` (§C.2) and `sendMessage` (§C.3)
//! for the content types `string`, `Location` and `Contact`, with their `options`
//! ([`super::send_options`]: quoted replies, mentions, vCards).
//!
//! `sendMessage` runs upstream's session check first: 404 `session_not_found` (unknown or
//! stopped) or `session_not_connected` (not CONNECTED), then the content type (404 for an
//! unknown one, upstream's text). Media (`MessageMedia`, `MessageMediaFromURL`, `options.media`)
//! is `media.rs`; `Buttons`, `List`
//! and `Poll` answer 400 (WhatsApp no longer delivers buttons and lists to companions' peers,
//! and polls are not modelled).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use utoipa::OpenApi;
use wa_client::{SentMessage, SessionState};
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::{Contact, Content, Location, MediaKind};

use super::dto::{
    Message, MessageKey, MessageLocation, SendMessageAnswer, SendMessageRequest, SessionId,
    StateAnswer, NOT_FOUND,
};
use super::lookup::{find, Session};
use super::media;
use super::send_options::SendOptions;
use crate::auth::ApiKey;
use crate::envelope::RawJson;
use crate::error::{ApiError, Plain};
use crate::phone::parse_recipient;
use crate::session_view::wwebjs_status;
use crate::state::AppState;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/client/getState/{id}", get(get_state))
        .route("/client/sendMessage/{id}", post(send_message))
}

/// `GET /client/getState/{id}`: whatsapp-web.js `getState()` (no session check; an unknown
/// session is 404 `session_not_found`).
#[utoipa::path(get, path = "/client/getState/{id}", tag = "wwebjs",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "The state (null while none)", body = StateAnswer),
        (status = 403, description = "Invalid API key"),
        (status = 404, description = "Unknown session"),
        (status = 422, description = "Bad id")))]
async fn get_state(
    _: ApiKey,
    SessionId(id): SessionId,
    State(state): State<AppState>,
) -> Result<RawJson<StateAnswer>, Plain> {
    let session = find(&state, &id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND.into()))?;
    let (_, state, _) = wwebjs_status(Some(&session.status));
    Ok(RawJson(
        StatusCode::OK,
        StateAnswer {
            success: true,
            state,
        },
    ))
}

/// Upstream's text for an unknown `contentType` (a 404 there).
const BAD_CONTENT_TYPE: &str = "contentType invalid, must be string, MessageMedia, \
                                MessageMediaFromURL, Location, Buttons, List, Contact or Poll";

/// `POST /client/sendMessage/{id}`: sends text, a location or a contact card; resolves once
/// the server has it, with a whatsapp-web.js `Message`.
#[utoipa::path(post, path = "/client/sendMessage/{id}", tag = "wwebjs",
    params(("id" = String, Path, description = "Session id")),
    request_body = SendMessageRequest,
    responses(
        (status = 200, description = "Sent (the server acknowledged it)", body = SendMessageAnswer),
        (status = 400, description = "Bad body, chatId or content; unsupported content type"),
        (status = 403, description = "Invalid API key"),
        (status = 404, description = "session_not_found, session_not_connected, or an unknown contentType"),
        (status = 422, description = "Bad id"),
        (status = 413, description = "The media is larger than its kind's limit (16 MB image and audio; 2 GB video and documents; 100/500 KB stickers)"),
        (status = 500, description = "The server refused the message (its code in the text); the media host refused the upload"),
        (status = 503, description = "The session did not come back within the send bound; the media host is unreachable")))]
async fn send_message(
    _: ApiKey,
    SessionId(id): SessionId,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<RawJson<SendMessageAnswer>, Plain> {
    let session = connected(&state, &id).await?;
    let request: SendMessageRequest =
        serde_json::from_slice(&body).map_err(|_| ApiError::Decode)?;
    let options = SendOptions::read(&request.options, session.status.jid.as_ref())?;
    let (to, content) = match media::requested(&request)? {
        Some(ask) => {
            let to = recipient(&request)?;
            let account = session.account.id;
            (
                to,
                media::prepare(&state, &account, ask, &request, options).await?,
            )
        }
        None => {
            let content = options.apply(content(&request)?)?;
            (recipient(&request)?, content)
        }
    };
    let sent = state
        .gateway
        .send_within(
            &session.account.id,
            to.clone(),
            content.clone(),
            wa_client::SendOptions::default(),
            state.config.send_timeout,
        )
        .await
        .map_err(ApiError::Send)?;
    let message = message(&session, &to, &content, &sent);
    Ok(RawJson(
        StatusCode::OK,
        SendMessageAnswer {
            success: true,
            message,
        },
    ))
}

/// `chatId`, required.
fn recipient(request: &SendMessageRequest) -> Result<Jid, ApiError> {
    if request.chat_id.trim().is_empty() {
        return Err(ApiError::bad_request("chatId is required"));
    }
    parse_recipient(&request.chat_id, "chatId")
}

/// Upstream's session check: the session must exist and be CONNECTED.
async fn connected(state: &AppState, id: &str) -> Result<Session, ApiError> {
    let session = find(state, id).await?;
    let (success, _, message) = wwebjs_status(session.as_ref().map(|s| &s.status));
    match session {
        Some(session) if success && session.status.state == SessionState::Working => Ok(session),
        _ => Err(ApiError::NotFound(message.into())),
    }
}

/// The content of a request, by `contentType`.
fn content(request: &SendMessageRequest) -> Result<Content, ApiError> {
    match request.content_type.as_str() {
        "string" => match &request.content {
            Value::String(text) if !text.is_empty() => Ok(Content::text(text.clone())),
            _ => Err(ApiError::bad_request(
                "content must be a non-empty string for contentType string",
            )),
        },
        "Location" => location(&request.content).map(Content::Location),
        "Contact" => contact(&request.content).map(Content::Contact),
        // Media is read by `media::requested` before this (an ill-formed one is refused there).
        "MessageMedia" | "MessageMediaFromURL" => Err(ApiError::bad_request(format!(
            "content is not media for contentType {}",
            request.content_type
        ))),
        "Buttons" | "List" | "Poll" => Err(ApiError::bad_request(format!(
            "contentType {} is not supported by this gateway",
            request.content_type
        ))),
        _ => Err(ApiError::NotFound(BAD_CONTENT_TYPE.into())),
    }
}

/// A coordinate given as a number or a numeric string.
fn degrees(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|d: &f64| d.is_finite())
}

/// `{latitude, longitude, description}`: the description's first line is the place's name,
/// the rest its address (`locationMessage` name=3, address=4; `messaging.md` §1).
fn location(content: &Value) -> Result<Location, ApiError> {
    let latitude = degrees(content.get("latitude")).filter(|d| d.abs() <= 90.0);
    let longitude = degrees(content.get("longitude")).filter(|d| d.abs() <= 180.0);
    let (Some(latitude), Some(longitude)) = (latitude, longitude) else {
        return Err(ApiError::bad_request(
            "content.latitude and content.longitude must be numbers in range",
        ));
    };
    let description = content
        .get("description")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let (name, address) = match description.map(|d| d.split_once('\n').unwrap_or((d, ""))) {
        Some((name, address)) => (
            Some(name.trim().to_owned()),
            Some(address.trim().to_owned()).filter(|a| !a.is_empty()),
        ),
        None => (None, None),
    };
    Ok(Location {
        latitude,
        longitude,
        name,
        address,
    })
}

/// `{contactId}` (`@c.us` appended when missing): a vCard 3.0 (RFC 2426) naming the number,
/// with WhatsApp's `waid` parameter on `TEL` so the card opens the chat.
fn contact(content: &Value) -> Result<Contact, ApiError> {
    let id = content
        .get("contactId")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::bad_request("content.contactId is required"))?;
    let id = if id.contains('@') {
        id.to_owned()
    } else {
        format!("{id}@c.us")
    };
    let jid = parse_recipient(&id, "contactId")?;
    if *jid.server() != Server::WhatsApp {
        return Err(ApiError::bad_request("could not parse contactId"));
    }
    let number = jid.user_part();
    let display_name = format!("+{number}");
    let vcard = format!(
        "BEGIN:VCARD\nVERSION:3.0\nN:;{display_name};;;\nFN:{display_name}\n\
         TEL;type=CELL;type=VOICE;waid={number}:+{number}\nEND:VCARD"
    );
    Ok(Contact {
        display_name,
        vcard,
    })
}

/// A JID as whatsapp-web.js writes it: phone-number users on `c.us`.
fn wweb_id(jid: &Jid) -> String {
    match jid.server() {
        Server::WhatsApp | Server::Legacy => format!("{}@c.us", jid.user_part()),
        _ => jid.to_non_ad().to_string(),
    }
}

/// The whatsapp-web.js `Message` of what was sent.
fn message(session: &Session, to: &Jid, content: &Content, sent: &SentMessage) -> Message {
    let remote = wweb_id(to);
    let id = sent.id.as_str().to_owned();
    let (kind, body, location, v_cards) = match content {
        Content::Location(l) => {
            let description = match (&l.name, &l.address) {
                (Some(n), Some(a)) => Some(format!("{n}\n{a}")),
                (Some(n), None) => Some(n.clone()),
                (None, a) => a.clone(),
            };
            let location = MessageLocation {
                latitude: l.latitude,
                longitude: l.longitude,
                description,
            };
            ("location", String::new(), Some(location), Vec::new())
        }
        Content::Contact(c) => ("vcard", c.vcard.clone(), None, vec![c.vcard.clone()]),
        Content::Text(t) => ("chat", t.text.clone(), None, Vec::new()),
        Content::Media(m) => (m.kind.name(), caption(&m.kind), None, Vec::new()),
        other => (other.kind(), String::new(), None, Vec::new()),
    };
    let (has_quoted_msg, mentioned_ids) = match content {
        Content::Text(t) => (t.reply.is_some(), t.mentions.iter().map(wweb_id).collect()),
        _ => (false, Vec::new()),
    };
    Message {
        id: MessageKey {
            from_me: true,
            serialized: format!("true_{remote}_{id}"),
            remote: remote.clone(),
            id,
        },
        ack: 1,
        has_media: matches!(content, Content::Media(_)),
        body,
        kind,
        timestamp: sent.server_t.unwrap_or_else(unix_now),
        from: session.status.jid.as_ref().map(wweb_id).unwrap_or_default(),
        to: remote,
        device_type: "web",
        is_forwarded: false,
        from_me: true,
        has_quoted_msg,
        location,
        v_cards,
        mentioned_ids,
    }
}

/// A media message's caption (its `body` in whatsapp-web.js).
fn caption(kind: &MediaKind) -> String {
    match kind {
        MediaKind::Image(i) => i.caption.clone(),
        MediaKind::Video(v) => v.caption.clone(),
        MediaKind::Document(d) => d.caption.clone(),
        MediaKind::Audio(_) | MediaKind::Sticker(_) => None,
    }
    .unwrap_or_default()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(OpenApi)]
#[openapi(
    paths(get_state, send_message),
    components(schemas(
        StateAnswer,
        SendMessageRequest,
        SendMessageAnswer,
        Message,
        MessageKey,
        MessageLocation
    ))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(content_type: &str, content: Value) -> SendMessageRequest {
        SendMessageRequest {
            chat_id: "5511999990001@c.us".into(),
            content_type: content_type.into(),
            content,
            options: Value::Null,
        }
    }

    #[test]
    fn content_types() {
        let c = content(&request("string", json!("hi"))).unwrap();
        assert_eq!(c, Content::text("hi"));
        let c = content(&request(
            "Location",
            json!({"latitude": "-6.2", "longitude": 106.8, "description": "Monas\nJakarta"}),
        ))
        .unwrap();
        let Content::Location(l) = c else {
            panic!("{c:?}")
        };
        assert_eq!((l.latitude, l.longitude), (-6.2, 106.8));
        assert_eq!(l.name.as_deref(), Some("Monas"));
        assert_eq!(l.address.as_deref(), Some("Jakarta"));
        let c = content(&request("Contact", json!({"contactId": "5511999990002"}))).unwrap();
        let Content::Contact(card) = c else {
            panic!("{c:?}")
        };
        assert!(card.vcard.contains("waid=5511999990002:+5511999990002"));
        assert_eq!(card.display_name, "+5511999990002");
    }

    #[test]
    fn refusals_by_content_type() {
        let status = |t: &str, c: Value| content(&request(t, c)).unwrap_err().status_and_text();
        assert_eq!(status("MessageMedia", json!({})).0, StatusCode::BAD_REQUEST);
        assert_eq!(status("Poll", json!({})).0, StatusCode::BAD_REQUEST);
        let (code, text) = status("Sticker", json!("x"));
        assert_eq!(code, StatusCode::NOT_FOUND);
        assert_eq!(text, BAD_CONTENT_TYPE);
        assert_eq!(status("string", json!(5)).0, StatusCode::BAD_REQUEST);
        assert_eq!(
            status("Location", json!({"latitude": 91, "longitude": 0})).0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(status("Contact", json!({})).0, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn ids_in_whatsapp_web_form() {
        let phone = Jid::device("5511999990001", 3, Server::WhatsApp);
        assert_eq!(wweb_id(&phone), "5511999990001@c.us");
        let group = Jid::group("120363000000000001");
        assert_eq!(wweb_id(&group), "120363000000000001@g.us");
    }
}

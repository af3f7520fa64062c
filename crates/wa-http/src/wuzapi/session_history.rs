//! `GET /session/history` (CONTRACTS §A.2): ask our primary phone for an on-demand history
//! sync (`Gateway::request_history_sync`, a peer message); the history itself arrives later
//! from the phone. The query is read as wuzapi reads it: `count` (a positive integer, else 50),
//! `chat_jid` (ignored when it does not parse), `oldest_msg_id`, `oldest_msg_from_me` (Go's
//! `strconv.ParseBool` spellings, else false), `oldest_msg_timestamp` (unix milliseconds, else
//! unset). The answer echoes them with the server's timestamp of the request, keys in Go's
//! sorted map order; an unset anchor time is Go's zero time in milliseconds, as wuzapi answers.
//!
//! Deliberate difference: wuzapi fills the fields the query leaves out from the last message
//! the session received; wagate keeps no such cache, so they stay empty.

use std::collections::HashMap;

use axum::extract::{Query, State};
use serde::Serialize;
use utoipa::ToSchema;
use wa_protocol::binary::Jid;
use wa_protocol::message::HistorySyncRequest;

use crate::auth::User;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wuzapi::chat_dto::now_millis;

/// `count` when the query gives none (or not a positive integer).
const DEFAULT_COUNT: u32 = 50;

/// Go's zero `time.Time` as `UnixMilli()` (year 1): what wuzapi answers for an unset anchor.
const GO_ZERO_UNIX_MILLI: i64 = -62_135_596_800_000;

/// `GET /session/history`'s answer (lowercase keys, sorted as Go marshals a map).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistorySyncAnswer {
    /// The chat asked for (`""` when none).
    chat_jid: String,
    /// How many messages.
    count: u32,
    /// `History sync request Sent`.
    details: &'static str,
    /// Whether we sent the anchor message.
    oldest_msg_from_me: bool,
    /// The anchor message's id.
    oldest_msg_id: String,
    /// The anchor's time, unix milliseconds.
    oldest_msg_timestamp: i64,
    /// The server's timestamp of the request (unix seconds).
    timestamp: u64,
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The request the query describes, and the anchor time in milliseconds as answered.
fn request_of(query: &HashMap<String, String>) -> (HistorySyncRequest, i64) {
    let get = |k: &str| query.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let count = get("count")
        .and_then(|c| c.parse::<i64>().ok())
        .filter(|c| *c > 0)
        .map_or(DEFAULT_COUNT, |c| u32::try_from(c).unwrap_or(u32::MAX));
    let millis = get("oldest_msg_timestamp").and_then(|t| t.parse::<i64>().ok());
    let request = HistorySyncRequest {
        chat: get("chat_jid").and_then(|j| j.parse::<Jid>().ok()),
        oldest_id: get("oldest_msg_id").unwrap_or_default().to_owned(),
        oldest_from_me: get("oldest_msg_from_me").and_then(go_bool).unwrap_or(false),
        count,
        // whatsmeow writes the anchor's time in seconds (`BuildHistorySyncRequest`).
        oldest_t: millis.map(|ms| ms.div_euclid(1000)),
    };
    (request, millis.unwrap_or(GO_ZERO_UNIX_MILLI))
}

/// `GET /session/history`: an on-demand history sync request to our primary phone.
#[utoipa::path(get, path = "/session/history", tag = "session",
    params(
        ("count" = Option<i64>, Query, description = "messages to ask for (default 50)"),
        ("chat_jid" = Option<String>, Query, description = "the chat"),
        ("oldest_msg_id" = Option<String>, Query, description = "the anchor message's id"),
        ("oldest_msg_from_me" = Option<String>, Query, description = "whether we sent the anchor"),
        ("oldest_msg_timestamp" = Option<i64>, Query, description = "the anchor's time, unix ms"),
    ),
    responses((status = 200, body = HistorySyncAnswer),
        (status = 500, description = "no session / not logged in / Failed to request history sync."),
        (status = 401)),
    security(("token" = [])))]
pub(crate) async fn history_sync(
    State(state): State<AppState>,
    User(account): User,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Envelope<HistorySyncAnswer>, ApiError> {
    let (request, millis) = request_of(&query);
    let sent = state
        .gateway
        .request_history_sync(&account.id, &request)
        .await
        .map_err(ApiError::HistorySync)?;
    Ok(Envelope::ok(HistorySyncAnswer {
        chat_jid: request
            .chat
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        count: request.count,
        details: "History sync request Sent",
        oldest_msg_from_me: request.oldest_from_me,
        oldest_msg_id: request.oldest_id,
        oldest_msg_timestamp: millis,
        timestamp: sent.server_t.unwrap_or_else(|| now_millis().unix_secs()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_query_is_read_as_wuzapi_reads_it() {
        let (r, ms) = request_of(&query(&[]));
        assert_eq!((r.count, r.chat, ms), (50, None, GO_ZERO_UNIX_MILLI));
        assert_eq!(r.oldest_t, None);
        for bad in ["0", "-3", "ten", ""] {
            assert_eq!(request_of(&query(&[("count", bad)])).0.count, 50, "{bad}");
        }
        let (r, ms) = request_of(&query(&[
            ("count", "20"),
            ("chat_jid", "15550001111@s.whatsapp.net"),
            ("oldest_msg_id", "3EB0AB"),
            ("oldest_msg_from_me", "T"),
            ("oldest_msg_timestamp", "1700000000999"),
        ]));
        assert_eq!(r.count, 20);
        assert_eq!(
            r.chat.map(|c| c.to_string()).as_deref(),
            Some("15550001111@s.whatsapp.net")
        );
        assert_eq!((r.oldest_id.as_str(), r.oldest_from_me), ("3EB0AB", true));
        assert_eq!((r.oldest_t, ms), (Some(1_700_000_000), 1_700_000_000_999));
        let (r, _) = request_of(&query(&[
            ("chat_jid", "a@b@c"),
            ("oldest_msg_from_me", "yes"),
        ]));
        assert_eq!((r.chat, r.oldest_from_me), (None, false));
    }
}

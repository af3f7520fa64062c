//! Peer messages a simulated phone receives from its own companions (`category="peer"`,
//! `messaging.md` §7) and keeps for the admin API: the on-demand history sync request
//! (`wa_protocol::message::HistorySyncRequest`, whatsmeow `BuildHistorySyncRequest`). The sim
//! records the request; it sends no history back (the docs give no history-sync payload to
//! produce).

use wa_protocol::message::HistorySyncRequest;

/// One on-demand history sync request the phone received, as
/// `GET /admin/phones/{phone}/history-requests` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryRequestReceived {
    /// The peer message's id.
    pub id: String,
    /// The companion that asked (its device number).
    pub device: u8,
    /// `chatJID` (`""` when unset).
    pub chat: String,
    /// `oldestMsgID`.
    pub oldest_msg_id: String,
    /// `oldestMsgFromMe`.
    pub oldest_msg_from_me: bool,
    /// `oldestMsgTimestampMS` as sent (whatsmeow writes seconds); `null` when absent.
    pub oldest_msg_timestamp: Option<i64>,
    /// `onDemandMsgCount`.
    pub count: u32,
    /// When it arrived (the server's unix seconds).
    pub t: u64,
}

impl HistoryRequestReceived {
    /// The record of `request`, peer message `id` from companion `device`, at `t`.
    pub(crate) fn new(id: &str, device: u8, request: &HistorySyncRequest, t: u64) -> Self {
        Self {
            id: id.to_owned(),
            device,
            chat: request
                .chat
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            oldest_msg_id: request.oldest_id.clone(),
            oldest_msg_from_me: request.oldest_from_me,
            oldest_msg_timestamp: request.oldest_t,
            count: request.count,
            t,
        }
    }
}

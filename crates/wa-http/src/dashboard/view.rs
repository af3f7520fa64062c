//! What the dashboard shows of a session: its badge (CONTRACTS §F's states in the dashboard's
//! seven words) and the JSON the page's script receives, over the API and the event stream.

use serde::Serialize;
use wa_client::{SessionState, Status};
use wa_store::{Account, MessageStatus};

use crate::session_view::app_status;

/// The badge of a state: `(data-state, label)`. The seeds' app vocabulary
/// ([`app_status`]: working, scan_qr, starting, failed, stopped) with the two states the
/// dashboard tells apart from them: a linked session retrying its connection is
/// `reconnecting`, an unlinked one `logged_out`.
pub(crate) fn badge(state: &SessionState) -> (&'static str, &'static str) {
    let word = match state {
        SessionState::Reconnecting { .. } => "reconnecting",
        SessionState::LoggedOut => "logged_out",
        other => app_status(other),
    };
    (word, label(word))
}

/// The human label of a badge word.
pub(crate) fn label(word: &str) -> &'static str {
    match word {
        "working" => "Working",
        "scan_qr" => "Scan QR",
        "starting" => "Starting",
        "reconnecting" => "Reconnecting",
        "logged_out" => "Logged out",
        "stopped" => "Stopped",
        _ => "Failed",
    }
}

/// A message status as the dashboard names it (`sent`, `delivered`, `read`, `failed`; `queued`
/// before the server's ack).
pub(crate) fn status_word(status: &MessageStatus) -> &'static str {
    match status {
        MessageStatus::Queued => "queued",
        MessageStatus::Sent { .. } => "sent",
        MessageStatus::Delivered { .. } => "delivered",
        MessageStatus::Read { .. } => "read",
        MessageStatus::Failed { .. } => "failed",
    }
}

/// One session as the page's script receives it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionView {
    /// The account id (32 hex).
    pub(crate) id: String,
    /// Its name.
    pub(crate) name: String,
    /// Its device JID once linked (`""` before).
    pub(crate) jid: String,
    /// The phone number of the linked device (`""` before).
    pub(crate) phone: String,
    /// The badge word.
    pub(crate) state: &'static str,
    /// The badge label.
    pub(crate) label: &'static str,
    /// The socket is up.
    pub(crate) connected: bool,
    /// Logged in.
    pub(crate) logged_in: bool,
    /// The QR text being shown, if any.
    pub(crate) qr: Option<String>,
    /// The same QR as a PNG data URL.
    pub(crate) qr_png: Option<String>,
    /// The pair code being shown, if any.
    pub(crate) pair_code: Option<String>,
}

impl SessionView {
    /// The view of `account` in `status`.
    pub(crate) fn new(account: &Account, status: &Status) -> Self {
        let (state, label) = badge(&status.state);
        let jid = status.jid.as_ref().or(account.jid.as_ref());
        let qr = status.qr.as_ref().map(|q| q.code.clone());
        Self {
            id: account.id.to_string(),
            name: account.name.clone(),
            jid: jid.map(|j| j.to_string()).unwrap_or_default(),
            phone: jid.map(|j| j.user_part().to_owned()).unwrap_or_default(),
            state,
            label,
            connected: status.connected,
            logged_in: status.logged_in,
            qr_png: qr.as_deref().map(crate::qr::data_url),
            qr,
            pair_code: status.pair_code.clone(),
        }
    }
}

/// HTML-escapes `text` (element content and quoted attribute values).
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use wa_client::FailReason;

    #[test]
    fn every_state_has_one_of_the_seven_badges() {
        let cases = [
            (SessionState::Stopped, "stopped"),
            (SessionState::Starting, "starting"),
            (SessionState::Pairing, "starting"),
            (SessionState::AwaitingQr, "scan_qr"),
            (SessionState::Working, "working"),
            (SessionState::Reconnecting { attempt: 2 }, "reconnecting"),
            (SessionState::LoggedOut, "logged_out"),
            (SessionState::Failed(FailReason::QrTimeout), "failed"),
        ];
        for (state, word) in cases {
            assert_eq!(badge(&state).0, word, "{state:?}");
        }
        assert_eq!(badge(&SessionState::AwaitingQr).1, "Scan QR");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}

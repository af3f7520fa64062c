//! One session state machine (CONTRACTS §F), rendered in each dialect's vocabulary. The state is
//! the gateway's [`Status`] snapshot; this file only names it.

use wa_client::{FailReason, SessionState, Status};

/// WAHA's status name (CONTRACTS §D), also the dashboard's badge.
pub fn waha_status(state: &SessionState) -> &'static str {
    match state {
        SessionState::Stopped => "STOPPED",
        SessionState::Starting | SessionState::Pairing | SessionState::Reconnecting { .. } => {
            "STARTING"
        }
        SessionState::AwaitingQr => "SCAN_QR_CODE",
        SessionState::Working => "WORKING",
        SessionState::Failed(_) | SessionState::LoggedOut => "FAILED",
        _ => "FAILED",
    }
}

/// The seeds' lowercase app vocabulary (seeds 000/001: `working`, `scan_qr`, `starting`,
/// `failed`, `stopped`).
pub fn app_status(state: &SessionState) -> &'static str {
    match waha_status(state) {
        "STOPPED" => "stopped",
        "STARTING" => "starting",
        "SCAN_QR_CODE" => "scan_qr",
        "WORKING" => "working",
        _ => "failed",
    }
}

/// The whatsapp-web.js dialect's `/session/status` answer `(success, state, message)` (CONTRACTS
/// §C.4, §F); `None`: the session is unknown.
pub fn wwebjs_status(status: Option<&Status>) -> (bool, Option<&'static str>, &'static str) {
    const NOT_CONNECTED: &str = "session_not_connected";
    let Some(status) = status else {
        return (false, None, "session_not_found");
    };
    match &status.state {
        SessionState::Stopped => (false, None, "session_not_found"),
        SessionState::Working => (true, Some("CONNECTED"), "session_connected"),
        SessionState::Starting => (false, None, NOT_CONNECTED),
        SessionState::AwaitingQr => (false, Some("UNPAIRED"), NOT_CONNECTED),
        SessionState::Pairing => (false, Some("PAIRING"), NOT_CONNECTED),
        SessionState::Reconnecting { .. } => (false, Some("OPENING"), NOT_CONNECTED),
        SessionState::LoggedOut => (false, Some("UNPAIRED"), NOT_CONNECTED),
        SessionState::Failed(reason) => (false, failed_state(reason), NOT_CONNECTED),
        _ => (false, None, NOT_CONNECTED),
    }
}

fn failed_state(reason: &FailReason) -> Option<&'static str> {
    match reason {
        FailReason::QrTimeout => Some("UNPAIRED_IDLE"),
        FailReason::Replaced => Some("CONFLICT"),
        FailReason::TemporaryBan { .. } => Some("TOS_BLOCK"),
        FailReason::ClientOutdated => Some("DEPRECATED_VERSION"),
        FailReason::ConnectFailure | FailReason::StreamError { .. } => Some("TIMEOUT"),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use wa_store::AccountId;

    fn status(state: SessionState) -> Status {
        let mut s = Status::stopped(AccountId::from_bytes([1; 16]), None, None);
        s.state = state;
        s
    }

    #[test]
    fn working_is_connected_in_every_dialect() {
        let s = status(SessionState::Working);
        assert_eq!(waha_status(&s.state), "WORKING");
        assert_eq!(app_status(&s.state), "working");
        assert_eq!(
            wwebjs_status(Some(&s)),
            (true, Some("CONNECTED"), "session_connected")
        );
    }

    #[test]
    fn unknown_and_stopped_sessions_are_not_found() {
        assert_eq!(wwebjs_status(None), (false, None, "session_not_found"));
        let s = status(SessionState::Stopped);
        assert_eq!(wwebjs_status(Some(&s)).2, "session_not_found");
        assert_eq!(app_status(&s.state), "stopped");
    }

    #[test]
    fn qr_and_failures() {
        let s = status(SessionState::AwaitingQr);
        assert_eq!(waha_status(&s.state), "SCAN_QR_CODE");
        let s = status(SessionState::Failed(FailReason::QrTimeout));
        assert_eq!(waha_status(&s.state), "FAILED");
        assert_eq!(wwebjs_status(Some(&s)).1, Some("UNPAIRED_IDLE"));
    }
}

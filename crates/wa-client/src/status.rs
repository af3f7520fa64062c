//! The session state of one account, as the HTTP layer renders it (CONTRACTS §F): a snapshot
//! that is true at every moment, kept by the account's task and readable without asking it.
//!
//! ```text
//!  Stopped ─connect─▶ Starting ─QR─▶ AwaitingQr ─paired─▶ Pairing ─login─▶ Working
//!                        ▲   └──────(linked: login)──────────────────────────┘ │ drop
//!                        └────────────── Reconnecting{attempt} ◀───────────────┘
//!  any ─▶ Failed{reason} | LoggedOut | Stopped (when the task ends)
//! ```

use std::time::Duration;

use wa_protocol::binary::Jid;
use wa_protocol::connection::DisconnectCause;
use wa_protocol::time::Millis;
use wa_store::AccountId;

use crate::event::EventKind;

/// A QR code being shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    /// The text to render.
    pub code: String,
    /// When the next code replaces it.
    pub expires_at: Millis,
}

/// Why a session stopped for good (until the next connect).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// The server refused the login or the connection, or the handshake failed.
    ConnectFailure,
    /// Every QR code expired unscanned.
    QrTimeout,
    /// Pairing failed verification.
    PairFailed,
    /// The account is temporarily banned.
    TemporaryBan {
        /// Reason code.
        code: u16,
        /// How long it lasts (from the ban).
        expires_in: Duration,
    },
    /// The server says this client version is too old.
    ClientOutdated,
    /// A stream error ended the session.
    StreamError {
        /// Its code.
        code: Option<u16>,
    },
    /// Another connection of this device took over (`conflict replaced`).
    Replaced,
    /// The session store failed (see the logs).
    Store,
    /// The account's configuration is unusable (e.g. its proxy URL).
    Config,
}

/// Where a session is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionState {
    /// No task runs (credentials, if any, are kept: see [`Status::jid`]).
    Stopped,
    /// Connecting, or restoring credentials.
    Starting,
    /// Socket up, not linked: showing QR codes (see [`Status::qr`], [`Status::pair_code`]).
    AwaitingQr,
    /// The phone linked us; waiting for the first login.
    Pairing,
    /// Connected and logged in.
    Working,
    /// Was working; the socket dropped and the credentials are still valid.
    Reconnecting {
        /// Attempt since the last login, from 0.
        attempt: u32,
    },
    /// Stopped for a reason that needs attention.
    Failed(FailReason),
    /// The credentials were revoked; linking again needs a new QR.
    LoggedOut,
}

/// A snapshot of one account's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The account.
    pub account: AccountId,
    /// The state.
    pub state: SessionState,
    /// The socket is up and the Noise stream is authenticated (true while a QR is shown).
    pub connected: bool,
    /// Linked and logged in on that connection.
    pub logged_in: bool,
    /// Our device JID, once linked (kept while stopped: the credentials exist).
    pub jid: Option<Jid>,
    /// Our LID, once known.
    pub lid: Option<Jid>,
    /// The QR code being shown, if any.
    pub qr: Option<QrCode>,
    /// The pair code to type on the phone, if one was asked for and is still pending.
    pub pair_code: Option<String>,
}

impl Status {
    /// A stopped account with (`jid: Some`) or without stored credentials.
    pub fn stopped(account: AccountId, jid: Option<Jid>, lid: Option<Jid>) -> Self {
        Self {
            account,
            state: SessionState::Stopped,
            connected: false,
            logged_in: false,
            jid,
            lid,
            qr: None,
            pair_code: None,
        }
    }

    /// Whether stored credentials exist (the account is linked).
    pub fn has_credentials(&self) -> bool {
        self.jid.is_some()
    }

    /// Records the live facts of the current connection; whether anything changed.
    pub(crate) fn set_link(&mut self, connected: bool, logged_in: bool) -> bool {
        let changed = (self.connected, self.logged_in) != (connected, logged_in);
        self.connected = connected;
        self.logged_in = logged_in;
        changed
    }

    /// Follows one emitted event.
    pub(crate) fn apply(&mut self, event: &EventKind) {
        match event {
            EventKind::Connecting { attempt } => {
                self.state = match self.state {
                    SessionState::Working | SessionState::Reconnecting { .. } => {
                        SessionState::Reconnecting { attempt: *attempt }
                    }
                    SessionState::Pairing => SessionState::Pairing,
                    _ => SessionState::Starting,
                };
            }
            EventKind::Qr { code, expires_at } => {
                self.state = SessionState::AwaitingQr;
                self.qr = Some(QrCode {
                    code: code.clone(),
                    expires_at: *expires_at,
                });
            }
            EventKind::PairCode { code } => self.pair_code = Some(code.clone()),
            EventKind::PairError { .. } => self.pair_code = None,
            EventKind::Paired { jid, lid, .. } => {
                self.state = SessionState::Pairing;
                self.jid = Some(jid.clone());
                self.lid.clone_from(lid);
                self.qr = None;
                self.pair_code = None;
            }
            EventKind::Connected { jid, lid } => {
                self.state = SessionState::Working;
                self.jid = Some(jid.clone());
                self.lid.clone_from(lid);
                self.logged_in = true;
                self.qr = None;
                self.pair_code = None;
            }
            EventKind::TemporaryBan { code, expires_in } => {
                self.state = SessionState::Failed(FailReason::TemporaryBan {
                    code: *code,
                    expires_in: *expires_in,
                });
            }
            EventKind::ClientOutdated => {
                self.state = SessionState::Failed(FailReason::ClientOutdated);
            }
            EventKind::LoggedOut { .. } => {
                self.state = SessionState::LoggedOut;
                self.jid = None;
                self.lid = None;
            }
            EventKind::Disconnected {
                cause,
                reconnect_in,
            } => self.disconnected(cause, reconnect_in.is_some()),
            EventKind::Stopped => {
                if !matches!(
                    self.state,
                    SessionState::Failed(_) | SessionState::LoggedOut
                ) {
                    self.state = SessionState::Stopped;
                }
                self.set_link(false, false);
                self.qr = None;
                self.pair_code = None;
            }
            EventKind::QrTimeout
            | EventKind::PreKeysUploaded { .. }
            | EventKind::KeepAliveTimeout { .. }
            | EventKind::KeepAliveRestored
            | EventKind::StreamError { .. }
            | EventKind::Stanza(_)
            | EventKind::Message(_)
            | EventKind::MessageStatus { .. }
            | EventKind::GroupChanged { .. } => {}
        }
    }

    fn disconnected(&mut self, cause: &DisconnectCause, reconnects: bool) {
        self.set_link(false, false);
        self.qr = None;
        self.pair_code = None;
        if reconnects {
            self.state = match self.state {
                SessionState::Working | SessionState::Reconnecting { .. } => {
                    SessionState::Reconnecting { attempt: 0 }
                }
                SessionState::Pairing => SessionState::Pairing,
                _ => SessionState::Starting,
            };
            return;
        }
        let failed = |reason| SessionState::Failed(reason);
        self.state = match cause {
            DisconnectCause::LoggedOut => SessionState::LoggedOut,
            DisconnectCause::Requested => SessionState::Stopped,
            DisconnectCause::QrTimeout => failed(FailReason::QrTimeout),
            DisconnectCause::PairFailed => failed(FailReason::PairFailed),
            DisconnectCause::Replaced => failed(FailReason::Replaced),
            DisconnectCause::StreamError(code) => failed(FailReason::StreamError { code: *code }),
            // A ban or an outdated client was reported just before the refusal: keep it.
            _ if matches!(self.state, SessionState::Failed(_)) => self.state.clone(),
            _ => failed(FailReason::ConnectFailure),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wa_protocol::connection::LogoutReason;

    fn jid() -> Jid {
        "15550101234:1@s.whatsapp.net".parse().expect("jid")
    }

    fn fresh() -> Status {
        Status::stopped(AccountId::from_bytes([1; 16]), None, None)
    }

    fn disconnected(cause: DisconnectCause, reconnect: bool) -> EventKind {
        EventKind::Disconnected {
            cause,
            reconnect_in: reconnect.then_some(Duration::ZERO),
        }
    }

    #[test]
    fn qr_link_to_working() {
        let mut s = fresh();
        s.apply(&EventKind::Connecting { attempt: 0 });
        assert_eq!(s.state, SessionState::Starting);
        assert!(s.set_link(true, false));
        s.apply(&EventKind::Qr {
            code: "ref,keys".into(),
            expires_at: Millis(60_000),
        });
        assert_eq!(s.state, SessionState::AwaitingQr);
        assert_eq!(s.qr.as_ref().map(|q| q.expires_at), Some(Millis(60_000)));
        assert!(s.connected && !s.logged_in);
        s.apply(&EventKind::Paired {
            jid: jid(),
            lid: None,
            platform: None,
            business_name: None,
        });
        assert_eq!(
            (s.state.clone(), s.qr.clone()),
            (SessionState::Pairing, None)
        );
        s.apply(&disconnected(DisconnectCause::RestartRequired, true));
        s.apply(&EventKind::Connecting { attempt: 0 });
        assert_eq!(
            s.state,
            SessionState::Pairing,
            "the 515 restart keeps Pairing"
        );
        assert!(!s.connected);
        s.set_link(true, true);
        s.apply(&EventKind::Connected {
            jid: jid(),
            lid: None,
        });
        assert_eq!(s.state, SessionState::Working);
        assert!(s.connected && s.logged_in && s.has_credentials());
    }

    #[test]
    fn drops_reconnect_and_refusals_fail() {
        let mut s = fresh();
        s.set_link(true, true);
        s.apply(&EventKind::Connected {
            jid: jid(),
            lid: None,
        });
        s.apply(&disconnected(DisconnectCause::Transport, true));
        assert_eq!(s.state, SessionState::Reconnecting { attempt: 0 });
        assert!(!s.connected && !s.logged_in && s.has_credentials());
        s.apply(&EventKind::Connecting { attempt: 2 });
        assert_eq!(s.state, SessionState::Reconnecting { attempt: 2 });
        s.apply(&EventKind::TemporaryBan {
            code: 101,
            expires_in: Duration::from_secs(60),
        });
        s.apply(&disconnected(DisconnectCause::Transport, false));
        s.apply(&EventKind::Stopped);
        assert!(matches!(
            s.state,
            SessionState::Failed(FailReason::TemporaryBan { code: 101, .. })
        ));
        let mut s = fresh();
        s.apply(&disconnected(DisconnectCause::Replaced, false));
        s.apply(&EventKind::Stopped);
        assert_eq!(s.state, SessionState::Failed(FailReason::Replaced));
    }

    #[test]
    fn logout_and_shutdown() {
        let mut s = fresh();
        s.apply(&EventKind::Connected {
            jid: jid(),
            lid: None,
        });
        s.apply(&EventKind::LoggedOut {
            reason: LogoutReason::DeviceRemoved,
        });
        s.apply(&disconnected(DisconnectCause::LoggedOut, false));
        s.apply(&EventKind::Stopped);
        assert_eq!(s.state, SessionState::LoggedOut);
        assert!(!s.has_credentials());
        let mut s = fresh();
        s.apply(&EventKind::Connected {
            jid: jid(),
            lid: None,
        });
        s.apply(&disconnected(DisconnectCause::Requested, false));
        s.apply(&EventKind::Stopped);
        assert_eq!(s.state, SessionState::Stopped);
        assert!(
            s.has_credentials(),
            "a stopped session keeps its credentials"
        );
        let mut s = fresh();
        s.apply(&EventKind::QrTimeout);
        s.apply(&disconnected(DisconnectCause::QrTimeout, false));
        assert_eq!(s.state, SessionState::Failed(FailReason::QrTimeout));
    }
}

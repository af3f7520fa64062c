//! The session state of one account, as the HTTP layer renders it (CONTRACTS §F): a snapshot
//! that is true at every moment, kept by the account's task and readable without asking it.
//!
//! ```text
//!  Stopped ─connect─▶ Starting ─QR─▶ AwaitingQr ─paired─▶ Pairing ─login─▶ Working
//!                      │  │                              ↺ 515   │             ▲  │
//!                      │  └──(linked: login)─────────────────────┼─────────────┤  │ drop
//!                      │ linked: login failed      drop, not 515 ▼             │  ▼
//!                      └────────────────────────────────▶ Reconnecting{attempt} ◀─┘
//!  any ─▶ Failed{reason} | LoggedOut | Stopped (when the task ends)
//! ```
//!
//! Three rules keep the snapshot one truth (CONTRACTS §F's table; wuzapi's #90, §E):
//! - The state follows the live facts: the connection's login (`<success>`, `logged_in`) makes
//!   the session `Working` at once, as `connected && loggedIn` means in every dialect; the
//!   [`EventKind::Connected`] event follows once the post-login steps are written.
//! - The facts of a closed connection fall with its `Disconnected` event, in the same change as
//!   the state it leads to (never `Working` with the socket down; see `Ctx::set_phase`).
//! - `Pairing` lasts across the 515 restart that follows pair-success and nothing else: a
//!   linked session whose connection drops for any other cause, or whose login fails and is
//!   tried again, is `Reconnecting`, never a pairing with a QR to show (nor `Starting`, which
//!   `connect` would leave to its backoff).

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
    /// The phone linked us; waiting for the first login (across the 515 restart only).
    Pairing,
    /// Connected and logged in.
    Working,
    /// Linked, and the socket dropped (from `Working`, or from `Pairing` other than by the 515
    /// restart) or a login failed; the credentials are still valid and the task tries again.
    Reconnecting {
        /// Attempt since the last login, from 0.
        attempt: u32,
    },
    /// Stopped for a reason that needs attention.
    Failed(FailReason),
    /// The credentials were revoked; linking again needs a new QR.
    LoggedOut,
}

impl SessionState {
    /// A running task in this state is over or stuck retrying (a dead socket, a failure, revoked
    /// or stopped credentials): starting the session again replaces it at once instead of
    /// answering "already connected" (CONTRACTS §F rule 1).
    pub fn needs_restart(&self) -> bool {
        matches!(
            self,
            SessionState::Reconnecting { .. }
                | SessionState::Failed(_)
                | SessionState::LoggedOut
                | SessionState::Stopped
        )
    }
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

    /// Records the live facts of the current connection; whether anything changed. A login
    /// on this connection makes a starting, pairing or reconnecting session `Working`.
    pub(crate) fn set_link(&mut self, connected: bool, logged_in: bool) -> bool {
        let changed = (self.connected, self.logged_in) != (connected, logged_in);
        self.connected = connected;
        self.logged_in = logged_in;
        let waiting = matches!(
            self.state,
            SessionState::Starting | SessionState::Pairing | SessionState::Reconnecting { .. }
        );
        if connected && logged_in && waiting {
            self.state = SessionState::Working;
            self.qr = None;
            self.pair_code = None;
            return true;
        }
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
            // The server's refusals and logout close the connection: its facts fall with them.
            EventKind::TemporaryBan { code, expires_in } => {
                self.set_link(false, false);
                self.state = SessionState::Failed(FailReason::TemporaryBan {
                    code: *code,
                    expires_in: *expires_in,
                });
            }
            EventKind::ClientOutdated => {
                self.set_link(false, false);
                self.state = SessionState::Failed(FailReason::ClientOutdated);
            }
            EventKind::LoggedOut { .. } => {
                self.set_link(false, false);
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
                // The restart that follows pair-success: the first login comes next.
                SessionState::Pairing if matches!(cause, DisconnectCause::RestartRequired) => {
                    SessionState::Pairing
                }
                SessionState::Working
                | SessionState::Reconnecting { .. }
                | SessionState::Pairing => SessionState::Reconnecting { attempt: 0 },
                // A linked account whose login failed waits to try again: a dead socket with
                // valid credentials, which `connect` recovers at once (§F rule 1).
                _ if self.has_credentials() => SessionState::Reconnecting { attempt: 0 },
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

    /// CONTRACTS §F: `connected && loggedIn` is `Working` and nothing else: the connection's
    /// login makes a pairing or reconnecting session `Working` before `Connected` comes.
    #[test]
    fn the_login_makes_the_session_working() {
        let mut s = fresh();
        s.apply(&EventKind::Paired {
            jid: jid(),
            lid: None,
            platform: None,
            business_name: None,
        });
        s.apply(&disconnected(DisconnectCause::RestartRequired, true));
        s.apply(&EventKind::Connecting { attempt: 0 });
        assert!(s.set_link(true, false), "the socket is up");
        assert_eq!(s.state, SessionState::Pairing);
        assert!(s.set_link(true, true), "logged in");
        assert_eq!(s.state, SessionState::Working);
        s.apply(&EventKind::Connected {
            jid: jid(),
            lid: None,
        });
        assert!(!s.set_link(true, true), "nothing new once Working");
        assert!(s.connected && s.logged_in && s.state == SessionState::Working);
        s.apply(&disconnected(DisconnectCause::Transport, true));
        s.apply(&EventKind::Connecting { attempt: 0 });
        s.set_link(true, false);
        assert_eq!(s.state, SessionState::Reconnecting { attempt: 0 });
        s.set_link(true, true);
        assert_eq!(s.state, SessionState::Working);
    }

    /// The race session 5 left (issue 11): a session linked a moment ago whose connection
    /// drops before `Connected`, its logins then refused (503), read `Pairing` for good, so
    /// `/session/qr` answered 200 `""` for a linked account. Only the 515 keeps `Pairing`.
    #[test]
    fn only_the_515_restart_keeps_pairing() {
        let paired = |s: &mut Status| {
            s.apply(&EventKind::Paired {
                jid: jid(),
                lid: None,
                platform: None,
                business_name: None,
            })
        };
        let refused =
            DisconnectCause::Failure(wa_protocol::stanza::FailureReason::ServerError(503));
        for cause in [DisconnectCause::Transport, refused.clone()] {
            let mut s = fresh();
            paired(&mut s);
            s.apply(&disconnected(cause.clone(), true));
            assert_eq!(
                s.state,
                SessionState::Reconnecting { attempt: 0 },
                "{cause:?}"
            );
            s.apply(&EventKind::Connecting { attempt: 1 });
            assert_eq!(s.state, SessionState::Reconnecting { attempt: 1 });
            assert!(s.has_credentials() && !s.connected && s.qr.is_none());
        }
        let mut s = fresh();
        paired(&mut s);
        s.apply(&disconnected(DisconnectCause::RestartRequired, true));
        s.apply(&disconnected(refused, true));
        assert_eq!(s.state, SessionState::Reconnecting { attempt: 0 });
    }

    /// A linked account's refused login (503, tried again) is a dead socket with valid
    /// credentials: `Reconnecting`, which `connect` recovers at once; an unlinked one is still
    /// starting.
    #[test]
    fn a_failed_login_of_a_linked_account_reconnects() {
        let refused =
            DisconnectCause::Failure(wa_protocol::stanza::FailureReason::ServerError(503));
        let mut s = Status::stopped(AccountId::from_bytes([1; 16]), Some(jid()), None);
        s.apply(&EventKind::Connecting { attempt: 0 });
        assert_eq!(s.state, SessionState::Starting);
        s.apply(&disconnected(refused, true));
        assert_eq!(s.state, SessionState::Reconnecting { attempt: 0 });
        let mut s = fresh();
        s.apply(&EventKind::Connecting { attempt: 0 });
        s.apply(&disconnected(DisconnectCause::Transport, true));
        assert_eq!(s.state, SessionState::Starting);
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

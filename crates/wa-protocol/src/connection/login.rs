//! Login: the server's first stanza (`<success>`, `<failure>`, `<stream:error>`), the post-login
//! steps that lead to `Event::Connected`, and logging out.

use rand_core::CryptoRngCore;

use super::iq::IqPurpose;
use super::state::{Connection, KeepAlive, LoggedIn, Stage};
use super::types::{DisconnectCause, Event, LogoutReason};
use crate::binary::Node;
use crate::stanza::{
    self, classify_stream_error, parse_failure, parse_success, prekey_count_request, FailureReason,
    KeyDigestRequest, Passive, Presence, PropsRequest, StreamErrorKind,
};
use crate::time::Millis;

impl<R: CryptoRngCore> Connection<R> {
    /// `<success>`: logged in; ask the prekey count and go active.
    pub(super) fn handle_success(&mut self, node: &Node, now: Millis) {
        let awaiting = matches!(self.state.stage_mut(), Some(Stage::AwaitingServer(_)));
        if !awaiting || self.creds.device.is_none() {
            // wm ignores a success while unpaired; a second success is ignored too.
            return;
        }
        let success = match parse_success(node) {
            Ok(s) => s,
            Err(e) => return self.protocol_error(e),
        };
        if let (Some(lid), Some(device)) = (success.lid.as_ref(), self.creds.device.as_mut()) {
            if device.lid.is_none() {
                device.lid = Some(lid.clone());
            }
        }
        let keepalive = KeepAlive {
            next_ping: now.after(self.ping_interval()),
            failures: 0,
        };
        let logged_in = LoggedIn {
            keepalive,
            jid: self.creds.device.as_ref().map(|d| d.jid.clone()),
            lid: success.lid,
            server_time: success.t,
            active_done: false,
            prekeys_done: false,
            connected_sent: false,
            prekeys_requested: false,
        };
        if let Some(stage) = self.state.stage_mut() {
            *stage = Stage::LoggedIn(Box::new(logged_in));
        }
        self.send_iq(prekey_count_request(), IqPurpose::PreKeyCount, now);
        self.send_iq(Passive { active: true }.request(), IqPurpose::Active, now);
    }

    /// Marks one post-login step done; when all are, reports `Connected` and sends the
    /// non-blocking follow-ups.
    pub(super) fn post_login_step(&mut self, now: Millis, f: impl FnOnce(&mut LoggedIn)) {
        let Some(l) = self.state.logged_in_mut() else {
            return;
        };
        f(l);
        if !(l.active_done && l.prekeys_done && !l.connected_sent) {
            return;
        }
        l.connected_sent = true;
        let event = Event::Connected {
            jid: l.jid.clone().unwrap_or_else(stanza::server_jid),
            lid: l.lid.clone(),
            server_time: l.server_time,
        };
        self.events.push_back(event);
        // Non-blocking follow-ups, as WhatsApp Web does: key-bundle digest and server props.
        self.send_iq(KeyDigestRequest.request(), IqPurpose::Background, now);
        self.send_iq(
            PropsRequest::default().request(),
            IqPurpose::Background,
            now,
        );
        if let Some(name) = self.config.identity.push_name.clone() {
            let presence = Presence {
                name: Some(name),
                available: true,
            };
            self.send_node(&presence.to_node());
        }
    }

    /// `<failure>`: the server refused the login.
    pub(super) fn handle_failure(&mut self, node: &Node) {
        let reason = match parse_failure(node) {
            Ok(r) => r,
            Err(e) => return self.protocol_error(e),
        };
        let cause = match &reason {
            r if r.is_logged_out() => {
                self.events.push_back(Event::LoggedOut {
                    reason: LogoutReason::Failure(r.clone()),
                });
                DisconnectCause::LoggedOut
            }
            FailureReason::ClientOutdated => {
                self.events.push_back(Event::ClientOutdated);
                DisconnectCause::Failure(reason.clone())
            }
            FailureReason::TempBanned { code, expire } => {
                self.events.push_back(Event::TemporaryBan {
                    code: *code,
                    expire_secs: *expire,
                });
                DisconnectCause::Failure(reason.clone())
            }
            _ => DisconnectCause::Failure(reason.clone()),
        };
        self.close(cause);
    }

    /// `<stream:error>`: restart, replaced, removed, or trouble.
    pub(super) fn handle_stream_error(&mut self, node: &Node) {
        let kind = classify_stream_error(node).unwrap_or(StreamErrorKind::Other(None));
        let cause = match kind {
            StreamErrorKind::RestartRequired => DisconnectCause::RestartRequired,
            StreamErrorKind::Replaced => DisconnectCause::Replaced,
            StreamErrorKind::DeviceRemoved => {
                self.events.push_back(Event::LoggedOut {
                    reason: LogoutReason::DeviceRemoved,
                });
                DisconnectCause::LoggedOut
            }
            StreamErrorKind::Unavailable(code) => {
                self.events
                    .push_back(Event::StreamError { code: Some(code) });
                DisconnectCause::StreamError(Some(code))
            }
            StreamErrorKind::Other(code) => {
                self.events.push_back(Event::StreamError { code });
                DisconnectCause::StreamError(code)
            }
        };
        self.close(cause);
    }

    /// Our logout is done (confirmed, refused or unanswered: we unlink locally either way, as
    /// wm and bl do).
    pub(super) fn logged_out_by_us(&mut self) {
        self.events.push_back(Event::LoggedOut {
            reason: LogoutReason::UserInitiated,
        });
        self.close(DisconnectCause::LoggedOut);
    }
}

//! The per-connection state machine of a companion device, sans-IO.
//!
//! ```text
//!  new() ─▶ Handshake ──ServerHello ok──▶ AwaitFirst ──<success>────▶ LoggedIn ──▶ Closed(cause)
//!                                           │ (registration)  │<failure>            ▲
//!                                           └─pair-device─▶ Unpaired ─pair-success─┘ (515 restart)
//! ```
//!
//! The driver (wa-client) owns the socket, the clock and the store. It feeds the machine with
//! [`Connection::handle_input`] (bytes read from the WebSocket), [`Connection::handle_timeout`]
//! (when [`Connection::poll_timeout`] is due) and [`Connection::handle_command`], then drains it:
//!
//! 1. **all events first** ([`Connection::poll_event`]): [`Event::PairSuccess`] carries state
//!    that must be persisted before the reply that depends on it leaves (the reply is queued
//!    behind it); [`Event::PreKeysNeeded`] asks the driver to create and store prekeys, which it
//!    then hands back with [`Command::UploadPreKeys`];
//! 2. then the bytes to write ([`Connection::poll_transmit`]), each one WebSocket binary message.
//!
//! One `Connection` is one socket's life: after [`Event::Disconnected`] the driver decides (with
//! [`DisconnectCause::reconnect`]) whether to build a new one. Time is unix milliseconds given by
//! the caller; randomness comes from the injected RNG. Sources: whatsmeow `connectionevents.go`,
//! `keepalive.go`, `request.go`, `pair.go`, `prekeys.go`; Baileys `src/Socket/socket.ts`.

mod iq;
mod types;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use prost::Message as _;
use rand_core::CryptoRngCore;

pub use types::{
    Config, Credentials, DisconnectCause, Event, LinkedDevice, LogoutReason, Millis, Reconnect,
};

use crate::binary::{Jid, Limits, Node};
use crate::noise::{
    encode_frame, FrameDecoder, FramedTransport, Initiator, InitiatorAwaitServerHello, WA_HEADER,
};
use crate::pairing::{PairCode, PairCodeRequest};
use crate::payload::{login_payload, registration_payload, RegistrationKeys};
use crate::signal::{KeyPair, PublicKey};
use crate::stanza::{
    self, classify_stream_error, iq_result, parse_failure, parse_prekey_count, parse_success,
    prekey_count_request, prekey_upload, FailureReason, IqKind, IqRequest, IqResponse,
    PreKeyUpload, StreamErrorKind, UploadedPreKey, UploadedSignedPreKey,
};
use iq::{IqPurpose, IqTracker};

/// Commands the application gives the connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Command {
    /// Send an IQ; the answer comes back as [`Event::IqResponse`] with the same `token`.
    Iq {
        /// Caller's token for matching the answer.
        token: u64,
        /// The request.
        request: IqRequest,
    },
    /// Send a node as is (messages, receipts, acks, presence).
    Send(Node),
    /// Upload these one-time prekeys (answer to [`Event::PreKeysNeeded`], after storing them).
    UploadPreKeys(Vec<(u32, PublicKey)>),
    /// Link by phone number instead of QR (registration connections only): sends the
    /// companion_hello; the code to type on the phone comes back as [`Event::PairCode`].
    PairPhone {
        /// The account's phone number, digits with country code.
        phone: String,
        /// Ask the phone to show a notification.
        show_push_notification: bool,
    },
    /// Unlink this companion: `remove-companion-device`, then [`Event::LoggedOut`].
    Logout,
    /// Close the connection (graceful shutdown).
    Close,
}

/// The phase the connection is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Noise handshake under way.
    Handshake,
    /// Handshake done, waiting for the server's first stanza.
    AwaitingServer,
    /// Registration: showing QR codes / waiting for the phone.
    Unpaired,
    /// Logged in (possibly still finishing the post-login steps).
    LoggedIn,
    /// Closed; no more bytes in or out.
    Closed,
}

enum State {
    Handshake(Box<InitiatorAwaitServerHello>),
    AwaitingServer,
    Unpaired(Unpaired),
    LoggedIn(LoggedIn),
    Closed,
}

struct Unpaired {
    refs: VecDeque<String>,
    rotate_at: Option<Millis>,
}

#[derive(Default)]
struct LoggedIn {
    jid: Option<Jid>,
    lid: Option<Jid>,
    server_time: u64,
    active_done: bool,
    prekeys_done: bool,
    connected_sent: bool,
}

struct KeepAlive {
    next_ping: Millis,
    failures: u32,
}

/// The state machine. `R` is the injected RNG.
pub struct Connection<R: CryptoRngCore> {
    config: Config,
    creds: Credentials,
    rng: R,
    state: State,
    decoder: Option<FrameDecoder>,
    transport: Option<FramedTransport>,
    handshake_deadline: Option<Millis>,
    iqs: IqTracker,
    keepalive: Option<KeepAlive>,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    closed: bool,
    prekeys_requested: bool,
    uploading: Vec<u32>,
    pair_code: Option<(PairCodeRequest, Jid)>,
}

impl<R: CryptoRngCore> core::fmt::Debug for Connection<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("phase", &self.phase())
            .finish_non_exhaustive()
    }
}

impl<R: CryptoRngCore> Connection<R> {
    /// Starts a connection: the first transmit is the intro and the ClientHello.
    pub fn new(config: Config, creds: Credentials, mut rng: R, now: Millis) -> Self {
        let (state, hello) = Initiator::start(KeyPair::generate(&mut rng));
        let mut first = WA_HEADER.to_vec();
        let mut transmits = VecDeque::new();
        // A ClientHello is ~40 bytes: framing cannot fail.
        if encode_frame(&hello, &mut first).is_ok() {
            transmits.push_back(first);
        }
        let iqs = IqTracker::new(&mut rng);
        Self {
            handshake_deadline: Some(now.after(config.handshake_timeout_ms)),
            decoder: Some(FrameDecoder::for_client(config.max_frame)),
            config,
            creds,
            rng,
            state: State::Handshake(Box::new(state)),
            transport: None,
            iqs,
            keepalive: None,
            transmits,
            events: VecDeque::new(),
            closed: false,
            prekeys_requested: false,
            uploading: Vec::new(),
            pair_code: None,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Handshake(_) => Phase::Handshake,
            State::AwaitingServer => Phase::AwaitingServer,
            State::Unpaired(_) => Phase::Unpaired,
            State::LoggedIn(_) => Phase::LoggedIn,
            State::Closed => Phase::Closed,
        }
    }

    /// Whether the connection is over (the driver should close the socket).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The credentials, including changes made by this connection (pairing, prekey ids).
    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// Next bytes to write to the socket, one WebSocket binary message each.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// Next event for the application. Drain these before [`Self::poll_transmit`].
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.is_closed() {
            return None;
        }
        let mut next = self.handshake_deadline;
        let mut consider = |t: Option<Millis>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        consider(self.iqs.next_deadline());
        consider(self.keepalive.as_ref().map(|k| k.next_ping));
        if let State::Unpaired(u) = &self.state {
            consider(u.rotate_at);
        }
        next
    }

    /// Bytes read from the socket.
    pub fn handle_input(&mut self, data: &[u8], now: Millis) {
        if self.is_closed() {
            return;
        }
        if let Some(transport) = self.transport.as_mut() {
            transport.push(data);
        } else if let Some(decoder) = self.decoder.as_mut() {
            decoder.push(data);
        }
        if matches!(self.state, State::Handshake(_)) {
            self.advance_handshake(now);
        }
        while !self.is_closed() {
            let Some(transport) = self.transport.as_mut() else {
                break;
            };
            match transport.next_node() {
                Ok(Some(node)) => self.handle_node(node, now),
                Ok(None) => break,
                Err(e) => {
                    self.close(DisconnectCause::Protocol(e.to_string()));
                    break;
                }
            }
        }
    }

    /// The socket closed underneath us.
    pub fn handle_socket_closed(&mut self) {
        if !self.is_closed() {
            self.close(DisconnectCause::Transport);
        }
    }

    /// Time has passed; fire whatever is due.
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.is_closed() {
            return;
        }
        if self.handshake_deadline.is_some_and(|d| now >= d) {
            self.close(DisconnectCause::HandshakeTimeout);
            return;
        }
        for (id, purpose) in self.iqs.expire(now) {
            self.iq_failed(&id, purpose, None);
            if self.is_closed() {
                return;
            }
        }
        if self.keepalive.as_ref().is_some_and(|k| now >= k.next_ping) {
            self.send_ping(now);
        }
        if let State::Unpaired(u) = &mut self.state {
            if u.rotate_at.is_some_and(|t| now >= t) {
                u.refs.pop_front();
                self.show_next_qr(now);
            }
        }
    }

    /// An application command.
    pub fn handle_command(&mut self, command: Command, now: Millis) {
        if self.is_closed() {
            return;
        }
        match command {
            Command::Iq { token, request } => {
                self.send_iq(request, IqPurpose::External(token), now);
            }
            Command::Send(node) => self.send_node(&node),
            Command::UploadPreKeys(keys) => self.upload_prekeys(keys, now),
            Command::PairPhone {
                phone,
                show_push_notification,
            } => self.pair_phone(&phone, show_push_notification, now),
            Command::Logout => {
                let Some(jid) = self.creds.device.as_ref().map(|d| d.jid.clone()) else {
                    self.events.push_back(Event::LoggedOut {
                        reason: LogoutReason::UserInitiated,
                    });
                    self.close(DisconnectCause::LoggedOut);
                    return;
                };
                let request = IqRequest::new(
                    "md",
                    IqKind::Set,
                    vec![Node::new("remove-companion-device")
                        .with_attr("jid", jid)
                        .with_attr("reason", "user_initiated")],
                );
                self.send_iq(request, IqPurpose::Logout, now);
            }
            Command::Close => self.close(DisconnectCause::Requested),
        }
    }

    // ---- handshake ----

    fn advance_handshake(&mut self, now: Millis) {
        let frame = match self.decoder.as_mut().map(FrameDecoder::next_frame) {
            Some(Ok(Some(frame))) => frame,
            Some(Ok(None)) | None => return,
            Some(Err(e)) => {
                self.close(DisconnectCause::Protocol(e.to_string()));
                return;
            }
        };
        let State::Handshake(hs) = core::mem::replace(&mut self.state, State::Closed) else {
            return;
        };
        let verified = match hs.read_server_hello(&frame, &self.config.trust, now.unix_secs()) {
            Ok(v) => v,
            Err(e) => {
                self.close(DisconnectCause::HandshakeFailed(e.to_string()));
                return;
            }
        };
        let payload = match &self.creds.device {
            Some(device) => {
                let username = device.jid.user_part().parse::<u64>().unwrap_or(0);
                let dev = u8::try_from(device.jid.device_id()).unwrap_or(0);
                login_payload(&self.config.identity, username, dev)
            }
            None => registration_payload(&self.config.identity, &self.registration_keys()),
        }
        .encode_to_vec();
        let (cipher, finish) = match verified.write_client_finish(&self.creds.noise_key, &payload) {
            Ok(x) => x,
            Err(e) => {
                self.close(DisconnectCause::HandshakeFailed(e.to_string()));
                return;
            }
        };
        let mut out = Vec::new();
        if let Err(e) = encode_frame(&finish, &mut out) {
            self.close(DisconnectCause::Protocol(e.to_string()));
            return;
        }
        self.transmits.push_back(out);
        let decoder = self
            .decoder
            .take()
            .unwrap_or_else(|| FrameDecoder::for_client(self.config.max_frame));
        self.transport = Some(FramedTransport::new(cipher, decoder, Limits::default()));
        self.state = State::AwaitingServer;
        // The server's first stanza must arrive within the same handshake budget.
        self.handshake_deadline = Some(now.after(self.config.handshake_timeout_ms));
    }

    fn registration_keys(&self) -> RegistrationKeys {
        RegistrationKeys {
            registration_id: self.creds.registration_id,
            identity_key: self.creds.identity.public,
            signed_prekey_id: self.creds.signed_prekey_id,
            signed_prekey: self.creds.signed_prekey.public,
            signed_prekey_signature: self.creds.signed_prekey_signature,
        }
    }

    // ---- output helpers ----

    fn send_node(&mut self, node: &Node) {
        let Some(transport) = self.transport.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        match transport.encode_node(node, &mut out) {
            Ok(()) => self.transmits.push_back(out),
            Err(e) => self.events.push_back(Event::SendFailed {
                reason: e.to_string(),
            }),
        }
    }

    fn send_iq(&mut self, request: IqRequest, purpose: IqPurpose, now: Millis) -> String {
        let timeout = match purpose {
            IqPurpose::Ping => self.config.ping_timeout_ms,
            _ => self.config.iq_timeout_ms,
        };
        let id = self.iqs.register(purpose, now.after(timeout));
        let node = request.to_node(&id);
        self.send_node(&node);
        id
    }

    fn close(&mut self, cause: DisconnectCause) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.state = State::Closed;
        self.handshake_deadline = None;
        self.keepalive = None;
        for (_, purpose) in self.iqs.drain() {
            if let IqPurpose::External(token) = purpose {
                self.events.push_back(Event::IqResponse {
                    token,
                    response: None,
                });
            }
        }
        self.events.push_back(Event::Disconnected { cause });
    }

    // ---- stanzas ----

    fn handle_node(&mut self, node: Node, now: Millis) {
        if self.handshake_deadline.is_some() && !matches!(self.state, State::Handshake(_)) {
            // Any stanza after the handshake ends the handshake budget.
            self.handshake_deadline = None;
        }
        match node.tag.as_str() {
            "iq" => self.handle_iq(node, now),
            "success" => self.handle_success(&node, now),
            "failure" => self.handle_failure(&node),
            "stream:error" => self.handle_stream_error(&node),
            "xmlstreamend" => self.close(DisconnectCause::ServerClosed),
            "ib" => self.handle_ib(&node),
            "notification" => self.handle_notification(node, now),
            _ => self.events.push_back(Event::Stanza(node)),
        }
    }

    fn handle_iq(&mut self, node: Node, now: Millis) {
        let kind = node.attr_str("type").unwrap_or_default().to_owned();
        let id = node.attr_str("id").unwrap_or_default().to_owned();
        if kind == "result" || kind == "error" {
            let Some(purpose) = self.iqs.take(&id) else {
                // An answer to nothing we asked: hand it to the application.
                self.events.push_back(Event::Stanza(node));
                return;
            };
            match IqResponse::parse(&node) {
                Ok(IqResponse::Result(result)) => self.iq_succeeded(result, purpose, now),
                Ok(IqResponse::Error { code, text }) => {
                    self.iq_failed(&id, purpose, Some((code, text)))
                }
                Err(e) => self.close(DisconnectCause::Protocol(e.to_string())),
            }
            return;
        }
        // A request from the server.
        if node.attr_str("xmlns") == Some("urn:xmpp:ping") {
            self.send_node(&iq_result(&id, vec![]));
            return;
        }
        if let Some(pair) = node.child("pair-device") {
            let refs: VecDeque<String> = pair
                .children_by_tag("ref")
                .filter_map(|r| r.bytes().map(|b| String::from_utf8_lossy(b).into_owned()))
                .collect();
            self.send_node(&iq_result(&id, vec![]));
            if matches!(self.state, State::AwaitingServer | State::Unpaired(_)) {
                self.state = State::Unpaired(Unpaired {
                    refs,
                    rotate_at: None,
                });
                self.start_keepalive(now);
                self.show_next_qr(now);
            }
            return;
        }
        if node.child("pair-success").is_some() {
            self.handle_pair_success(&node, &id);
            return;
        }
        self.events.push_back(Event::Stanza(node));
    }

    fn iq_succeeded(&mut self, result: Node, purpose: IqPurpose, now: Millis) {
        match purpose {
            IqPurpose::External(token) => self.events.push_back(Event::IqResponse {
                token,
                response: Some(IqResponse::Result(result)),
            }),
            IqPurpose::Ping => {
                if let Some(k) = self.keepalive.as_mut() {
                    if k.failures > 0 {
                        k.failures = 0;
                        self.events.push_back(Event::KeepAliveRestored);
                    }
                }
            }
            IqPurpose::PreKeyCount => match parse_prekey_count(&result) {
                Ok(count) if count < self.config.min_prekeys => {
                    self.request_prekeys(self.config.upload_prekeys.saturating_sub(count));
                }
                Ok(_) => self.post_login_step(now, |l| l.prekeys_done = true),
                Err(e) => self.close(DisconnectCause::Protocol(e.to_string())),
            },
            IqPurpose::PreKeyUpload => {
                self.prekeys_requested = false;
                let ids = core::mem::take(&mut self.uploading);
                self.events.push_back(Event::PreKeysUploaded { ids });
                self.post_login_step(now, |l| l.prekeys_done = true);
            }
            IqPurpose::Active => self.post_login_step(now, |l| l.active_done = true),
            IqPurpose::Logout => {
                self.events.push_back(Event::LoggedOut {
                    reason: LogoutReason::UserInitiated,
                });
                self.close(DisconnectCause::LoggedOut);
            }
            IqPurpose::PairCodeHello => {
                let parsed = crate::pairing::stanza::CompanionHelloResult::from_node(&result);
                match (parsed, self.pair_code.as_mut()) {
                    (Ok(r), Some((req, _))) => {
                        req.set_ref(r.pairing_ref);
                        let code = *req.code();
                        self.events.push_back(Event::PairCode {
                            code: code.to_string(),
                        });
                    }
                    (Err(e), _) => self.close(DisconnectCause::Protocol(e.to_string())),
                    (Ok(_), None) => {}
                }
            }
            IqPurpose::Background => {}
        }
    }

    fn iq_failed(&mut self, id: &str, purpose: IqPurpose, error: Option<(u16, String)>) {
        match purpose {
            IqPurpose::External(token) => self.events.push_back(Event::IqResponse {
                token,
                response: error.map(|(code, text)| IqResponse::Error { code, text }),
            }),
            IqPurpose::Ping => {
                let Some(k) = self.keepalive.as_mut() else {
                    return;
                };
                k.failures += 1;
                let failures = k.failures;
                self.events.push_back(Event::KeepAliveTimeout { failures });
                if failures >= self.config.max_ping_failures {
                    self.close(DisconnectCause::KeepAliveTimeout);
                }
            }
            IqPurpose::Logout => {
                // Unlink locally even if the server did not confirm (wm/bl behave the same).
                self.events.push_back(Event::LoggedOut {
                    reason: LogoutReason::UserInitiated,
                });
                self.close(DisconnectCause::LoggedOut);
            }
            IqPurpose::PairCodeHello => {
                let (code, text) = error.unwrap_or((408, "timeout".to_owned()));
                self.pair_code = None;
                self.events.push_back(Event::PairError { code, text });
            }
            IqPurpose::PreKeyCount
            | IqPurpose::PreKeyUpload
            | IqPurpose::Active
            | IqPurpose::Background => {
                let reason = match error {
                    Some((code, text)) => format!("iq {id} failed: {code} {text}"),
                    None => format!("iq {id} timed out"),
                };
                if !matches!(purpose, IqPurpose::Background) {
                    self.close(DisconnectCause::Protocol(reason));
                }
            }
        }
    }

    fn handle_success(&mut self, node: &Node, now: Millis) {
        if !matches!(self.state, State::AwaitingServer) || self.creds.device.is_none() {
            // wm ignores a success while unpaired; a second success is ignored too.
            return;
        }
        let success = match parse_success(node) {
            Ok(s) => s,
            Err(e) => {
                self.close(DisconnectCause::Protocol(e.to_string()));
                return;
            }
        };
        if let (Some(lid), Some(device)) = (success.lid.as_ref(), self.creds.device.as_mut()) {
            if device.lid.is_none() {
                device.lid = Some(lid.clone());
            }
        }
        self.state = State::LoggedIn(LoggedIn {
            jid: self.creds.device.as_ref().map(|d| d.jid.clone()),
            lid: success.lid,
            server_time: success.t,
            ..LoggedIn::default()
        });
        self.start_keepalive(now);
        self.send_iq(prekey_count_request(), IqPurpose::PreKeyCount, now);
        self.send_iq(
            IqRequest::new("passive", IqKind::Set, vec![Node::new("active")]),
            IqPurpose::Active,
            now,
        );
    }

    fn post_login_step(&mut self, now: Millis, f: impl FnOnce(&mut LoggedIn)) {
        let State::LoggedIn(l) = &mut self.state else {
            return;
        };
        f(l);
        if l.active_done && l.prekeys_done && !l.connected_sent {
            l.connected_sent = true;
            let event = Event::Connected {
                jid: l.jid.clone().unwrap_or_else(stanza::server_jid),
                lid: l.lid.clone(),
                server_time: l.server_time,
            };
            self.events.push_back(event);
            // Non-blocking follow-ups, as WhatsApp Web does: key-bundle digest and server props.
            self.send_iq(
                IqRequest::new("encrypt", IqKind::Get, vec![Node::new("digest")]),
                IqPurpose::Background,
                now,
            );
            self.send_iq(
                IqRequest::new(
                    "abt",
                    IqKind::Get,
                    vec![Node::new("props").with_attr("protocol", "1")],
                ),
                IqPurpose::Background,
                now,
            );
            if let Some(name) = self.config.identity.push_name.clone() {
                self.send_node(
                    &Node::new("presence")
                        .with_attr("name", name)
                        .with_attr("type", "available"),
                );
            }
        }
    }

    /// Asks the driver for `count` new one-time prekeys (it stores them durably, then answers
    /// with [`Command::UploadPreKeys`]).
    fn request_prekeys(&mut self, count: u32) {
        if !self.prekeys_requested && count > 0 {
            self.prekeys_requested = true;
            self.events.push_back(Event::PreKeysNeeded { count });
        }
    }

    fn upload_prekeys(&mut self, keys: Vec<(u32, PublicKey)>, now: Millis) {
        let upload = PreKeyUpload {
            registration_id: self.creds.registration_id,
            identity: self.creds.identity.public,
            prekeys: keys
                .iter()
                .map(|(id, public)| UploadedPreKey {
                    id: *id,
                    public: *public,
                })
                .collect(),
            signed: UploadedSignedPreKey {
                id: self.creds.signed_prekey_id,
                public: self.creds.signed_prekey.public,
                signature: self.creds.signed_prekey_signature,
            },
        };
        self.uploading = keys.iter().map(|(id, _)| *id).collect();
        self.send_iq(prekey_upload(&upload), IqPurpose::PreKeyUpload, now);
    }

    fn handle_failure(&mut self, node: &Node) {
        let reason = match parse_failure(node) {
            Ok(r) => r,
            Err(e) => {
                self.close(DisconnectCause::Protocol(e.to_string()));
                return;
            }
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

    fn handle_stream_error(&mut self, node: &Node) {
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

    fn handle_ib(&mut self, node: &Node) {
        if let Some(offline) = node.child("offline") {
            let count = offline
                .attr_str("count")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            self.events.push_back(Event::OfflineSyncCompleted { count });
        } else if node.child("offline_preview").is_some() {
            self.send_node(
                &Node::new("ib")
                    .with_children(vec![Node::new("offline_batch").with_attr("count", "100")]),
            );
        } else if let Some(routing) = node
            .child("edge_routing")
            .and_then(|e| e.child("routing_info"))
            .and_then(Node::bytes)
        {
            self.events.push_back(Event::EdgeRouting(routing.to_vec()));
        } else {
            self.events.push_back(Event::Stanza(node.clone()));
        }
    }

    fn handle_notification(&mut self, node: Node, now: Millis) {
        // Acknowledge every notification (session-lifecycle.md §7.1).
        let mut ack = Node::new("ack").with_attr("class", "notification");
        for key in ["id", "type", "participant"] {
            if let Some(v) = node.attr_str(key) {
                ack = ack.with_attr(key, v);
            }
        }
        if let Some(from) = node.attr("from") {
            ack = ack.with_attr("to", from.clone());
        }
        self.send_node(&ack);
        if node.attr_str("type") == Some("link_code_companion_reg") {
            self.handle_primary_hello(&node, now);
            return;
        }
        let low = node.attr_str("type") == Some("encrypt")
            && node
                .child("count")
                .and_then(|c| c.attr_str("value"))
                .and_then(|v| v.parse::<u32>().ok())
                .is_some_and(|n| n < self.config.min_prekeys);
        if low && matches!(self.state, State::LoggedIn(_)) {
            let have = node
                .child("count")
                .and_then(|c| c.attr_str("value"))
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0);
            self.request_prekeys(self.config.upload_prekeys.saturating_sub(have));
            return;
        }
        self.events.push_back(Event::Stanza(node));
    }

    // ---- keepalive ----

    fn start_keepalive(&mut self, now: Millis) {
        if self.keepalive.is_none() {
            let next_ping = now.after(self.ping_interval());
            self.keepalive = Some(KeepAlive {
                next_ping,
                failures: 0,
            });
        }
    }

    fn ping_interval(&mut self) -> u64 {
        let (min, max) = self.config.ping_interval_ms;
        if max <= min {
            return min;
        }
        min + self.rng.next_u64() % (max - min + 1)
    }

    fn send_ping(&mut self, now: Millis) {
        let interval = self.ping_interval();
        if let Some(k) = self.keepalive.as_mut() {
            k.next_ping = now.after(interval);
        }
        self.send_iq(
            IqRequest::new("w:p", IqKind::Get, vec![]),
            IqPurpose::Ping,
            now,
        );
    }

    // ---- pairing ----

    fn show_next_qr(&mut self, now: Millis) {
        let State::Unpaired(u) = &mut self.state else {
            return;
        };
        let Some(reference) = u.refs.front().cloned() else {
            u.rotate_at = None;
            self.events.push_back(Event::QrTimeout);
            self.close(DisconnectCause::QrTimeout);
            return;
        };
        let first = u.rotate_at.is_none();
        let ttl = if first {
            self.config.qr_first_ms
        } else {
            self.config.qr_next_ms
        };
        let expires_at = now.after(ttl);
        u.rotate_at = Some(expires_at);
        let code = crate::pairing::qr_string(
            &reference,
            &self.creds.noise_key.public,
            &self.creds.identity.public,
            &self.creds.adv_secret,
            self.config.qr_client_type,
        );
        self.events.push_back(Event::Qr { code, expires_at });
    }

    fn handle_pair_success(&mut self, node: &Node, id: &str) {
        use crate::pairing::stanza::{PairDeviceSign, PairErrorReply, PairSuccess};
        let verified = PairSuccess::from_node(node).and_then(|parsed| {
            crate::pairing::verify_pair_success(
                &parsed.device_identity,
                &self.creds.adv_secret,
                &self.creds.identity,
                &mut self.rng,
            )
            .map(|paired| (parsed, paired))
        });
        match verified {
            Ok((parsed, paired)) => {
                let device = LinkedDevice {
                    jid: parsed.device.clone(),
                    lid: parsed.lid.clone(),
                    platform: parsed.platform.clone(),
                    business_name: parsed.business_name.clone(),
                    account: paired.account_bytes(),
                    key_index: paired.key_index,
                };
                self.creds.device = Some(device.clone());
                // Persist (event) before the reply goes out (transmit).
                self.events.push_back(Event::PairSuccess(device));
                let reply = PairDeviceSign {
                    id: id.to_owned(),
                    key_index: paired.key_index,
                    device_identity: paired.reply,
                };
                self.send_node(&reply.to_node());
            }
            Err(e) => {
                let reply = PairErrorReply::new(id, &e);
                self.send_node(&reply.to_node());
                self.events.push_back(Event::PairError {
                    code: reply.code,
                    text: reply.text,
                });
                self.close(DisconnectCause::PairFailed);
            }
        }
    }

    fn pair_phone(&mut self, phone: &str, show_push_notification: bool, now: Millis) {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        if !matches!(self.state, State::Unpaired(_) | State::AwaitingServer)
            || self.creds.device.is_some()
        {
            self.events.push_back(Event::PairError {
                code: 400,
                text: "not a registration connection".to_owned(),
            });
            return;
        }
        if digits.len() <= 6 || digits.starts_with('0') {
            self.events.push_back(Event::PairError {
                code: 400,
                text: format!("invalid phone number {phone:?}"),
            });
            return;
        }
        let request = PairCodeRequest::new(PairCode::generate(&mut self.rng), &mut self.rng);
        let phone = Jid::user(digits, crate::binary::Server::WhatsApp);
        let hello = crate::pairing::stanza::CompanionHello {
            id: String::new(),
            phone: phone.clone(),
            should_show_push_notification: show_push_notification,
            wrapped_ephemeral: *request.wrapped_ephemeral(),
            noise_pub: self.creds.noise_key.public,
            platform_id: self.config.qr_client_type.to_string(),
            platform_display: self.config.platform_display.clone(),
        };
        self.pair_code = Some((request, phone));
        let id = self.iqs.register(
            IqPurpose::PairCodeHello,
            now.after(self.config.iq_timeout_ms),
        );
        let node = crate::pairing::stanza::CompanionHello { id, ..hello }.to_node();
        self.send_node(&node);
    }

    fn handle_primary_hello(&mut self, node: &Node, now: Millis) {
        let Ok(hello) = crate::pairing::stanza::PrimaryHello::from_node(node) else {
            self.events.push_back(Event::Stanza(node.clone()));
            return;
        };
        let Some((request, phone)) = self.pair_code.take() else {
            return;
        };
        if !request.matches_ref(&hello.pairing_ref) {
            // Not ours (wm and wr ignore it too); keep waiting.
            self.pair_code = Some((request, phone));
            return;
        }
        match request.primary_hello(
            &hello.pairing_ref,
            &hello.wrapped_ephemeral,
            &hello.primary_identity,
            &self.creds.identity,
            &mut self.rng,
        ) {
            Ok(finish) => {
                // The derived secret replaces the QR one for this pairing (login-pairing.md §5.5).
                self.creds.adv_secret = *finish.adv_secret();
                let id = self
                    .iqs
                    .register(IqPurpose::Background, now.after(self.config.iq_timeout_ms));
                let node = crate::pairing::stanza::CompanionFinish {
                    id,
                    phone,
                    wrapped_bundle: *finish.wrapped_bundle(),
                    companion_identity: self.creds.identity.public,
                    pairing_ref: finish.pairing_ref().to_vec(),
                }
                .to_node();
                self.send_node(&node);
            }
            Err(e) => {
                let (code, text) = e.wire_code();
                self.events.push_back(Event::PairError {
                    code,
                    text: text.to_owned(),
                });
            }
        }
    }
}

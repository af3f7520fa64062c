//! The per-connection state machine of a companion device, sans-IO.
//!
//! ```text
//!  new() ─▶ Handshake ──ServerHello ok──▶ AwaitingServer ──<success>──▶ LoggedIn ──▶ Closed(cause)
//!                                           │ (registration)  │<failure>           ▲
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
//!
//! # Files, one per phase
//!
//! This file is the public surface (construction, `poll_*`, `handle_*` and their dispatch).
//! `state.rs` holds the data: [`Connection`]'s fields and the `State` enum, whose variants
//! carry what belongs to one phase only. The phases: `handshake.rs` (Noise, ClientPayload),
//! `login.rs` (the first stanza: success, failure, stream errors; the post-login steps; logout),
//! `pairing.rs` (QR rotation, pair-success, pair codes), `keepalive.rs`, `prekeys.rs`,
//! `notify.rs` (server IQs and their dispatch, notifications, `ib`), `iq.rs` (IQ ids and
//! deadlines), `types.rs` (config, credentials, events, causes). Every stanza is built and
//! parsed by a typed struct in [`crate::stanza`] or [`crate::pairing::stanza`].
//!
//! Messaging is `messages.rs`: the ids of messages in flight, each waiting for the server's
//! `<ack>` (or its error) with a deadline, modelled on `iq.rs`'s tracker (its state sits beside
//! the IQ tracker in [`Connection`]); incoming `<message>` and `<receipt>` stanzas become typed
//! events, malformed ones are nacked.

mod handshake;
mod in_flight;
mod iq;
mod keepalive;
mod login;
mod messages;
mod notify;
mod pairing;
mod prekeys;
mod state;
mod types;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use rand_core::CryptoRngCore;

pub use state::Connection;
pub use types::{
    Config, Credentials, DisconnectCause, Event, LinkedDevice, LogoutReason, Millis, Reconnect,
};

use crate::binary::Node;
use crate::error::Error;
use crate::ids::PhoneNumber;
use crate::noise::Dial;
use crate::signal::{KeyPair, PublicKey};
use crate::stanza::{IqRequest, RemoveCompanionDevice};
use in_flight::MessageTracker;
use iq::{IqPurpose, IqTracker};
use state::{Handshake, Stage, State};

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
    /// Send a node as is (receipts, acks, presence).
    Send(Node),
    /// Send a `<message>` and track its id: the server's ack comes back as
    /// [`Event::MessageAcked`] or [`Event::MessageRejected`], or [`Event::MessageUnconfirmed`]
    /// when none came by [`Config::message_timeout_ms`] or before the connection closed.
    SendMessage(Box<crate::stanza::MessageStanza>),
    /// Upload these one-time prekeys (answer to [`Event::PreKeysNeeded`], after storing them).
    UploadPreKeys(Vec<(u32, PublicKey)>),
    /// Link by phone number instead of QR (registration connections only): sends the
    /// companion_hello; the code to type on the phone comes back as [`Event::PairCode`].
    PairPhone {
        /// The account's phone number.
        phone: PhoneNumber,
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
        let (dial, first) = Dial::start(KeyPair::generate(&mut rng), config.max_frame);
        let transmits = VecDeque::from([first]);
        let iqs = IqTracker::new(&mut rng);
        let handshake = Handshake {
            dial,
            deadline: now.after(config.handshake_timeout_ms),
        };
        Self {
            config,
            creds,
            rng,
            state: State::Handshake(Box::new(handshake)),
            iqs,
            messages: MessageTracker::default(),
            transmits,
            events: VecDeque::new(),
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        match &self.state {
            State::Handshake(_) => Phase::Handshake,
            State::Open(open) => match open.stage {
                Stage::AwaitingServer(_) => Phase::AwaitingServer,
                Stage::Unpaired(_) => Phase::Unpaired,
                Stage::LoggedIn(_) => Phase::LoggedIn,
            },
            State::Closed(_) => Phase::Closed,
        }
    }

    /// Whether the connection is over (the driver should close the socket).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    /// Why the connection ended, once it has.
    pub fn disconnect_cause(&self) -> Option<&DisconnectCause> {
        match &self.state {
            State::Closed(cause) => Some(cause),
            State::Handshake(_) | State::Open(_) => None,
        }
    }

    /// How many sent messages wait for the server's ack.
    pub fn messages_in_flight(&self) -> usize {
        self.messages.len()
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
        let open = match &self.state {
            State::Closed(_) => return None,
            State::Handshake(hs) => return Some(hs.deadline),
            State::Open(open) => open,
        };
        let stage_deadline = match &open.stage {
            Stage::AwaitingServer(a) => a.deadline,
            Stage::Unpaired(u) => u.qr.rotate_at,
            Stage::LoggedIn(_) => None,
        };
        [
            stage_deadline,
            self.iqs.next_deadline(),
            self.messages.next_deadline(),
            self.state.keepalive().map(|k| k.next_ping),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Bytes read from the socket.
    pub fn handle_input(&mut self, data: &[u8], now: Millis) {
        match &mut self.state {
            State::Closed(_) => return,
            State::Handshake(hs) => {
                hs.dial.push(data);
                self.advance_handshake(now);
            }
            State::Open(open) => open.transport.push(data),
        }
        while let State::Open(open) = &mut self.state {
            match open.transport.next_node() {
                Ok(Some(node)) => self.handle_node(node, now),
                Ok(None) => break,
                Err(e) => self.close(DisconnectCause::Protocol(e)),
            }
        }
    }

    /// The socket closed underneath us.
    pub fn handle_socket_closed(&mut self) {
        self.close(DisconnectCause::Transport);
    }

    /// Time has passed; fire whatever is due.
    pub fn handle_timeout(&mut self, now: Millis) {
        let deadline = match &self.state {
            State::Closed(_) => return,
            State::Handshake(hs) => Some(hs.deadline),
            State::Open(open) => match &open.stage {
                Stage::AwaitingServer(a) => a.deadline,
                Stage::Unpaired(_) | Stage::LoggedIn(_) => None,
            },
        };
        if deadline.is_some_and(|d| now >= d) {
            self.close(DisconnectCause::HandshakeTimeout);
            return;
        }
        for (id, purpose) in self.iqs.expire(now) {
            self.iq_failed(&id, purpose, None);
            if self.is_closed() {
                return;
            }
        }
        self.expire_messages(now);
        if self.state.keepalive().is_some_and(|k| now >= k.next_ping) {
            self.send_ping(now);
        }
        self.rotate_qr_if_due(now);
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
            Command::SendMessage(message) => self.send_message(&message, now),
            Command::UploadPreKeys(keys) => self.upload_prekeys(keys, now),
            Command::PairPhone {
                phone,
                show_push_notification,
            } => self.pair_phone(&phone, show_push_notification, now),
            Command::Logout => self.logout(now),
            Command::Close => self.close(DisconnectCause::Requested),
        }
    }

    /// One stanza from the server.
    fn handle_node(&mut self, node: Node, now: Millis) {
        if let Some(Stage::AwaitingServer(a)) = self.state.stage_mut() {
            // Any stanza after the handshake ends the handshake budget.
            a.deadline = None;
        }
        match node.tag.as_str() {
            "iq" => self.handle_iq(node, now),
            "success" => self.handle_success(&node, now),
            "failure" => self.handle_failure(&node),
            "stream:error" => self.handle_stream_error(&node),
            "xmlstreamend" => self.close(DisconnectCause::ServerClosed),
            "ib" => self.handle_ib(node),
            "notification" => self.handle_notification(node, now),
            "ack" => self.handle_ack(node),
            "message" => self.handle_message(node),
            "receipt" => self.handle_receipt(node),
            _ => self.events.push_back(Event::Stanza(node)),
        }
    }

    // ---- output ----

    fn send_node(&mut self, node: &Node) {
        let State::Open(open) = &mut self.state else {
            return;
        };
        let mut out = Vec::new();
        match open.transport.encode_node(node, &mut out) {
            Ok(()) => self.transmits.push_back(out),
            Err(error) => self.events.push_back(Event::SendFailed { error }),
        }
    }

    fn send_iq(&mut self, request: IqRequest, purpose: IqPurpose, now: Millis) -> String {
        let timeout = match purpose {
            IqPurpose::Ping => self.config.ping_timeout_ms,
            _ => self.config.iq_timeout_ms,
        };
        let id = self.iqs.register(purpose, now.after(timeout));
        self.send_node(&request.to_node(&id));
        id
    }

    /// Ends the connection (once): pending application IQs get `None`, then `Disconnected`.
    fn close(&mut self, cause: DisconnectCause) {
        if !self.is_closed() {
            self.enter_closed(cause);
        }
    }

    /// Enters `Closed` whatever the state (the handshake takes its state out first).
    fn enter_closed(&mut self, cause: DisconnectCause) {
        self.state = State::Closed(cause.clone());
        for (_, purpose) in self.iqs.drain() {
            if let IqPurpose::External(token) = purpose {
                self.events.push_back(Event::IqResponse {
                    token,
                    response: None,
                });
            }
        }
        self.drain_messages();
        self.events.push_back(Event::Disconnected { cause });
    }

    /// The application's logout: `remove-companion-device`, or at once when not linked.
    fn logout(&mut self, now: Millis) {
        let Some(jid) = self.creds.device.as_ref().map(|d| d.jid.clone()) else {
            self.logged_out_by_us();
            return;
        };
        let request = RemoveCompanionDevice::user_initiated(jid).request();
        self.send_iq(request, IqPurpose::Logout, now);
    }

    /// Closes a connection the server broke: `error` says how.
    fn protocol_error(&mut self, error: impl Into<Error>) {
        self.close(DisconnectCause::Protocol(error.into()));
    }
}

//! The machine's data: the [`Connection`] fields and its [`State`], one variant per phase, each
//! holding what only that phase needs (a leaf module: the phase files read it, never the other
//! way round).

use std::collections::VecDeque;

use rand_core::CryptoRngCore;

use super::in_flight::MessageTracker;
use super::iq::IqTracker;
use super::types::{Config, Credentials, DisconnectCause, Event};
use crate::binary::Jid;
use crate::noise::{Dial, FramedTransport};
use crate::pairing::PairCodeRequest;
use crate::time::Millis;

/// The state machine. `R` is the injected RNG.
pub struct Connection<R: CryptoRngCore> {
    pub(super) config: Config,
    pub(super) creds: Credentials,
    pub(super) rng: R,
    pub(super) state: State,
    /// IQ ids in flight (ids are allocated from the connection's start, across phases).
    pub(super) iqs: IqTracker,
    /// Message ids sent and waiting for the server's ack.
    pub(super) messages: MessageTracker,
    pub(super) transmits: VecDeque<Vec<u8>>,
    pub(super) events: VecDeque<Event>,
}

/// Where the connection is, with the data of that phase.
pub(super) enum State {
    /// Noise handshake under way.
    Handshake(Box<Handshake>),
    /// Handshake done: the transport is up.
    Open(Box<Open>),
    /// Over, and why.
    Closed(DisconnectCause),
}

/// ClientHello sent; waiting for the ServerHello.
pub(super) struct Handshake {
    pub(super) dial: Dial,
    /// The handshake budget.
    pub(super) deadline: Millis,
}

/// The established transport and the session stage on top of it.
pub(super) struct Open {
    pub(super) transport: FramedTransport,
    pub(super) stage: Stage,
}

/// The stages after the handshake.
pub(super) enum Stage {
    /// Waiting for the server's first stanza.
    AwaitingServer(AwaitingServer),
    /// Registration: showing QR codes or waiting for a pair code to be typed.
    Unpaired(Unpaired),
    /// Logged in.
    LoggedIn(Box<LoggedIn>),
}

/// Handshake done, first stanza not yet read.
#[derive(Default)]
pub(super) struct AwaitingServer {
    /// The first stanza must arrive by then; cleared by any stanza.
    pub(super) deadline: Option<Millis>,
    /// A pair-code request made before the server's pair-device.
    pub(super) pair_code: Option<PairCodeFlow>,
}

/// Registration: QR refs shown in turn, possibly a pair code under way.
pub(super) struct Unpaired {
    pub(super) qr: QrRotation,
    pub(super) keepalive: KeepAlive,
    pub(super) pair_code: Option<PairCodeFlow>,
}

/// The QR refs of pair-device, front first, and when the front one expires.
pub(super) struct QrRotation {
    pub(super) refs: VecDeque<String>,
    pub(super) rotate_at: Option<Millis>,
}

/// A phone-number linking under way: the request and the phone's JID.
pub(super) struct PairCodeFlow {
    pub(super) request: PairCodeRequest,
    pub(super) phone: Jid,
}

/// Logged in; `Event::Connected` goes out once prekeys are ensured and `active` is acknowledged.
pub(super) struct LoggedIn {
    pub(super) keepalive: KeepAlive,
    pub(super) jid: Option<Jid>,
    pub(super) lid: Option<Jid>,
    pub(super) server_time: u64,
    pub(super) active_done: bool,
    pub(super) prekeys_done: bool,
    pub(super) connected_sent: bool,
    /// `Event::PreKeysNeeded` sent and not yet answered by an upload.
    pub(super) prekeys_requested: bool,
}

/// The keepalive ping schedule.
pub(super) struct KeepAlive {
    pub(super) next_ping: Millis,
    pub(super) failures: u32,
}

impl State {
    /// The stage, when the transport is up.
    pub(super) fn stage_mut(&mut self) -> Option<&mut Stage> {
        match self {
            State::Open(open) => Some(&mut open.stage),
            State::Handshake(_) | State::Closed(_) => None,
        }
    }

    /// The stage, when the transport is up.
    pub(super) fn stage(&self) -> Option<&Stage> {
        match self {
            State::Open(open) => Some(&open.stage),
            State::Handshake(_) | State::Closed(_) => None,
        }
    }

    /// The keepalive schedule of the stages that ping.
    pub(super) fn keepalive(&self) -> Option<&KeepAlive> {
        match self.stage()? {
            Stage::Unpaired(u) => Some(&u.keepalive),
            Stage::LoggedIn(l) => Some(&l.keepalive),
            Stage::AwaitingServer(_) => None,
        }
    }

    /// The keepalive schedule, mutably.
    pub(super) fn keepalive_mut(&mut self) -> Option<&mut KeepAlive> {
        match self.stage_mut()? {
            Stage::Unpaired(u) => Some(&mut u.keepalive),
            Stage::LoggedIn(l) => Some(&mut l.keepalive),
            Stage::AwaitingServer(_) => None,
        }
    }

    /// The pair-code flow of a registration connection, if one is under way.
    pub(super) fn pair_code_mut(&mut self) -> Option<&mut Option<PairCodeFlow>> {
        match self.stage_mut()? {
            Stage::AwaitingServer(a) => Some(&mut a.pair_code),
            Stage::Unpaired(u) => Some(&mut u.pair_code),
            Stage::LoggedIn(_) => None,
        }
    }

    /// The logged-in data.
    pub(super) fn logged_in_mut(&mut self) -> Option<&mut LoggedIn> {
        match self.stage_mut()? {
            Stage::LoggedIn(l) => Some(l),
            Stage::AwaitingServer(_) | Stage::Unpaired(_) => None,
        }
    }
}

//! What the simulator reports to its harness: [`SimEvent`], per connection ([`ConnId`]).

use std::net::SocketAddr;
use std::sync::Arc;

use wa_protocol::binary::{Jid, Node};
use wa_protocol::noise::Intro;
use wa_protocol::payload::{CheckedPayload, PayloadError};
use wa_protocol::signal::PublicKey;
use wa_protocol::PhoneNumber;

use crate::error::SimError;

/// Identifies one client connection for the lifetime of the server.
pub type ConnId = u64;

/// What the simulator reports to its harness.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SimEvent {
    /// A WebSocket connection was accepted.
    Connected {
        /// Connection id.
        conn: ConnId,
        /// Remote address.
        peer: SocketAddr,
    },
    /// The Noise handshake completed and the ClientPayload was decoded and checked.
    ClientPayload {
        /// Connection id.
        conn: ConnId,
        /// The client's Noise static key, proven by the handshake.
        client_static: PublicKey,
        /// The intro the client sent.
        intro: Intro,
        /// The checked payload, or why it was refused (the connection is then closed).
        payload: Result<CheckedPayload, PayloadError>,
    },
    /// A companion finished pairing (pair-device-sign verified); 515 follows.
    Paired {
        /// Connection id.
        conn: ConnId,
        /// The companion's device JID.
        jid: Jid,
    },
    /// A companion asked for a pair code for this phone number.
    PairCodeRequested {
        /// Connection id.
        conn: ConnId,
        /// The phone number.
        phone: PhoneNumber,
    },
    /// Pairing failed on this connection.
    PairingFailed {
        /// Connection id.
        conn: ConnId,
        /// Why.
        error: Arc<SimError>,
    },
    /// A companion logged in (`<success>` sent).
    LoggedIn {
        /// Connection id.
        conn: ConnId,
        /// The companion's device JID.
        jid: Jid,
    },
    /// A companion uploaded prekeys.
    PreKeysUploaded {
        /// Connection id.
        conn: ConnId,
        /// How many one-time prekeys.
        count: usize,
    },
    /// A companion was removed (by itself or by the phone).
    DeviceRemoved {
        /// Connection id (0 if it was offline).
        conn: ConnId,
        /// The removed device.
        jid: Jid,
    },
    /// The handshake or the transport failed; the connection was closed.
    ProtocolError {
        /// Connection id.
        conn: ConnId,
        /// What went wrong.
        error: Arc<SimError>,
    },
    /// A node arrived from the client.
    Stanza {
        /// Connection id.
        conn: ConnId,
        /// The decoded node.
        node: Node,
    },
    /// A simulated phone decrypted a message and recorded it in its inbox (read it with
    /// `SimServer::phone_messages`).
    PhoneReceived {
        /// The phone's number.
        phone: PhoneNumber,
        /// The message id.
        id: String,
    },
    /// The connection ended.
    Disconnected {
        /// Connection id.
        conn: ConnId,
    },
}

/// The device JID `phone:device@s.whatsapp.net`.
pub(crate) fn device_jid(phone: &PhoneNumber, device: u8) -> Jid {
    Jid::device(
        phone.as_str().to_owned(),
        u16::from(device),
        wa_protocol::binary::Server::WhatsApp,
    )
}

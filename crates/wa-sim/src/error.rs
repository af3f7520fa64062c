//! [`SimError`], the simulator's one error type, grouped by whose fault it is ([`SimFault`]).

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use wa_protocol::pairing::PairError;
use wa_protocol::{IdError, PhoneNumber};

/// Errors of the simulator: its admin API and Rust handle, its listener, and (reported as
/// [`SimEvent::ProtocolError`](crate::SimEvent::ProtocolError)) its client connections.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    // ---- the harness's request is malformed (HTTP 400) ----
    /// Not a phone number (the one rule of [`PhoneNumber`]).
    #[error(transparent)]
    BadPhone(#[from] IdError),
    /// Not a companion device number (1 to 255).
    #[error("invalid device number {0:?}: expected 1 to 255")]
    BadDevice(String),
    /// The request body is not the JSON the route expects.
    #[error("malformed request body: {0}")]
    BadBody(#[source] JsonRejection),
    /// The QR text does not parse.
    #[error("bad QR: {0}")]
    BadQr(#[source] PairError),
    /// The pair code does not parse, or does not open the companion's request.
    #[error("bad pair code: {0}")]
    BadPairCode(#[source] PairError),
    /// A recipient (`to`) or chat that is neither a phone number nor a user JID, or a
    /// message id that is malformed.
    #[error("invalid recipient or id {0:?}")]
    BadAddress(String),
    /// A phone send request that names no kind, or more than one (`phone_kinds`).
    #[error("bad send request: {0}")]
    BadSend(&'static str),
    /// The router refused what the phone sent (the server ack's error code, `messaging.md` §8).
    #[error("the server refused the message with {0}")]
    Refused(u16),
    /// The QR's keys differ from what the connection proved in its handshake.
    #[error("QR keys do not match the connection")]
    QrMismatch,
    /// An upload to a path that is none of `media.md` §1's `/mms/<type>`.
    #[error("unknown media upload type {0:?}")]
    UnknownMmsType(String),
    /// An upload token that is not the URL-safe base64 of 32 bytes, or that differs between
    /// the path and the `token` query parameter (`media.md` §3).
    #[error("bad media upload token")]
    BadMediaToken,
    /// The uploaded body does not hash to the `fileEncSha256` its token names (`media.md` §3).
    #[error("the uploaded body does not match its token's hash")]
    MediaHashMismatch,
    /// The upload's body broke off or could not be read.
    #[error("media upload body: {0}")]
    MediaUpload(#[source] axum::Error),
    /// A phone media send that cannot be made: unknown kind, data that is not base64, …
    #[error("bad media request: {0}")]
    BadMedia(&'static str),
    /// A group change the group's rules refuse as malformed (an empty or overlong subject, no
    /// participants, too many).
    #[error("the group refused the request")]
    BadGroupRequest,

    // ---- the media server refuses the caller (HTTP 401, 403, 413) ----
    /// An upload without a live `auth` token from `media_conn`.
    #[error("media upload not authorized")]
    MediaAuth,
    /// A download whose `oh` signature is not its direct path's.
    #[error("media download signature does not match")]
    MediaSignature,
    /// An upload larger than the store takes (the limit in bytes).
    #[error("media larger than the {0} bytes the server keeps")]
    MediaTooLarge(u64),

    // ---- the phone may not do this (HTTP 403) ----
    /// The phone is not a participant of the group, or not an admin where one must be.
    #[error("not allowed in group {0}")]
    GroupForbidden(String),

    // ---- what the request names does not exist (HTTP 404) ----
    /// No account with this phone number.
    #[error("no account {0}")]
    NoAccount(PhoneNumber),
    /// No connection is showing this QR ref (expired, or never shown).
    #[error("no pending pairing for this QR")]
    UnknownQr,
    /// The account has no such companion device.
    #[error("no device {phone}:{device}")]
    NoDevice {
        /// The account.
        phone: PhoneNumber,
        /// The device number asked for.
        device: u8,
    },
    /// No group with this JID.
    #[error("no group {0}")]
    NoGroup(String),
    /// No companion is waiting for this phone to type a pair code.
    #[error("no pair-code request for {0}")]
    NoPairCodeRequest(PhoneNumber),
    /// No media stored under this direct path.
    #[error("no media at {0}")]
    NoMedia(String),
    /// The media under this direct path expired (HTTP 410).
    #[error("media at {0} has expired")]
    MediaGone(String),
    /// The connection the phone answers has gone (its [`ConnId`](crate::ConnId)).
    #[error("connection {0} is gone")]
    ConnectionGone(u64),

    // ---- the simulator's own environment (HTTP 500) ----
    /// The media store's disk failed.
    #[error("media storage: {0}")]
    MediaIo(#[source] std::io::Error),
    /// A simulated phone's own Signal state failed it (a sender key it cannot use).
    #[error("phone crypto: {0}")]
    Signal(#[source] wa_protocol::signal::SignalError),
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },

    // ---- what a client sent a simulated phone does not hold up ----
    /// A media message the phone received lacks what fetching it needs.
    #[error("media message: {0}")]
    MediaMessage(&'static str),
    /// A media file the phone fetched does not verify (MAC, hashes, length, key).
    #[error("media does not verify: {0}")]
    MediaVerify(#[source] wa_protocol::media::MediaError),

    // ---- a client connection failed (the connection is closed) ----
    /// The WebSocket failed.
    #[error("websocket: {0}")]
    WebSocket(#[from] axum::Error),
    /// The client broke the protocol (framing, Noise, binary nodes).
    #[error("protocol: {0}")]
    Protocol(#[from] wa_protocol::Error),
    /// The client did not send a handshake message in time.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// The client closed the socket during the handshake.
    #[error("client closed during the handshake")]
    ClosedEarly,
    /// The companion refused the pair-success with an error IQ.
    #[error("the companion refused the pairing: {code} {text}")]
    PairRefused {
        /// The error code it sent.
        code: u16,
        /// The error text it sent.
        text: String,
    },
    /// A `pair-device-sign` answered another IQ than the pair-success it should sign.
    #[error("pair-device-sign answers {got} instead of {expected}")]
    PairSignMismatch {
        /// The pair-success IQ id.
        expected: String,
        /// The id the client answered.
        got: String,
    },
}

/// Whose fault a [`SimError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimFault {
    /// The harness sent a malformed request.
    BadRequest,
    /// The request names something the simulated network does not have.
    NotFound,
    /// The phone may not do what the request asks (not a group participant or admin), or a
    /// media download's signature is wrong.
    Forbidden,
    /// A media upload without a live `auth` token.
    Unauthorized,
    /// A media upload larger than the store takes.
    TooLarge,
    /// Media that expired.
    Gone,
    /// The simulator's environment (sockets).
    Server,
    /// A client connection (the client, or the network under it).
    Client,
}

impl SimError {
    /// Whose fault this is: the admin API and the media endpoints answer 400, 401, 403, 404,
    /// 410, 413 or 500 from it.
    pub fn fault(&self) -> SimFault {
        match self {
            SimError::BadPhone(_)
            | SimError::BadDevice(_)
            | SimError::BadBody(_)
            | SimError::BadQr(_)
            | SimError::BadPairCode(_)
            | SimError::QrMismatch
            | SimError::BadAddress(_)
            | SimError::BadSend(_)
            | SimError::Refused(_)
            | SimError::BadGroupRequest
            | SimError::UnknownMmsType(_)
            | SimError::BadMediaToken
            | SimError::MediaHashMismatch
            | SimError::MediaUpload(_)
            | SimError::BadMedia(_) => SimFault::BadRequest,
            SimError::GroupForbidden(_) | SimError::MediaSignature => SimFault::Forbidden,
            SimError::MediaAuth => SimFault::Unauthorized,
            SimError::MediaTooLarge(_) => SimFault::TooLarge,
            SimError::MediaGone(_) => SimFault::Gone,
            SimError::NoAccount(_)
            | SimError::UnknownQr
            | SimError::NoDevice { .. }
            | SimError::NoPairCodeRequest(_)
            | SimError::ConnectionGone(_)
            | SimError::NoGroup(_)
            | SimError::NoMedia(_) => SimFault::NotFound,
            SimError::Bind { .. } | SimError::Signal(_) | SimError::MediaIo(_) => SimFault::Server,
            SimError::WebSocket(_)
            | SimError::Protocol(_)
            | SimError::HandshakeTimeout
            | SimError::ClosedEarly
            | SimError::PairRefused { .. }
            | SimError::PairSignMismatch { .. }
            | SimError::MediaMessage(_)
            | SimError::MediaVerify(_) => SimFault::Client,
        }
    }
}

impl From<wa_protocol::noise::HandshakeError> for SimError {
    fn from(e: wa_protocol::noise::HandshakeError) -> Self {
        SimError::Protocol(e.into())
    }
}

//! The crate's one error type, grouped by who is at fault.
//!
//! The HTTP layer chooses its status codes from [`Error::fault`] and [`Error::is_transient`]
//! alone, so every variant is classified explicitly (no catch-all arm): adding a variant fails
//! to compile until it is placed.

use tokio_tungstenite::tungstenite;
use wa_store::AccountId;

use crate::media_prepare::rejected::MediaRejected;
use crate::messaging::media::failure::{MediaFailure, MediaFault};

/// Who caused an error: decides the HTTP status, whether to retry, or whom to page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The caller asked for something impossible (unknown account, bad URL, already linked).
    Caller,
    /// The WhatsApp server (or wa-sim) broke the protocol or refused us.
    Peer,
    /// The network between us and the server (or the proxy) failed.
    Network,
    /// The session store failed, or holds data it cannot read.
    Storage,
    /// A bug of ours: a node we cannot encode, a task that panicked.
    Internal,
}

/// Everything wa-client can refuse. Variants are grouped by [`Fault`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ----- the caller's fault -----
    /// The URL is not a valid WebSocket URL.
    #[error("bad server URL: {0}")]
    BadUrl(String),
    /// The proxy URL is not `socks5://…` or `http://…` (the password is never shown).
    #[error("bad proxy URL (host part {0:?})")]
    BadProxy(String),
    /// No gateway account with this id.
    #[error("account {0} not found")]
    UnknownAccount(AccountId),
    /// The account is linked already (log out first to link it again).
    #[error("account {0} is already linked")]
    AlreadyLinked(AccountId),
    /// The account has no running session (connect it first).
    #[error("account {0} is not connected")]
    NotRunning(AccountId),
    /// The session runs but is not logged in (linking, or reconnecting): a query to the server
    /// would be refused.
    #[error("account {0} is not logged in")]
    NotLoggedIn(AccountId),
    /// A message cannot go to this address (1:1 sends take a user JID: a phone number or LID).
    #[error("cannot send a message to {0}")]
    BadRecipient(wa_protocol::binary::Jid),
    /// No message with this id in the account's outbox.
    #[error("no outbound message {0}")]
    UnknownMessage(String),
    /// A group subject must be non-blank and at most `stanza::MAX_SUBJECT_LEN` bytes.
    #[error("bad group subject {0:?}")]
    BadSubject(String),
    /// A group description must be at most `stanza::MAX_TOPIC_LEN` bytes (this many were given).
    #[error("group description too long ({0} bytes)")]
    BadTopic(usize),
    /// A message with this id was accepted before (the caller's id is an idempotency key):
    /// nothing was sent again; the entry tells its outcome (`recover.rs` answers with it).
    #[error("message {} was accepted before", .0.message_id)]
    AlreadyAccepted(Box<wa_store::OutboxEntry>),
    /// This id was accepted before for another message (another chat or content).
    #[error("message id {0} is already used by another message")]
    IdConflict(String),
    /// An outgoing file was refused before anything was uploaded: its bytes are not what the
    /// caller declared, or it is too large for its kind (see [`MediaRejected`]).
    #[error("bad media: {0}")]
    BadMedia(#[from] MediaRejected),

    // ----- the peer's fault (server verdicts on what we sent) -----
    /// The server refused the message: its ack carried this `error` code (400, 463, 479, …;
    /// `messaging.md` §8, §16). The message is `Failed{code}`, never sent.
    #[error("the server refused message {id} with code {code}")]
    Rejected {
        /// The message id.
        id: String,
        /// The server's code.
        code: u16,
    },
    /// An IQ the send depends on (usync, prekey bundles) was refused with this code.
    #[error("the server refused the {what} query with code {code}")]
    IqRefused {
        /// Which query.
        what: &'static str,
        /// The server's code.
        code: u16,
    },
    /// No device of the recipient could be encrypted for (no devices, no bundles).
    #[error("no device of {0} can receive the message")]
    NoDevices(wa_protocol::binary::Jid),
    /// A LID-migrated account addresses DMs by LID, and the server knows no LID for this phone
    /// number (usync answered without `<lid val>`; `messaging.md` §0, §16).
    #[error("the server knows no LID for {0}")]
    NoLid(wa_protocol::binary::Jid),

    // ----- the peer's fault (or the protocol's verdict on it) -----
    /// The server broke the protocol, failed authentication, or we could not encode a node
    /// (see [`wa_protocol::Error::fault`]).
    #[error("protocol: {0}")]
    Protocol(#[from] wa_protocol::Error),

    // ----- the network -----
    /// The network or WebSocket layer failed.
    #[error("websocket: {0}")]
    WebSocket(#[from] tungstenite::Error),
    /// The server did not answer in time.
    #[error("timed out during the {0}")]
    Timeout(&'static str),
    /// The server closed the connection.
    #[error("connection closed by the server")]
    Closed,
    /// The message left (durably committed) but no server ack came (timeout or disconnect):
    /// its outcome is unknown, its status stays short of "sent".
    #[error("message {0} unconfirmed: no server ack")]
    Unconfirmed(String),
    /// The session did not log in again within the send bound (`--send-timeout`): nothing
    /// was sent.
    #[error(
        "the session is not connected and did not log in again within {secs} s; nothing was sent"
    )]
    SessionDown {
        /// The account.
        account: AccountId,
        /// The bound, in seconds.
        secs: u64,
    },
    /// The message is in the outbox but the server did not confirm it within the send bound:
    /// it goes out (same id, once) when the session is back.
    #[error("message {id} is queued but was not confirmed within {secs} s; it is sent once the session is back")]
    NotConfirmed {
        /// The message id.
        id: String,
        /// The bound, in seconds.
        secs: u64,
    },
    /// The SOCKS5 proxy refused or failed the tunnel.
    #[error("SOCKS5 proxy: {0}")]
    Socks(#[from] tokio_socks::Error),
    /// The connection to the HTTP proxy failed.
    #[error("HTTP proxy: {0}")]
    ProxyIo(#[source] std::io::Error),
    /// The HTTP proxy answered `CONNECT` with something other than 200 (its status line).
    #[error("HTTP proxy refused CONNECT: {0}")]
    ProxyRefused(String),
    /// The HTTP proxy's response head exceeded the limit.
    #[error("HTTP proxy response head too long")]
    ProxyHeadTooLong,

    // ----- media (classified by its own fault) -----
    /// A media upload or download failed (see [`MediaFailure`]).
    #[error("media: {0}")]
    Media(#[from] MediaFailure),

    // ----- storage -----
    /// The session store failed (see [`wa_store::Error::fault`]).
    #[error("store: {0}")]
    Store(#[from] wa_store::Error),

    // ----- ours -----
    /// A blocking store task panicked or was cancelled.
    #[error("store task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<wa_protocol::noise::HandshakeError> for Error {
    fn from(e: wa_protocol::noise::HandshakeError) -> Self {
        Error::Protocol(e.into())
    }
}

impl Error {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            Error::BadUrl(_)
            | Error::BadProxy(_)
            | Error::UnknownAccount(_)
            | Error::AlreadyLinked(_)
            | Error::NotRunning(_)
            | Error::NotLoggedIn(_)
            | Error::BadRecipient(_)
            | Error::UnknownMessage(_)
            | Error::BadSubject(_)
            | Error::BadTopic(_)
            | Error::AlreadyAccepted(_)
            | Error::IdConflict(_)
            | Error::BadMedia(_) => Fault::Caller,
            Error::Rejected { .. }
            | Error::IqRefused { .. }
            | Error::NoDevices(_)
            | Error::NoLid(_) => Fault::Peer,
            Error::Protocol(e) => match e.fault() {
                wa_protocol::Fault::Peer => Fault::Peer,
                // We built something the protocol refuses to send: our bug.
                wa_protocol::Fault::Caller => Fault::Internal,
            },
            Error::WebSocket(e) => websocket_fault(e),
            Error::Timeout(_)
            | Error::Closed
            | Error::Unconfirmed(_)
            | Error::SessionDown { .. }
            | Error::NotConfirmed { .. }
            | Error::Socks(_)
            | Error::ProxyIo(_)
            | Error::ProxyRefused(_)
            | Error::ProxyHeadTooLong => Fault::Network,
            Error::Store(e) => match e.fault() {
                wa_store::Fault::Caller => Fault::Caller,
                wa_store::Fault::Storage | wa_store::Fault::Data => Fault::Storage,
            },
            Error::Task(_) => Fault::Internal,
            Error::Media(e) => match e.fault() {
                MediaFault::Caller => Fault::Caller,
                MediaFault::Peer => Fault::Peer,
                MediaFault::Network => Fault::Network,
                MediaFault::Storage => Fault::Storage,
            },
        }
    }

    /// Whether the same call may succeed later (reconnecting, or retrying the request).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::BadUrl(_)
            | Error::BadProxy(_)
            | Error::UnknownAccount(_)
            | Error::AlreadyLinked(_)
            | Error::NotRunning(_)
            | Error::NotLoggedIn(_)
            | Error::BadRecipient(_)
            | Error::UnknownMessage(_)
            | Error::BadSubject(_)
            | Error::BadTopic(_)
            | Error::AlreadyAccepted(_)
            | Error::IdConflict(_)
            | Error::BadMedia(_)
            | Error::Rejected { .. }
            | Error::NoDevices(_)
            | Error::NoLid(_)
            | Error::Task(_) => false,
            Error::IqRefused { code, .. } => *code >= 500,
            Error::Protocol(e) => e.is_transient(),
            Error::WebSocket(e) => websocket_fault(e) == Fault::Network,
            Error::Timeout(_)
            | Error::Closed
            | Error::Unconfirmed(_)
            | Error::SessionDown { .. }
            | Error::NotConfirmed { .. }
            | Error::Socks(_)
            | Error::ProxyIo(_)
            | Error::ProxyRefused(_)
            | Error::ProxyHeadTooLong => true,
            Error::Store(e) => e.is_transient(),
            Error::Media(e) => e.is_transient(),
        }
    }
}

/// Who is at fault for a WebSocket error.
fn websocket_fault(e: &tungstenite::Error) -> Fault {
    use tungstenite::Error as E;
    match e {
        E::Url(_) | E::HttpFormat(_) => Fault::Caller,
        // The server refused the upgrade: a 5xx may pass, anything else is its verdict.
        E::Http(response) if response.status().is_server_error() => Fault::Network,
        E::Http(_) | E::Protocol(_) | E::Utf8(_) | E::AttackAttempt | E::Capacity(_) => Fault::Peer,
        E::ConnectionClosed | E::Io(_) | E::Tls(_) | E::WriteBufferFull(_) => Fault::Network,
        // Reading or writing after the close: our bug.
        E::AlreadyClosed => Fault::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wa_protocol::binary::EncodeError;
    use wa_protocol::noise::{FrameError, HandshakeError};

    fn id() -> AccountId {
        AccountId::from_bytes([7; 16])
    }

    #[test]
    fn caller_errors_are_permanent() {
        for e in [
            Error::BadUrl("x".into()),
            Error::BadProxy("h".into()),
            Error::UnknownAccount(id()),
            Error::AlreadyLinked(id()),
            Error::NotRunning(id()),
            Error::BadRecipient(wa_protocol::binary::Jid::group("1203")),
            Error::UnknownMessage("3EB0AA".into()),
        ] {
            assert_eq!(e.fault(), Fault::Caller, "{e}");
            assert!(!e.is_transient(), "{e}");
        }
    }

    #[test]
    fn server_verdicts_on_sends_are_the_peers() {
        let rejected = Error::Rejected {
            id: "3EB0AA".into(),
            code: 463,
        };
        let no_devices = Error::NoDevices(wa_protocol::binary::Jid::user(
            "15550001111",
            wa_protocol::binary::Server::WhatsApp,
        ));
        for e in [rejected, no_devices] {
            assert_eq!(e.fault(), Fault::Peer, "{e}");
            assert!(
                !e.is_transient(),
                "a refusal is not retried blindly (§16): {e}"
            );
        }
        let busy = Error::IqRefused {
            what: "usync",
            code: 503,
        };
        assert!(busy.is_transient() && busy.fault() == Fault::Peer);
        let refused = Error::IqRefused {
            what: "usync",
            code: 400,
        };
        assert!(!refused.is_transient());
    }

    #[test]
    fn network_errors_are_transient() {
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        for e in [
            Error::Timeout("server hello"),
            Error::Closed,
            Error::Unconfirmed("3EB0AA".into()),
            Error::ProxyIo(io()),
            Error::ProxyRefused("HTTP/1.1 407".into()),
            Error::ProxyHeadTooLong,
            Error::Socks(tokio_socks::Error::ProxyServerUnreachable),
            Error::WebSocket(tungstenite::Error::Io(io())),
            Error::WebSocket(tungstenite::Error::ConnectionClosed),
        ] {
            assert_eq!(e.fault(), Fault::Network, "{e}");
            assert!(e.is_transient(), "{e}");
        }
    }

    #[test]
    fn websocket_errors_by_cause() {
        let url = Error::WebSocket(tungstenite::Error::Url(
            tungstenite::error::UrlError::NoHostName,
        ));
        assert_eq!((url.fault(), url.is_transient()), (Fault::Caller, false));
        let refused = |status: u16| {
            let response = tungstenite::http::Response::builder()
                .status(status)
                .body(None)
                .expect("response");
            Error::WebSocket(tungstenite::Error::Http(Box::new(response)))
        };
        assert_eq!(
            (refused(403).fault(), refused(403).is_transient()),
            (Fault::Peer, false)
        );
        assert_eq!(
            (refused(503).fault(), refused(503).is_transient()),
            (Fault::Network, true)
        );
        let closed = Error::WebSocket(tungstenite::Error::AlreadyClosed);
        assert_eq!(
            (closed.fault(), closed.is_transient()),
            (Fault::Internal, false)
        );
    }

    #[test]
    fn protocol_errors_follow_the_protocols_verdict() {
        let peer = Error::from(wa_protocol::Error::Frame(FrameError::TooLarge {
            len: 1 << 30,
            max: 1 << 20,
        }));
        assert_eq!((peer.fault(), peer.is_transient()), (Fault::Peer, false));
        let ours = Error::from(wa_protocol::Error::Encode(EncodeError::EmptyTag));
        assert_eq!(
            (ours.fault(), ours.is_transient()),
            (Fault::Internal, false)
        );
        let counter = Error::from(HandshakeError::CounterExhausted);
        assert_eq!(
            (counter.fault(), counter.is_transient()),
            (Fault::Internal, true)
        );
    }

    #[test]
    fn store_errors_follow_the_stores_verdict() {
        let caller = Error::from(wa_store::Error::AccountNotFound(id()));
        assert_eq!(
            (caller.fault(), caller.is_transient()),
            (Fault::Caller, false)
        );
        let locked = Error::from(wa_store::Error::Locked {
            path: "/tmp/x".into(),
        });
        assert_eq!(
            (locked.fault(), locked.is_transient()),
            (Fault::Storage, true)
        );
        let flush = Error::from(wa_store::Error::FlushFailed {
            cause: std::sync::Arc::new(wa_store::Error::Locked {
                path: "/tmp/x".into(),
            }),
        });
        assert_eq!(
            (flush.fault(), flush.is_transient()),
            (Fault::Storage, false)
        );
        let corrupt = Error::from(wa_store::Error::Foreign {
            path: "/tmp/x".into(),
            reason: "no marker",
        });
        assert_eq!(
            (corrupt.fault(), corrupt.is_transient()),
            (Fault::Storage, false)
        );
    }
}

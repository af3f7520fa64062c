//! The one event type that leaves wa-client: what the HTTP API's webhooks, the CLI and the tests
//! map from. Each names its account and the time it was emitted; protocol events that concern
//! nobody outside (IQ answers, edge routing) stay inside.

use std::time::Duration;

use wa_protocol::binary::{Jid, Node};
use wa_protocol::connection::{DisconnectCause, LogoutReason};
use wa_protocol::time::Millis;
use wa_protocol::MessageId;
use wa_store::{AccountId, MessageStatus};

use crate::messaging::types::{GroupMember, GroupUpdate, ReceivedText};

/// One account's event.
#[derive(Debug, Clone)]
pub struct Event {
    /// The gateway account it concerns.
    pub account: AccountId,
    /// When it was emitted (the client's clock).
    pub at: Millis,
    /// What happened.
    pub kind: EventKind,
}

/// What happened to an account.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventKind {
    /// Opening a connection (attempt number since the last login, from 0).
    Connecting {
        /// Attempt since the last success.
        attempt: u32,
    },
    /// Show this QR code (each rotation emits a new one).
    Qr {
        /// The QR text.
        code: String,
        /// When the next code replaces it.
        expires_at: Millis,
    },
    /// Every QR code expired unscanned; the session stops.
    QrTimeout,
    /// Type this code on the phone (Linked devices → Link with phone number).
    PairCode {
        /// `XXXX-XXXX`.
        code: String,
    },
    /// Linked to the phone and stored; a restart and the first login follow.
    Paired {
        /// Our device JID.
        jid: Jid,
        /// Our LID, if the phone sent it.
        lid: Option<Jid>,
        /// The primary's platform (e.g. `android`), if sent.
        platform: Option<String>,
        /// The business name, for business accounts.
        business_name: Option<String>,
    },
    /// Pairing failed (the wire code and text of the error answer).
    PairError {
        /// Wire code.
        code: u16,
        /// Wire text.
        text: String,
    },
    /// Logged in and ready.
    Connected {
        /// Our device JID.
        jid: Jid,
        /// Our LID.
        lid: Option<Jid>,
    },
    /// One-time prekeys were stored and uploaded.
    PreKeysUploaded {
        /// How many.
        count: usize,
    },
    /// A keepalive ping went unanswered.
    KeepAliveTimeout {
        /// Consecutive failures.
        failures: u32,
    },
    /// Keepalive pings are answered again.
    KeepAliveRestored,
    /// The server says this client version is too old.
    ClientOutdated,
    /// The account is temporarily banned.
    TemporaryBan {
        /// Reason code.
        code: u16,
        /// How long it lasts.
        expires_in: Duration,
    },
    /// The server sent a stream error.
    StreamError {
        /// Its code.
        code: Option<u16>,
    },
    /// The session is gone and its keys are wiped; linking again needs a new QR.
    LoggedOut {
        /// Why.
        reason: LogoutReason,
    },
    /// The connection ended. `reconnect_in` is `None` when no reconnect follows.
    Disconnected {
        /// Why.
        cause: DisconnectCause,
        /// Delay before the next attempt, if one follows.
        reconnect_in: Option<Duration>,
    },
    /// A stanza for higher layers (notifications, calls, …).
    Stanza(Node),
    /// A message was received, decrypted and committed (reported exactly once).
    Message(Box<ReceivedText>),
    /// An outbound message's durable status moved forward (server ack, delivery or read
    /// receipt, or a server rejection).
    MessageStatus {
        /// The message id.
        id: MessageId,
        /// Its new status.
        status: MessageStatus,
    },
    /// A group we are in changed (one event per change of a `w:gp2` notification; the
    /// [`EventKind::Stanza`] with the notification itself follows).
    GroupChanged {
        /// The group.
        group: Jid,
        /// What changed.
        change: GroupUpdate,
        /// Who changed it, when the notification says.
        by: Option<GroupMember>,
    },
    /// The account's task ended (stopped, logged out, replaced, refused, or failed to start).
    Stopped,
}

impl EventKind {
    /// Whether a reconnect follows (`false` for every event but a [`EventKind::Disconnected`]
    /// with a scheduled attempt).
    pub fn will_reconnect(&self) -> bool {
        matches!(
            self,
            EventKind::Disconnected {
                reconnect_in: Some(_),
                ..
            }
        )
    }
}

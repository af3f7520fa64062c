//! The connection's configuration, credentials, events and causes.

use crate::binary::Jid;
use crate::error::Error;
use crate::ids::MessageId;
use crate::noise::{HandshakeError, TrustRoot, MAX_FRAME_LEN};
use crate::payload::ClientIdentity;
use crate::signal::keys::{generate_registration_id, SignedPreKey};
use crate::signal::{KeyPair, Signature};
use crate::stanza::{FailureReason, IqResponse, MessageStanza, Receipt};
pub use crate::time::Millis;

/// Tunables, all with production defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Key the server certificate chain must lead to.
    pub trust: TrustRoot,
    /// How the client describes itself in the ClientPayload.
    pub identity: ClientIdentity,
    /// The QR code's last field and the pair-code `companion_platform_id` (companion web
    /// client type, `login-pairing.md` §4.2).
    pub qr_client_type: char,
    /// `companion_platform_display` of pair-code linking: `"Browser (OS)"`.
    pub platform_display: String,
    /// Largest frame accepted.
    pub max_frame: usize,
    /// Budget for the handshake and for the server's first stanza (20 s).
    pub handshake_timeout_ms: u64,
    /// Deadline for an IQ answer (60 s).
    pub iq_timeout_ms: u64,
    /// Deadline for the server's ack of a sent `<message>` (60 s).
    pub message_timeout_ms: u64,
    /// Keepalive ping interval, drawn uniformly in `[min, max]` (20–30 s like whatsmeow).
    pub ping_interval_ms: (u64, u64),
    /// Deadline for a ping answer (10 s).
    pub ping_timeout_ms: u64,
    /// Consecutive unanswered pings that close the connection (3).
    pub max_ping_failures: u32,
    /// How long the first QR ref is shown (60 s).
    pub qr_first_ms: u64,
    /// How long each later ref is shown (20 s).
    pub qr_next_ms: u64,
    /// Refill prekeys when the server holds fewer than this (5).
    pub min_prekeys: u32,
    /// Prekeys to hold on the server after an upload (812).
    pub upload_prekeys: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            trust: TrustRoot::production(),
            identity: ClientIdentity::default(),
            qr_client_type: '1',
            platform_display: "Chrome (Linux)".to_owned(),
            max_frame: MAX_FRAME_LEN,
            handshake_timeout_ms: 20_000,
            iq_timeout_ms: 60_000,
            message_timeout_ms: 60_000,
            ping_interval_ms: (20_000, 30_000),
            ping_timeout_ms: 10_000,
            max_ping_failures: 3,
            qr_first_ms: 60_000,
            qr_next_ms: 20_000,
            min_prekeys: 5,
            upload_prekeys: 812,
        }
    }
}

/// What this companion is once linked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedDevice {
    /// Our device JID `PHONE:DEVICE@s.whatsapp.net`.
    pub jid: Jid,
    /// Our LID `LID:DEVICE@lid`, if known.
    pub lid: Option<Jid>,
    /// The primary's platform name (e.g. `android`).
    pub platform: Option<String>,
    /// Business name, for business accounts.
    pub business_name: Option<String>,
    /// The full ADVSignedDeviceIdentity (with account key and our device signature).
    pub account: Vec<u8>,
    /// Our key index in the account's device list.
    pub key_index: u32,
    /// The account is LID-migrated: pair-success `<client-props>` said `isChatDbLidMigrated`
    /// (`login-pairing.md` §4.4), so DMs are addressed by LID (`messaging.md` §16).
    pub lid_migrated: bool,
}

/// The long-lived key material and identity of a companion device.
#[derive(Clone)]
pub struct Credentials {
    /// Noise static key (proves who we are at login).
    pub noise_key: KeyPair,
    /// Signal identity key.
    pub identity: KeyPair,
    /// Signal registration id.
    pub registration_id: u32,
    /// Signed prekey id.
    pub signed_prekey_id: u32,
    /// Signed prekey.
    pub signed_prekey: KeyPair,
    /// Signature by the identity over `0x05 ‖ signed prekey`.
    pub signed_prekey_signature: Signature,
    /// Secret shared with the phone through the QR (or derived in pair-code linking).
    pub adv_secret: [u8; 32],
    /// Set once linked.
    pub device: Option<LinkedDevice>,
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("noise_key", &self.noise_key.public)
            .field("identity", &self.identity.public)
            .field("registration_id", &self.registration_id)
            .field("device", &self.device.as_ref().map(|d| d.jid.to_string()))
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Fresh credentials for a new, unlinked companion.
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        let noise_key = KeyPair::generate(rng);
        let identity = KeyPair::generate(rng);
        // Keys come from the one generator in `signal`; the creation time is not kept here.
        let signed = SignedPreKey::generate(&identity, 1, 0, rng);
        let mut adv_secret = [0u8; 32];
        rng.fill_bytes(&mut adv_secret);
        let registration_id = generate_registration_id(rng);
        Self {
            noise_key,
            identity,
            registration_id,
            signed_prekey_id: signed.id,
            signed_prekey: signed.key_pair,
            signed_prekey_signature: signed.signature,
            adv_secret,
            device: None,
        }
    }
}

/// Why the session was logged out (keys must be wiped).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogoutReason {
    /// We asked (`remove-companion-device`).
    UserInitiated,
    /// The phone removed us (`<conflict type="device_removed"/>`).
    DeviceRemoved,
    /// The server refused the login (401, 403, 406).
    Failure(FailureReason),
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectCause {
    /// The socket dropped.
    Transport,
    /// The server ended the stream (`xmlstreamend`).
    ServerClosed,
    /// The handshake or the first stanza did not come in time.
    HandshakeTimeout,
    /// The handshake failed: the server's certificate or MACs did not verify (see
    /// [`HandshakeError::fault`]).
    HandshakeFailed(HandshakeError),
    /// The connection broke the protocol: a malformed frame or stanza from the server, an IQ the
    /// connection depends on refused or unanswered, or a local failure to frame; the error says
    /// which and whose fault ([`Error::fault`], [`Error::is_transient`]).
    Protocol(Error),
    /// `515`: reconnect now (after pairing, or when the server asks).
    RestartRequired,
    /// Another connection took over; do not reconnect.
    Replaced,
    /// Logged out (see the preceding [`Event::LoggedOut`]).
    LoggedOut,
    /// The server refused the login.
    Failure(FailureReason),
    /// A stream error with this code.
    StreamError(Option<u16>),
    /// Pings went unanswered.
    KeepAliveTimeout,
    /// Every QR ref expired without a scan.
    QrTimeout,
    /// Pairing failed verification.
    PairFailed,
    /// The application asked to close.
    Requested,
}

/// How the driver should react to a disconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconnect {
    /// Reconnect at once (515 restart).
    Immediately,
    /// Reconnect after a backoff.
    WithBackoff,
    /// Do not reconnect.
    Never,
}

impl DisconnectCause {
    /// The reconnect policy for this cause: never for `replaced`, logouts, refusals and explicit
    /// closes; immediately for a 515 restart; with backoff for transient trouble.
    pub fn reconnect(&self) -> Reconnect {
        match self {
            DisconnectCause::RestartRequired => Reconnect::Immediately,
            DisconnectCause::Transport
            | DisconnectCause::ServerClosed
            | DisconnectCause::HandshakeTimeout
            | DisconnectCause::KeepAliveTimeout
            | DisconnectCause::StreamError(_)
            | DisconnectCause::Protocol(_) => Reconnect::WithBackoff,
            DisconnectCause::Failure(f) if f.is_transient() => Reconnect::WithBackoff,
            DisconnectCause::Failure(_)
            | DisconnectCause::HandshakeFailed(_)
            | DisconnectCause::Replaced
            | DisconnectCause::LoggedOut
            | DisconnectCause::QrTimeout
            | DisconnectCause::PairFailed
            | DisconnectCause::Requested => Reconnect::Never,
        }
    }
}

/// What the connection reports.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// Show this QR code until `expires_at`.
    Qr {
        /// The text to render as a QR code.
        code: String,
        /// When the next ref replaces it.
        expires_at: Millis,
    },
    /// Every QR ref expired.
    QrTimeout,
    /// Type this code (`XXXX-XXXX`) on the phone: Linked devices → Link with phone number.
    PairCode {
        /// The code, shown as `XXXX-XXXX`.
        code: String,
    },
    /// The phone linked us; persist the device before anything else.
    PairSuccess(LinkedDevice),
    /// Pairing failed (the reply was an error IQ).
    PairError {
        /// Wire code (401, 500).
        code: u16,
        /// Wire text (`hmac-mismatch`…).
        text: String,
    },
    /// Logged in and ready (prekeys ensured, active).
    Connected {
        /// Our device JID.
        jid: Jid,
        /// Our LID.
        lid: Option<Jid>,
        /// Server time at login (unix seconds).
        server_time: u64,
    },
    /// The server needs `count` more one-time prekeys: create and store them, then answer with
    /// [`super::Command::UploadPreKeys`].
    PreKeysNeeded {
        /// How many.
        count: u32,
    },
    /// The server accepted a prekey upload (mark these ids uploaded).
    PreKeysUploaded {
        /// The uploaded prekey ids.
        ids: Vec<u32>,
    },
    /// The offline backlog has been delivered.
    OfflineSyncCompleted {
        /// How many stanzas it held.
        count: u32,
    },
    /// A keepalive ping went unanswered.
    KeepAliveTimeout {
        /// Consecutive failures so far.
        failures: u32,
    },
    /// A ping was answered again after failures.
    KeepAliveRestored,
    /// The answer to [`super::Command::Iq`]; `None` if it timed out or the connection closed.
    IqResponse {
        /// The caller's token.
        token: u64,
        /// The answer.
        response: Option<IqResponse>,
    },
    /// Routing data for the next connection's `ED` pre-intro.
    EdgeRouting(Vec<u8>),
    /// A stanza the connection does not handle itself (notifications, calls, …).
    Stanza(crate::binary::Node),
    /// The server accepted a message we sent (`<ack class="message">`, `messaging.md` §8).
    MessageAcked {
        /// Its id.
        id: MessageId,
        /// The server's timestamp of the message (unix seconds), if it gave one.
        t: Option<u64>,
    },
    /// The server's ack for a message we sent carried `refresh_lid="true"` (`messaging.md`
    /// §8, §16): re-query this user (the ack's `from`) before the next send.
    RefreshLid {
        /// The user the message went to.
        user: Jid,
    },
    /// The server's ack for a group message we sent carried a `phash` other than the one the
    /// message carried (`messaging.md` §8): our participant or device lists of `chat` are
    /// stale. Comes before the message's [`Event::MessageAcked`] or [`Event::MessageRejected`].
    StalePhash {
        /// The message.
        id: MessageId,
        /// The group it went to.
        chat: Jid,
    },
    /// The server refused a message we sent: its ack carried `error` (400, 463, 479, … §8, §16).
    MessageRejected {
        /// Its id.
        id: MessageId,
        /// The server's code (see [`crate::stanza::nack`]).
        code: u16,
    },
    /// No ack came for a message we sent (deadline passed, or the connection closed first): its
    /// outcome is unknown, never "sent".
    MessageUnconfirmed {
        /// Its id.
        id: MessageId,
    },
    /// An incoming `<message>` (`messaging.md` §10), not yet acknowledged: decrypt and commit
    /// it, then send its ack and receipt.
    Message(Box<MessageStanza>),
    /// An incoming `<receipt>` (§8), already acknowledged.
    Receipt(Box<Receipt>),
    /// An incoming messaging stanza our parsers refused; it was nacked (§10) when it had an id
    /// and a sender.
    BadStanza {
        /// The stanza.
        node: Box<crate::binary::Node>,
        /// Why it was refused.
        error: Error,
    },
    /// A node could not be sent (encoded, sealed or framed); the connection goes on.
    SendFailed {
        /// Why (typically [`Fault::Caller`](crate::Fault::Caller)).
        error: Error,
    },
    /// The server sent a stream error.
    StreamError {
        /// Its code.
        code: Option<u16>,
    },
    /// The server says this client version is too old.
    ClientOutdated,
    /// The account is temporarily banned.
    TemporaryBan {
        /// Reason code.
        code: u16,
        /// Seconds until it ends.
        expire_secs: u64,
    },
    /// The session is gone: wipe the device keys.
    LoggedOut {
        /// Why.
        reason: LogoutReason,
    },
    /// The connection ended (always the last event).
    Disconnected {
        /// Why.
        cause: DisconnectCause,
    },
}

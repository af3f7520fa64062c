//! Domain types of the store: account ids, secrets, device identity, accounts, outbox entries.

use std::fmt;
use std::str::FromStr;

use rand_core::CryptoRngCore;
use wa_protocol::payload::ClientVersion;
use wa_protocol::signal::{KeyPair, PublicKey, Signature};

use crate::error::Error;

/// A gateway account id: 16 random bytes, shown as 32 lowercase hex characters (wuzapi's user id).
///
/// Every key of every per-account tree starts with these 16 bytes, so one account's records are a
/// contiguous key range: listing and wiping an account are range operations.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId([u8; 16]);

impl AccountId {
    /// Length of the binary form.
    pub const LEN: usize = 16;

    /// A fresh random id.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        Self(b)
    }

    /// Wraps 16 bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 bytes (the key prefix).
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    pub(crate) fn from_slice(b: &[u8]) -> Option<Self> {
        b.try_into().ok().map(Self)
    }
}

impl FromStr for AccountId {
    type Err = Error;

    /// Parses 32 hex characters (either case).
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = Error::InvalidInput {
            what: "account id",
            reason: "expected 32 hex characters",
        };
        if s.len() != 32 {
            return Err(bad);
        }
        let v = hex::decode(s).map_err(|_| bad)?;
        Self::from_slice(&v).ok_or(Error::InvalidInput {
            what: "account id",
            reason: "expected 32 hex characters",
        })
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({self})")
    }
}

/// A value that must never reach logs: its `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself. Handle with care: never log it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A signed prekey with its private half.
#[derive(Clone, Debug)]
pub struct SignedPreKey {
    /// Prekey id (24 bits on the wire).
    pub id: u32,
    /// The key pair (its `Debug` hides the private key).
    pub key_pair: KeyPair,
    /// XEdDSA signature by the identity key over the DJB public key.
    pub signature: Signature,
    /// When it was generated (ms since the Unix epoch).
    pub timestamp_ms: u64,
}

impl PartialEq for SignedPreKey {
    fn eq(&self, o: &Self) -> bool {
        self.id == o.id
            && key_pair_eq(&self.key_pair, &o.key_pair)
            && self.signature == o.signature
            && self.timestamp_ms == o.timestamp_ms
    }
}

/// A one-time prekey: generated in batches, uploaded, consumed by the first pkmsg that names it.
#[derive(Clone, Debug)]
pub struct OneTimePreKey {
    /// Prekey id (1 ..= 0xFF_FFFF).
    pub id: u32,
    /// The key pair (its `Debug` hides the private key).
    pub key_pair: KeyPair,
    /// Whether the server has it.
    pub uploaded: bool,
}

impl PartialEq for OneTimePreKey {
    fn eq(&self, o: &Self) -> bool {
        self.id == o.id && self.uploaded == o.uploaded && key_pair_eq(&self.key_pair, &o.key_pair)
    }
}

/// Counts of an account's one-time prekeys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PreKeyCounts {
    /// Unconsumed prekeys.
    pub total: u32,
    /// Of those, how many the server has.
    pub uploaded: u32,
}

/// The companion device's long-lived keys and pairing facts (one per account).
#[derive(Clone, Debug)]
pub struct DeviceIdentity {
    /// Noise static key pair.
    pub noise_key: KeyPair,
    /// Signal identity key pair.
    pub identity_key: KeyPair,
    /// Signal registration id.
    pub registration_id: u32,
    /// The current signed prekey.
    pub signed_prekey: SignedPreKey,
    /// ADV secret shared with the primary phone at pairing.
    pub adv_secret: Secret<[u8; 32]>,
    /// Own JID once paired (`user:device@s.whatsapp.net`).
    pub jid: Option<String>,
    /// Own LID once known (`…@lid`).
    pub lid: Option<String>,
    /// Platform name announced to the phone.
    pub platform: String,
    /// Push name (display name).
    pub push_name: String,
    /// Serialized `ADVSignedDeviceIdentity` from pairing (opaque here).
    pub adv_signed_identity: Option<Vec<u8>>,
    /// Client version used at registration.
    pub client_version: ClientVersion,
}

impl PartialEq for DeviceIdentity {
    fn eq(&self, o: &Self) -> bool {
        key_pair_eq(&self.noise_key, &o.noise_key)
            && key_pair_eq(&self.identity_key, &o.identity_key)
            && self.registration_id == o.registration_id
            && self.signed_prekey == o.signed_prekey
            && self.adv_secret == o.adv_secret
            && self.jid == o.jid
            && self.lid == o.lid
            && self.platform == o.platform
            && self.push_name == o.push_name
            && self.adv_signed_identity == o.adv_signed_identity
            && self.client_version == o.client_version
    }
}

pub(crate) fn key_pair_eq(a: &KeyPair, b: &KeyPair) -> bool {
    a.public == b.public && a.private.to_bytes() == b.private.to_bytes()
}

/// What [`crate::Store::save_identity`] found (trust on first use with change detection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityChange {
    /// First identity seen for this address: stored and trusted.
    New,
    /// Same key as stored.
    Unchanged,
    /// A different key replaced the stored one (WhatsApp trusts the new key; the caller emits an
    /// identity-change event and drops the old sessions).
    Changed {
        /// The key that was replaced.
        previous: PublicKey,
    },
}

/// Per-account proxy setting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Whether the proxy is used.
    pub enabled: bool,
    /// `http://…` or `socks5://…`.
    pub url: String,
}

/// Where received media goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MediaDelivery {
    /// Inline base64 in the webhook (wuzapi's default).
    #[default]
    Base64,
    /// Upload to S3 and send the link.
    S3,
    /// Both.
    Both,
}

/// Per-account S3 media settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Config {
    /// Whether S3 upload is on.
    pub enabled: bool,
    /// Endpoint URL.
    pub endpoint: String,
    /// Region.
    pub region: String,
    /// Bucket.
    pub bucket: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: Secret<String>,
    /// Path-style addressing (wuzapi default true).
    pub path_style: bool,
    /// Public URL prefix for links.
    pub public_url: String,
    /// Media delivery mode.
    pub media_delivery: MediaDelivery,
    /// Retention in days (wuzapi default 30).
    pub retention_days: u32,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            enabled: false,
            endpoint: String::new(),
            region: String::new(),
            bucket: String::new(),
            access_key: String::new(),
            secret_key: Secret::default(),
            path_style: true,
            public_url: String::new(),
            media_delivery: MediaDelivery::Base64,
            retention_days: 30,
        }
    }
}

/// A gateway account (wuzapi's "user"): API token, webhook, subscriptions and settings, linked to
/// the device identity stored under the same [`AccountId`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Id (32 hex when shown).
    pub id: AccountId,
    /// Instance name.
    pub name: String,
    /// API token (unique across accounts; looked up by [`crate::Store::account_by_token`]).
    pub token: Secret<String>,
    /// Webhook URL (empty: none).
    pub webhook: String,
    /// Subscribed event types (`Message`, `ReadReceipt`, `All`, …).
    pub events: Vec<String>,
    /// Proxy.
    pub proxy: ProxyConfig,
    /// S3.
    pub s3: S3Config,
    /// HMAC key for webhook signatures, as given by the layer above (which may encrypt it).
    pub hmac_key: Option<Secret<Vec<u8>>>,
    /// Messages kept per chat (0 = history off).
    pub history: u32,
    /// Connect at startup ("should be running").
    pub autostart: bool,
    /// wuzapi's `expiration` (stored, not enforced).
    pub expiration: i64,
    /// Paired device JID, if any.
    pub jid: Option<String>,
    /// Device name announced at pairing (`osname`); empty for the default.
    pub os_name: String,
    /// Creation time (ms since the Unix epoch).
    pub created_ms: u64,
    /// Last update (ms since the Unix epoch).
    pub updated_ms: u64,
}

impl Account {
    /// A new account with default settings.
    pub fn new(
        id: AccountId,
        name: impl Into<String>,
        token: impl Into<String>,
        now_ms: u64,
    ) -> Self {
        Self {
            id,
            name: name.into(),
            token: Secret::new(token.into()),
            webhook: String::new(),
            events: Vec::new(),
            proxy: ProxyConfig::default(),
            s3: S3Config::default(),
            hmac_key: None,
            history: 0,
            autostart: false,
            expiration: 0,
            jid: None,
            os_name: String::new(),
            created_ms: now_ms,
            updated_ms: now_ms,
        }
    }
}

/// Status of an outbox entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Accepted, waiting to be encrypted and sent (or to be retried).
    Queued,
    /// Encrypted and handed to the socket; its ratchet step is persisted.
    Sent,
    /// The server acknowledged it (terminal).
    Acked,
    /// Given up (terminal).
    Failed,
}

/// An accepted outgoing message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Message id (the idempotency key).
    pub message_id: String,
    /// Destination chat JID.
    pub chat: String,
    /// The message to send (serialized plaintext protobuf, opaque here).
    pub payload: Vec<u8>,
    /// Status.
    pub status: OutboxStatus,
    /// Sends attempted so far.
    pub attempts: u32,
    /// Earliest time for the next attempt (ms since the Unix epoch); meaningful while queued.
    pub next_attempt_ms: u64,
    /// Accepted at.
    pub created_ms: u64,
    /// Last changed at.
    pub updated_ms: u64,
}

/// A message to put in the outbox.
#[derive(Clone, Copy, Debug)]
pub struct NewOutbound<'a> {
    /// Message id (idempotency key; 1..=256 bytes).
    pub message_id: &'a str,
    /// Destination chat JID.
    pub chat: &'a str,
    /// The message.
    pub payload: &'a [u8],
    /// Now (ms since the Unix epoch); also the first attempt time.
    pub now_ms: u64,
}

/// Result of an enqueue: idempotent by message id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored now.
    Inserted,
    /// The same message was already there (its current state is returned).
    AlreadyPresent(OutboxEntry),
}

/// A change of an outbox entry other than sending (which is [`crate::Store::commit_send`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxUpdate {
    /// The server acknowledged the message: `Sent → Acked`.
    Acked,
    /// Give up: `Queued | Sent → Failed`.
    Failed,
    /// Try again at a later time: `Queued | Sent → Queued`.
    Retry {
        /// Earliest next attempt (ms since the Unix epoch).
        at_ms: u64,
    },
}

/// One Signal session record to save.
#[derive(Clone, Copy, Debug)]
pub struct SessionUpdate<'a> {
    /// Signal address of the remote device.
    pub address: &'a str,
    /// The serialized session record (opaque, kept byte for byte).
    pub record: &'a [u8],
}

/// One sender-key record to save.
#[derive(Clone, Copy, Debug)]
pub struct SenderKeyUpdate<'a> {
    /// Group JID.
    pub group: &'a str,
    /// Sender's Signal address.
    pub sender: &'a str,
    /// The serialized sender-key record.
    pub record: &'a [u8],
}

/// The durable send step: the ratchet state after encrypting one outbox message, saved together
/// with the entry's `Queued → Sent` change, so a message key never goes out twice.
#[derive(Clone, Copy, Debug)]
pub struct SendStep<'a> {
    /// The outbox entry being sent.
    pub message_id: &'a str,
    /// Session records advanced by the encryption (one per recipient device).
    pub sessions: &'a [SessionUpdate<'a>],
    /// Sender-key record advanced by a group send.
    pub sender_key: Option<SenderKeyUpdate<'a>>,
    /// Now (ms since the Unix epoch).
    pub now_ms: u64,
}

/// A session created from an incoming prekey message, saved together with consuming the one-time
/// prekey it used and recording the sender's identity.
#[derive(Clone, Copy, Debug)]
pub struct IncomingSession<'a> {
    /// The session record.
    pub session: SessionUpdate<'a>,
    /// The one-time prekey the message named, if any: removed in the same transaction; the
    /// commit fails with [`Error::PreKeyNotFound`] if another caller consumed it first.
    pub prekey_id: Option<u32>,
    /// The sender's identity key, stored (trust on first use) in the same transaction.
    pub identity: Option<PublicKey>,
}

/// How durable a write must be when the call returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Applied and visible; on disk within the background flush interval
    /// ([`crate::StoreConfig::flush_every_ms`]) or at the next durable write.
    #[default]
    Buffered,
    /// On disk (fsync'd) before the call returns. Concurrent durable writers share one flush
    /// (group commit).
    Durable,
}

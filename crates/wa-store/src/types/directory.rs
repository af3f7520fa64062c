//! The directory of other users (device lists, PN ↔ LID map) and privacy tokens.

use wa_protocol::binary::Jid;
use wa_protocol::ids::PhoneNumber;

/// One device of a user's device list (usync `<device id [key-index] [is_hosted]>`,
/// messaging.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedDevice {
    /// Device id (0 = the primary phone).
    pub id: u16,
    /// The `key-index` attribute (absent on device 0; a companion without one is dropped by the
    /// references, messaging.md §4).
    pub key_index: Option<u32>,
    /// `is_hosted="true"`: a hosted (business API) device.
    pub hosted: bool,
}

/// A user's device list as the server last reported it (messaging.md §4), cached per account
/// and user until a device notification or a phash mismatch invalidates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceList {
    /// The user (no device part), PN or LID.
    pub user: Jid,
    /// The devices, as listed.
    pub devices: Vec<ListedDevice>,
    /// `<key-index-list ts>` (unix seconds), if the list came with one.
    pub key_index_ts: Option<u64>,
    /// `<device-list hash>`, if any.
    pub hash: Option<String>,
    /// When it was fetched (ms since the Unix epoch).
    pub fetched_ms: u64,
}

/// Where a PN ↔ LID mapping was learnt (messaging.md §0, §4, §10, §16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LidSource {
    /// usync `<lid val>`.
    Usync,
    /// `sender_lid` / `sender_pn` on an incoming 1:1 stanza.
    SenderAttrs,
    /// `participant_lid` / `participant_pn` on an incoming group stanza.
    ParticipantAttrs,
    /// History sync.
    HistorySync,
    /// Our own account's pair, learnt at pairing.
    Pairing,
    /// Anything else.
    Other,
}

/// One PN ↔ LID mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LidMapping {
    /// The phone number.
    pub pn: PhoneNumber,
    /// The LID user JID (`…@lid`, no device).
    pub lid: Jid,
    /// Where it was learnt.
    pub source: LidSource,
    /// When (ms since the Unix epoch).
    pub learnt_ms: u64,
}

/// What [`crate::Store::save_lid_mapping`] changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LidChange {
    /// Neither the PN nor the LID had a mapping.
    New,
    /// The same pair was already stored (its source and time are refreshed).
    Unchanged,
    /// Earlier mappings were replaced: the PN's previous LID and/or the LID's previous PN.
    Replaced {
        /// The LID the phone number had before.
        previous_lid: Option<Jid>,
        /// The phone number the LID had before.
        previous_pn: Option<PhoneNumber>,
    },
}

/// A contact's privacy (trusted-contact) token, from a `privacy_token` notification
/// (messaging.md §16).
#[derive(Clone, PartialEq, Eq)]
pub struct PrivacyToken {
    /// The token bytes, sent back as `<tctoken>`.
    pub token: Vec<u8>,
    /// The token's `t` (unix seconds).
    pub t: u64,
    /// When we received it (ms since the Unix epoch).
    pub received_ms: u64,
}

impl std::fmt::Debug for PrivacyToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivacyToken")
            .field("token", &format_args!("<{} bytes>", self.token.len()))
            .field("t", &self.t)
            .field("received_ms", &self.received_ms)
            .finish()
    }
}

/// Length of one privacy-token bucket: tokens age out in 7-day buckets (messaging.md §16).
pub const TOKEN_BUCKET_SECS: u64 = 7 * 24 * 60 * 60;

/// Buckets a token stays valid for (whatsmeow keeps 4, messaging.md §16).
pub const TOKEN_BUCKETS: u64 = 4;

/// The bucket a unix time (seconds) falls in.
pub const fn token_bucket(t_secs: u64) -> u64 {
    t_secs / TOKEN_BUCKET_SECS
}

impl PrivacyToken {
    /// Whether the token is still in one of the last [`TOKEN_BUCKETS`] buckets at `now_secs`.
    pub fn is_valid_at(&self, now_secs: u64) -> bool {
        token_bucket(now_secs) < token_bucket(self.t).saturating_add(TOKEN_BUCKETS)
    }
}

/// Whether our own token should be issued again: never issued, or issued in an earlier bucket
/// than `now_secs` (messaging.md §16: "after a send whose bucket has rolled over").
pub const fn token_issue_due(last_issued_secs: Option<u64>, now_secs: u64) -> bool {
    match last_issued_secs {
        None => true,
        Some(t) => token_bucket(t) < token_bucket(now_secs),
    }
}

//! Gateway accounts: settings, proxy, S3; and parsing an [`AccountId`].

use std::str::FromStr;

use wa_protocol::binary::Jid;

use crate::error::Error;

use super::account_id::AccountId;
use super::secret::Secret;

/// Per-account proxy setting. Its `Debug` hides the URL's user information (a password).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Whether the proxy is used.
    pub enabled: bool,
    /// `http://…` or `socks5://…`.
    pub url: String,
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `scheme://user:password@host:port`: everything between `://` and the last `@` goes.
        let shown = match (self.url.find("://"), self.url.rfind('@')) {
            (Some(s), Some(at)) if at > s => {
                format!("{}<redacted>{}", &self.url[..s + 3], &self.url[at..])
            }
            _ => self.url.clone(),
        };
        f.debug_struct("ProxyConfig")
            .field("enabled", &self.enabled)
            .field("url", &shown)
            .finish()
    }
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
    pub jid: Option<Jid>,
    /// Device name announced at pairing (`osname`); empty for the default.
    pub os_name: String,
    /// Creation time (ms since the Unix epoch).
    pub created_ms: u64,
    /// Last update (ms since the Unix epoch).
    pub updated_ms: u64,
    /// Session metadata (issue 12): a free description for operators.
    pub description: String,
    /// Whether the session may be used by pools and as the default session
    /// ([`crate::Store::set_default_account`]; new and old records: true).
    pub active: bool,
    /// The session's default country code for phone numbers without one (digits, e.g. `62`;
    /// empty: the server's default).
    pub country_code: String,
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
            description: String::new(),
            active: true,
            country_code: String::new(),
        }
    }
}

// Here rather than beside the type: `error.rs` names `AccountId`, so `account_id.rs` stays a leaf.
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

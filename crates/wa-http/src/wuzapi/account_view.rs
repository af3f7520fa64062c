//! How an account (wuzapi's "user") is shown: the admin list's user objects (CONTRACTS §A.1)
//! and `/session/status` (§A.2), with the live `connected` / `loggedIn` of the session (§B.3)
//! and its QR code as a PNG data URL (§B.4). Keys are declared in Go's sorted order.

use serde::Serialize;
use utoipa::ToSchema;
use wa_client::{SessionState, Status};
use wa_store::{Account, MediaDelivery, ProxyConfig, S3Config};

use crate::qr;

/// `proxy_config` (CONTRACTS §B.8: `enabled` means a URL is set and on).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProxyConfigView {
    enabled: bool,
    proxy_url: String,
}

impl ProxyConfigView {
    pub(crate) fn new(proxy: &ProxyConfig) -> Self {
        Self {
            enabled: proxy.enabled && !proxy.url.is_empty(),
            proxy_url: proxy.url.clone(),
        }
    }
}

/// `s3_config`, the access key masked as `***` (the secret key is never shown).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct S3ConfigView {
    access_key: String,
    bucket: String,
    enabled: bool,
    endpoint: String,
    media_delivery: &'static str,
    path_style: bool,
    public_url: String,
    region: String,
    retention_days: u32,
}

impl S3ConfigView {
    pub(crate) fn new(s3: &S3Config) -> Self {
        Self {
            access_key: masked(&s3.access_key),
            bucket: s3.bucket.clone(),
            enabled: s3.enabled,
            endpoint: s3.endpoint.clone(),
            media_delivery: media_delivery(s3.media_delivery),
            path_style: s3.path_style,
            public_url: s3.public_url.clone(),
            region: s3.region.clone(),
            retention_days: s3.retention_days,
        }
    }
}

/// `***` when set, `""` when not.
pub(crate) fn masked(secret: &str) -> String {
    if secret.is_empty() {
        String::new()
    } else {
        "***".to_owned()
    }
}

/// wuzapi's `media_delivery` names.
pub(crate) fn media_delivery(m: MediaDelivery) -> &'static str {
    match m {
        MediaDelivery::Base64 => "base64",
        MediaDelivery::S3 => "s3",
        MediaDelivery::Both => "both",
    }
}

/// The session's live facts as wuzapi shows them.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) connected: bool,
    pub(crate) logged_in: bool,
    pub(crate) jid: String,
    pub(crate) qrcode: String,
}

impl Live {
    /// From the session's status (the stored JID when the session never linked in this run).
    pub(crate) fn new(account: &Account, status: &Status) -> Self {
        let jid = status
            .jid
            .as_ref()
            .or(account.jid.as_ref())
            .map(ToString::to_string)
            .unwrap_or_default();
        let qrcode = match (&status.state, &status.qr) {
            (SessionState::AwaitingQr, Some(code)) => qr::data_url(&code.code),
            _ => String::new(),
        };
        Self {
            connected: status.connected,
            logged_in: status.logged_in,
            jid,
            qrcode,
        }
    }
}

/// One user of `GET /admin/users` (CONTRACTS §A.1).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserView {
    connected: bool,
    events: String,
    expiration: i64,
    id: String,
    jid: String,
    #[serde(rename = "loggedIn")]
    logged_in: bool,
    name: String,
    proxy_config: ProxyConfigView,
    proxy_url: String,
    qrcode: String,
    s3_config: S3ConfigView,
    token: String,
    webhook: String,
}

impl UserView {
    pub(crate) fn new(account: &Account, status: &Status) -> Self {
        let live = Live::new(account, status);
        Self {
            connected: live.connected,
            events: account.events.join(","),
            expiration: account.expiration,
            id: account.id.to_string(),
            jid: live.jid,
            logged_in: live.logged_in,
            name: account.name.clone(),
            proxy_config: ProxyConfigView::new(&account.proxy),
            proxy_url: account.proxy.url.clone(),
            qrcode: live.qrcode,
            s3_config: S3ConfigView::new(&account.s3),
            token: account.token.expose().clone(),
            webhook: account.webhook.clone(),
        }
    }
}

/// `GET /session/status`'s `data` (CONTRACTS §A.2: every field; `history` is a string).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatusView {
    connected: bool,
    events: String,
    hmac_configured: bool,
    history: String,
    id: String,
    jid: String,
    #[serde(rename = "loggedIn")]
    logged_in: bool,
    name: String,
    proxy_config: ProxyConfigView,
    proxy_url: String,
    qrcode: String,
    s3_config: S3ConfigView,
    token: String,
    webhook: String,
}

impl StatusView {
    pub(crate) fn new(account: &Account, status: &Status) -> Self {
        let live = Live::new(account, status);
        Self {
            connected: live.connected,
            events: account.events.join(","),
            hmac_configured: account.hmac_key.is_some(),
            history: account.history.to_string(),
            id: account.id.to_string(),
            jid: live.jid,
            logged_in: live.logged_in,
            name: account.name.clone(),
            proxy_config: ProxyConfigView::new(&account.proxy),
            proxy_url: account.proxy.url.clone(),
            qrcode: live.qrcode,
            s3_config: S3ConfigView::new(&account.s3),
            token: account.token.expose().clone(),
            webhook: account.webhook.clone(),
        }
    }
}

//! What every handler shares: the gateway facade and the HTTP configuration.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wa_client::Gateway;

use crate::webhooks::queue::WebhookQueue;

/// The HTTP layer's configuration (from flags and environment, see `wagate serve`).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The admin token (`Authorization: <token>` on `/admin/**`; no `Bearer`). Never logged.
    pub admin_token: String,
    /// The whatsapp-web.js dialect's `x-api-key` (CONTRACTS §C.1); `None`: the admin token.
    pub api_key: Option<String>,
    /// Largest request body accepted (413 above it).
    pub body_limit: usize,
    /// How long one request may take, reading its body included (a slow client cannot hold a
    /// connection forever).
    pub request_timeout: Duration,
    /// How long a client may take to send a request's headers (and how long an idle
    /// keep-alive connection stays open): a client that sends half a request is cut off.
    pub header_timeout: Duration,
    /// Whether webhook URLs may point at loopback, private, link-local, … addresses
    /// (`--webhook-allow-private`; [`crate::webhooks::ssrf`]). Off by default.
    pub webhook_allow_private: bool,
    /// Whether media URLs given to the send routes may point at internal addresses
    /// (`--media-allow-private`; the same guard as webhooks, [`crate::media_input`]). Off by
    /// default.
    pub media_allow_private: bool,
    /// How long a send on a session whose socket is down waits for it to come back (issue 12
    /// item 2; `--send-timeout`): then it fails with a clear error.
    pub send_timeout: Duration,
    /// The country code that completes national phone numbers (`--default-country-code`;
    /// sessions may override it; `None`: national numbers are refused).
    pub default_country_code: Option<crate::phone_number::CountryCode>,
}

impl HttpConfig {
    /// Defaults around an admin token: 32 MiB bodies (media arrive as base64 data URLs), 120 s
    /// per request (wuzapi's write timeout, CONTRACTS §B.14), 30 s for a request's headers,
    /// 30 s for a send's session to come back.
    pub fn new(admin_token: impl Into<String>) -> Self {
        Self {
            admin_token: admin_token.into(),
            api_key: None,
            body_limit: 32 << 20,
            request_timeout: Duration::from_secs(120),
            header_timeout: Duration::from_secs(30),
            webhook_allow_private: false,
            media_allow_private: false,
            send_timeout: Duration::from_secs(30),
            default_country_code: None,
        }
    }
}

/// The state handlers receive (cheap to clone).
#[derive(Debug, Clone)]
pub struct AppState {
    /// The accounts and their sessions.
    pub gateway: Arc<Gateway>,
    /// The configuration.
    pub config: Arc<HttpConfig>,
    /// When the server started (for `/health`'s uptime).
    pub started: Instant,
    /// The durable webhook queue (the dead-letter routes); `None` when delivery is not running.
    pub webhooks: Option<Arc<WebhookQueue>>,
    /// What sends through pools learnt about each member (issue 12).
    pub pool_health: Arc<crate::pool::health::PoolHealth>,
    /// Media object storage (issue 13): S3 clients and the media directory.
    pub objects: Arc<crate::objects::Objects>,
    /// The web dashboard's logins and recent events (issue 14); `wagate demo` asks it for a
    /// one-time login link ([`crate::dashboard::shared::Dashboard::one_time_link`]).
    pub dashboard: Arc<crate::dashboard::shared::Dashboard>,
}

impl AppState {
    /// State over a gateway.
    pub fn new(gateway: Arc<Gateway>, config: HttpConfig) -> Self {
        let dashboard = Arc::<crate::dashboard::shared::Dashboard>::default();
        dashboard.follow(&gateway);
        Self {
            dashboard,
            gateway,
            config: Arc::new(config),
            started: Instant::now(),
            webhooks: None,
            pool_health: Arc::default(),
            objects: Arc::default(),
        }
    }

    /// The same state with its object storage (the media directory and its base URL).
    pub fn with_objects(mut self, objects: impl Into<Arc<crate::objects::Objects>>) -> Self {
        self.objects = objects.into();
        self
    }

    /// The same state with the webhook queue the dead-letter routes use.
    pub fn with_webhooks(mut self, queue: Arc<WebhookQueue>) -> Self {
        self.webhooks = Some(queue);
        self
    }
}

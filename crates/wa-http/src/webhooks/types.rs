//! What the webhook code shares (a leaf): the subscription filter, the encoding, and the
//! delivery configuration. (The names one may subscribe to are `wuzapi::event_types`.)

use std::time::Duration;

/// The `type` of an alert (issue 12 item 6; our extension, [`super::alerts`]).
pub const ALERT: &str = "Alert";

/// The subscription to every type.
pub const ALL: &str = "All";

/// Whether a user subscribed to `events` receives an event of type `kind` (its name or `All`
/// is listed; CONTRACTS §B.6 "Filter").
pub fn subscribed<S: AsRef<str>>(events: &[S], kind: &str) -> bool {
    events
        .iter()
        .any(|e| e.as_ref() == kind || e.as_ref() == ALL)
}

/// How a webhook body is encoded (`WEBHOOK_FORMAT`, CONTRACTS §B.6 "Encoding").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `application/x-www-form-urlencoded`: `jsonData`, `userID`, `instanceName` (the default).
    #[default]
    Form,
    /// `application/json`: the payload object with `userID` and `instanceName` added.
    Json,
}

impl Format {
    /// `WEBHOOK_FORMAT`'s value: `json` (any case) is JSON, anything else the form default.
    pub fn from_env_value(value: &str) -> Self {
        if value.trim().eq_ignore_ascii_case("json") {
            Format::Json
        } else {
            Format::Form
        }
    }
}

/// The delivery's configuration (from `wagate serve`'s flags and environment).
#[derive(Clone)]
pub struct WebhookConfig {
    /// `WUZAPI_GLOBAL_WEBHOOK`: receives every user's (filtered) events.
    pub global_url: Option<String>,
    /// `WUZAPI_GLOBAL_HMAC_KEY`: signs what goes to the global webhook. Never logged.
    pub global_hmac_key: Option<Vec<u8>>,
    /// The body encoding.
    pub format: Format,
    /// Deliveries in flight at once per receiver URL. 1 (the default) keeps each receiver's
    /// deliveries strictly in order; N > 1 starts them in order N at a time, so a receiver
    /// may see the N of one window in another order.
    pub concurrency: usize,
    /// One delivery's timeout (wuzapi: 30 s, CONTRACTS §B.6 "Delivery").
    pub timeout: Duration,
    /// Retries and backoff (`WEBHOOK_RETRY_*`).
    pub retry: RetryPolicy,
    /// Whether receivers on loopback, private, link-local, … addresses are allowed
    /// (`--webhook-allow-private`; see [`super::ssrf`]).
    pub allow_private: bool,
    /// When an `Alert` goes to the global webhook.
    pub alerts: AlertConfig,
    /// The whatsapp-web.js dialect's webhooks (CONTRACTS §C.5; off without a URL).
    pub wwebjs: super::wwebjs::WwebjsHooks,
    /// Whether bodies carry the legacy `token` field (wuzapi before 2025-10-30; off by
    /// default: a token in a webhook is a secret in someone else's logs).
    pub include_token: bool,
    /// How received media is fetched for the `Message` webhook (issue 13).
    pub media: InboundMediaConfig,
}

/// The kind prefix of a whatsapp-web.js callback in the queue (`wwebjs:message`, …): such a
/// delivery is sent with the configured `x-api-key` (never stored) instead of a signature.
pub const WWEBJS_KIND: &str = "wwebjs:";

/// wuzapi's retry settings (CONTRACTS §B.6 "Retries", §B.12): `WEBHOOK_RETRY_ENABLED` (true),
/// `WEBHOOK_RETRY_COUNT` (5 attempts in total), `WEBHOOK_RETRY_DELAY_SECONDS` (30); the delay
/// doubles after each failure (30 s, 60 s, 120 s, 240 s). A delivery that fails its last
/// attempt joins the dead-letter list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total (1 when retries are disabled).
    pub attempts: u32,
    /// The delay after the first failure.
    pub delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `failures`-th failure (1-based): `delay × 2^(failures-1)`, capped at
    /// one day.
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(20);
        self.delay
            .saturating_mul(factor)
            .min(Duration::from_secs(86_400))
    }
}

/// When an `Alert` webhook goes to the global URL (issue 12 item 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertConfig {
    /// A session's recovery has failed this many connection attempts in a row
    /// (`WAGATE_ALERT_RECONNECT_ATTEMPTS`, default 5).
    pub reconnect_attempts: u32,
    /// … or has been failing this long (`WAGATE_ALERT_RECONNECT_SECONDS`, default 120 s).
    pub reconnect_after: Duration,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            reconnect_attempts: 5,
            reconnect_after: Duration::from_secs(120),
        }
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            global_url: None,
            global_hmac_key: None,
            format: Format::Form,
            concurrency: 1,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            allow_private: false,
            alerts: AlertConfig::default(),
            wwebjs: super::wwebjs::WwebjsHooks::default(),
            include_token: false,
            media: InboundMediaConfig::default(),
        }
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("global_url", &self.global_url)
            .field(
                "global_hmac_key",
                &self.global_hmac_key.as_ref().map(|_| "***"),
            )
            .field("format", &self.format)
            .field("concurrency", &self.concurrency)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("allow_private", &self.allow_private)
            .field("alerts", &self.alerts)
            .field("wwebjs", &self.wwebjs)
            .field("include_token", &self.include_token)
            .field("media", &self.media)
            .finish()
    }
}

/// How received media is fetched for the webhooks (`wagate serve`'s flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMediaConfig {
    /// Whether files are downloaded on arrival (`false`: `--skip-media`; the webhook carries
    /// the message's media fields only).
    pub download: bool,
    /// How long one download may take before the webhook goes out with the error.
    pub timeout: Duration,
    /// Downloads running at once over all accounts (others wait their turn).
    pub concurrency: usize,
    /// Largest file inlined as `base64` (bytes); larger ones are noted in `mediaError`.
    pub base64_max_bytes: u64,
}

impl Default for InboundMediaConfig {
    fn default() -> Self {
        Self {
            download: true,
            timeout: Duration::from_secs(120),
            concurrency: 4,
            base64_max_bytes: 64 << 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_is_the_name_or_all() {
        assert!(subscribed(&["All"], "QR"));
        assert!(subscribed(&["Message"], "Message"));
        assert!(!subscribed(&["Message"], "ReadReceipt"));
        assert!(!subscribed::<&str>(&[], "Message"));
    }

    #[test]
    fn the_backoff_doubles_from_the_delay() {
        let p = RetryPolicy::default();
        let secs: Vec<u64> = (1..=4).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240], "CONTRACTS §B.6");
        assert_eq!(p.backoff(60), Duration::from_secs(86_400));
    }

    #[test]
    fn the_format_comes_from_webhook_format() {
        assert_eq!(Format::from_env_value("json"), Format::Json);
        assert_eq!(Format::from_env_value("JSON"), Format::Json);
        assert_eq!(Format::from_env_value("form"), Format::Form);
        assert_eq!(Format::from_env_value(""), Format::Form);
    }
}

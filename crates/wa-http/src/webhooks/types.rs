//! What the webhook code shares (a leaf): the subscription filter, the encoding, and the
//! delivery configuration. (The names one may subscribe to are `wuzapi::event_types`.)

use std::time::Duration;

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
    /// Deliveries in flight at once per receiver URL.
    pub concurrency: usize,
    /// Deliveries waiting per receiver URL before new ones are dropped (with a warning).
    pub queue: usize,
    /// One delivery's timeout (wuzapi: 30 s, CONTRACTS §B.6 "Delivery").
    pub timeout: Duration,
    /// The whatsapp-web.js dialect's webhooks (CONTRACTS §C.5; off without a URL).
    pub wwebjs: super::wwebjs::WwebjsHooks,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            global_url: None,
            global_hmac_key: None,
            format: Format::Form,
            concurrency: 8,
            queue: 1024,
            timeout: Duration::from_secs(30),
            wwebjs: super::wwebjs::WwebjsHooks::default(),
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
            .field("queue", &self.queue)
            .field("timeout", &self.timeout)
            .field("wwebjs", &self.wwebjs)
            .finish()
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
    fn the_format_comes_from_webhook_format() {
        assert_eq!(Format::from_env_value("json"), Format::Json);
        assert_eq!(Format::from_env_value("JSON"), Format::Json);
        assert_eq!(Format::from_env_value("form"), Format::Form);
        assert_eq!(Format::from_env_value(""), Format::Form);
    }
}

//! What the webhook code shares (a leaf): wuzapi's event type names, the encoding, and the
//! delivery configuration.

use std::time::Duration;

/// Every event type a user may subscribe to (CONTRACTS §B.6, Jan-2026 wuzapi): the ones it
/// emits, the ones it accepts but never emits, and `All`. Names outside this list are dropped
/// from subscriptions (`POST /webhook`, `connect`'s `Subscribe`).
pub const EVENT_TYPES: &[&str] = &[
    // session
    "QR",
    "QRTimeout",
    "PairSuccess",
    "PairError",
    "Connected",
    "Disconnected",
    "ConnectFailure",
    "LoggedOut",
    "KeepAliveTimeout",
    "KeepAliveRestored",
    "ClientOutdated",
    "TemporaryBan",
    "StreamError",
    // messages
    "Message",
    "UndecryptableMessage",
    "ReadReceipt",
    "MediaRetry",
    // presence and sync
    "Presence",
    "ChatPresence",
    "HistorySync",
    "OfflineSyncPreview",
    "OfflineSyncCompleted",
    // groups, contacts and privacy
    "GroupInfo",
    "JoinedGroup",
    "Picture",
    "BlocklistChange",
    "Blocklist",
    "PrivacySettings",
    "UserAbout",
    "IdentityChange",
    // calls
    "CallOffer",
    "CallAccept",
    "CallTerminate",
    "CallOfferNotice",
    "CallRelayLatency",
    // other
    "NewsletterJoin",
    "NewsletterLeave",
    "NewsletterMuteChange",
    "NewsletterLiveUpdate",
    "FBMessage",
    // accepted, never emitted
    "Receipt",
    "AppState",
    "AppStateSyncComplete",
    "StreamReplaced",
    "QRScannedWithoutMultidevice",
    "PushNameSetting",
    "CATRefreshError",
    // every type
    ALL,
];

/// The subscription to every type.
pub const ALL: &str = "All";

/// Whether `name` is a type one may subscribe to (exact spelling, as wuzapi compares).
pub fn is_event_type(name: &str) -> bool {
    EVENT_TYPES.contains(&name)
}

/// The valid names of `names`, in order, without repeats (invalid ones dropped silently).
pub fn valid_events<S: AsRef<str>>(names: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names.iter().map(|n| n.as_ref().trim()) {
        if is_event_type(name) && !out.iter().any(|o| o == name) {
            out.push(name.to_owned());
        }
    }
    out
}

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
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_keep_valid_names_once() {
        assert_eq!(
            valid_events(&["Message", "Bogus", "ReadReceipt", "Message", "message"]),
            vec!["Message".to_owned(), "ReadReceipt".to_owned()]
        );
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

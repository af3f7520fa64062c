//! `wagate serve`'s configuration: flags and environment, with wuzapi's names accepted beside
//! wagate's own (CONTRACTS §B.12), checked once at start. Every refusal is an [`OperatorError`]:
//! `main` prints it as one line and exits with status 2.
//!
//! | setting | flag | environment (first wins) | default |
//! |---|---|---|---|
//! | admin token (required, ≥ 16 chars) | `--admin-token` | `WAGATE_ADMIN_TOKEN`, `WUZAPI_ADMIN_TOKEN` | none |
//! | listen address | `--listen` | `WAGATE_LISTEN` | from address/port below |
//! | address / port | `--address` / `--port` | `WUZAPI_ADDRESS` / `WUZAPI_PORT` | `127.0.0.1` / `8080` |
//! | global webhook | `--global-webhook` | `WUZAPI_GLOBAL_WEBHOOK` | none |
//! | global webhook HMAC key (≥ 32 chars) | `--global-hmac-key` | `WUZAPI_GLOBAL_HMAC_KEY` | none: unsigned |
//! | webhook encoding | `--webhook-format` | `WEBHOOK_FORMAT` | `form` (`json`) |
//! | webhook POSTs in flight per receiver (1 = strictly in order) | `--webhook-concurrency` | `WAGATE_WEBHOOK_CONCURRENCY` | 1 |
//! | webhook retries on | `--webhook-retry` | `WEBHOOK_RETRY_ENABLED` | `true` |
//! | webhook attempts in total | `--retry-count` | `WEBHOOK_RETRY_COUNT` | 5 |
//! | first retry delay, doubling (seconds, fractions allowed) | `--retry-delay` | `WEBHOOK_RETRY_DELAY_SECONDS` | 30 |
//! | the legacy `token` field in webhook bodies | `--webhook-include-token` | `WAGATE_WEBHOOK_INCLUDE_TOKEN` | `false` |
//! | webhooks to loopback/private/link-local addresses | `--webhook-allow-private` | `WAGATE_WEBHOOK_ALLOW_PRIVATE` | `false` |
//! | alert after N failed reconnects | `--alert-reconnect-attempts` | `WAGATE_ALERT_RECONNECT_ATTEMPTS` | 5 |
//! | … or after T seconds failing | `--alert-reconnect-seconds` | `WAGATE_ALERT_RECONNECT_SECONDS` | 120 |
//! | linked-device name | `--os-name` | `SESSION_DEVICE_NAME` | `wagate` |
//! | whatsapp-web.js `x-api-key` | `--api-key` | `API_KEY` | the admin token |
//! | how long a send waits for its session to come back (seconds, `30`, `2.5`, `30s`) | `--send-timeout` | `WAGATE_SEND_TIMEOUT` | 30 |
//! | default country code for phone numbers (sessions may override it) | `--default-country-code` | `WAGATE_DEFAULT_COUNTRY_CODE` | none: national numbers refused |
//! | whatsapp-web.js webhook | `--base-webhook-url` | `BASE_WEBHOOK_URL`, per session `<SESSIONID_UPPERCASE>_WEBHOOK_URL` | none |
//! | whatsapp-web.js callbacks not sent | `--disabled-callbacks` | `DISABLED_CALLBACKS` (`\|`-separated) | none |
//! | no download of received media (wuzapi's `-skipmedia`: the `Message` webhook carries the media fields only) | `--skip-media` | `WAGATE_SKIP_MEDIA` | `false` |
//! | largest received file inlined as `base64` in a webhook (bytes) | `--media-base64-max-bytes` | `WAGATE_MEDIA_BASE64_MAX_BYTES` | 67108864 |
//! | clients that may read `/metrics` without the admin token (CIDRs or addresses, comma-separated) | `--metrics-allow` | `WAGATE_METRICS_ALLOW` | none: the admin token only |
//!
//! Deliberate differences from wuzapi: no random admin token (the token is required: a random
//! one printed in the logs is a secret in the logs); the default address is `127.0.0.1`, not
//! `0.0.0.0`; without `WUZAPI_GLOBAL_HMAC_KEY` the global webhook goes unsigned (wuzapi
//! generates a key and logs it). Secrets (`admin_token`, `global_hmac_key`, `api_key`) are never
//! logged: clap hides their environment values and [`ServeConfig`]'s `Debug` masks them.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use wa_http::webhooks::WwebjsHooks;
use wa_http::webhooks::{AlertConfig, Format, InboundMediaConfig, RetryPolicy, WebhookConfig};
use wa_http::HttpConfig;

use crate::common::ServerArgs;

/// Shortest admin token accepted.
pub(crate) const MIN_ADMIN_TOKEN: usize = 16;
/// Shortest HMAC key accepted (wuzapi's rule for HMAC keys, CONTRACTS §A.2).
pub(crate) const MIN_HMAC_KEY: usize = 32;

/// A configuration the operator must fix: printed as one line, exit status 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum OperatorError {
    /// No admin token anywhere.
    #[error("an admin token is required: set WAGATE_ADMIN_TOKEN (or WUZAPI_ADMIN_TOKEN) or pass --admin-token")]
    NoAdminToken,
    /// A secret shorter than its minimum.
    #[error("{what} must be at least {min} characters")]
    TooShort {
        /// Which setting.
        what: &'static str,
        /// Its minimum.
        min: usize,
    },
    /// A value that does not parse.
    #[error("{what}: {value:?} is not valid ({expected})")]
    Invalid {
        /// Which setting.
        what: &'static str,
        /// What was given (never a secret).
        value: String,
        /// What is expected.
        expected: &'static str,
    },
    /// The HTTP address cannot be bound (in use, not ours, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Anything else the command line or environment got wrong (clap's first line).
    #[error("{0}")]
    Usage(String),
}

/// `wagate serve`'s flags.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address of the HTTP API (overrides --address/--port).
    #[arg(long, env = "WAGATE_LISTEN")]
    listen: Option<SocketAddr>,
    /// IP address to listen on (wuzapi's -address).
    #[arg(long, env = "WUZAPI_ADDRESS")]
    address: Option<String>,
    /// Port to listen on (wuzapi's -port).
    #[arg(long, env = "WUZAPI_PORT")]
    port: Option<String>,
    /// The session store's directory.
    #[arg(long, env = "WAGATE_DATA_DIR", default_value = wa_store::DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,
    /// Admin token for the admin routes (also WUZAPI_ADMIN_TOKEN). Required: there is no
    /// default.
    #[arg(long, env = "WAGATE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Receives every user's subscribed events (wuzapi's -globalwebhook).
    #[arg(long, env = "WUZAPI_GLOBAL_WEBHOOK")]
    global_webhook: Option<String>,
    /// Signs the global webhook's bodies (x-hmac-signature), at least 32 characters.
    #[arg(long, env = "WUZAPI_GLOBAL_HMAC_KEY", hide_env_values = true)]
    global_hmac_key: Option<String>,
    /// Webhook body encoding: form (default) or json.
    #[arg(long, env = "WEBHOOK_FORMAT")]
    webhook_format: Option<String>,
    /// Webhook POSTs in flight at once per receiver URL.
    #[arg(long, env = "WAGATE_WEBHOOK_CONCURRENCY", default_value_t = 1)]
    webhook_concurrency: usize,
    /// Retry failed webhook deliveries (wuzapi's -webhookretry).
    #[arg(long, env = "WEBHOOK_RETRY_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    webhook_retry: bool,
    /// Webhook attempts in total (wuzapi's -retrycount).
    #[arg(long, env = "WEBHOOK_RETRY_COUNT", default_value_t = 5)]
    retry_count: u32,
    /// Seconds before the first retry, doubling after each (wuzapi's -retrydelay).
    #[arg(long, env = "WEBHOOK_RETRY_DELAY_SECONDS", default_value_t = 30.0)]
    retry_delay: f64,
    /// Allow webhook URLs on loopback, private, link-local, CGNAT, … addresses.
    #[arg(long, env = "WAGATE_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    webhook_allow_private: bool,
    /// Allow media URLs (send routes) on loopback, private, link-local, CGNAT, … addresses.
    #[arg(long, env = "WAGATE_MEDIA_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    media_allow_private: bool,
    /// Add the legacy `token` field (the user's token) to webhook bodies, as wuzapi did before
    /// 2025-10-30 (for receivers that map events to tenants by token).
    #[arg(long, env = "WAGATE_WEBHOOK_INCLUDE_TOKEN", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    webhook_include_token: bool,
    /// Alert after this many failed reconnect attempts in a row.
    #[arg(long, env = "WAGATE_ALERT_RECONNECT_ATTEMPTS", default_value_t = 5)]
    alert_reconnect_attempts: u32,
    /// Alert after a session's recovery has failed this many seconds.
    #[arg(long, env = "WAGATE_ALERT_RECONNECT_SECONDS", default_value_t = 120)]
    alert_reconnect_seconds: u64,
    /// The name linked devices show on the phone (wuzapi's -osname).
    #[arg(long, env = "SESSION_DEVICE_NAME")]
    os_name: Option<String>,
    /// The whatsapp-web.js dialect's x-api-key (default: the admin token).
    #[arg(long, env = "API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// How long a send on a session whose socket is down waits for it to come back before it
    /// fails (seconds; issue 12).
    #[arg(long, env = "WAGATE_SEND_TIMEOUT")]
    send_timeout: Option<String>,
    /// Country code that completes national phone numbers (e.g. 62: 0812… and 812… become
    /// 62812…); a session's own code overrides it.
    #[arg(long, env = "WAGATE_DEFAULT_COUNTRY_CODE")]
    default_country_code: Option<String>,
    /// The whatsapp-web.js dialect's webhook for every session (per session:
    /// <SESSIONID_UPPERCASE>_WEBHOOK_URL in the environment).
    #[arg(long, env = "BASE_WEBHOOK_URL")]
    base_webhook_url: Option<String>,
    /// whatsapp-web.js callback types not sent, `|`-separated (e.g. `message_ack|qr`).
    #[arg(long, env = "DISABLED_CALLBACKS")]
    disabled_callbacks: Option<String>,
    /// Do not download received media (wuzapi's -skipmedia): the Message webhook carries the
    /// message's media fields only.
    #[arg(long, env = "WAGATE_SKIP_MEDIA", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    skip_media: bool,
    /// Largest received file inlined as base64 in a Message webhook, in bytes (larger ones are
    /// noted in `mediaError`; the download routes fetch them).
    #[arg(long, env = "WAGATE_MEDIA_BASE64_MAX_BYTES", default_value_t = 64 << 20)]
    media_base64_max_bytes: u64,
    /// Client networks that may read /metrics without the admin token, comma-separated CIDRs
    /// or addresses (e.g. `127.0.0.1/32,10.0.0.0/8`); default: the admin token only.
    #[arg(long, env = "WAGATE_METRICS_ALLOW")]
    metrics_allow: Option<String>,
    #[command(flatten)]
    pub(crate) server: ServerArgs,
}

/// Everything `serve` needs, checked.
pub(crate) struct ServeConfig {
    /// Where the HTTP API listens.
    pub(crate) listen: SocketAddr,
    /// The HTTP layer's settings.
    pub(crate) http: HttpConfig,
    /// The webhook delivery's settings.
    pub(crate) webhooks: WebhookConfig,
    /// The linked-device name, if set.
    pub(crate) os_name: Option<String>,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("listen", &self.listen)
            .field("admin_token", &"***")
            .field("webhooks", &self.webhooks)
            .field("os_name", &self.os_name)
            .finish_non_exhaustive()
    }
}

/// The first non-empty value of `flag` and the environment variables `names`.
fn first(flag: Option<&str>, names: &[&str]) -> Option<String> {
    flag.map(str::to_owned)
        .into_iter()
        .chain(names.iter().filter_map(|n| std::env::var(n).ok()))
        .map(|v| v.trim().to_owned())
        .find(|v| !v.is_empty())
}

/// `30`, `2.5` or `30s`: a positive number of seconds below the request timeout.
fn parse_seconds(v: &str) -> Option<Duration> {
    let secs: f64 = v.strip_suffix('s').unwrap_or(v).trim().parse().ok()?;
    (secs > 0.0 && secs < 120.0).then(|| Duration::from_secs_f64(secs))
}

impl ServeArgs {
    /// Checks the flags and the environment.
    pub(crate) fn resolve(&self) -> Result<ServeConfig, OperatorError> {
        let token = first(self.admin_token.as_deref(), &["WUZAPI_ADMIN_TOKEN"])
            .ok_or(OperatorError::NoAdminToken)?;
        if token.chars().count() < MIN_ADMIN_TOKEN {
            return Err(OperatorError::TooShort {
                what: "the admin token",
                min: MIN_ADMIN_TOKEN,
            });
        }
        let mut http = HttpConfig::new(token);
        http.api_key = first(self.api_key.as_deref(), &[]);
        http.webhook_allow_private = self.webhook_allow_private;
        http.media_allow_private = self.media_allow_private;
        if let Some(v) = first(self.send_timeout.as_deref(), &[]) {
            http.send_timeout = parse_seconds(&v).ok_or(OperatorError::Invalid {
                what: "--send-timeout / WAGATE_SEND_TIMEOUT",
                value: v,
                expected: "seconds, more than 0 and less than the 120 s request timeout",
            })?;
        }
        http.default_country_code = match first(self.default_country_code.as_deref(), &[]) {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| OperatorError::Invalid {
                what: "--default-country-code / WAGATE_DEFAULT_COUNTRY_CODE",
                value: v,
                expected: "1 to 3 digits, not starting with 0",
            })?),
        };
        http.metrics_allow = self.metrics_allow()?;
        Ok(ServeConfig {
            listen: self.listen_addr()?,
            http,
            webhooks: self.webhook_config()?,
            os_name: first(self.os_name.as_deref(), &[]),
        })
    }

    /// `--metrics-allow`: CIDRs, or addresses (one host each).
    fn metrics_allow(&self) -> Result<Vec<ipnet::IpNet>, OperatorError> {
        let Some(list) = first(self.metrics_allow.as_deref(), &[]) else {
            return Ok(Vec::new());
        };
        list.split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<ipnet::IpNet>()
                    .or_else(|_| v.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| OperatorError::Invalid {
                        what: "--metrics-allow / WAGATE_METRICS_ALLOW",
                        value: v.to_owned(),
                        expected: "comma-separated CIDRs or IP addresses",
                    })
            })
            .collect()
    }

    fn listen_addr(&self) -> Result<SocketAddr, OperatorError> {
        if let Some(addr) = self.listen {
            return Ok(addr);
        }
        let ip = match first(self.address.as_deref(), &[]) {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(a) => a.parse().map_err(|_| OperatorError::Invalid {
                what: "--address / WUZAPI_ADDRESS",
                value: a,
                expected: "an IP address",
            })?,
        };
        let port = match first(self.port.as_deref(), &[]) {
            None => 8080,
            Some(p) => p.parse::<u16>().map_err(|_| OperatorError::Invalid {
                what: "--port / WUZAPI_PORT",
                value: p,
                expected: "a port number 0-65535",
            })?,
        };
        Ok(SocketAddr::new(ip, port))
    }

    fn webhook_config(&self) -> Result<WebhookConfig, OperatorError> {
        let format = match first(self.webhook_format.as_deref(), &[]) {
            None => Format::Form,
            Some(v) if v.eq_ignore_ascii_case("form") || v.eq_ignore_ascii_case("json") => {
                Format::from_env_value(&v)
            }
            Some(v) => {
                return Err(OperatorError::Invalid {
                    what: "--webhook-format / WEBHOOK_FORMAT",
                    value: v,
                    expected: "form or json",
                })
            }
        };
        let global_url = first(self.global_webhook.as_deref(), &[]);
        if let Some(url) = &global_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(OperatorError::Invalid {
                    what: "--global-webhook / WUZAPI_GLOBAL_WEBHOOK",
                    value: url.clone(),
                    expected: "an http:// or https:// URL",
                });
            }
        }
        let global_hmac_key = first(self.global_hmac_key.as_deref(), &[]);
        if global_hmac_key
            .as_ref()
            .is_some_and(|k| k.chars().count() < MIN_HMAC_KEY)
        {
            return Err(OperatorError::TooShort {
                what: "the global HMAC key",
                min: MIN_HMAC_KEY,
            });
        }
        if self.webhook_concurrency == 0 {
            return Err(OperatorError::Invalid {
                what: "--webhook-concurrency / WAGATE_WEBHOOK_CONCURRENCY",
                value: "0".into(),
                expected: "at least 1",
            });
        }
        if let Some(url) = &global_url {
            check_global(url, self.webhook_allow_private)?;
        }
        let wwebjs = WwebjsHooks::new(
            first(self.base_webhook_url.as_deref(), &[]),
            self.disabled_callbacks.as_deref(),
            // The API key only when set: the admin token never leaves in a webhook.
            first(self.api_key.as_deref(), &[]),
            std::env::vars(),
        );
        let urls = wwebjs.base_url.iter().chain(wwebjs.per_session.values());
        if let Some(url) = urls
            .into_iter()
            .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err(OperatorError::Invalid {
                what: "--base-webhook-url / BASE_WEBHOOK_URL / <SESSION>_WEBHOOK_URL",
                value: url.clone(),
                expected: "an http:// or https:// URL",
            });
        }
        let mut wwebjs_urls = wwebjs.base_url.iter().chain(wwebjs.per_session.values());
        if let Some(url) = wwebjs_urls.find(|u| {
            wa_http::webhooks::ssrf::check_url_blocking(u, self.webhook_allow_private).is_err()
        }) {
            return Err(OperatorError::Invalid {
                what: "--base-webhook-url / BASE_WEBHOOK_URL / <SESSION>_WEBHOOK_URL",
                value: url.clone(),
                expected: "a public address (or allow internal ones with --webhook-allow-private)",
            });
        }
        Ok(WebhookConfig {
            global_url,
            global_hmac_key: global_hmac_key.map(String::into_bytes),
            format,
            concurrency: self.webhook_concurrency,
            timeout: Duration::from_secs(30),
            retry: self.retry_policy()?,
            allow_private: self.webhook_allow_private,
            alerts: AlertConfig {
                reconnect_attempts: self.alert_reconnect_attempts.max(1),
                reconnect_after: Duration::from_secs(self.alert_reconnect_seconds.max(1)),
            },
            wwebjs,
            include_token: self.webhook_include_token,
            media: InboundMediaConfig {
                download: !self.skip_media,
                base64_max_bytes: self.media_base64_max_bytes,
                ..InboundMediaConfig::default()
            },
        })
    }

    fn retry_policy(&self) -> Result<RetryPolicy, OperatorError> {
        let delay = Duration::try_from_secs_f64(self.retry_delay)
            .ok()
            .filter(|d| d.as_secs() <= 86_400);
        let (Some(delay), 1..) = (delay, self.retry_count) else {
            return Err(OperatorError::Invalid {
                what: "--retry-count / WEBHOOK_RETRY_COUNT, --retry-delay / WEBHOOK_RETRY_DELAY_SECONDS",
                value: format!("{} / {}", self.retry_count, self.retry_delay),
                expected: "a count of at least 1 and a delay of 0 to 86400 seconds",
            });
        };
        Ok(RetryPolicy {
            attempts: if self.webhook_retry {
                self.retry_count
            } else {
                1
            },
            delay,
        })
    }
}

/// The SSRF guard on the global webhook at start: a literal internal address, or a name that
/// resolves to one now, is refused (it is checked again at every delivery).
fn check_global(url: &str, allow_private: bool) -> Result<(), OperatorError> {
    match wa_http::webhooks::ssrf::check_url_blocking(url, allow_private) {
        Err(refusal @ wa_http::webhooks::ssrf::UrlRefusal::Internal { .. }) => {
            Err(OperatorError::Invalid {
                what: "--global-webhook / WUZAPI_GLOBAL_WEBHOOK",
                value: refusal.to_string(),
                expected: "a public address (or allow internal ones with --webhook-allow-private)",
            })
        }
        _ => Ok(()),
    }
}

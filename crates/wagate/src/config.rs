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
//! | webhook POSTs in flight per receiver | `--webhook-concurrency` | `WAGATE_WEBHOOK_CONCURRENCY` | 8 |
//! | linked-device name | `--os-name` | `SESSION_DEVICE_NAME` | `wagate` |
//! | whatsapp-web.js `x-api-key` | `--api-key` | `API_KEY` | the admin token |
//! | whatsapp-web.js webhook | `--base-webhook-url` | `BASE_WEBHOOK_URL`, per session `<SESSIONID_UPPERCASE>_WEBHOOK_URL` | none |
//! | whatsapp-web.js callbacks not sent | `--disabled-callbacks` | `DISABLED_CALLBACKS` (`\|`-separated) | none |
//!
//! Deliberate differences from wuzapi: no random admin token (the token is required: a random
//! one printed in the logs is a secret in the logs); the default address is `127.0.0.1`, not
//! `0.0.0.0`; without `WUZAPI_GLOBAL_HMAC_KEY` the global webhook goes unsigned (wuzapi
//! generates a key and logs it). Secrets (`admin_token`, `global_hmac_key`, `api_key`) are never
//! logged: clap hides their environment values and [`ServeConfig`]'s `Debug` masks them.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use wa_http::webhooks::{Format, WebhookConfig, WwebjsHooks};
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
    #[arg(long, env = "WAGATE_WEBHOOK_CONCURRENCY", default_value_t = 8)]
    webhook_concurrency: usize,
    /// The name linked devices show on the phone (wuzapi's -osname).
    #[arg(long, env = "SESSION_DEVICE_NAME")]
    os_name: Option<String>,
    /// The whatsapp-web.js dialect's x-api-key (default: the admin token).
    #[arg(long, env = "API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The whatsapp-web.js dialect's webhook for every session (per session:
    /// <SESSIONID_UPPERCASE>_WEBHOOK_URL in the environment).
    #[arg(long, env = "BASE_WEBHOOK_URL")]
    base_webhook_url: Option<String>,
    /// whatsapp-web.js callback types not sent, `|`-separated (e.g. `message_ack|qr`).
    #[arg(long, env = "DISABLED_CALLBACKS")]
    disabled_callbacks: Option<String>,
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
        Ok(ServeConfig {
            listen: self.listen_addr()?,
            http,
            webhooks: self.webhook_config()?,
            os_name: first(self.os_name.as_deref(), &[]),
        })
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
        Ok(WebhookConfig {
            global_url,
            global_hmac_key: global_hmac_key.map(String::into_bytes),
            format,
            concurrency: self.webhook_concurrency,
            queue: 1024,
            timeout: Duration::from_secs(30),
            wwebjs,
        })
    }
}

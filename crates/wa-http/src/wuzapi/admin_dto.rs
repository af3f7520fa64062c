//! Request and answer types of the admin user routes (CONTRACTS §A.1). Request fields are
//! declared under their lowercase wire names (the admin API's camelCase folds to them:
//! `proxyConfig` → `proxyconfig`, `hmacKey` → `hmackey`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wa_store::{Account, MediaDelivery, ProxyConfig, S3Config, Secret};

use super::account_view::{ProxyConfigView, S3ConfigView};
use super::event_types::parse_list;
use super::session_settings::{HMAC_KEY_MIN, HMAC_KEY_SHORT};
use crate::error::ApiError;

/// The admin API's decode failure text.
pub(crate) const INVALID_PAYLOAD: &str = "invalid request payload";

/// `proxyConfig` of a create or update (not validated, as in wuzapi §B.8).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ProxyConfigRequest {
    enabled: bool,
    #[serde(rename = "proxyurl")]
    proxy_url: String,
}

/// `s3Config` of a create or update (camelCase on the wire).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct S3ConfigRequest {
    enabled: bool,
    endpoint: String,
    region: String,
    bucket: String,
    #[serde(rename = "accesskey")]
    access_key: String,
    #[serde(rename = "secretkey")]
    secret_key: String,
    #[serde(rename = "pathstyle")]
    path_style: Option<bool>,
    #[serde(rename = "publicurl")]
    public_url: String,
    #[serde(rename = "mediadelivery")]
    media_delivery: String,
    #[serde(rename = "retentiondays")]
    retention_days: Option<u32>,
}

impl S3ConfigRequest {
    fn to_config(&self) -> Result<S3Config, ApiError> {
        let defaults = S3Config::default();
        let media_delivery = match self.media_delivery.as_str() {
            "" | "base64" => MediaDelivery::Base64,
            "s3" => MediaDelivery::S3,
            "both" => MediaDelivery::Both,
            _ => {
                return Err(ApiError::bad_request(
                    "media_delivery must be 'base64', 's3', or 'both'",
                ))
            }
        };
        Ok(S3Config {
            enabled: self.enabled,
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            bucket: self.bucket.clone(),
            access_key: self.access_key.clone(),
            secret_key: Secret::new(self.secret_key.clone()),
            path_style: self.path_style.unwrap_or(defaults.path_style),
            public_url: self.public_url.clone(),
            media_delivery,
            retention_days: self.retention_days.unwrap_or(defaults.retention_days),
        })
    }
}

/// `POST /admin/users` and `PUT /admin/users/{id}`'s body. In a `PUT` empty and zero values
/// are left as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct UserRequest {
    pub(crate) name: String,
    pub(crate) token: String,
    webhook: String,
    expiration: i64,
    /// Comma-separated event types (each must be known, CONTRACTS §B.6).
    events: String,
    #[serde(rename = "proxyconfig")]
    proxy_config: Option<ProxyConfigRequest>,
    #[serde(rename = "s3config")]
    s3_config: Option<S3ConfigRequest>,
    /// At least 32 characters (create only).
    #[serde(rename = "hmackey")]
    hmac_key: String,
    history: i64,
    /// Linked-device name (2026 `osname`).
    osname: String,
}

impl UserRequest {
    /// The webhook URL given (trimmed; empty when none).
    pub(crate) fn webhook(&self) -> &str {
        self.webhook.trim()
    }

    /// Checks a create's fields (CONTRACTS §A.1 errors).
    pub(crate) fn check_create(&self) -> Result<(), ApiError> {
        if self.token.trim().is_empty() || self.name.trim().is_empty() || self.history < 0 {
            return Err(ApiError::bad_request(INVALID_PAYLOAD));
        }
        if !self.hmac_key.is_empty() && self.hmac_key.chars().count() < HMAC_KEY_MIN {
            return Err(ApiError::bad_request(HMAC_KEY_SHORT));
        }
        Ok(())
    }

    /// Applies a create's settings to a new account.
    pub(crate) fn apply_create(&self, account: &mut Account) -> Result<(), ApiError> {
        account.webhook = self.webhook.trim().to_owned();
        account.expiration = self.expiration;
        account.events = parse_list(&self.events).map_err(ApiError::InvalidEvent)?;
        if let Some(p) = &self.proxy_config {
            account.proxy = ProxyConfig {
                enabled: p.enabled,
                url: p.proxy_url.trim().to_owned(),
            };
        }
        if let Some(s3) = &self.s3_config {
            account.s3 = s3.to_config()?;
        }
        if !self.hmac_key.is_empty() {
            account.hmac_key = Some(Secret::new(self.hmac_key.clone().into_bytes()));
        }
        account.history = u32::try_from(self.history).unwrap_or(0);
        account.os_name = self.osname.trim().to_owned();
        Ok(())
    }

    /// Applies an update's non-empty fields; whether any was given.
    pub(crate) fn apply_update(&self, account: &mut Account) -> Result<bool, ApiError> {
        let mut changed = false;
        if !self.name.trim().is_empty() {
            account.name = self.name.trim().to_owned();
            changed = true;
        }
        if !self.token.trim().is_empty() {
            account.token = Secret::new(self.token.trim().to_owned());
            changed = true;
        }
        if !self.webhook.trim().is_empty() {
            account.webhook = self.webhook.trim().to_owned();
            changed = true;
        }
        if self.expiration != 0 {
            account.expiration = self.expiration;
            changed = true;
        }
        if !self.events.trim().is_empty() {
            account.events = parse_list(&self.events).map_err(ApiError::InvalidEvent)?;
            changed = true;
        }
        if self.history > 0 {
            account.history = u32::try_from(self.history).unwrap_or(u32::MAX);
            changed = true;
        } else if self.history < 0 {
            return Err(ApiError::bad_request(INVALID_PAYLOAD));
        }
        if let Some(p) = &self.proxy_config {
            account.proxy = ProxyConfig {
                enabled: p.enabled,
                url: p.proxy_url.trim().to_owned(),
            };
            changed = true;
        }
        if let Some(s3) = &self.s3_config {
            account.s3 = s3.to_config()?;
            changed = true;
        }
        Ok(changed)
    }
}

/// `POST /admin/users`' answer (`data`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedUser {
    events: String,
    expiration: i64,
    /// Whether an HMAC key is set (the key is never shown).
    hmac_key: bool,
    id: String,
    name: String,
    proxy_config: ProxyConfigView,
    s3_config: S3ConfigView,
    token: String,
    webhook: String,
}

impl CreatedUser {
    pub(crate) fn new(account: &Account) -> Self {
        Self {
            events: account.events.join(","),
            expiration: account.expiration,
            hmac_key: account.hmac_key.is_some(),
            id: account.id.to_string(),
            name: account.name.clone(),
            proxy_config: ProxyConfigView::new(&account.proxy),
            s3_config: S3ConfigView::new(&account.s3),
            token: account.token.expose().clone(),
            webhook: account.webhook.clone(),
        }
    }
}

/// `PUT /admin/users/{id}`'s raw answer (an envelope without `data`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Updated {
    pub(crate) code: u16,
    pub(crate) message: &'static str,
    pub(crate) success: bool,
}

/// `DELETE /admin/users/{id}`'s `data`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeletedId {
    pub(crate) id: String,
}

/// `DELETE /admin/users/{id}/full`'s `data`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeletedUser {
    pub(crate) id: String,
    pub(crate) jid: String,
    pub(crate) name: String,
}

/// `GET /health`'s raw answer (CONTRACTS §A.8). `goroutines` carries the number of live tokio
/// tasks (our equivalent); `memory_stats` (Go's allocator figures) has no equivalent and is
/// left out.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    pub(crate) status: &'static str,
    pub(crate) timestamp: String,
    pub(crate) uptime: String,
    pub(crate) active_connections: usize,
    pub(crate) total_users: usize,
    pub(crate) connected_users: usize,
    pub(crate) logged_in_users: usize,
    pub(crate) goroutines: usize,
    pub(crate) version: &'static str,
}

/// A duration as Go prints one, to the second (`1h2m3s`, `4m0s`, `0s`).
pub(crate) fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(59), "59s");
        assert_eq!(go_duration(240), "4m0s");
        assert_eq!(go_duration(3723), "1h2m3s");
    }

    #[test]
    fn a_short_hmac_key_and_unknown_events_are_refused() {
        let r: UserRequest =
            crate::json::decode(br#"{"name":"a","token":"t","hmacKey":"short"}"#).unwrap();
        assert_eq!(r.check_create().unwrap_err().to_string(), HMAC_KEY_SHORT);
        let r: UserRequest =
            crate::json::decode(br#"{"name":"a","token":"t","events":"Message,Bogus"}"#).unwrap();
        let mut account = Account::new(wa_store::AccountId::from_bytes([1; 16]), "a", "t", 0);
        let e = r.apply_create(&mut account).unwrap_err();
        assert_eq!(e.details().as_deref(), Some("invalid event: Bogus"));
    }
}

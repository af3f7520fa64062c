//! Who is calling (CONTRACTS §A.0, §C.1): the admin token in `Authorization` (no `Bearer`) on
//! `/admin/**`; a user's token in the `token` header, `?token=` or `Authorization` elsewhere;
//! the whatsapp-web.js dialect's `x-api-key`. Secrets are compared in constant time and never
//! logged.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use subtle::ConstantTimeEq;
use wa_store::Account;

use crate::error::ApiError;
use crate::state::AppState;

/// Whether two secrets are equal, in time independent of where they differ.
pub fn secret_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Proof that the caller holds the admin token.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let given = header(&parts.headers, "authorization").ok_or(ApiError::Unauthorized)?;
        if secret_eq(given, &state.config.admin_token) {
            Ok(Admin)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// The user (gateway account) whose token the caller presented.
#[derive(Debug, Clone)]
pub struct User(pub Account);

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = request_token(parts).ok_or(ApiError::Unauthorized)?;
        // Two point reads of small, hot records (token index, account): run inline. A hop to the
        // blocking pool per request cost more than the read (thread switches were a third of
        // the gateway's CPU in the HTTP benchmark).
        let account = state.gateway.store().account_by_token(&token)?;
        let account = account.ok_or(ApiError::Unauthorized)?;
        crate::phone::use_session_country_code(&account);
        Ok(User(account))
    }
}

/// Proof that the caller holds the whatsapp-web.js dialect's API key (`x-api-key`; CONTRACTS
/// §C.1 answers 403 `Invalid API key` otherwise).
#[derive(Debug, Clone, Copy)]
pub struct ApiKey;

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = crate::error::Plain;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let expected = state
            .config
            .api_key
            .as_deref()
            .unwrap_or(&state.config.admin_token);
        match header(&parts.headers, "x-api-key") {
            Some(given) if secret_eq(given, expected) => Ok(ApiKey),
            _ => Err(ApiError::InvalidApiKey.into()),
        }
    }
}

/// The caller's token: the `token` header, else `?token=`, else `Authorization`.
pub(crate) fn request_token(parts: &Parts) -> Option<String> {
    header(&parts.headers, "token")
        .map(str::to_owned)
        .or_else(|| query_token(parts.uri.query()))
        .or_else(|| header(&parts.headers, "authorization").map(str::to_owned))
        .filter(|t| !t.is_empty())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The `token` member of a query string (percent-decoded).
fn query_token(query: Option<&str>) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Q {
        token: Option<String>,
    }
    axum::extract::Query::<Q>::try_from_uri(&format!("/?{}", query?).parse().ok()?)
        .ok()?
        .0
        .token
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(secret_eq("abcdef", "abcdef"));
        assert!(!secret_eq("abcdef", "abcdeg"));
        assert!(!secret_eq("abc", "abcdef"));
    }

    #[test]
    fn token_from_the_query_string() {
        assert_eq!(query_token(Some("a=1&token=t%2B1")), Some("t+1".to_owned()));
        assert_eq!(query_token(Some("a=1")), None);
    }
}

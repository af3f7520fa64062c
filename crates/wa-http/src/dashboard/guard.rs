//! The dashboard's gatekeeping: the login cookie, the CSRF check of every state-changing
//! request (the per-login token in `X-CSRF-Token` or a form's hidden `csrf` field, and an
//! `Origin` — or, without one, `Referer` — naming this very host), and the security headers
//! of every dashboard answer (a Content-Security-Policy without inline scripts, no framing).

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, COOKIE, HOST, ORIGIN, REFERER, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::secret_eq;
use crate::error::ApiError;
use crate::state::AppState;

/// The login cookie's name.
pub(crate) const COOKIE_NAME: &str = "wagate_dashboard";

/// Where the login cookie is sent (and nowhere else).
pub(crate) const COOKIE_PATH: &str = "/dashboard";

/// The policy of every dashboard answer: our own files only (QR codes are `data:` images).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The `Set-Cookie` value of a new login (`secure`: the request came over HTTPS).
pub(crate) fn login_cookie(session: &str, secure: bool) -> String {
    let max_age = super::logins::LOGIN_TTL.as_secs();
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE_NAME}={session}; Path={COOKIE_PATH}; HttpOnly; SameSite=Strict; \
         Max-Age={max_age}{secure}"
    )
}

/// The `Set-Cookie` value that removes the login cookie.
pub(crate) fn cleared_cookie() -> String {
    format!("{COOKIE_NAME}=; Path={COOKIE_PATH}; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Whether the request arrived over HTTPS (directly or through a proxy that says so).
pub(crate) fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The login cookie's value, if the request carries one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether `Origin` (else `Referer`) names the host the request was sent to. A request with
/// neither is refused: browsers send `Origin` with every POST, PUT and DELETE.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let claimed = headers
        .get(ORIGIN)
        .or_else(|| headers.get(REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(claimed) = claimed else {
        return false;
    };
    let rest = claimed
        .strip_prefix("http://")
        .or_else(|| claimed.strip_prefix("https://"));
    rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default())
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host.trim()))
}

/// A logged-in dashboard user (the API and the event stream: 401 otherwise).
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    /// The login session id (the cookie).
    pub(crate) session: String,
    /// Its CSRF token.
    pub(crate) csrf: String,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = session_cookie(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let csrf = state
            .dashboard
            .logins
            .csrf_of(&session)
            .ok_or(ApiError::Unauthorized)?;
        Ok(Viewer { session, csrf })
    }
}

/// A logged-in dashboard user on a page: not logged in sends the browser to the login page.
#[derive(Debug, Clone)]
pub(crate) struct PageViewer(pub(crate) Viewer);

impl FromRequestParts<AppState> for PageViewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        Viewer::from_request_parts(parts, state)
            .await
            .map(PageViewer)
            .map_err(|_| Redirect::to("/dashboard/login").into_response())
    }
}

/// A logged-in user's state-changing request that passed the CSRF check (header token and
/// same origin): 401 without a login, 403 otherwise.
#[derive(Debug, Clone)]
pub(crate) struct Checked;

impl FromRequestParts<AppState> for Checked {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        let token = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        check(&parts.headers, &viewer, token)?;
        Ok(Checked)
    }
}

/// The CSRF check: `token` is the login's and the request comes from this origin.
pub(crate) fn check(headers: &HeaderMap, viewer: &Viewer, token: &str) -> Result<(), ApiError> {
    if token.is_empty() || !secret_eq(token, &viewer.csrf) {
        return Err(ApiError::Forbidden("missing or wrong CSRF token".into()));
    }
    if !same_origin(headers) {
        return Err(ApiError::Forbidden("cross-origin request refused".into()));
    }
    Ok(())
}

/// The middleware of every dashboard route: the security headers, and no caching (pages hold
/// the CSRF token).
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_origin_must_be_this_host() {
        let host = ("host", "127.0.0.1:8080");
        assert!(same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(same_origin(&headers(&[
            host,
            ("referer", "http://127.0.0.1:8080/dashboard?x=1")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:8080.evil.example")
        ])));
        assert!(!same_origin(&headers(&[host, ("origin", "null")])));
        assert!(!same_origin(&headers(&[host])));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; wagate_dashboard=abc; b=2")]);
        assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
        assert_eq!(session_cookie(&headers(&[("cookie", "a=1")])), None);
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let c = login_cookie("abc", false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"));
        assert!(c.contains("Path=/dashboard") && !c.contains("Secure"));
        assert!(login_cookie("abc", true).ends_with("; Secure"));
    }
}

//! Signing in and out: the login form (the admin token, compared in constant time), the
//! one-time links of `wagate demo`, and logout. The admin token is only ever in a POST body;
//! it never appears in a URL, a page or a log.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::guard::{check, cleared_cookie, login_cookie, over_https, same_origin, Viewer};
use super::view::esc;
use crate::auth::secret_eq;
use crate::error::ApiError;
use crate::state::AppState;

const LOGIN_PAGE: &str = include_str!("../../assets/dashboard/login.html");

/// The login page, with an error message when `error` is given.
pub(crate) fn login_page(error: Option<&str>) -> Html<String> {
    let error = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" data-testid=\"login-error\">{}</p>",
                esc(e)
            )
        })
        .unwrap_or_default();
    Html(LOGIN_PAGE.replace("{{error}}", &error))
}

/// `GET /dashboard/login`.
pub(crate) async fn form() -> Html<String> {
    login_page(None)
}

/// The field `name` of a form body (`application/x-www-form-urlencoded`), `""` when absent.
fn field(body: &[u8], name: &str) -> String {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A `303` to the sessions page with a fresh login's cookie.
fn logged_in(state: &AppState, headers: &HeaderMap) -> Response {
    let login = state.dashboard.logins.begin();
    let cookie = login_cookie(&login.session, over_https(headers));
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    h.insert(LOCATION, HeaderValue::from_static("/dashboard"));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.insert(SET_COOKIE, v);
    }
    response
}

/// `POST /dashboard/login`: the right admin token logs in; a wrong one shows the form again
/// (401) and sets nothing; after too many wrong ones the form refuses every try for a while
/// (429). A form posted from another site is refused (login CSRF).
pub(crate) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !same_origin(&headers) {
        return ApiError::Forbidden("cross-origin request refused".into()).into_response();
    }
    let logins = &state.dashboard.logins;
    if !logins.may_try() {
        tracing::warn!("dashboard login throttled: too many wrong tokens");
        return refused(
            ApiError::TooManyTries,
            "Too many wrong tokens: wait a minute and try again.",
        );
    }
    let token = field(&body, "token");
    if token.is_empty() || !secret_eq(token.trim(), &state.config.admin_token) {
        logins.failed();
        tracing::info!("dashboard login refused");
        return refused(ApiError::Unauthorized, "Wrong admin token.");
    }
    tracing::info!("dashboard login");
    logged_in(&state, &headers)
}

/// `GET /dashboard/login/once/{code}`: a one-time link logs in once; used or expired, it
/// shows the login form (401).
pub(crate) async fn once(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    if state.dashboard.logins.redeem(&code) {
        tracing::info!("dashboard login by one-time link");
        return logged_in(&state, &headers);
    }
    refused(
        ApiError::Unauthorized,
        "This login link was used already or has expired.",
    )
}

/// The login form again with `note`, under the status the one mapping gives `why`
/// ([`ApiError::status_and_text`]): the browser gets a page, not the JSON envelope.
fn refused(why: ApiError, note: &str) -> Response {
    (why.status_and_text().0, login_page(Some(note))).into_response()
}

/// `POST /dashboard/logout` (the page's form: its hidden `csrf` field, or `X-CSRF-Token`).
pub(crate) async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| field(&body, "csrf"));
    check(&headers, &viewer, &token)?;
    state.dashboard.logins.end(&viewer.session);
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    h.insert(LOCATION, HeaderValue::from_static("/dashboard/login"));
    if let Ok(v) = HeaderValue::from_str(&cleared_cookie()) {
        h.insert(SET_COOKIE, v);
    }
    Ok(response)
}

//! The dashboard's CSS and scripts, embedded in the binary (no CDN, nothing fetched from
//! elsewhere: the pages work offline and the CSP allows only this origin).

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Every embedded file: `(name, content type, bytes)`. The HTML templates are served by the
/// pages, not here.
pub(crate) const ASSETS: &[(&str, &str, &str)] = &[
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/dashboard/dashboard.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/common.js"),
    ),
    (
        "sessions.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/sessions.js"),
    ),
    (
        "session.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/session.js"),
    ),
];

/// `GET /dashboard/assets/{file}` (public: no secrets in them).
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        return ApiError::NotFound("not found".into()).into_response();
    };
    let mut response = (*body).into_response();
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn no_embedded_file_names_another_site() {
        let login = include_str!("../../assets/dashboard/login.html");
        let files = ASSETS
            .iter()
            .map(|(_, _, body)| *body)
            .chain(crate::dashboard::pages::TEMPLATES.iter().copied())
            .chain([login]);
        for body in files {
            assert!(!body.contains("http://") && !body.contains("https://"));
            assert!(!body.contains("<script>"), "no inline script");
        }
    }
}

//! The API's documentation, served by the binary itself (issue 11, item 6): the OpenAPI 3.1
//! document of [`crate::openapi::spec`] at `/api/spec.json` and `/api/spec.yaml`, and Swagger UI
//! at `/api`.
//!
//! Swagger UI's files come from the npm package `swagger-ui-dist` (Apache-2.0), committed under
//! `crates/wa-http/assets/swagger-ui/` with its licence and embedded with `include_bytes!`: the
//! page works offline and the build downloads nothing (`utoipa-swagger-ui` would fetch a zip in
//! its build script). The assets' README says how to update them.

use std::sync::OnceLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

const INDEX: &[u8] = include_bytes!("../assets/swagger-ui/index.html");
const INITIALIZER: &[u8] = include_bytes!("../assets/swagger-ui/swagger-initializer.js");
const BUNDLE: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui.css");

/// The documentation's routes (no authentication: the document holds no secrets).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/api/",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/api/swagger-initializer.js",
            get(|| async { asset(INITIALIZER, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/api/swagger-ui-bundle.js",
            get(|| async { asset(BUNDLE, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/api/swagger-ui.css",
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
        .route("/api/spec.json", get(spec_json))
        .route("/api/spec.yaml", get(spec_yaml))
}

fn asset(bytes: &'static [u8], content_type: &'static str) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// The document rendered once per process (it depends only on the build).
fn rendered(
    cell: &'static OnceLock<Result<String, String>>,
    render: fn() -> Result<String, String>,
    content_type: &'static str,
) -> Response {
    match cell.get_or_init(render) {
        Ok(text) => asset(text.as_bytes(), content_type),
        Err(e) => ApiError::Internal(format!("OpenAPI document: {e}").into()).into_response(),
    }
}

async fn spec_json() -> Response {
    static JSON: OnceLock<Result<String, String>> = OnceLock::new();
    rendered(
        &JSON,
        || {
            crate::openapi::spec()
                .to_pretty_json()
                .map_err(|e| e.to_string())
        },
        "application/json",
    )
}

async fn spec_yaml() -> Response {
    static YAML: OnceLock<Result<String, String>> = OnceLock::new();
    rendered(
        &YAML,
        || crate::openapi::spec().to_yaml().map_err(|e| e.to_string()),
        "application/yaml",
    )
}

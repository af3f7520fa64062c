//! # wa-http
//!
//! The HTTP face of wagate: axum routes in the wuzapi dialect (`token` header, the
//! `{code, data, success}` envelope, webhooks) and the whatsapp-web.js REST dialect (`x-api-key`,
//! `/session/start/{id}`), with every error mapped to an HTTP status in exactly one place.
//!
//! ```text
//! app backend ──HTTP──▶ handlers (thin) ──commands──▶ wa-client registry
//!      ▲                                                   │ events
//!      └────────────── webhooks (HMAC-signed) ◀────────────┘
//! ```
//!
//! The foundation issue only creates this crate; the HTTP issues fill it.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// The wuzapi response envelope: `{"code": <http status>, "data": …, "success": bool}`.
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    /// The HTTP status code, repeated in the body as wuzapi does.
    pub code: u16,
    /// The payload.
    pub data: T,
    /// Whether the request succeeded.
    pub success: bool,
}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

async fn health() -> Json<Envelope<Health>> {
    Json(Envelope {
        code: 200,
        data: Health {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
        },
        success: true,
    })
}

/// The HTTP routes available so far: `GET /health`.
pub fn router() -> Router {
    Router::new().route("/health", get(health))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn health_answers_in_the_wuzapi_envelope() {
        let res = router()
            .oneshot(
                Request::get("/health")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(res.status(), StatusCode::OK);
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["code"], 200);
        assert_eq!(v["success"], true);
        assert_eq!(v["data"]["status"], "ok");
    }
}

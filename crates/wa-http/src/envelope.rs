//! wuzapi's response envelope (CONTRACTS §A.0): `{"code": <status>, "data": …, "success": true}`,
//! HTTP status = `code`, keys in Go's sorted order, a trailing newline. Errors take the same shape
//! with `error` instead of `data` (rendered by [`crate::error::ApiError`]).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A successful wuzapi answer. Fields are declared in Go's (alphabetical) key order.
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    /// The HTTP status code, repeated in the body.
    pub code: u16,
    /// The payload.
    pub data: T,
    /// Extra `details` some admin routes add beside `data` (CONTRACTS §A.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Extra `message` (the admin `PUT` answer, CONTRACTS §A.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Always true here.
    pub success: bool,
}

impl<T: Serialize> Envelope<T> {
    /// `200` with `data`.
    pub fn ok(data: T) -> Self {
        Self::with_status(StatusCode::OK, data)
    }

    /// `201` with `data`.
    pub fn created(data: T) -> Self {
        Self::with_status(StatusCode::CREATED, data)
    }

    /// Any success status with `data`.
    pub fn with_status(status: StatusCode, data: T) -> Self {
        Self {
            code: status.as_u16(),
            data,
            details: None,
            message: None,
            success: true,
        }
    }

    /// Adds the `details` key.
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::OK);
        json_response(status, &self)
    }
}

/// A JSON body (with Go's trailing newline) and `Content-Type: application/json`.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "response not serialisable");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A raw JSON answer outside the envelope (routes that build their own JSON: `/health`,
/// `/session/hmac/config`, the whatsapp-web.js dialect).
#[derive(Debug)]
pub struct RawJson<T: Serialize>(pub StatusCode, pub T);

impl<T: Serialize> IntoResponse for RawJson<T> {
    fn into_response(self) -> Response {
        json_response(self.0, &self.1)
    }
}

//! The one place where an HTTP status is chosen (ARCHITECTURE principle 5).
//!
//! Handlers return [`ApiError`]; [`ApiError::status_and_text`] decides the status and the public
//! text from the error's kind (and, for the gateway's errors, from [`wa_client::Error::fault`] and
//! [`wa_client::Error::is_transient`]). The wuzapi dialect renders it as
//! `{"code", "error", "success": false}` (CONTRACTS §A.0), the whatsapp-web.js dialect as
//! `{"success": false, "error"}` through [`Plain`] (§C.1). 5xx answers never carry internals: the
//! details go to the log.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use wa_client::Fault;

use crate::envelope::json_response;

/// wuzapi's refusals that depend on the session's state: HTTP 500 with these exact lowercase
/// texts (CONTRACTS §A.0, §B.4, §F; seed 002 matches them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionRefusal {
    /// No running session for the user.
    NoSession,
    /// The session runs but is not logged in (scan the QR first, or wait for the reconnect).
    NotLoggedIn,
    /// `connect` while the socket is up.
    AlreadyConnected,
    /// The session runs but its socket is down.
    NotConnected,
    /// Asking for a QR (or a pair code) when already logged in.
    AlreadyLoggedIn,
    /// `disconnect` while the socket is down.
    DisconnectNotLoggedIn,
    /// `logout` while not logged in.
    LogoutNotLoggedIn,
    /// `logout` while the socket is down.
    LogoutNotConnected,
    /// `connect` without `Immediate`: the socket was not up within 10 s (CONTRACTS §B.2).
    ConnectFailed,
}

impl SessionRefusal {
    /// Every refusal (the 5xx answers the contract documents; the property tests allow these).
    pub const ALL: [SessionRefusal; 9] = [
        SessionRefusal::NoSession,
        SessionRefusal::ConnectFailed,
        SessionRefusal::NotLoggedIn,
        SessionRefusal::AlreadyConnected,
        SessionRefusal::NotConnected,
        SessionRefusal::AlreadyLoggedIn,
        SessionRefusal::DisconnectNotLoggedIn,
        SessionRefusal::LogoutNotLoggedIn,
        SessionRefusal::LogoutNotConnected,
    ];

    /// The exact wire text.
    pub fn text(self) -> &'static str {
        match self {
            SessionRefusal::NoSession => "no session",
            SessionRefusal::NotLoggedIn => "not logged in",
            SessionRefusal::AlreadyConnected => "already connected",
            SessionRefusal::NotConnected => "not connected",
            SessionRefusal::AlreadyLoggedIn => "already logged in",
            SessionRefusal::DisconnectNotLoggedIn => {
                "cannot disconnect because it is not logged in"
            }
            SessionRefusal::LogoutNotLoggedIn => "could not logout as it was not logged in",
            SessionRefusal::LogoutNotConnected => "could not disconnect as it was not connected",
            SessionRefusal::ConnectFailed => "failed to Connect",
        }
    }
}

/// Everything a handler can refuse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    // ----- the caller's fault -----
    /// The body is not JSON of the expected shape (Go's `could not decode Payload`).
    #[error("could not decode Payload")]
    Decode,
    /// A field is missing or invalid; the text is the contract's (e.g. `missing Phone in Payload`).
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// A field is not a phone number (issue 12 item 5): 400 `could not parse <what>`, exactly
    /// the contract's body (CONTRACTS §A.0, §A.4); why is logged ([`PhoneProblem`]'s text).
    ///
    /// [`PhoneProblem`]: crate::phone_number::PhoneProblem
    #[error("could not parse {what}")]
    BadPhone {
        /// The field (`Phone`, `chatId`, …).
        what: String,
        /// Why.
        problem: crate::phone_number::PhoneProblem,
    },
    /// Missing or wrong token.
    #[error("unauthorized")]
    Unauthorized,
    /// A dashboard request refused by its CSRF check (a missing or wrong token, another
    /// origin): 403 with the reason.
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// Too many wrong credentials in a short time (the dashboard's login form): 429.
    #[error("too many tries")]
    TooManyTries,
    /// Wrong API key (whatsapp-web.js dialect: `Invalid API key`).
    #[error("Invalid API key")]
    InvalidApiKey,
    /// Nothing here (unknown route, unknown user or session).
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    /// A known route with another method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// It exists already (e.g. `user with this token already exists`).
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// The body is larger than the configured limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// Well-formed but refused (whatsapp-web.js dialect: bad session id, session exists).
    #[error("{0}")]
    Unprocessable(Cow<'static, str>),
    /// The route exists in the contract but this build does not do it yet.
    #[error("{0}")]
    NotImplemented(Cow<'static, str>),
    /// An admin `events` list names an unknown type: 400 `invalid event type` with
    /// `details: "invalid event: <name>"` (CONTRACTS §A.1).
    #[error("invalid event type")]
    InvalidEvent(String),
    /// No account with this id: 404 `user not found` with
    /// `details: "No user found with ID: <id>"` (CONTRACTS §A.1).
    #[error("user not found")]
    UserNotFound(String),
    /// A webhook URL the SSRF guard (or its shape) refuses: 400 with the reason.
    #[error("{0}")]
    WebhookUrl(#[from] crate::webhooks::ssrf::UrlRefusal),
    /// An outgoing file could not be taken from the request (issue 13): bad base64, a refused
    /// or unreachable URL (400), more than the kind's limit (413); a staging failure is ours.
    #[error(transparent)]
    MediaInput(#[from] crate::media_input::MediaInputError),
    /// The session's state refuses the call (wuzapi: 500 with the exact text).
    #[error("{}", .0.text())]
    Session(SessionRefusal),

    // ----- limits (`limits.rs`) and our own faults -----
    /// The client did not send its request (body included) within the request timeout.
    #[error("request timeout")]
    RequestTimeout,
    /// The request arrived but the gateway did not answer within the request timeout.
    #[error("the gateway did not answer in time")]
    AnswerTimeout,
    /// No member of the pool takes sends now (issue 12): 503, try again later.
    #[error("no healthy session in pool {0}")]
    PoolUnavailable(String),
    /// Our own bug (a handler panicked, the spec did not serialise): details go to the log.
    #[error("internal error")]
    Internal(Cow<'static, str>),

    // ----- the gateway's verdicts -----
    /// A send failed (wuzapi's `error sending message: …`).
    #[error("error sending message: {0}")]
    Send(#[source] wa_client::Error),
    /// Any other gateway call failed.
    #[error(transparent)]
    Client(#[from] wa_client::Error),
    /// The on-demand history sync request failed (`GET /session/history`: wuzapi's
    /// `Failed to request history sync.`, CONTRACTS §A.2; no session and not logged in keep
    /// their own texts).
    #[error("Failed to request history sync.")]
    HistorySync(#[source] wa_client::Error),
    /// The store failed outside a gateway call.
    #[error(transparent)]
    Store(#[from] wa_store::Error),

    // ----- object storage (`objects/`) -----
    /// The user's S3 settings do not make a client: 500 `failed to initialize S3 client: …`
    /// (CONTRACTS §A.2).
    #[error("failed to initialize S3 client: {0}")]
    S3Init(#[source] object_store::Error),
    /// `POST /session/s3/test` failed: 500 `S3 connection test failed: …` (CONTRACTS §A.2). The
    /// text is object_store's, which names the endpoint and key, never the credentials.
    #[error("S3 connection test failed: {0}")]
    S3Test(#[source] object_store::Error),
    /// Storing, reading or deleting an object failed (an absent object is a 404).
    #[error("object storage failed: {0}")]
    ObjectStore(#[source] object_store::Error),
    /// The local media directory failed (an absent file is a 404).
    #[error("media directory failed: {0}")]
    MediaDir(#[source] std::io::Error),
    // ----- media (issue 13) -----
    /// A `/chat/download<kind>` failed (wuzapi's `failed to download <kind> …`, CONTRACTS
    /// §A.5): a file the media server no longer has (404/410) is 410 Gone, anything else is
    /// classified by the gateway error's fault like every other gateway call.
    #[error("failed to download {kind}: {source}")]
    Download {
        /// `image`, `video`, `audio`, `document` or `sticker`.
        kind: &'static str,
        /// Why.
        #[source]
        source: wa_client::Error,
    },
}

impl ApiError {
    /// A 400 with the contract's text.
    pub fn bad_request(text: impl Into<Cow<'static, str>>) -> Self {
        ApiError::BadRequest(text.into())
    }

    /// `missing <Field> in Payload` (CONTRACTS §A.4).
    pub fn missing(field: &str) -> Self {
        ApiError::BadRequest(format!("missing {field} in Payload").into())
    }

    /// The status and the public text; logs what the text leaves out.
    pub fn status_and_text(&self) -> (StatusCode, Cow<'static, str>) {
        match self {
            ApiError::Decode
            | ApiError::BadRequest(_)
            | ApiError::InvalidEvent(_)
            | ApiError::WebhookUrl(_) => (StatusCode::BAD_REQUEST, self.text()),
            ApiError::BadPhone { what, problem } => {
                tracing::info!(field = %what, reason = %problem, "not a phone number");
                (StatusCode::BAD_REQUEST, self.text())
            }
            ApiError::UserNotFound(_) => (StatusCode::NOT_FOUND, self.text()),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, self.text()),
            ApiError::InvalidApiKey | ApiError::Forbidden(_) => {
                (StatusCode::FORBIDDEN, self.text())
            }
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, self.text()),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, self.text()),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, self.text()),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, self.text()),
            ApiError::TooManyTries => (StatusCode::TOO_MANY_REQUESTS, self.text()),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, self.text()),
            ApiError::NotImplemented(_) => (StatusCode::NOT_IMPLEMENTED, self.text()),
            ApiError::Session(_) => (StatusCode::INTERNAL_SERVER_ERROR, self.text()),
            ApiError::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, self.text()),
            ApiError::AnswerTimeout | ApiError::PoolUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, self.text())
            }
            ApiError::Internal(detail) => {
                tracing::error!(detail = %detail, "internal error");
                internal()
            }
            ApiError::Send(e) => client_status(e, "error sending message: "),
            ApiError::Client(e) => client_status(e, ""),
            ApiError::HistorySync(e) => history_status(e),
            ApiError::Store(e) => store_status(e),
            ApiError::MediaInput(e) => media_input_status(e),
            ApiError::S3Init(_) | ApiError::S3Test(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, self.text())
            }
            ApiError::ObjectStore(object_store::Error::NotFound { .. }) => {
                (StatusCode::NOT_FOUND, "not found".into())
            }
            ApiError::MediaDir(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (StatusCode::NOT_FOUND, "not found".into())
            }
            ApiError::ObjectStore(e) => {
                tracing::error!(error = %e, "object storage failure");
                internal()
            }
            ApiError::MediaDir(e) => {
                tracing::error!(error = %e, "media directory failure");
                internal()
            }
            ApiError::Download { kind, source } => download_status(kind, source),
        }
    }

    /// The `details` key some admin errors add beside `error` (CONTRACTS §A.1).
    pub fn details(&self) -> Option<String> {
        match self {
            ApiError::InvalidEvent(name) => Some(format!("invalid event: {name}")),
            ApiError::UserNotFound(id) => Some(format!("No user found with ID: {id}")),
            _ => None,
        }
    }

    fn text(&self) -> Cow<'static, str> {
        match self {
            ApiError::BadRequest(t)
            | ApiError::NotFound(t)
            | ApiError::Conflict(t)
            | ApiError::Unprocessable(t)
            | ApiError::Forbidden(t)
            | ApiError::NotImplemented(t) => t.clone(),
            other => other.to_string().into(),
        }
    }
}

/// A gateway error: the caller's faults are 4xx with their text; the server's refusal of a send
/// is a 500 naming WhatsApp's code (wuzapi's `server returned error 479`, CONTRACTS §B.14) and
/// never "Sent"; a transient network failure is a 503; storage and our own bugs are a bare 500.
fn client_status(e: &wa_client::Error, prefix: &str) -> (StatusCode, Cow<'static, str>) {
    use wa_client::Error as E;
    match e {
        E::NotRunning(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            SessionRefusal::NoSession.text().into(),
        ),
        E::NotLoggedIn(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            SessionRefusal::NotLoggedIn.text().into(),
        ),
        E::UnknownAccount(_) | E::UnknownMessage(_) => {
            (StatusCode::NOT_FOUND, format!("{prefix}{e}").into())
        }
        E::Rejected { code, .. } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{prefix}server returned error {code}").into(),
        ),
        E::IqRefused { what, code } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{prefix}server returned error {code} to the {what} query").into(),
        ),
        E::Store(e) => store_status(e),
        // A file refused before its upload (issue 13): too large is 413, the rest 400.
        E::BadMedia(wa_client::MediaRejected::TooLarge { .. }) => {
            (StatusCode::PAYLOAD_TOO_LARGE, format!("{prefix}{e}").into())
        }
        E::BadMedia(_) => (StatusCode::BAD_REQUEST, format!("{prefix}{e}").into()),
        // The caller's id names a message accepted before (issue 12): one that failed without
        // a server code, or another message.
        E::AlreadyAccepted(_) | E::IdConflict(_) => {
            (StatusCode::CONFLICT, format!("{prefix}{e}").into())
        }
        // The send's bound passed (`--send-timeout`): worth retrying with the same `Id`.
        E::SessionDown { .. } | E::NotConfirmed { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{prefix}{e}").into(),
        ),
        _ => match e.fault() {
            Fault::Caller => (StatusCode::BAD_REQUEST, format!("{prefix}{e}").into()),
            Fault::Peer | Fault::Network if e.is_transient() => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{prefix}{e}").into(),
            ),
            Fault::Peer | Fault::Network => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{prefix}{e}").into(),
            ),
            Fault::Storage | Fault::Internal => {
                tracing::error!(error = %e, "gateway failure");
                internal()
            }
        },
    }
}

/// A file that could not be taken from the request: the caller's (400, 413 when too large),
/// or a staging failure (ours: a bare 500).
fn media_input_status(e: &crate::media_input::MediaInputError) -> (StatusCode, Cow<'static, str>) {
    use crate::media_input::MediaInputError as M;
    match e {
        M::BadBase64 | M::Refused { .. } | M::Unreachable { .. } | M::Status { .. } => {
            (StatusCode::BAD_REQUEST, e.to_string().into())
        }
        M::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, e.to_string().into()),
        M::Staging(_) => {
            tracing::error!(error = %e, "media staging failure");
            internal()
        }
    }
}

/// A failed download: the file gone from the media server (404/410: ask the sender to send it
/// again) is 410 Gone; a file that does not verify against the caller's key and hashes is 400;
/// the session's own refusals as every route answers them; otherwise the gateway error's
/// status with wuzapi's `failed to download <kind>: ` prefix.
fn download_status(kind: &str, e: &wa_client::Error) -> (StatusCode, Cow<'static, str>) {
    use wa_client::{Error as E, MediaFailure as M};
    match e {
        E::NotRunning(_) | E::NotLoggedIn(_) => client_status(e, ""),
        E::Media(M::Status {
            status: 404 | 410, ..
        }) => (
            StatusCode::GONE,
            format!("failed to download {kind}: {e}: the file is gone from the media server")
                .into(),
        ),
        // The caller's fields do not match the file (key or hashes): theirs to fix.
        E::Media(M::Verify(_)) => (
            StatusCode::BAD_REQUEST,
            format!("failed to download {kind}: {e}").into(),
        ),
        _ => client_status(e, &format!("failed to download {kind}: ")),
    }
}

/// A failed history sync request: the session's own refusals as every route answers them,
/// anything else wuzapi's one text (the cause goes to the log).
fn history_status(e: &wa_client::Error) -> (StatusCode, Cow<'static, str>) {
    use wa_client::Error as E;
    match e {
        E::NotRunning(_) | E::NotLoggedIn(_) => client_status(e, ""),
        _ => {
            tracing::warn!(error = %e, "history sync request failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Failed to request history sync.".into(),
            )
        }
    }
}

/// A store error: the caller's (unknown account, token taken) are 404/409/400 with their text;
/// storage failures are a bare 500.
fn store_status(e: &wa_store::Error) -> (StatusCode, Cow<'static, str>) {
    use wa_store::Error as S;
    match e {
        S::AccountNotFound(_) => (StatusCode::NOT_FOUND, "user not found".into()),
        S::TokenTaken => (
            StatusCode::CONFLICT,
            "user with this token already exists".into(),
        ),
        S::AccountExists(_) | S::PoolExists(_) => (StatusCode::CONFLICT, e.to_string().into()),
        S::PoolNotFound(_) => (StatusCode::NOT_FOUND, e.to_string().into()),
        _ => match e.fault() {
            wa_store::Fault::Caller => (StatusCode::BAD_REQUEST, e.to_string().into()),
            wa_store::Fault::Storage | wa_store::Fault::Data => {
                tracing::error!(error = %e, "store failure");
                internal()
            }
        },
    }
}

fn internal() -> (StatusCode, Cow<'static, str>) {
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
}

#[derive(Serialize)]
struct WuzapiError<'a> {
    code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<String>,
    error: &'a str,
    success: bool,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, text) = self.status_and_text();
        json_response(
            status,
            &WuzapiError {
                code: status.as_u16(),
                details: self.details(),
                error: &text,
                success: false,
            },
        )
    }
}

/// The whatsapp-web.js dialect's rendering of the same error: `{"success": false, "error"}`.
#[derive(Debug)]
pub struct Plain(pub ApiError);

impl From<ApiError> for Plain {
    fn from(e: ApiError) -> Self {
        Plain(e)
    }
}

#[derive(Serialize)]
struct PlainError<'a> {
    success: bool,
    error: &'a str,
}

impl IntoResponse for Plain {
    fn into_response(self) -> Response {
        let (status, text) = self.0.status_and_text();
        json_response(
            status,
            &PlainError {
                success: false,
                error: &text,
            },
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_send_is_never_a_success_and_names_the_code() {
        let e = ApiError::Send(wa_client::Error::Rejected {
            id: "3EB0AA".into(),
            code: 463,
        });
        let (status, text) = e.status_and_text();
        assert!(status.is_server_error());
        assert_eq!(text, "error sending message: server returned error 463");
    }

    #[test]
    fn session_refusals_are_wuzapis_texts() {
        let (status, text) = ApiError::Session(SessionRefusal::NoSession).status_and_text();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(text, "no session");
    }

    #[test]
    fn store_failures_hide_their_details() {
        let e = ApiError::Store(wa_store::Error::Io {
            path: "/secret/path".into(),
            source: std::io::Error::other("secret detail"),
        });
        let (status, text) = e.status_and_text();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(text, "internal error");
    }
}

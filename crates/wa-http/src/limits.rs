//! What a client cannot make the server do (issue 11, item 7).
//!
//! - **Body size**: a `Content-Length` above [`HttpConfig::body_limit`] is refused with `413`
//!   before routing or authentication, on every path, the body read and dropped (never held)
//!   up to 4 times the limit so that the client, still writing, receives the answer; a chunked body is cut at the same size by
//!   axum's `DefaultBodyLimit` when a handler reads it (`GoJson` maps that to `413` as well).
//! - **Request time**: [`guard`] gives each request [`HttpConfig::request_timeout`], reading its
//!   body included. When it runs out, a client still sending its body gets `408 request timeout`,
//!   a request that had fully arrived gets `503` (the gateway was too slow; retry later).
//! - **Headers**: [`serve`] runs hyper's HTTP/1 connection with
//!   [`HttpConfig::header_timeout`]: a client that sends half a request line or half its
//!   headers (or idles on a keep-alive connection) is disconnected. `axum::serve` has no such
//!   timeout, hence this accept loop.
//! - **Panics**: a handler that panics answers `500 internal error` (logged), not a reset
//!   connection.
//! - **axum's rejections** (a query string or path parameter that does not parse) are plain
//!   text; they are answered in the envelope like every other refusal.
//!
//! Concurrency on one session is the gateway's business (its per-account state is behind the
//! facade's locks); the tests fire parallel requests at one user to show it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::{FutureExt, StreamExt};
use hyper::body::{Frame, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::error::ApiError;
use crate::state::HttpConfig;

/// A body declared over the limit is read and dropped before the `413` when it is at most this
/// many times the limit; a larger one is refused at once (and its connection closed).
const DRAIN_FACTOR: u64 = 4;

/// The most of a plain-text rejection's text kept for the envelope.
const REJECTION_TEXT_LIMIT: usize = 4096;

/// How long [`serve`] lets requests in flight finish after the shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// `router` with the limits of `config`: the body-size limit and [`guard`] on every route (and
/// on its fallbacks, if it has them already).
pub fn apply<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    config: &Arc<HttpConfig>,
) -> Router<S> {
    router
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(config),
            guard,
        ))
}

/// The middleware of every route: size check, request timeout, panic to `500`.
async fn guard(State(config): State<Arc<HttpConfig>>, request: Request, next: Next) -> Response {
    if let Some(len) = declared_length(&request).filter(|len| *len > config.body_limit as u64) {
        // Read (and drop) a body of reasonable size first: a client still writing when the
        // connection closes gets a reset instead of our 413.
        if len <= DRAIN_FACTOR.saturating_mul(config.body_limit as u64) {
            let drain = request
                .into_body()
                .into_data_stream()
                .for_each(|_| async {});
            let _ = tokio::time::timeout(config.request_timeout, drain).await;
        }
        return ApiError::PayloadTooLarge.into_response();
    }
    let arrived = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| Watched::wrap(body, Arc::clone(&arrived)));
    let run = AssertUnwindSafe(next.run(request)).catch_unwind();
    match tokio::time::timeout(config.request_timeout, run).await {
        Ok(Ok(response)) => in_envelope(response).await,
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            ApiError::Internal(format!("handler panicked: {what}").into()).into_response()
        }
        Err(_) if arrived.load(Ordering::Acquire) => ApiError::AnswerTimeout.into_response(),
        Err(_) => ApiError::RequestTimeout.into_response(),
    }
}

/// axum's own rejections (a query string or path parameter that does not parse, …) are plain
/// text: answer them in the envelope like every other refusal (`400` with axum's text, `413`).
async fn in_envelope(response: Response) -> Response {
    let status = response.status();
    let plain = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !plain || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), REJECTION_TEXT_LIMIT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::NOT_FOUND => ApiError::NotFound("not found".into()),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        s if s.is_client_error() => ApiError::BadRequest(text.into()),
        _ => ApiError::Internal(text.into()),
    };
    error.into_response()
}

fn declared_length(request: &Request) -> Option<u64> {
    request
        .headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A request body that records when it has been received whole.
struct Watched {
    inner: Body,
    arrived: Arc<AtomicBool>,
}

impl Watched {
    fn wrap(inner: Body, arrived: Arc<AtomicBool>) -> Body {
        if hyper::body::Body::is_end_stream(&inner) {
            arrived.store(true, Ordering::Release);
        }
        Body::new(Watched { inner, arrived })
    }
}

impl hyper::body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.arrived.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `app` on `listener` until `shutdown` completes, each connection with the header-read
/// timeout of `config`; then lets requests in flight finish (10 s at most). A failed accept or
/// connection is logged, never fatal.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: &HttpConfig,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let inner = TowerToHyperService::new(app.clone());
                    // The client's address, for handlers that look at it (`/metrics`'s
                    // allow-list): axum's `ConnectInfo`.
                    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
                        request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                        hyper::service::Service::call(&inner, request)
                    });
                    let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "HTTP connection ended");
                        }
                    });
                }
                // Out of file descriptors and the like: let the table drain, then go on.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections still open at shutdown");
    }
}

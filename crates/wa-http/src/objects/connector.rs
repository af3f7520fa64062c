//! object_store's HTTP transport over the workspace's reqwest client.
//!
//! object_store's own reqwest connector needs reqwest's rustls backend, which (enabled for one
//! crate, enabled for all) makes every other `reqwest::Client::new()` panic without a
//! process-wide crypto provider. This one uses reqwest as the workspace builds it, so S3 works
//! over whatever reqwest speaks: plain HTTP today, HTTPS once the workspace enables TLS.
//! Bodies stream both ways.

use std::time::Duration;

use http_body_util::BodyExt;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService,
};
use object_store::ClientOptions;

/// How long connecting to the S3 endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the endpoint may stay silent mid-request.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Builds [`Reqwest`] services for object_store.
#[derive(Debug, Default)]
pub(crate) struct ReqwestConnector;

impl HttpConnector for ReqwestConnector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        // `https` endpoints: rustls with ring and the webpki roots (wa-client `tls.rs`).
        let tls =
            wa_client::https_client_config(&[]).map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?;
        Ok(HttpClient::new(Reqwest(client)))
    }
}

/// One reqwest client as an object_store [`HttpService`].
#[derive(Debug)]
struct Reqwest(reqwest::Client);

/// How object_store should treat a reqwest failure (whether it retries).
fn kind(e: &reqwest::Error) -> HttpErrorKind {
    if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_connect() {
        HttpErrorKind::Connect
    } else if e.is_decode() {
        HttpErrorKind::Decode
    } else if e.is_request() || e.is_body() {
        HttpErrorKind::Request
    } else {
        HttpErrorKind::Unknown
    }
}

fn http_error(e: reqwest::Error) -> HttpError {
    HttpError::new(kind(&e), e)
}

#[async_trait::async_trait]
impl HttpService for Reqwest {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = req.into_parts();
        let url = reqwest::Url::parse(&parts.uri.to_string())
            .map_err(|e| HttpError::new(HttpErrorKind::Request, e))?;
        let mut request = reqwest::Request::new(parts.method, url);
        *request.headers_mut() = parts.headers;
        // Streamed as object_store holds it (a part is not copied again); its exact size hint
        // and object_store's Content-Length keep it a fixed-length body.
        *request.body_mut() = Some(reqwest::Body::wrap(body));
        let response = self.0.execute(request).await.map_err(http_error)?;
        let response: axum::http::Response<reqwest::Body> = response.into();
        let (parts, body) = response.into_parts();
        Ok(HttpResponse::from_parts(
            parts,
            HttpResponseBody::new(body.map_err(http_error)),
        ))
    }
}

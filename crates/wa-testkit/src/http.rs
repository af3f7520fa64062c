//! JSON requests to an HTTP API under test (wa-sim's admin API today), through `reqwest`.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

/// A plain `reqwest::Client` for tests. reqwest is built with `rustls-no-provider`, so a client
/// built before any rustls provider is installed panics: this installs ring as the process
/// default first ([`wa_client::install_crypto_provider`]). Every test's client comes from here.
pub fn http_client() -> reqwest::Client {
    wa_client::install_crypto_provider();
    reqwest::Client::new()
}

/// Sends one request to `http://{addr}{path}` with an optional `(content type, body)` and
/// returns the status and the JSON body (`Null` when empty; a non-JSON body as a JSON string).
///
/// # Panics
/// If the server does not answer within `deadline` or the exchange fails: the caller is a test.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
    deadline: Duration,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .unwrap_or_else(|e| panic!("HTTP method {method:?}: {e}"));
    let mut builder = http_client()
        .request(method, format!("http://{addr}{path}"))
        .timeout(deadline);
    if let Some((content_type, body)) = body {
        builder = builder
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body.to_owned());
    }
    let response = builder
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("{path} body: {e}"));
    let json = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, json)
}

//! A webhook receiver for the HTTP API's end-to-end tests: an HTTP server on `127.0.0.1` that
//! takes every `POST` (any path), answers 200 and hands the JSON body (`WEBHOOK_FORMAT=json`,
//! CONTRACTS §B.6) to the test, which waits on it like any other event stream
//! ([`crate::wait_for`] over [`WebhookSink::events`]). A body that is not JSON arrives as a JSON
//! string.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Router;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A running receiver (stopped when dropped).
#[derive(Debug)]
pub struct WebhookSink {
    addr: SocketAddr,
    /// The bodies received, in order.
    pub events: mpsc::UnboundedReceiver<Value>,
    task: JoinHandle<()>,
}

impl WebhookSink {
    /// Starts a receiver on a free port.
    ///
    /// # Panics
    /// If it cannot bind: the caller is a test.
    pub async fn start() -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("webhook sink bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("webhook sink address: {e}"));
        let app = Router::new().fallback(receive).with_state(tx);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("webhook sink stopped: {e}");
            }
        });
        Self { addr, events, task }
    }

    /// The URL to give the gateway.
    pub fn url(&self) -> String {
        format!("http://{}/webhook", self.addr)
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(tx): State<mpsc::UnboundedSender<Value>>, body: Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    // A test that stopped listening is not the sender's fault.
    let _ = tx.send(value);
    StatusCode::OK
}

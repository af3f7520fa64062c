//! A local webhook receiver for the HTTP API's tests: an axum server on `127.0.0.1:0` that
//! answers `200` to every POST and hands each request (path, headers, body) to the test. It can
//! play a receiver that is down ([`HookReceiver::set_down`]): it then answers `503` and hands
//! nothing over, counting the refusals.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use serde_json::Value;
use tokio::sync::mpsc;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Hook {
    /// Its path (`/user`, `/global`, …).
    pub path: String,
    /// Its headers (names lowercase).
    pub headers: HashMap<String, String>,
    /// Its body.
    pub body: Vec<u8>,
}

impl Hook {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The form fields of an `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> HashMap<String, String> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// The payload object (wuzapi's `{"type", "event", …}`): a form body's `jsonData`, or the
    /// JSON body itself. `Null` when neither parses.
    pub fn payload(&self) -> Value {
        let json = if self.header("content-type") == Some("application/json") {
            self.body.clone()
        } else {
            self.form()
                .remove("jsonData")
                .unwrap_or_default()
                .into_bytes()
        };
        serde_json::from_slice(&json).unwrap_or(Value::Null)
    }
}

/// The receiver; stops when dropped.
#[derive(Debug)]
pub struct HookReceiver {
    addr: SocketAddr,
    /// The requests, in arrival order (wait on them with [`crate::wait_for`]).
    pub hooks: mpsc::UnboundedReceiver<Hook>,
    task: tokio::task::JoinHandle<()>,
    down: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

impl HookReceiver {
    /// Starts a receiver.
    ///
    /// # Panics
    /// If it cannot listen.
    pub async fn start() -> Self {
        let (tx, hooks) = mpsc::unbounded_channel();
        let down = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicUsize::new(0));
        let (is_down, refusals) = (Arc::clone(&down), Arc::clone(&refused));
        let app = Router::new().fallback(move |request: Request| {
            let tx = tx.clone();
            let (is_down, refusals) = (Arc::clone(&is_down), Arc::clone(&refusals));
            async move {
                if is_down.load(Ordering::SeqCst) {
                    refusals.fetch_add(1, Ordering::SeqCst);
                    return (StatusCode::SERVICE_UNAVAILABLE, "down");
                }
                let path = request.uri().path().to_owned();
                let headers = headers_of(request.headers());
                let body = axum::body::to_bytes(request.into_body(), 64 << 20)
                    .await
                    .unwrap_or_else(|_| Bytes::new());
                let _ = tx.send(Hook {
                    path,
                    headers,
                    body: body.to_vec(),
                });
                (StatusCode::OK, "ok")
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the webhook receiver listens");
        let addr = listener.local_addr().expect("its address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            hooks,
            task,
            down,
            refused,
        }
    }

    /// Plays a receiver that is down (`503` to everything, nothing handed over) or up again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// How many requests were refused while down.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for HookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn headers_of(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

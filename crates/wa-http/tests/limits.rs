//! Limits and bad input (issue 11, item 7) on a real socket: the server loop of `wa_http::serve`
//! with short timeouts, raw TCP clients that stall, bodies over the limit, a handler that never
//! answers and one that panics. Routes that read a body are test routes under
//! `wa_http::limits::apply`, the same layers `wa_http::router` puts on every route.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use wa_http::json::GoJson;
use wa_http::{ApiError, HttpConfig};

const HEADER_TIMEOUT: Duration = Duration::from_millis(300);
const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);
const BODY_LIMIT: usize = 4096;
/// Far longer than any timeout above: what "cut off" must beat.
const DEADLINE: Duration = Duration::from_secs(10);

fn config() -> HttpConfig {
    let mut config = HttpConfig::new(common::ADMIN);
    config.header_timeout = HEADER_TIMEOUT;
    config.request_timeout = REQUEST_TIMEOUT;
    config.body_limit = BODY_LIMIT;
    config
}

/// Test routes under the limits: an echo of a `GoJson` body, a handler that never answers, one
/// that panics.
fn test_router(config: &Arc<HttpConfig>) -> Router {
    let routes = Router::new()
        .route(
            "/echo",
            post(|GoJson(v): GoJson<Value>| async move { axum::Json(v) }),
        )
        .route("/never", get(std::future::pending::<()>))
        .route(
            "/query",
            get(
                |axum::extract::Query(q): axum::extract::Query<Vec<(String, u8)>>| async move {
                    axum::Json(q.len())
                },
            ),
        )
        .route(
            "/panic",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("boom");
                }
            }),
        )
        .fallback(|| async { ApiError::NotFound("not found".into()) });
    wa_http::limits::apply(routes, config)
}

/// A server on 127.0.0.1 serving `app`; stops when the sender is dropped.
async fn start(app: Router) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let config = config();
    tokio::spawn(async move {
        wa_http::serve(listener, app, &config, async {
            let _ = stopped.await;
        })
        .await;
    });
    (addr, stop)
}

/// Everything the server sends until it closes the connection (or `DEADLINE` passes: panics).
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server kept the connection open");
    String::from_utf8_lossy(&answer).into_owned()
}

fn body_json(answer: &str) -> Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body.trim()).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_client_that_sends_half_its_headers_is_cut_off() {
    let (addr, _stop) = start(test_router(&Arc::new(config()))).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /never HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(started.elapsed() >= HEADER_TIMEOUT, "cut off too early");
    // hyper closes the connection (answering 408 at most); never a routed answer.
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (addr, _stop) = start(test_router(&Arc::new(config()))).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_a_408_in_the_envelope() {
    let (addr, _stop) = start(test_router(&Arc::new(config()))).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"Phone\":")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(
        body_json(&answer),
        serde_json::json!({"code": 408, "error": "request timeout", "success": false})
    );
}

#[tokio::test]
async fn a_request_the_gateway_never_answers_is_a_503_in_the_envelope() {
    let (addr, _stop) = start(test_router(&Arc::new(config()))).await;
    let client = wa_testkit::http_client();
    let response = client
        .get(format!("http://{addr}/never"))
        .timeout(DEADLINE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let json: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(json["code"], 503);
    assert_eq!(json["success"], false);
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_without_internals() {
    let (addr, _stop) = start(test_router(&Arc::new(config()))).await;
    let response = wa_testkit::http_client()
        .get(format!("http://{addr}/panic"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    let text = response.text().await.unwrap();
    assert!(!text.contains("boom"), "{text}");
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"code": 500, "error": "internal error", "success": false})
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_declared_or_chunked() {
    let (addr, _stop) = start(test_router(&Arc::new(config()))).await;
    let client = wa_testkit::http_client();
    let big = format!("{{\"Body\":\"{}\"}}", "a".repeat(BODY_LIMIT));
    // Declared: refused before routing, even on an unknown path.
    for path in ["/echo", "/no/such/route"] {
        let response = client
            .post(format!("http://{addr}{path}"))
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 413, "{path}");
        let json: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": 413, "error": "request body too large", "success": false})
        );
    }
    // Declared far over the limit: refused at once, the body never read.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{{",
        BODY_LIMIT * 100
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut first = [0u8; 12];
    tokio::time::timeout(DEADLINE, stream.read_exact(&mut first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&first, b"HTTP/1.1 413");
    // Chunked (no Content-Length): cut when the handler reads past the limit.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let chunk = big.as_bytes();
    let head =
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let mut request = head.as_bytes().to_vec();
    request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
    request.extend_from_slice(chunk);
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(body_json(&answer)["code"], 413);
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_400_in_the_envelope() {
    let (addr, _stop) = start(test_router(&Arc::new(config()))).await;
    let client = wa_testkit::http_client();
    for body in ["{\"Phone\":", "not json", "", "[1,2", "{\"a\":1}}"] {
        let response = client
            .post(format!("http://{addr}/echo"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{body:?}");
        let json: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": 400, "error": "could not decode Payload", "success": false})
        );
    }
}

#[tokio::test]
async fn axums_own_rejections_are_answered_in_the_envelope() {
    let (addr, _stop) = start(test_router(&Arc::new(config()))).await;
    let response = wa_testkit::http_client()
        .get(format!("http://{addr}/query?n=300"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let json: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(json["code"], 400);
    assert_eq!(json["success"], false);
    assert!(json["error"].as_str().unwrap().contains("query"), "{json}");
}

#[tokio::test]
async fn shutdown_stops_accepting() {
    let (addr, stop) = start(test_router(&Arc::new(config()))).await;
    assert!(TcpStream::connect(addr).await.is_ok());
    drop(stop);
    let refused = tokio::time::timeout(DEADLINE, async {
        loop {
            if TcpStream::connect(addr).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(refused.is_ok(), "still accepting after shutdown");
}

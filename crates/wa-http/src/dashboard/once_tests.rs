//! The dashboard through the router in process: the one-time login link of `wagate demo` logs
//! in once (a second use, or a made-up code, is refused); wrong tokens are refused (401) and,
//! past the limit, throttled (429, even for the right token); the event stream ends on `close()`.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use wa_client::{ClientConfig, Gateway};
use wa_store::MemStore;

use crate::state::{AppState, HttpConfig};

fn state() -> AppState {
    let gateway = Gateway::new(Arc::new(MemStore::new()), ClientConfig::default());
    AppState::new(
        Arc::new(gateway),
        HttpConfig::new("admin-token-for-the-once-test"),
    )
}

async fn get(state: &AppState, path: &str, cookie: Option<&str>) -> axum::response::Response {
    let mut request = Request::get(path).header("host", "127.0.0.1:1");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    crate::router(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_one_time_link_logs_in_once() {
    let state = state();
    let link = state.dashboard.one_time_link();
    assert!(link.starts_with("/dashboard/login/once/"), "{link}");

    let first = get(&state, &link, None).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.headers()["location"], "/dashboard");
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie.split(';').next().unwrap().to_owned();
    let page = get(&state, "/dashboard", Some(&pair)).await;
    assert_eq!(page.status(), StatusCode::OK);

    let again = get(&state, &link, None).await;
    assert_eq!(
        again.status(),
        StatusCode::UNAUTHORIZED,
        "the code is burnt"
    );
    assert!(again.headers().get("set-cookie").is_none());
    let bytes = axum::body::to_bytes(again.into_body(), 1 << 20)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("data-testid=\"login-error\""));

    let made_up = get(
        &state,
        "/dashboard/login/once/00112233445566778899aabbccddeeff",
        None,
    )
    .await;
    assert_eq!(made_up.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_event_stream_ends_when_the_dashboard_closes() {
    let state = state();
    let login = get(&state, &state.dashboard.one_time_link(), None).await;
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let stream = get(&state, "/dashboard/events", Some(&pair)).await;
    assert_eq!(stream.status(), StatusCode::OK);
    state.dashboard.close();
    let body = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        axum::body::to_bytes(stream.into_body(), 1 << 20),
    )
    .await
    .expect("the stream ended")
    .unwrap();
    assert!(body.is_empty(), "no session, nothing sent");
}

async fn post_login(state: &AppState, token: &str) -> axum::response::Response {
    let request = Request::post("/dashboard/login")
        .header("host", "127.0.0.1:1")
        .header("origin", "http://127.0.0.1:1")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={token}")))
        .unwrap();
    crate::router(state.clone()).oneshot(request).await.unwrap()
}

#[tokio::test]
async fn wrong_tokens_are_refused_then_throttled() {
    let state = state();
    for _ in 0..super::logins::MAX_FAILURES {
        let wrong = post_login(&state, "not-the-admin-token").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert!(wrong.headers().get("set-cookie").is_none());
    }
    let throttled = post_login(&state, "admin-token-for-the-once-test").await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().get("set-cookie").is_none());
    let bytes = axum::body::to_bytes(throttled.into_body(), 1 << 20)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("data-testid=\"login-error\""));
}

//! The one-time login link of `wagate demo`, through the router in process: it logs in once
//! (the cookie opens the sessions page), a second use is refused, a made-up code too.

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

//! Property test over the JSON bodies of every route (issue 11, proof): for each operation of
//! the OpenAPI document (so a new route is covered without touching this file), arbitrary
//! bodies — wrong types, huge numbers, deep nesting, unicode, truncated text — with the
//! operation's credentials and arbitrary path parameters. No panic, no 5xx but a session's
//! documented ones, every refusal in the envelope. In process (`tower::ServiceExt::oneshot`
//! on `wa_http::router` over a `MemStore` gateway against a wa-sim), so it runs in `cargo test`;
//! `crates/wagate/tests/http_fuzz.rs` does a short run over the real binary.
//!
//! `FUZZ_CASES` sets the cases per operation (default 24).

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::to_bytes;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tower::ServiceExt;
use wa_testkit::fuzz_json::{body, check_answer, fill_path, path_values, spec_routes};

#[test]
fn no_body_makes_any_route_panic_or_fail() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = runtime.block_on(wa_testkit::start_sim(&[]));
    let app = wa_http::router(common::state(&sim, |_| {}));
    let spec = serde_json::to_value(wa_http::openapi::spec()).unwrap();
    let routes = spec_routes(&spec);
    let refusals = common::refusals();
    assert!(!routes.is_empty());
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let statuses = std::sync::Mutex::new(std::collections::BTreeMap::<u16, u32>::new());
    for route in &routes {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (body(route.fields.clone()), path_values());
        let outcome = runner.run(&strategy, |(bytes, params)| {
            let path = fill_path(&route.path, &params);
            let request =
                common::request(&route.method, &path, route.scheme.as_deref(), bytes.clone());
            let (status, answer) = runtime.block_on(async {
                let response = app.clone().oneshot(request).await.unwrap();
                let status = response.status();
                (
                    status,
                    to_bytes(response.into_body(), usize::MAX).await.unwrap(),
                )
            });
            *statuses.lock().unwrap().entry(status.as_u16()).or_default() += 1;
            check_answer(status.as_u16(), &answer, &refusals).map_err(|why| {
                TestCaseError::fail(format!(
                    "{} {path} with {:?}: {why}",
                    route.method,
                    String::from_utf8_lossy(&bytes)
                ))
            })
        });
        if let Err(e) = outcome {
            panic!("{} {}: {e}", route.method, route.path);
        }
    }
    println!(
        "{} operations, {cases} bodies each; answers by status: {:?}",
        routes.len(),
        statuses.lock().unwrap()
    );
}

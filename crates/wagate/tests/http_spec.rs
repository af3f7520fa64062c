//! The OpenAPI document and Swagger UI on the real binary (issue 11, item 6), and a short run of
//! the body property test over real sockets (the long run is in-process:
//! `crates/wa-http/tests/fuzz_bodies.rs`).

#![allow(clippy::unwrap_used)]

use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use wa_testkit::fuzz_json::{body, check_answer, fill_path, path_values, spec_routes};
use wa_testkit::{start_sim, Served, ADMIN_TOKEN};

mod spec_support;

const BIN: &str = env!("CARGO_BIN_EXE_wagate");

#[tokio::test]
async fn the_binary_serves_its_document_in_json_and_yaml() {
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;

    let (status, content_type, text) = served.request_raw("GET", "/api/spec.json", &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc, serde_json::to_value(wa_http::openapi::spec()).unwrap());
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(doc["paths"]["/health"]["get"].is_object());
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["token"]["name"], "token");
    assert_eq!(schemes["admin"]["name"], "Authorization");
    assert_eq!(schemes["apiKey"]["name"], "x-api-key");

    let (status, content_type, yaml) = served.request_raw("GET", "/api/spec.yaml", &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/yaml");
    assert!(
        yaml.starts_with("openapi: 3.1"),
        "{}",
        &yaml[..yaml.len().min(200)]
    );
    assert!(yaml.contains("/health:"));
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary_with_no_outside_url() {
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;

    for page in ["/api", "/api/"] {
        let (status, content_type, html) = served.request_raw("GET", page, &[], None).await;
        assert_eq!(status, 200, "{page}");
        assert!(content_type.starts_with("text/html"), "{content_type}");
        assert!(html.contains("/api/swagger-ui-bundle.js"));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
    }
    let (status, content_type, init) = served
        .request_raw("GET", "/api/swagger-initializer.js", &[], None)
        .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/javascript"));
    assert!(init.contains("/api/spec.json"));
    assert!(!init.contains("http://") && !init.contains("https://"));
    let (status, content_type, bundle) = served
        .request_raw("GET", "/api/swagger-ui-bundle.js", &[], None)
        .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/javascript"));
    assert!(bundle.len() > 1_000_000 && bundle.contains("SwaggerUIBundle"));
    let (status, content_type, css) = served
        .request_raw("GET", "/api/swagger-ui.css", &[], None)
        .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/css"));
    assert!(css.contains(".swagger-ui"));
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let sim = start_sim(&[]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let doc = serde_json::to_value(wa_http::openapi::spec()).unwrap();
    for route in spec_routes(&doc) {
        let path = fill_path(&route.path, &["x".to_owned()]);
        let (status, json) = served.request(&route.method, &path, &[], Some("{}")).await;
        assert_ne!(status, 405, "{} {path}: {json}", route.method);
        assert!(
            !(status == 404 && json["error"] == "not found"),
            "{} {path} is documented but not routed",
            route.method
        );
    }
}

/// `FUZZ_CASES_BINARY` bodies per operation (default 4) over the real binary, with the
/// operation's credentials (a user put in the gateway's store).
#[test]
fn arbitrary_bodies_over_the_binary() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = runtime.block_on(start_sim(&[]));
    let mut served = runtime.block_on(Served::start(BIN.as_ref(), &sim, &[]));
    let token = "fuzz-user-token-0123456789";
    runtime.block_on(spec_support::add_user(&mut served, token));
    let (_, _, text) = runtime.block_on(served.request_raw("GET", "/api/spec.json", &[], None));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let routes = spec_routes(&doc);
    let refusals = spec_support::refusals();
    let cases = std::env::var("FUZZ_CASES_BINARY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    for route in &routes {
        let credentials: &[(&str, &str)] = match route.scheme.as_deref() {
            Some("admin") => &[("Authorization", ADMIN_TOKEN)],
            Some("apiKey") => &[("x-api-key", ADMIN_TOKEN)],
            Some(_) => &[("token", token)],
            None => &[],
        };
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (body(route.fields.clone()), path_values());
        let outcome = runner.run(&strategy, |(bytes, params)| {
            let path = fill_path(&route.path, &params);
            let text = String::from_utf8_lossy(&bytes);
            let (status, _, answer) = runtime.block_on(served.request_raw(
                &route.method,
                &path,
                credentials,
                Some(&text),
            ));
            check_answer(status, answer.as_bytes(), &refusals).map_err(|why| {
                TestCaseError::fail(format!("{} {path} with {text:?}: {why}", route.method))
            })
        });
        if let Err(e) = outcome {
            panic!("{} {}: {e}\n{}", route.method, route.path, served.log());
        }
    }
}

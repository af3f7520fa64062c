//! `wagate serve`'s configuration on the real binary (CONTRACTS §B.12, issue 11 item 5): wuzapi's
//! environment names are accepted beside wagate's, the admin token is required, secrets never
//! reach the log, and every operator error is one line on stderr with exit status 2.

use std::process::Output;

use tokio::process::Command;
use wa_testkit::{start_sim, temp_dir, Served};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const TOKEN: &str = "serve-config-admin-token-0123456789";

/// Runs `wagate serve` with `args` and `env` (no inherited wagate/wuzapi settings).
async fn serve(args: &[&str], env: &[(&str, &str)]) -> Output {
    let tmp = temp_dir("config");
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .args(args);
    for name in [
        "WAGATE_ADMIN_TOKEN",
        "WUZAPI_ADMIN_TOKEN",
        "WUZAPI_PORT",
        "WAGATE_LISTEN",
    ] {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied()).env("RUST_LOG", "info");
    cmd.output().await.expect("wagate runs")
}

/// Exit status 2 and exactly one line on stderr containing `text`.
fn assert_operator_error(out: &Output, text: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("wagate: "), "{stderr:?}");
    assert!(stderr.contains(text), "{text:?} in {stderr:?}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
}

#[tokio::test]
async fn operator_errors_are_one_line_and_exit_2() {
    let out = serve(&[], &[]).await;
    assert_operator_error(&out, "an admin token is required");
    let out = serve(&[], &[("WUZAPI_ADMIN_TOKEN", "short")]).await;
    assert_operator_error(&out, "the admin token must be at least 16 characters");
    let out = serve(&["--no-such-flag"], &[("WUZAPI_ADMIN_TOKEN", TOKEN)]).await;
    assert_operator_error(&out, "unexpected argument '--no-such-flag'");
    let out = serve(
        &[],
        &[("WUZAPI_ADMIN_TOKEN", TOKEN), ("WUZAPI_PORT", "http")],
    )
    .await;
    assert_operator_error(&out, "WUZAPI_PORT");
    let out = serve(
        &[],
        &[("WUZAPI_ADMIN_TOKEN", TOKEN), ("WEBHOOK_FORMAT", "xml")],
    )
    .await;
    assert_operator_error(&out, "WEBHOOK_FORMAT");
    let out = serve(
        &[],
        &[
            ("WUZAPI_ADMIN_TOKEN", TOKEN),
            ("WUZAPI_GLOBAL_HMAC_KEY", "too-short"),
        ],
    )
    .await;
    assert_operator_error(&out, "the global HMAC key must be at least 32 characters");
    // Port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("addr").port().to_string();
    let out = serve(
        &["--address", "127.0.0.1"],
        &[
            ("WUZAPI_ADMIN_TOKEN", TOKEN),
            ("WUZAPI_PORT", port.as_str()),
        ],
    )
    .await;
    assert_operator_error(&out, &format!("cannot listen on 127.0.0.1:{port}"));
    // The secrets are not in what it printed.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(TOKEN), "{stderr}");
}

#[tokio::test]
async fn wuzapi_names_configure_the_served_gateway() {
    let sim = start_sim(&[]).await;
    let api_key = "wwebjs-api-key-0123456789";
    let hmac = "global-hmac-key-0123456789abcdef-0123";
    let served = Served::start(
        BIN.as_ref(),
        &sim,
        &[
            (
                "WUZAPI_ADMIN_TOKEN",
                "ignored-because-wagate-name-wins-0123",
            ),
            ("API_KEY", api_key),
            ("WUZAPI_GLOBAL_WEBHOOK", "http://127.0.0.1:9/global"),
            // The global webhook is on 127.0.0.1: the operator allows private targets.
            ("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("WUZAPI_GLOBAL_HMAC_KEY", hmac),
            ("WEBHOOK_FORMAT", "json"),
            ("SESSION_DEVICE_NAME", "Shop desk"),
        ],
    )
    .await;
    // WAGATE_ADMIN_TOKEN (set by Served) wins over WUZAPI_ADMIN_TOKEN.
    let (status, body) = served.admin("GET", "/admin/users", None).await;
    assert_eq!(status, 200, "{body}");
    // API_KEY is the whatsapp-web.js dialect's x-api-key.
    let (status, _) = served
        .request("GET", "/ping", &[("x-api-key", api_key)], None)
        .await;
    assert_ne!(status, 403, "API_KEY accepted");
    let log = served.log();
    assert!(log.contains("webhook_format=Json"), "{log}");
    for secret in [api_key, hmac, wa_testkit::ADMIN_TOKEN] {
        assert!(!log.contains(secret), "a secret in the log:\n{log}");
    }
}

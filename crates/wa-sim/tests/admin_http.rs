//! The admin API over real HTTP: a malformed request (body that is not the route's JSON, a
//! phone number that breaks the one phone rule, a bad device number, QR or pair code) is a
//! 400; a request naming what the network does not have (unknown phone, device, QR) is a 404.
//!
//! Requests go through wa-testkit's `http::request` (reqwest).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use wa_sim::{SimConfig, SimFault, SimServer};

const PHONE: &str = "15550104343";
const UNKNOWN: &str = "15550104444";
const DEADLINE: Duration = Duration::from_secs(10);

/// One request; the status and the JSON body (`Null` when there is none).
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> (u16, Value) {
    wa_testkit::http::request(addr, method, path, body, DEADLINE).await
}

fn json(body: &str) -> Option<(&str, &str)> {
    Some(("application/json", body))
}

/// Asserts an error answer: the status, and a JSON `error` text.
fn assert_error((status, body): (u16, Value), expected: u16, what: &str) {
    assert_eq!(status, expected, "{what}: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: {body}"
    );
}

#[tokio::test]
async fn accounts_tell_malformed_requests_from_unknown_phones() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    let addr = sim.addr();

    // Created through the one phone rule: punctuation and `+` are accepted, digits kept.
    let (status, account) = http(
        addr,
        "POST",
        "/admin/accounts",
        json(r#"{"phone": "+1 555 010-4343"}"#),
    )
    .await;
    assert_eq!(status, 201, "{account}");
    assert_eq!(account["phone"], PHONE);
    assert!(account["lid"].as_str().is_some_and(|l| !l.is_empty()));

    for (body, what) in [
        (json("{"), "JSON that does not parse"),
        (json(r#"{"number": "15550104343"}"#), "no phone field"),
        (json(r#"{"phone": 15550104343}"#), "phone not a string"),
        (
            Some(("text/plain", r#"{"phone": "15550104343"}"#)),
            "not JSON content",
        ),
        (json(r#"{"phone": "12345"}"#), "too short"),
        (json(r#"{"phone": "05550104343"}"#), "leading zero"),
        (json(r#"{"phone": "1555abc4343"}"#), "letters"),
    ] {
        assert_error(http(addr, "POST", "/admin/accounts", body).await, 400, what);
    }

    let (status, got) = http(addr, "GET", &format!("/admin/accounts/{PHONE}"), None).await;
    assert_eq!((status, &got["phone"]), (200, &Value::from(PHONE)), "{got}");
    let (status, list) = http(addr, "GET", "/admin/accounts", None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_error(
        http(addr, "GET", &format!("/admin/accounts/{UNKNOWN}"), None).await,
        404,
        "unknown phone",
    );
    assert_error(
        http(addr, "GET", "/admin/accounts/not-a-phone", None).await,
        400,
        "malformed phone",
    );
}

/// A sim with the account `PHONE`.
async fn sim_with_account() -> SimServer {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    sim.create_account(&PHONE.parse().expect("a phone number"));
    sim
}

/// `(method, path, body, expected status, what)`.
type Case<'a> = (&'a str, String, Option<(&'a str, &'a str)>, u16, &'a str);

async fn check_errors(addr: SocketAddr, cases: Vec<Case<'_>>) {
    for (method, path, body, status, what) in cases {
        assert_error(http(addr, method, &path, body).await, status, what);
    }
}

const QR: &str = "2@unshown,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,\
                  AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,\
                  AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,W";

#[tokio::test]
async fn unlinking_tells_malformed_requests_from_unknown_phones() {
    let sim = sim_with_account().await;
    let path = |phone: &str, device: &str| format!("/admin/phones/{phone}/devices/{device}");
    let cases = vec![
        ("DELETE", path("12", "1"), None, 400, "malformed phone"),
        (
            "DELETE",
            path(PHONE, "abc"),
            None,
            400,
            "device not a number",
        ),
        (
            "DELETE",
            path(PHONE, "0"),
            None,
            400,
            "device 0 is the phone",
        ),
        (
            "DELETE",
            path(PHONE, "256"),
            None,
            400,
            "device out of range",
        ),
        ("DELETE", path(UNKNOWN, "1"), None, 404, "unknown phone"),
        ("DELETE", path(PHONE, "5"), None, 404, "no such device"),
    ];
    check_errors(sim.addr(), cases).await;
}

#[tokio::test]
async fn scanning_tells_malformed_requests_from_unknown_phones() {
    let sim = sim_with_account().await;
    let path = |phone: &str| format!("/admin/phones/{phone}/scan");
    let text = |qr| Some(("text/plain", qr));
    let cases = vec![
        ("POST", path("abc"), text(QR), 400, "malformed phone"),
        ("POST", path(PHONE), text("not a QR"), 400, "malformed QR"),
        ("POST", path(UNKNOWN), text(QR), 404, "unknown phone"),
        ("POST", path(PHONE), text(QR), 404, "QR never shown"),
    ];
    check_errors(sim.addr(), cases).await;
}

#[tokio::test]
async fn pair_codes_tell_malformed_requests_from_unknown_phones() {
    let sim = sim_with_account().await;
    let path = |phone: &str| format!("/admin/phones/{phone}/pair-code");
    let code = json(r#"{"code": "ABCD-EFGH"}"#);
    let cases = vec![
        (
            "POST",
            path(PHONE),
            json("[]"),
            400,
            "body not the JSON asked for",
        ),
        (
            "POST",
            path(PHONE),
            json(r#"{"code": "nope"}"#),
            400,
            "malformed code",
        ),
        ("POST", path("x"), code, 400, "malformed phone"),
        ("POST", path(UNKNOWN), code, 404, "unknown phone"),
        (
            "POST",
            path(PHONE),
            code,
            404,
            "no companion asked for a code",
        ),
    ];
    check_errors(sim.addr(), cases).await;
}

#[tokio::test]
async fn faults_tell_malformed_requests_from_unknown_phones() {
    let sim = sim_with_account().await;
    let path = |phone: &str| format!("/admin/phones/{phone}/faults");
    let on = json(r#"{"drop_pings": true}"#);
    let cases = vec![
        (
            "PUT",
            path(PHONE),
            json(r#"{"drop_pings": "yes"}"#),
            400,
            "bad field type",
        ),
        ("PUT", path("+"), on, 400, "malformed phone"),
        ("PUT", path(UNKNOWN), on, 404, "unknown phone"),
    ];
    check_errors(sim.addr(), cases).await;
    let (status, _) = http(sim.addr(), "PUT", &path(PHONE), on).await;
    assert_eq!(status, 204);
    let (status, counters) = http(sim.addr(), "GET", "/admin/counters", None).await;
    assert_eq!(status, 200);
    assert!(counters.is_object(), "{counters}");
}

#[tokio::test]
async fn the_rust_handle_classifies_errors_the_same_way() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    sim.create_account(&PHONE.parse().expect("a phone number"));
    let fault = |r: Result<(), wa_sim::SimError>| r.expect_err("refused").fault();
    assert_eq!(fault(sim.remove_device("12", 1)), SimFault::BadRequest);
    assert_eq!(fault(sim.remove_device(UNKNOWN, 1)), SimFault::NotFound);
    assert_eq!(fault(sim.remove_device(PHONE, 1)), SimFault::NotFound);
    assert_eq!(
        fault(sim.enter_pair_code(PHONE, "nope")),
        SimFault::BadRequest
    );
    assert_eq!(
        fault(sim.set_faults(UNKNOWN, Default::default())),
        SimFault::NotFound
    );
    assert!(sim.account("not a phone").is_none());
    assert_eq!(
        sim.account("+1 (555) 010-4343")
            .map(|a| a.phone.to_string()),
        Some(PHONE.to_owned())
    );
}

/// `PUT /admin/accounts/{phone}` sets the realism switches it names (both optional), keeps the
/// others, and `GET` reports them; a malformed body is a 400, an unknown phone a 404.
#[tokio::test]
async fn account_switches_round_trip_over_http() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    sim.create_account(&PHONE.parse().expect("a phone number"));
    let addr = sim.addr();
    let account = format!("/admin/accounts/{PHONE}");
    let (status, info) = http(addr, "GET", &account, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&info["lid_migrated"], &info["require_privacy_tokens"]),
        (&Value::Bool(false), &Value::Bool(false))
    );

    let (status, info) = http(addr, "PUT", &account, json(r#"{"lid_migrated": true}"#)).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["lid_migrated"], true);
    assert_eq!(info["require_privacy_tokens"], false);
    let body = r#"{"require_privacy_tokens": true}"#;
    let (status, _) = http(addr, "PUT", &account, json(body)).await;
    assert_eq!(status, 200);
    let (_, info) = http(addr, "GET", &account, None).await;
    assert_eq!(info["lid_migrated"], true, "kept: {info}");
    assert_eq!(info["require_privacy_tokens"], true);
    let body = r#"{"lid_migrated": false, "require_privacy_tokens": false}"#;
    let (status, _) = http(addr, "PUT", &account, json(body)).await;
    assert_eq!(status, 200);
    let (_, info) = http(addr, "GET", &account, None).await;
    assert_eq!(info["lid_migrated"], false);
    assert_eq!(info["require_privacy_tokens"], false);
    let (status, _) = http(addr, "PUT", &account, json("{}")).await;
    assert_eq!(status, 200, "nothing to change is fine");

    for bad in [
        "{",
        r#"{"lid_migrated": "yes"}"#,
        r#"{"lid_migrated": 1}"#,
        r#"{"lid_migrate": true}"#,
        "[]",
    ] {
        let answer = http(addr, "PUT", &account, json(bad)).await;
        assert_error(answer, 400, bad);
    }
    let answer = http(addr, "PUT", &account, None).await;
    assert_error(answer, 400, "no JSON body");
    let on = json(r#"{"lid_migrated": true}"#);
    assert_error(
        http(addr, "PUT", &format!("/admin/accounts/{UNKNOWN}"), on).await,
        404,
        "unknown",
    );
    assert_error(
        http(addr, "PUT", "/admin/accounts/12", on).await,
        400,
        "not a phone",
    );
    let (_, info) = http(addr, "GET", &account, None).await;
    assert_eq!(
        info["lid_migrated"], false,
        "refused requests change nothing"
    );

    // The Rust handle does the same.
    let update = wa_sim::SwitchesUpdate {
        require_privacy_tokens: Some(true),
        ..Default::default()
    };
    let info = sim
        .update_account(&PHONE.parse().expect("phone"), update)
        .expect("updated");
    assert!(info.require_privacy_tokens && !info.lid_migrated);
    assert_eq!(
        sim.account(PHONE).map(|a| a.require_privacy_tokens),
        Some(true)
    );
    let unknown = sim.update_account(&UNKNOWN.parse().expect("phone"), update);
    assert_eq!(unknown.expect_err("no account").fault(), SimFault::NotFound);
}

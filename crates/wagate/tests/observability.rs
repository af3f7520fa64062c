//! Issue 14 items 3 and 4 on the real binary against wa-sim: `/metrics` (the admin token or an
//! allowed address; Prometheus text parsed by a real parser; the counters move when messages
//! flow) and the logs (JSON lines with the session's `account`; no token or key in a full
//! flow logged at trace level).

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{json, Value};
use wa_testkit::session_flow::{link_by_qr, phone_enters_code, wait_status};
use wa_testkit::{start_sim, wait_for, HookReceiver, Served, ADMIN_TOKEN, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const ME: &str = "15550114001";
const ANA: &str = "15550114002";
const TOKEN: &str = "metrics-user-token-0123456789";

/// One scrape, parsed: each sample's value by `name{label="value",…}` (labels sorted).
type Samples = HashMap<String, f64>;

async fn scrape(served: &Served, headers: &[(&str, &str)]) -> (u16, String, String) {
    served.request_raw("GET", "/metrics", headers, None).await
}

/// Parses `text` with `prometheus-parse` (the Prometheus text format's grammar).
fn parse(text: &str) -> Samples {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the exposition parses");
    let mut samples = HashMap::new();
    for s in scrape.samples {
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        let value = match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.iter().map(|b| b.count).fold(0.0, f64::max)
            }
            prometheus_parse::Value::Summary(_) => f64::NAN,
        };
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        let key = if labels.is_empty() {
            s.metric
        } else {
            format!("{}{{{}}}", s.metric, labels.join(","))
        };
        samples.insert(key, value);
    }
    assert_eq!(
        scrape
            .docs
            .get("wagate_messages_sent_total")
            .map(String::as_str),
        Some("Messages the server acknowledged."),
        "HELP lines parse"
    );
    samples
}

fn value(samples: &Samples, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {samples:?}"))
}

async fn admin_scrape(served: &Served) -> Samples {
    let (status, content_type, text) = scrape(served, &[("Authorization", ADMIN_TOKEN)]).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    parse(&text)
}

#[tokio::test]
async fn metrics_need_the_token_or_an_allowed_address_and_count_the_traffic() {
    let sim = start_sim(&[ME, ANA]).await;
    let mut receiver = HookReceiver::start().await;
    let served = Served::start(
        BIN.as_ref(),
        &sim,
        &[("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true")],
    )
    .await;
    let (status, _, _) = scrape(&served, &[]).await;
    assert_eq!(status, 401, "no token, no allow-list");
    let (status, _, _) = scrape(&served, &[("Authorization", "not-the-admin-token!")]).await;
    assert_eq!(status, 401, "a wrong token");
    let first = admin_scrape(&served).await;
    let build = format!(
        "wagate_build_info{{version={:?}}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(value(&first, &build), 1.0);
    assert_eq!(value(&first, "wagate_sessions{state=\"working\"}"), 0.0);

    served.create_user("metrics", TOKEN).await;
    link_by_qr(&served, &sim, TOKEN, ME).await;
    let hook = json!({"webhookURL": receiver.url("/hook"), "events": ["Message"]}).to_string();
    let (status, answer) = served.user(TOKEN, "POST", "/webhook", Some(&hook)).await;
    assert_eq!(status, 200, "{answer}");
    let before = admin_scrape(&served).await;

    let send = json!({"Phone": ANA, "Body": "metrics out"}).to_string();
    let (status, answer) = served
        .user(TOKEN, "POST", "/chat/send/text", Some(&send))
        .await;
    assert_eq!(status, 200, "{answer}");
    sim.phone_send(ANA, ME, "metrics in")
        .expect("the phone sends");
    wait_for(
        &mut receiver.hooks,
        DEADLINE,
        "the Message webhook",
        |h: &wa_testkit::Hook| h.payload().to_string().contains("metrics in").then_some(()),
    )
    .await
    .expect("the webhook arrives");

    let delivered = "wagate_webhook_deliveries_total{outcome=\"delivered\"}";
    let after = wa_testkit::poll_until(DEADLINE, "the delivery counted", || async {
        let s = admin_scrape(&served).await;
        (value(&s, delivered) > value(&before, delivered)).then_some(s)
    })
    .await
    .expect("the delivery is counted");
    for key in [
        "wagate_messages_sent_total",
        "wagate_messages_received_total",
        "wagate_send_latency_seconds_count",
    ] {
        assert!(
            value(&after, key) > value(&before, key),
            "{key}: {} then {}",
            value(&before, key),
            value(&after, key)
        );
    }
    assert_eq!(value(&after, "wagate_sessions{state=\"working\"}"), 1.0);
    assert!(value(&after, "wagate_store_size_bytes") > 0.0);
    assert!(value(&after, "wagate_store_log_syncs_total") > 0.0);
    assert_eq!(value(&after, "wagate_outbox_depth"), 0.0);

    // A second gateway that lets 127.0.0.1 read /metrics without the token.
    let allowed = Served::start(
        BIN.as_ref(),
        &sim,
        &[("WAGATE_METRICS_ALLOW", "10.0.0.0/8, 127.0.0.1/32")],
    )
    .await;
    let (status, _, text) = scrape(&allowed, &[]).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        value(&parse(&text), "wagate_sessions{state=\"working\"}"),
        0.0
    );
}

const PAIR_TOKEN: &str = "log-user-token-0123456789abcd";
const HMAC_KEY: &str = "log-hmac-key-0123456789abcdefghijkl";
const S3_SECRET: &str = "log-s3-secret-wJalrXUtnFEMI0123456789";

/// The session's `account` in a JSON line: on the event, or on an enclosing span.
fn account_of(line: &Value) -> Option<&str> {
    line["fields"]["account"]
        .as_str()
        .or_else(|| line["span"]["account"].as_str())
        .or_else(|| {
            line["spans"]
                .as_array()?
                .iter()
                .find_map(|s| s["account"].as_str())
        })
}

#[tokio::test]
async fn json_logs_name_the_session_and_hold_no_secret_at_trace_level() {
    let sim = start_sim(&[ME, ANA]).await;
    let mut served = Served::start(
        BIN.as_ref(),
        &sim,
        &[("WAGATE_LOG_FORMAT", "json"), ("WAGATE_LOG", "trace")],
    )
    .await;
    let id = served.create_user("logs", PAIR_TOKEN).await;
    for secret in [HMAC_KEY, S3_SECRET] {
        served.note_secret(secret);
    }
    let key = json!({ "hmac_key": HMAC_KEY }).to_string();
    let (status, answer) = served
        .user(PAIR_TOKEN, "POST", "/session/hmac/config", Some(&key))
        .await;
    assert_eq!(status, 200, "{answer}");
    let s3 = json!({"enabled": true, "endpoint": "http://127.0.0.1:9", "region": "us-east-1",
        "bucket": "logs", "access_key": "AKIDEXAMPLE", "secret_key": S3_SECRET,
        "path_style": true, "public_url": "", "media_delivery": "base64", "retention_days": 1});
    let (status, answer) = served
        .user(
            PAIR_TOKEN,
            "POST",
            "/session/s3/config",
            Some(&s3.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    link_by_code(&served, &sim).await;
    let send = json!({"Phone": ANA, "Body": "logged out loud"}).to_string();
    let (status, answer) = served
        .user(PAIR_TOKEN, "POST", "/chat/send/text", Some(&send))
        .await;
    assert_eq!(status, 200, "{answer}");

    served.kill().await;
    let log = served.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:.200}")))
        .collect();
    assert!(lines.len() > 20, "{} lines", lines.len());
    for line in &lines {
        for field in ["timestamp", "level", "target", "fields"] {
            assert!(line.get(field).is_some(), "no {field}: {line}");
        }
    }
    let of_session = lines
        .iter()
        .filter(|l| account_of(l) == Some(id.as_str()))
        .count();
    assert!(of_session > 5, "{of_session} lines name the account {id}");
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["name"] == "session" && l["span"]["account"] == id.as_str()),
        "the account task's lines run in its session span"
    );
    assert_no_key_material(&served, &id, &log);
}

/// Links the user by pair code (the code itself is a secret of the moment).
async fn link_by_code(served: &Served, sim: &wa_sim::SimServer) {
    let (status, answer) = served
        .user(
            PAIR_TOKEN,
            "POST",
            "/session/connect",
            Some(r#"{"Immediate":true}"#),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let pair = json!({ "Phone": format!("+{ME}") }).to_string();
    let (status, answer) = served
        .user(PAIR_TOKEN, "POST", "/session/pairphone", Some(&pair))
        .await;
    assert_eq!(status, 200, "{answer}");
    let code = answer["data"]["LinkingCode"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    served.note_secret(&code.replace('-', ""));
    let (status, answer) = phone_enters_code(sim, ME, &code).await;
    assert!((200..300).contains(&status), "{status} {answer}");
    wait_status(served, PAIR_TOKEN, |d| d["loggedIn"] == true).await;
}

/// The account's private keys (identity, noise, signed prekey, adv secret) in hex and
/// base64, read from the store once the gateway has stopped, are nowhere in the log.
fn assert_no_key_material(served: &Served, id: &str, log: &str) {
    let store = wa_store::SledStore::open(&wa_store::StoreConfig::at(served.data_dir()))
        .expect("the store opens");
    let account: wa_store::AccountId = id.parse().expect("an account id");
    let device = wa_store::Store::device(&store, &account)
        .expect("the store reads")
        .expect("the account has a device");
    let keys: Vec<Vec<u8>> = vec![
        device.identity_key.private.to_bytes().to_vec(),
        device.noise_key.private.to_bytes().to_vec(),
        device.signed_prekey.key_pair.private.to_bytes().to_vec(),
        device.adv_secret.expose().to_vec(),
    ];
    let b64 = base64::engine::general_purpose::STANDARD;
    for key in keys {
        for form in [hex::encode(&key), b64.encode(&key)] {
            let shown = form.get(..40).unwrap_or(&form).trim_end_matches('=');
            assert!(!log.contains(shown), "key material in the log");
        }
    }
}

//! Webhook benchmark (issue 12 item 1): deliveries per second from the durable queue to a local
//! receiver, and the latency a send gains when webhooks are on.
//!
//! ```sh
//! cargo build --release -p wagate --bin wagate --example webhook_load
//! target/release/examples/webhook_load --messages 2000 --sends 300
//! ```
//!
//! Everything runs against the real `wagate serve` binary (next to this example, or
//! `WAGATE_BIN`), an in-process wa-sim and an in-process receiver on 127.0.0.1
//! (`--webhook-allow-private`).
//!
//! - **Delivery rate**: the receiver is down while the sim's phone sends `--messages` texts to
//!   the account (subscribed to `Message`; user and global receivers, so two deliveries per
//!   message); once all are queued in the store the receiver comes back and the drain is timed
//!   from the first delivery to the last, at `--concurrency 1` (strict order) and 8.
//! - **Added latency per send**: `--sends` sequential `POST /chat/send/text` with no webhook,
//!   then with the user and global webhooks subscribed to `All` (the phone's delivery receipts
//!   become `ReadReceipt` deliveries); p50/p99 of each and their difference.
//!
//! The last stdout line is one JSON object with the figures.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use wa_testkit::{poll_until, start_sim, wait_for, Hook, HookReceiver, Served};

const ME: &str = "15550145001";
const ANA: &str = "15550145002";
const KEY: &str = "bench-hmac-key-0123456789abcdef-012345";

struct Args {
    messages: usize,
    sends: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        messages: 2000,
        sends: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--messages" => args.messages = value().parse().expect("--messages N"),
            "--sends" => args.sends = value().parse().expect("--sends N"),
            other => panic!("unknown option {other}"),
        }
    }
    args
}

fn bin() -> PathBuf {
    std::env::var("WAGATE_BIN").map_or_else(
        |_| {
            let exe = std::env::current_exe().expect("exe");
            exe.parent()
                .and_then(|p| p.parent())
                .map(|p| p.join("wagate"))
                .expect("target dir")
        },
        PathBuf::from,
    )
}

async fn queued(served: &Served) -> u64 {
    let (_, body) = served
        .admin("GET", "/admin/webhooks/deadletters?limit=0", None)
        .await;
    body["data"]["Queued"].as_u64().unwrap_or(0)
}

/// Deliveries per second of a drained backlog of `messages` × 2 deliveries.
async fn delivery_rate(messages: usize, concurrency: &str) -> f64 {
    let sim = start_sim(&[ME, ANA]).await;
    let mut receiver = HookReceiver::start().await;
    let global = receiver.url("/global");
    let mut served = Served::start(
        &bin(),
        &sim,
        &[
            ("WUZAPI_GLOBAL_WEBHOOK", global.as_str()),
            ("WUZAPI_GLOBAL_HMAC_KEY", KEY),
            ("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("WAGATE_WEBHOOK_CONCURRENCY", concurrency),
            ("WEBHOOK_RETRY_DELAY_SECONDS", "0.01"),
            ("WEBHOOK_RETRY_COUNT", "1000"),
        ],
    )
    .await;
    let me = served.link_account(&sim, ME, 4501).await;
    let hook = json!({"webhookURL": receiver.url("/user"), "events": ["Message"]}).to_string();
    served
        .user(&me.token, "POST", "/webhook", Some(&hook))
        .await;
    receiver.set_down(true);
    for i in 0..messages {
        sim.phone_send(ANA, ME, &format!("bench {i}"))
            .expect("the phone sends");
    }
    let total = 2 * messages as u64;
    poll_until(Duration::from_secs(600), "the backlog queued", || async {
        (queued(&served).await == total).then_some(())
    })
    .await
    .expect("every delivery queued");
    receiver.set_down(false);
    let mut first = None;
    for n in 0..total {
        wait_for(
            &mut receiver.hooks,
            Duration::from_secs(600),
            "a delivery",
            |_: &Hook| Some(()),
        )
        .await
        .unwrap_or_else(|e| panic!("{e} after {n}"));
        first.get_or_insert_with(Instant::now);
    }
    let elapsed = first.expect("one delivery").elapsed().as_secs_f64();
    (total - 1) as f64 / elapsed
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Sequential send latencies (ms, sorted), with or without webhooks.
async fn send_latencies(sends: usize, webhooks: bool) -> Vec<f64> {
    let sim = start_sim(&[ME, ANA]).await;
    let receiver = HookReceiver::start().await;
    let global = receiver.url("/global");
    let mut env = vec![("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true")];
    if webhooks {
        env.push(("WUZAPI_GLOBAL_WEBHOOK", global.as_str()));
        env.push(("WUZAPI_GLOBAL_HMAC_KEY", KEY));
    }
    let mut served = Served::start(&bin(), &sim, &env).await;
    let me = served.link_account(&sim, ME, 4502).await;
    if webhooks {
        let hook = json!({"webhookURL": receiver.url("/user"), "events": ["All"]}).to_string();
        served
            .user(&me.token, "POST", "/webhook", Some(&hook))
            .await;
    }
    let body = json!({"Phone": ANA, "Body": "latency"}).to_string();
    // Warm-up: the session with the contact is set up by the first sends.
    for _ in 0..5 {
        served
            .user(&me.token, "POST", "/chat/send/text", Some(&body))
            .await;
    }
    let mut ms = Vec::with_capacity(sends);
    for _ in 0..sends {
        let t = Instant::now();
        let (status, answer) = served
            .user(&me.token, "POST", "/chat/send/text", Some(&body))
            .await;
        assert_eq!(status, 200, "{answer}");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    ms
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let rate_1 = delivery_rate(args.messages, "1").await;
    eprintln!("deliveries/s at concurrency 1: {rate_1:.0}");
    let rate_8 = delivery_rate(args.messages, "8").await;
    eprintln!("deliveries/s at concurrency 8: {rate_8:.0}");
    let off = send_latencies(args.sends, false).await;
    let on = send_latencies(args.sends, true).await;
    let (off50, on50) = (percentile(&off, 0.5), percentile(&on, 0.5));
    let (off99, on99) = (percentile(&off, 0.99), percentile(&on, 0.99));
    eprintln!("send p50 {off50:.2} ms off, {on50:.2} ms on; p99 {off99:.2} / {on99:.2} ms");
    println!(
        "{}",
        json!({
            "messages": args.messages,
            "deliveries_per_s_c1": rate_1.round(),
            "deliveries_per_s_c8": rate_8.round(),
            "sends": args.sends,
            "send_p50_ms_off": off50, "send_p50_ms_on": on50,
            "send_p99_ms_off": off99, "send_p99_ms_on": on99,
            "added_p50_ms": on50 - off50,
        })
    );
}

//! Benchmark of the async outbox's drain (issue 12 item 2): N async sends queued while the
//! session is down, the gateway SIGKILLed and started again, and the time until every one of
//! them reached the simulated phone.
//!
//! ```sh
//! cargo build --release -p wagate --bin wagate --example async_drain
//! target/release/examples/async_drain --messages 10000
//! ```
//!
//! Steps: wa-sim in this process; `wagate serve` (the binary next to this example's directory,
//! or `WAGATE_BIN`) with one account linked to phone A; one warm-up text to phone B (the
//! Signal session exists, as for an OTP service that has sent before). Then the sim refuses
//! A's logins and drops its connection; N `POST /chat/send/text?async=true` (64 in flight)
//! are each answered `202` once durable; the gateway is SIGKILLed; the sim takes logins again;
//! the gateway starts on the same store, logs in and drains its outbox. Measured: the accept
//! rate, the time from the restart to the login, and from the login until phone B holds all N
//! (polled every 50 ms). The last stdout line is one JSON object.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Semaphore;
use wa_sim::{Faults, SimEvent};
use wa_testkit::{start_sim, Served};

const A: &str = "6281200000901";
const B: &str = "6281200000902";

fn messages_arg() -> usize {
    let mut n = 10_000;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--messages" => {
                n = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--messages N")
            }
            other => panic!("unknown option {other}"),
        }
    }
    n
}

fn wagate_bin() -> std::path::PathBuf {
    std::env::var("WAGATE_BIN").map_or_else(
        |_| {
            let exe = std::env::current_exe().expect("exe");
            exe.parent()
                .and_then(|p| p.parent())
                .map(|p| p.join("wagate"))
                .expect("target dir")
        },
        std::path::PathBuf::from,
    )
}

/// Queues `n` async sends, 64 in flight; how many were answered 202.
async fn queue(base: &str, token: &str, n: usize) -> usize {
    let http = wa_testkit::http_client();
    let gate = Arc::new(Semaphore::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let permit = Arc::clone(&gate).acquire_owned().await.expect("permit");
        let (http, url, token) = (
            http.clone(),
            format!("{base}/chat/send/text?async=true"),
            token.to_owned(),
        );
        tasks.spawn(async move {
            let body = json!({"Phone": B, "Body": format!("notice {i}")}).to_string();
            let answer = http
                .post(url)
                .header("token", token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            drop(permit);
            answer.map(|a| a.status().as_u16() == 202).unwrap_or(false)
        });
    }
    let mut accepted = 0;
    while let Some(done) = tasks.join_next().await {
        accepted += usize::from(done.unwrap_or(false));
    }
    accepted
}

/// Waits (polling every 50 ms) until phone B holds `count` messages.
async fn wait_inbox(sim: &wa_sim::SimServer, count: usize) {
    loop {
        if sim.phone_messages(B).map(|m| m.len()).unwrap_or(0) >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() {
    let n = messages_arg();
    let sim = start_sim(&[A, B]).await;
    let mut served = Served::start(&wagate_bin(), &sim, &[]).await;
    let mut events = sim.subscribe();
    let account = served.link_account(&sim, A, 9).await;
    let warm = json!({"Phone": B, "Body": "warm-up"}).to_string();
    let (code, body) = served
        .user(&account.token, "POST", "/chat/send/text", Some(&warm))
        .await;
    assert_eq!(code, 200, "warm-up: {body}");
    wait_inbox(&sim, 1).await;

    // The session goes down and stays down while the sends are queued.
    let refuse = Faults {
        refuse_login: Some(503),
        ..Faults::default()
    };
    sim.set_faults(A, refuse).expect("faults");
    let conn = last_conn(&mut events).expect("a live connection");
    assert!(sim.drop_connection(conn));
    let started = Instant::now();
    let accepted = queue(&served.base(), &account.token, n).await;
    let queue_s = started.elapsed().as_secs_f64();
    assert_eq!(accepted, n, "every send accepted");

    served.kill().await;
    sim.set_faults(A, Faults::default()).expect("faults");
    let mut logins = sim.subscribe();
    let restart = Instant::now();
    served.restart().await;
    let login = loop {
        match logins.recv().await {
            Ok(SimEvent::LoggedIn { .. }) => break Instant::now(),
            Ok(_) => {}
            Err(e) => panic!("sim events: {e}"),
        }
    };
    wait_inbox(&sim, n + 1).await;
    let drained = login.elapsed().as_secs_f64();
    let copies = sim.phone_messages(B).map(|m| m.len()).unwrap_or(0);
    let summary: Value = json!({
        "messages": n,
        "accept_per_s": (n as f64 / queue_s).round(),
        "restart_to_login_s": (login - restart).as_secs_f64(),
        "drain_s": drained,
        "drain_per_s": (n as f64 / drained).round(),
        "phone_inbox": copies,
    });
    println!("{summary}");
}

/// The account's live connection: the last login the sim announced.
fn last_conn(events: &mut tokio::sync::broadcast::Receiver<SimEvent>) -> Option<wa_sim::ConnId> {
    let mut conn = None;
    while let Ok(event) = events.try_recv() {
        if let SimEvent::LoggedIn { conn: c, .. } = event {
            conn = Some(c);
        }
    }
    conn
}

//! HTTP benchmark of `POST /chat/send/text` (issue 11): N accounts linked to N simulated phones,
//! served by the real `wagate serve` binary, driven over HTTP/1.1 keep-alive connections.
//!
//! ```sh
//! cargo build --release -p wagate --bin wagate --example http_load
//! target/release/examples/http_load --accounts 100 --seconds 10
//! ```
//!
//! Steps: `wagate sim` in its own process; N gateway accounts (tokens `http-load-<i>`,
//! autostart) in a sled store in a temporary directory, each linked by QR to its simulated phone
//! through an in-process `wa_client::Gateway`, which then stops; `wagate serve` on that store
//! (it restores the N accounts); one warm-up `send/text` per account (retried until the account
//! is connected), a second one once each contact's phone has answered (so every measured send
//! is a plain `msg` on an established session, as in `send_load`). Then two windows of S
//! seconds each, account `i` texting its own contact, the accounts taken in turn:
//!
//! - **fixed rate** (`--rate`, default 1,000 requests/s): requests start on a schedule whatever
//!   the answers do, released by a thread sleeping on the OS timer (`ticker`); latency is
//!   measured from the scheduled start (no coordinated omission);
//! - **saturation**: `--inflight K` (default 256) requests always in flight.
//!
//! The requests go through the harness's own keep-alive HTTP/1.1 client (`support/raw_http.rs`,
//! a fraction of reqwest's CPU per request); `--client reqwest` measures with reqwest instead.
//!
//! A request counts when it answered `200` with `success: true` (the server acked the send)
//! within the window. The last stdout line is one JSON object: `rate_target`, `rate_ok_per_s`,
//! `rate_p50_ms`, `rate_p99_ms`, `sat_ok_per_s`, `sat_p50_ms`, `sat_p99_ms`, the gateway's and
//! the sim's CPU per request (`/proc/<pid>/stat`), the load generator's own CPU per request
//! (`*_loadgen_cpu_us_per_req`: it shares the cores), failures. Compare `sat_ok_per_s` with
//! `acked_per_s` of `crates/wa-client/examples/send_load.rs` (the same sends without HTTP).
//! On stderr, `window rate starts (gateway pid N)` and `window saturation starts (…)` mark the
//! windows, for a profiler to attach to the gateway during one of them.

#[path = "support/raw_http.rs"]
mod raw_http;
#[path = "../../wa-client/examples/support/sim_process.rs"]
mod sim_process;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{broadcast, Semaphore};
use wa_client::{Backoff, ClientConfig, Event, EventKind, Gateway};
use wa_protocol::connection::Config;
use wa_protocol::noise::TrustRoot;
use wa_store::{Account, AccountId, Durability, SledStore, Store, StoreConfig};

use raw_http::RawClient;
use sim_process::{cpu_of, own_cpu, SimProcess};

const ADMIN_TOKEN: &str = "http-load-admin-token-0123456789";

struct Args {
    accounts: usize,
    seconds: u64,
    rate: u64,
    inflight: usize,
    reqwest: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        accounts: 100,
        seconds: 10,
        rate: 1000,
        inflight: 256,
        reqwest: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--accounts" => args.accounts = value().parse().expect("--accounts N"),
            "--seconds" => args.seconds = value().parse().expect("--seconds S"),
            "--rate" => args.rate = value().parse().expect("--rate R"),
            "--inflight" => args.inflight = value().parse().expect("--inflight K"),
            "--client" => {
                args.reqwest = match value().as_str() {
                    "raw" => false,
                    "reqwest" => true,
                    other => panic!("--client raw|reqwest, not {other}"),
                }
            }
            other => panic!("unknown option {other}"),
        }
    }
    assert!(args.accounts > 0 && args.rate > 0 && args.inflight > 0);
    args
}

/// One account as the HTTP client sees it.
#[derive(Clone)]
struct Sender {
    token: String,
    contact: String,
}

fn phone(i: usize) -> String {
    format!("1555{:07}", 5_000_000 + i)
}

fn contact(i: usize) -> String {
    format!("1555{:07}", 6_000_000 + i)
}

/// Creates the accounts, links each by QR (32 at a time), and stops the in-process gateway.
async fn link_all(sim: &Arc<SimProcess>, dir: &Path, n: usize) -> Vec<Sender> {
    let store: Arc<dyn Store> =
        Arc::new(SledStore::open(&StoreConfig::at(dir)).expect("sled store"));
    let mut rng = StdRng::seed_from_u64(11);
    let mut accounts = Vec::with_capacity(n);
    for i in 0..n {
        sim.create_account(&phone(i)).await;
        sim.create_account(&contact(i)).await;
        let id = AccountId::generate(&mut rng);
        let mut account = Account::new(id, format!("load{i}"), format!("http-load-{i}"), 0);
        account.autostart = true;
        store
            .create_account(&account, Durability::Buffered)
            .expect("account");
        accounts.push((id, i));
    }
    let config = ClientConfig {
        url: sim.url.clone(),
        connection: Config {
            trust: TrustRoot::new(sim.root),
            ..Config::default()
        },
        backoff: Backoff::default(),
        ..ClientConfig::default()
    };
    let gateway = Arc::new(Gateway::new(Arc::clone(&store), config));
    let gate = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for (id, i) in &accounts {
        let (gateway, sim, gate) = (Arc::clone(&gateway), Arc::clone(sim), Arc::clone(&gate));
        let (id, phone) = (*id, phone(*i));
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.expect("semaphore");
            link_one(&gateway, &sim, id, &phone).await;
        }));
    }
    for t in tasks {
        t.await.expect("link task");
    }
    gateway.shutdown(Duration::from_secs(30)).await;
    store.flush().expect("flush");
    drop(gateway);
    // `wagate serve` opens the same store: every task of the linking gateway must have let go
    // of it first (on this one-thread runtime they finish only when this task yields).
    let deadline = Instant::now() + Duration::from_secs(30);
    while Arc::strong_count(&store) > 1 {
        assert!(
            Instant::now() < deadline,
            "the linking gateway still holds the store"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(store);
    (0..n)
        .map(|i| Sender {
            token: format!("http-load-{i}"),
            contact: contact(i),
        })
        .collect()
}

async fn link_one(gateway: &Gateway, sim: &SimProcess, id: AccountId, phone: &str) {
    let mut events = gateway.subscribe();
    gateway.link_qr(&id).await.expect("start linking");
    loop {
        match events.recv().await {
            Ok(Event {
                account: a,
                kind: EventKind::Qr { code, .. },
                ..
            }) if a == id => sim.scan(phone, &code).await,
            Ok(Event {
                account: a,
                kind: EventKind::Connected { .. },
                ..
            }) if a == id => return,
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

/// `wagate serve` on the linked store.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(sim: &SimProcess, dir: &Path) -> Served {
    let bin = std::env::var("WAGATE_BIN").map_or_else(
        |_| {
            let exe = std::env::current_exe().expect("exe");
            exe.parent()
                .and_then(|p| p.parent())
                .map(|p| p.join("wagate"))
                .expect("target dir")
        },
        std::path::PathBuf::from,
    );
    let mut child = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(["--wa-url", &sim.url, "--trust-root"])
        .arg(hex::encode(sim.root.as_bytes()))
        .env("WAGATE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("wagate listening on http://")
                .and_then(|a| a.trim().parse().ok())
        })
        .expect("wagate serve did not start");
    std::thread::spawn(move || lines.for_each(drop));
    Served { child, addr }
}

/// The load generator's HTTP client: its own keep-alive client (default), or reqwest
/// (`--client reqwest`, what earlier figures were measured with).
#[derive(Clone)]
enum Http {
    Raw(Arc<RawClient>),
    Reqwest(reqwest::Client, String),
}

/// One `send/text`; `Ok` if the server acked it.
async fn send(http: &Http, s: &Sender, text: &str) -> Result<(), String> {
    let body = serde_json::json!({"Phone": s.contact, "Body": text}).to_string();
    let (status, text) = match http {
        Http::Raw(client) => {
            let headers = [
                ("token", s.token.as_str()),
                ("content-type", "application/json"),
            ];
            let (status, body) = client
                .post("/chat/send/text", &headers, body.as_bytes())
                .await?;
            (status, String::from_utf8_lossy(&body).into_owned())
        }
        Http::Reqwest(client, base) => {
            let response = client
                .post(format!("{base}/chat/send/text"))
                .header("token", &s.token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            (status, response.text().await.map_err(|e| e.to_string())?)
        }
    };
    if status == 200 && text.contains("\"success\":true") {
        Ok(())
    } else {
        Err(format!("{status} {text}"))
    }
}

/// A first send per account (retried while the restored account connects), replies from each
/// contact's phone and from the account's own phone, then a second send.
async fn warm_up(http: &Http, sim: &SimProcess, senders: &[Sender]) {
    let deadline = Instant::now() + Duration::from_secs(120);
    for s in senders {
        while let Err(e) = send(http, s, "warm-up").await {
            assert!(Instant::now() < deadline, "warm-up send: {e}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for (i, s) in senders.iter().enumerate() {
        sim.phone_send(&s.contact, &phone(i), "warm-up reply").await;
        sim.phone_send(&phone(i), &s.contact, "from the phone")
            .await;
    }
    for s in senders {
        send(http, s, "warm-up 2")
            .await
            .expect("second warm-up send");
    }
}

/// What one window produced.
#[derive(Default)]
struct Window {
    ok: u64,
    failed: u64,
    latencies_us: Vec<u32>,
    elapsed: Duration,
    gateway_cpu: Duration,
    sim_cpu: Duration,
    /// This process's CPU (the load generator's own cost, from the same two cores).
    loadgen_cpu: Duration,
}

struct Load {
    http: Http,
    senders: Arc<Vec<Sender>>,
    gateway_pid: u32,
    sim_pid: Option<u32>,
}

/// When request `n` of a `rate`-per-second schedule begun at `start` is due.
fn due_at(start: Instant, rate: u64, n: u64) -> Instant {
    start + Duration::from_nanos(n * 1_000_000_000 / rate)
}

/// The request numbers `0..total`, each sent at its due time by a thread sleeping on the OS
/// timer (sub-millisecond). Tokio's timer wheel ticks per millisecond: scheduled with it, the
/// requests started about 0.5 ms late on median, and latency is counted from the due time, so
/// the generator's own lateness was in every figure.
fn ticker(start: Instant, rate: u64, total: u64) -> tokio::sync::mpsc::UnboundedReceiver<u64> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for n in 0..total {
            let wait = due_at(start, rate, n).saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            if tx.send(n).is_err() {
                return;
            }
        }
    });
    rx
}

impl Load {
    fn cpu(&self) -> (Duration, Duration, Duration) {
        (
            cpu_of(self.gateway_pid).unwrap_or_default(),
            self.sim_pid.and_then(cpu_of).unwrap_or_default(),
            own_cpu(),
        )
    }

    /// Requests started on a fixed schedule of `rate` per second for `seconds` (see [`ticker`]).
    async fn fixed_rate(&self, rate: u64, seconds: u64) -> Window {
        let failed = Arc::new(AtomicU64::new(0));
        let (g0, s0, l0) = self.cpu();
        let start = Instant::now();
        let total = rate * seconds;
        let mut tasks = Vec::with_capacity(total as usize);
        let mut ticks = ticker(start, rate, total);
        while let Some(n) = ticks.recv().await {
            let due = due_at(start, rate, n);
            let http = self.http.clone();
            let s = self.senders[n as usize % self.senders.len()].clone();
            let failed = Arc::clone(&failed);
            tasks.push(tokio::spawn(async move {
                match send(&http, &s, &format!("rate {n}")).await {
                    Ok(()) => Some(micros(due.elapsed())),
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("send failed: {e}");
                        }
                        None
                    }
                }
            }));
        }
        let mut latencies_us = Vec::with_capacity(tasks.len());
        for t in tasks {
            latencies_us.extend(t.await.expect("request task"));
        }
        let elapsed = start.elapsed();
        let (g1, s1, l1) = self.cpu();
        Window {
            ok: latencies_us.len() as u64,
            failed: failed.load(Ordering::Relaxed),
            latencies_us,
            elapsed,
            gateway_cpu: g1.saturating_sub(g0),
            sim_cpu: s1.saturating_sub(s0),
            loadgen_cpu: l1.saturating_sub(l0),
        }
    }

    /// `inflight` requests always in flight for `seconds`.
    async fn saturation(&self, inflight: usize, seconds: u64) -> Window {
        let failed = Arc::new(AtomicU64::new(0));
        let next = Arc::new(AtomicU64::new(0));
        let (g0, s0, l0) = self.cpu();
        let start = Instant::now();
        let end = start + Duration::from_secs(seconds);
        let mut tasks = Vec::with_capacity(inflight);
        for _ in 0..inflight {
            let http = self.http.clone();
            let (senders, failed, next) = (
                Arc::clone(&self.senders),
                Arc::clone(&failed),
                Arc::clone(&next),
            );
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < end {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let s = &senders[n as usize % senders.len()];
                    let begun = Instant::now();
                    match send(&http, s, &format!("sat {n}")).await {
                        Ok(()) if Instant::now() <= end => latencies.push(micros(begun.elapsed())),
                        Ok(()) => {}
                        Err(e) => {
                            if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                                eprintln!("send failed: {e}");
                            }
                        }
                    }
                }
                latencies
            }));
        }
        tokio::time::sleep_until(end.into()).await;
        let elapsed = start.elapsed();
        let (g1, s1, l1) = self.cpu();
        let mut latencies_us = Vec::new();
        for t in tasks {
            latencies_us.extend(t.await.expect("request task"));
        }
        Window {
            ok: latencies_us.len() as u64,
            failed: failed.load(Ordering::Relaxed),
            latencies_us,
            elapsed,
            gateway_cpu: g1.saturating_sub(g0),
            sim_cpu: s1.saturating_sub(s0),
            loadgen_cpu: l1.saturating_sub(l0),
        }
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn quantile_ms(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// `prefix_*` fields of a window.
fn fields(prefix: &str, w: &mut Window) -> Vec<(String, String)> {
    w.latencies_us.sort_unstable();
    let per = |cpu: Duration| format!("{:.1}", cpu.as_secs_f64() * 1e6 / w.ok.max(1) as f64);
    vec![
        (
            format!("{prefix}_ok_per_s"),
            format!("{:.0}", w.ok as f64 / w.elapsed.as_secs_f64()),
        ),
        (
            format!("{prefix}_p50_ms"),
            format!("{:.2}", quantile_ms(&w.latencies_us, 0.5)),
        ),
        (
            format!("{prefix}_p99_ms"),
            format!("{:.2}", quantile_ms(&w.latencies_us, 0.99)),
        ),
        (format!("{prefix}_failed"), w.failed.to_string()),
        (
            format!("{prefix}_gateway_cpu_us_per_req"),
            per(w.gateway_cpu),
        ),
        (format!("{prefix}_sim_cpu_us_per_req"), per(w.sim_cpu)),
        (
            format!("{prefix}_loadgen_cpu_us_per_req"),
            per(w.loadgen_cpu),
        ),
    ]
}

async fn run(args: Args) {
    let sim = Arc::new(SimProcess::spawn());
    let dir = std::env::temp_dir().join(format!("wagate-http-load-{}", std::process::id()));
    let start = Instant::now();
    let senders = link_all(&sim, &dir, args.accounts).await;
    eprintln!(
        "linked {} accounts in {:.1} s",
        args.accounts,
        start.elapsed().as_secs_f64()
    );
    let served = serve(&sim, &dir);
    wa_client::install_crypto_provider();
    let http = if args.reqwest {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(args.inflight.max(64))
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        Http::Reqwest(client, format!("http://{}", served.addr))
    } else {
        Http::Raw(Arc::new(RawClient::new(
            served.addr,
            Duration::from_secs(60),
        )))
    };
    warm_up(&http, &sim, &senders).await;
    let load = Load {
        http,
        senders: Arc::new(senders),
        gateway_pid: served.child.id(),
        sim_pid: sim.pid,
    };
    // Markers on stderr (with the gateway's pid) for a profiler to attach to one window.
    eprintln!("window rate starts (gateway pid {})", load.gateway_pid);
    let mut rate = load.fixed_rate(args.rate, args.seconds).await;
    eprintln!(
        "window saturation starts (gateway pid {})",
        load.gateway_pid
    );
    let mut sat = load.saturation(args.inflight, args.seconds).await;
    eprintln!("windows done");
    let mut out = vec![
        ("accounts".to_owned(), args.accounts.to_string()),
        ("seconds".to_owned(), args.seconds.to_string()),
        ("rate_target".to_owned(), args.rate.to_string()),
        ("inflight".to_owned(), args.inflight.to_string()),
        (
            "client".to_owned(),
            format!("\"{}\"", if args.reqwest { "reqwest" } else { "raw" }),
        ),
    ];
    out.extend(fields("rate", &mut rate));
    out.extend(fields("sat", &mut sat));
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
    let body: Vec<String> = out.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    println!("{{{}}}", body.join(","));
}

fn main() {
    let args = parse_args();
    // One thread: the load generator's requests, timers and answers never hand work to a
    // second worker (each hand-off is a wake-up on the two cores the gateway and the sim run
    // on); it needs a fraction of one core even at saturation.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(args));
}

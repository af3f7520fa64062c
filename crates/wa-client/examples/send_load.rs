//! Send throughput: N gateway accounts on a durable sled store, linked to N simulated phones
//! of a wa-sim running in ANOTHER process, each sending 1:1 texts with many sends in flight
//! (concurrent `Gateway::send_text` futures) for S seconds on established sessions.
//!
//! ```sh
//! cargo build --release -p wagate -p wa-client --example send_load
//! target/release/examples/send_load --accounts 8 --seconds 10
//! target/release/examples/send_load --accounts 1 --seconds 10          # one account
//! target/release/examples/send_load --accounts 8 --seconds 10 --peer baileys
//! ```
//!
//! Options: `--inflight K` (sends in flight per account; default 1024/N, at least 16),
//! `--mem-store` (the in-memory store instead of sled: what the durable store costs),
//! `--sim-url ws://…/ws/chat --sim-root <hex> [--sim-pid P]` to use a running sim instead of
//! spawning `wagate sim` (found next to the example, or `$WAGATE_BIN`).
//!
//! Each account `A_i` sends to its own contact `C_i` (a simulated phone): every send is
//! encrypted for `C_i`'s phone and, as a DeviceSentMessage, for `A_i`'s own phone; the sim
//! routes it, both phones decrypt their copy and answer with delivery receipts, which the
//! gateway records as status updates. A send counts once the server acked it (the future
//! resolved `Ok`) within the measured window. Measured: acked sends/s, the client's CPU per
//! send (`/proc/self/stat`), the sim's CPU per send and per routed message (`/proc/<sim>/stat`,
//! `route:message` of `GET /admin/counters`), latency submit → ack.
//!
//! The last line of stdout is one JSON object: `acked_per_s`, `client_cpu_us_per_send`,
//! `sim_cpu_us_per_send`, `p50_ms`, `p99_ms`, then details (and with `--peer baileys`,
//! `baileys_per_s` and `ratio`).

#[path = "support/baileys_peer.rs"]
mod baileys_peer;
#[path = "support/sim_process.rs"]
mod sim_process;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{broadcast, Semaphore};
use wa_client::{Backoff, ClientConfig, Event, EventKind, Gateway};
use wa_protocol::binary::{Jid, Server};
use wa_protocol::connection::Config;
use wa_protocol::noise::TrustRoot;
use wa_store::{Account, AccountId, Durability, MemStore, SledStore, Store, StoreConfig};

use sim_process::{own_cpu, SimProcess};

/// Command-line options.
struct Args {
    accounts: usize,
    seconds: u64,
    inflight: usize,
    sim_url: Option<String>,
    sim_root: Option<String>,
    sim_pid: Option<u32>,
    baileys: bool,
    mem_store: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        accounts: 8,
        seconds: 10,
        inflight: 0,
        sim_url: None,
        sim_root: None,
        sim_pid: None,
        baileys: false,
        mem_store: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--accounts" => args.accounts = value().parse().expect("--accounts N"),
            "--seconds" => args.seconds = value().parse().expect("--seconds S"),
            "--inflight" => args.inflight = value().parse().expect("--inflight K"),
            "--sim-url" => args.sim_url = Some(value()),
            "--sim-root" => args.sim_root = Some(value()),
            "--sim-pid" => args.sim_pid = Some(value().parse().expect("--sim-pid P")),
            "--mem-store" => args.mem_store = true,
            "--peer" => {
                let peer = value();
                assert_eq!(peer, "baileys", "the only peer is baileys");
                args.baileys = true;
            }
            other => panic!("unknown option {other}"),
        }
    }
    assert!(args.accounts > 0, "--accounts must be at least 1");
    if args.inflight == 0 {
        args.inflight = (1024 / args.accounts).max(16);
    }
    args
}

/// One linked account and the contact it sends to.
struct Sender {
    id: AccountId,
    to: Jid,
}

fn client_config(sim: &SimProcess) -> ClientConfig {
    ClientConfig {
        url: sim.url.clone(),
        connection: Config {
            trust: TrustRoot::new(sim.root),
            ..Config::default()
        },
        backoff: Backoff::default(),
        ..ClientConfig::default()
    }
}

/// Creates the sim accounts (`A_i` and contact `C_i`) and the store's gateway accounts.
async fn create_accounts(sim: &SimProcess, store: &dyn Store, n: usize) -> Vec<(Sender, String)> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let phone = format!("1555{:07}", 3_000_000 + i);
        let contact = format!("1555{:07}", 4_000_000 + i);
        sim.create_account(&phone).await;
        sim.create_account(&contact).await;
        let id = AccountId::generate(&mut rng);
        let account = Account::new(id, format!("load{i}"), format!("tok{i}"), 0);
        store
            .create_account(&account, Durability::Buffered)
            .expect("account");
        let to = Jid::user(contact, Server::WhatsApp);
        out.push((Sender { id, to }, phone));
    }
    store.flush().expect("flush");
    out
}

/// Links one account by QR: the gateway shows a code, `phone` scans it, the account connects.
async fn link_one(gateway: Arc<Gateway>, sim: Arc<SimProcess>, id: AccountId, phone: String) {
    let mut events = gateway.subscribe();
    gateway.link_qr(&id).await.expect("start linking");
    loop {
        match events.recv().await {
            Ok(Event {
                account: a,
                kind: EventKind::Qr { code, .. },
                ..
            }) if a == id => sim.scan(&phone, &code).await,
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

/// Links every account (32 at a time), then one warm-up exchange per account (device lists,
/// bundles, sessions), so the measured sends are plain `msg`s on established sessions.
async fn link_and_warm(
    gateway: &Arc<Gateway>,
    sim: &Arc<SimProcess>,
    accounts: Vec<(Sender, String)>,
) -> Vec<Sender> {
    let start = Instant::now();
    let gate = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for (sender, phone) in &accounts {
        let (gateway, sim, gate) = (Arc::clone(gateway), Arc::clone(sim), Arc::clone(&gate));
        let (id, phone) = (sender.id, phone.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.expect("semaphore");
            link_one(gateway, sim, id, phone).await;
        }));
    }
    for t in tasks {
        t.await.expect("link task");
    }
    eprintln!(
        "linked {} accounts in {:.1} s",
        accounts.len(),
        start.elapsed().as_secs_f64()
    );
    warm_up(gateway, sim, &accounts).await;
    accounts.into_iter().map(|(s, _)| s).collect()
}

/// `A_i` texts `C_i` (pkmsg: sessions from bundles); `C_i`'s phone answers and `A_i`'s own
/// phone texts `C_i` (its DeviceSentMessage copy reaches the gateway): a Signal initiator sends
/// pkmsg until it has received on the session, so both of the gateway's sessions now carry
/// plain `msg`s. Then one more text each.
async fn warm_up(gateway: &Arc<Gateway>, sim: &SimProcess, accounts: &[(Sender, String)]) {
    let mut events = gateway.subscribe();
    for (s, _) in accounts {
        gateway
            .send_text(&s.id, s.to.clone(), "warm-up")
            .await
            .expect("warm-up send acked");
    }
    for (s, phone) in accounts {
        sim.phone_send(s.to.user_part(), phone, "warm-up reply")
            .await;
        sim.phone_send(phone, s.to.user_part(), "from the phone")
            .await;
    }
    let expected = 2 * accounts.len();
    let mut received = 0;
    let wait = async {
        while received < expected {
            match events.recv().await {
                Ok(Event {
                    kind: EventKind::Message(_),
                    ..
                }) => received += 1,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => panic!("lagged {n} events"),
                Err(e) => panic!("{e}"),
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .is_err()
    {
        panic!("{received} of {expected} warm-up texts reached the gateway");
    }
    for (s, _) in accounts {
        gateway
            .send_text(&s.id, s.to.clone(), "warm-up 2")
            .await
            .expect("second warm-up send acked");
    }
}

/// What the measured window produced.
struct Window {
    acked: u64,
    failed: u64,
    latencies_us: Vec<u32>,
    elapsed: Duration,
    client_cpu: Duration,
    sim_cpu: Option<Duration>,
    routed: u64,
    /// `pkmsg` / (`pkmsg` + `msg`) among the copies the sim's phones decrypted.
    pkmsg_share: f64,
}

/// Keeps `inflight` sends going per account until `end`; latencies of sends acked in time.
async fn sender_loop(
    gateway: Arc<Gateway>,
    id: AccountId,
    to: Jid,
    end: Instant,
    failed: Arc<AtomicU64>,
) -> Vec<u32> {
    let mut latencies = Vec::with_capacity(4096);
    let mut n = 0u64;
    while Instant::now() < end {
        let submitted = Instant::now();
        n += 1;
        match gateway
            .send_text(&id, to.clone(), format!("load {n}"))
            .await
        {
            Ok(_) => {
                let acked = Instant::now();
                if acked <= end {
                    let us = acked.duration_since(submitted).as_micros();
                    latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                }
            }
            Err(e) => {
                if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("send failed: {e}");
                }
            }
        }
    }
    latencies
}

async fn measure(
    gateway: &Arc<Gateway>,
    sim: &SimProcess,
    senders: &[Sender],
    args: &Args,
) -> Window {
    let failed = Arc::new(AtomicU64::new(0));
    let routed_before = sim.counter("route:message").await;
    let pk_before = sim.counter("phone:enc:pkmsg").await;
    let msg_before = sim.counter("phone:enc:msg").await;
    let (sim_before, client_before) = (sim.cpu(), own_cpu());
    let start = Instant::now();
    let end = start + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for s in senders {
        for _ in 0..args.inflight {
            let (gateway, failed) = (Arc::clone(gateway), Arc::clone(&failed));
            let (id, to) = (s.id, s.to.clone());
            tasks.push(tokio::spawn(sender_loop(gateway, id, to, end, failed)));
        }
    }
    tokio::time::sleep_until(end.into()).await;
    let elapsed = start.elapsed();
    let client_cpu = own_cpu().saturating_sub(client_before);
    let sim_cpu = sim.cpu().zip(sim_before).map(|(a, b)| a.saturating_sub(b));
    let routed = sim.counter("route:message").await - routed_before;
    let pk = sim.counter("phone:enc:pkmsg").await - pk_before;
    let msg = sim.counter("phone:enc:msg").await - msg_before;
    let mut latencies_us = Vec::new();
    for t in tasks {
        latencies_us.extend(t.await.expect("sender task"));
    }
    Window {
        acked: latencies_us.len() as u64,
        failed: failed.load(Ordering::Relaxed),
        latencies_us,
        elapsed,
        client_cpu,
        sim_cpu,
        routed,
        pkmsg_share: pk as f64 / (pk + msg).max(1) as f64,
    }
}

/// The `q` quantile of sorted latencies, in milliseconds.
fn quantile_ms(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn per_send_us(cpu: Duration, sends: u64) -> f64 {
    cpu.as_secs_f64() * 1e6 / sends.max(1) as f64
}

/// The summary line's fields, in order.
fn summary(w: &mut Window, args: &Args) -> Vec<(&'static str, String)> {
    w.latencies_us.sort_unstable();
    let rate = w.acked as f64 / w.elapsed.as_secs_f64();
    let sim_us = |n: u64| {
        w.sim_cpu
            .map_or("null".to_owned(), |c| format!("{:.1}", per_send_us(c, n)))
    };
    vec![
        ("acked_per_s", format!("{rate:.0}")),
        (
            "client_cpu_us_per_send",
            format!("{:.1}", per_send_us(w.client_cpu, w.acked)),
        ),
        ("sim_cpu_us_per_send", sim_us(w.acked)),
        (
            "p50_ms",
            format!("{:.2}", quantile_ms(&w.latencies_us, 0.5)),
        ),
        (
            "p99_ms",
            format!("{:.2}", quantile_ms(&w.latencies_us, 0.99)),
        ),
        ("sim_cpu_us_per_routed", sim_us(w.routed)),
        ("accounts", args.accounts.to_string()),
        (
            "store",
            if args.mem_store {
                "\"mem\""
            } else {
                "\"sled\""
            }
            .to_owned(),
        ),
        ("inflight_per_account", args.inflight.to_string()),
        ("seconds", format!("{:.2}", w.elapsed.as_secs_f64())),
        ("acked", w.acked.to_string()),
        ("failed", w.failed.to_string()),
        ("routed", w.routed.to_string()),
        ("pkmsg_share", format!("{:.3}", w.pkmsg_share)),
        (
            "client_cores",
            format!(
                "{:.2}",
                w.client_cpu.as_secs_f64() / w.elapsed.as_secs_f64()
            ),
        ),
        (
            "sim_cores",
            w.sim_cpu.map_or("null".to_owned(), |c| {
                format!("{:.2}", c.as_secs_f64() / w.elapsed.as_secs_f64())
            }),
        ),
    ]
}

fn json(fields: &[(&'static str, String)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", body.join(","))
}

async fn run(args: Args) {
    let sim = Arc::new(match (&args.sim_url, &args.sim_root) {
        (Some(url), Some(root)) => SimProcess::external(url, root, args.sim_pid),
        (None, None) => SimProcess::spawn(),
        _ => panic!("--sim-url and --sim-root go together"),
    });
    let dir = std::env::temp_dir().join(format!("wagate-send-load-{}", std::process::id()));
    let store: Arc<dyn Store> = if args.mem_store {
        Arc::new(MemStore::new())
    } else {
        Arc::new(SledStore::open(&StoreConfig::at(&dir)).expect("sled store"))
    };
    let accounts = create_accounts(&sim, store.as_ref(), args.accounts).await;
    let gateway = Arc::new(Gateway::new(Arc::clone(&store), client_config(&sim)));
    let senders = link_and_warm(&gateway, &sim, accounts).await;
    let mut window = measure(&gateway, &sim, &senders, &args).await;
    let mut fields = summary(&mut window, &args);
    eprintln!("wagate: {}", json(&fields));
    gateway.shutdown(Duration::from_secs(30)).await;
    drop(gateway);
    drop(store);
    // The store was the run's alone; nothing to keep.
    let _ = std::fs::remove_dir_all(&dir);
    if args.baileys {
        let rate = fields[0].1.parse::<f64>().unwrap_or(0.0);
        let b = baileys_peer::run(&sim, args.seconds).await;
        fields.push(("baileys_per_s", format!("{:.1}", b.acked_per_s)));
        fields.push(("baileys_p50_ms", format!("{:.2}", b.p50_ms)));
        fields.push((
            "baileys_cpu_us_per_send",
            format!("{:.1}", b.cpu_us_per_send),
        ));
        fields.push(("ratio", format!("{:.1}", rate / b.acked_per_s.max(1e-9))));
    }
    println!("{}", json(&fields));
}

fn main() {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(args));
}

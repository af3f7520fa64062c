//! `--peer baileys`: the real Baileys 7.0.0-rc14 client (`tests/node/baileys_bench.mjs`),
//! linked to a sim account by QR, sends texts to a simulated phone through the same wa-sim
//! for the same number of seconds; its rate is what the gateway's is compared with.

use std::path::PathBuf;
use std::time::Duration;

use wa_testkit::JsonLines;

use crate::sim_process::SimProcess;

/// Baileys' own account and the phone it sends to (made-up numbers).
const BAILEYS: &str = "15554999001";
const CONTACT: &str = "15554999002";
/// Sends Baileys keeps in flight.
const INFLIGHT: usize = 64;

/// What Baileys achieved.
pub struct BaileysRun {
    /// Server-acknowledged sends per second inside the window.
    pub acked_per_s: f64,
    /// Median submit → ack latency.
    pub p50_ms: f64,
    /// Node's CPU per acked send (it reports `process.cpuUsage()`).
    pub cpu_us_per_send: f64,
}

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/node")
}

/// Links Baileys and runs its send loop for `seconds`.
pub async fn run(sim: &SimProcess, seconds: u64) -> BaileysRun {
    sim.create_account(BAILEYS).await;
    sim.create_account(CONTACT).await;
    let env = [
        ("WA_SIM_URL", sim.url.clone()),
        ("WA_SIM_ROOT_KEY", hex::encode(sim.root.as_bytes())),
        ("WA_BENCH_TO", CONTACT.to_owned()),
        ("WA_BENCH_SECONDS", seconds.to_string()),
        ("WA_BENCH_INFLIGHT", INFLIGHT.to_string()),
    ];
    let mut node = JsonLines::spawn_node(&node_dir(), "baileys_bench.mjs", &env)
        .expect("node runs tests/node/baileys_bench.mjs (npm ci in tests/node first)");
    let qr = node
        .wait_for(Duration::from_secs(60), "Baileys' QR", |v| {
            v["event"] == "qr"
        })
        .await
        .expect("Baileys shows a QR code");
    sim.scan(BAILEYS, qr["qr"].as_str().expect("qr text")).await;
    node.wait_for(Duration::from_secs(60), "Baileys' warm-up", |v| {
        v["event"] == "warm"
    })
    .await
    .expect("Baileys sends its warm-up text");
    // Texts to Baileys from the contact and from its own phone (see baileys_bench.mjs).
    sim.phone_send(CONTACT, BAILEYS, "warm-up reply").await;
    sim.phone_send(BAILEYS, CONTACT, "from the phone").await;
    let deadline = Duration::from_secs(seconds + 120);
    let result = node
        .wait_for(deadline, "Baileys' result", |v| v["event"] == "bench")
        .await
        .expect("Baileys finishes its run");
    node.kill().await;
    let acked = result["acked"].as_f64().unwrap_or(0.0);
    let window = result["window"].as_f64().unwrap_or(seconds as f64);
    let run = BaileysRun {
        acked_per_s: acked / window,
        p50_ms: result["p50_ms"].as_f64().unwrap_or(0.0),
        cpu_us_per_send: result["cpu_us"].as_f64().unwrap_or(0.0) / acked.max(1.0),
    };
    eprintln!(
        "baileys: {} acked in {window} s ({:.1}/s), failed {}, p50 {:.1} ms, p99 {:.1} ms",
        acked, run.acked_per_s, result["failed"], run.p50_ms, result["p99_ms"]
    );
    run
}

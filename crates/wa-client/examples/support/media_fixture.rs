//! What the media harness needs around the gateway: a wa-sim in a child process (the example
//! itself with `--serve-sim`, so the sim is this worktree's and its memory is its own), one
//! gateway account linked by QR to a sim phone with a contact phone, and the process figures
//! read from `/proc` (`VmRSS`, `VmHWM`).
// Each harness mode uses a part of it.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use wa_client::{Backoff, ClientConfig, Event, EventKind, Gateway, MediaConfig};
use wa_protocol::binary::{Jid, Server};
use wa_protocol::connection::Config;
use wa_protocol::noise::TrustRoot;
use wa_sim::{SimConfig, SimServer};
use wa_store::{Account, AccountId, Durability, MemStore, Store};

use crate::sim_process::SimProcess;

/// The gateway account's phone (made-up number).
pub const PHONE_A: &str = "15550913001";
/// Its contact's phone (made-up number).
pub const PHONE_B: &str = "15550913002";

/// `--serve-sim`: runs a wa-sim until killed, printing what [`SimProcess::spawn_command`]
/// reads.
pub async fn serve_sim() {
    let server = SimServer::start(SimConfig {
        stanza_events: false,
        phone_events: false,
        ..SimConfig::default()
    })
    .await
    .expect("the sim starts");
    println!("wa-sim listening on {}", server.url());
    println!(
        "root public key: {}",
        hex::encode(server.root_key().as_bytes())
    );
    std::future::pending::<()>().await;
}

/// This example again, as the sim.
pub fn spawn_sim() -> SimProcess {
    let mut command = Command::new(std::env::current_exe().expect("own path"));
    command.arg("--serve-sim");
    SimProcess::spawn_command(command)
}

/// The client configuration for `sim`: plain-HTTP media (the sim's port), staging and
/// downloads in `temp_dir`.
pub fn client_config(sim: &SimProcess, temp_dir: &Path) -> ClientConfig {
    ClientConfig {
        url: sim.url.clone(),
        connection: Config {
            trust: TrustRoot::new(sim.root),
            ..Config::default()
        },
        backoff: Backoff::default(),
        media: MediaConfig {
            scheme: "http".to_owned(),
            temp_dir: Some(temp_dir.to_path_buf()),
            ..MediaConfig::default()
        },
        ..ClientConfig::default()
    }
}

/// A gateway with one account linked to [`PHONE_A`], which has exchanged a text each way
/// with [`PHONE_B`] (sessions established).
pub struct Fixture {
    /// The gateway.
    pub gateway: Arc<Gateway>,
    /// The linked account.
    pub id: AccountId,
    /// [`PHONE_B`]'s JID.
    pub contact: Jid,
    /// The gateway's events from before the link.
    pub events: broadcast::Receiver<Event>,
}

/// Creates both sim accounts, links the gateway account and exchanges a text each way.
pub async fn link(sim: &SimProcess, temp_dir: &Path) -> Fixture {
    sim.create_account(PHONE_A).await;
    sim.create_account(PHONE_B).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = AccountId::generate(&mut StdRng::seed_from_u64(13));
    let account = Account::new(id, "media", "media-token", 0);
    store
        .create_account(&account, Durability::Durable)
        .expect("account");
    let gateway = Arc::new(Gateway::new(store, client_config(sim, temp_dir)));
    let mut events = gateway.subscribe();
    gateway.link_qr(&id).await.expect("start linking");
    loop {
        match next_event(&mut events).await.kind {
            EventKind::Qr { code, .. } => sim.scan(PHONE_A, &code).await,
            EventKind::Connected { .. } => break,
            _ => {}
        }
    }
    let contact = Jid::user(PHONE_B, Server::WhatsApp);
    gateway
        .send_text(&id, contact.clone(), "warm-up")
        .await
        .expect("warm-up text acked");
    sim.phone_send(PHONE_B, PHONE_A, "warm-up reply").await;
    while !matches!(next_event(&mut events).await.kind, EventKind::Message(_)) {}
    Fixture {
        gateway,
        id,
        contact,
        events,
    }
}

/// The next gateway event within a minute (lagging is fine: the harness waits for one kind).
pub async fn next_event(events: &mut broadcast::Receiver<Event>) -> Event {
    loop {
        match tokio::time::timeout(Duration::from_secs(120), events.recv()).await {
            Ok(Ok(event)) => return event,
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("event bus: {e}"),
            Err(_) => panic!("no gateway event within two minutes"),
        }
    }
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Resets this process's `VmHWM` to its current RSS (`/proc/self/clear_refs` value 5, Linux
/// 4.0+); false where the kernel refuses it.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Writes `len` pseudo-random bytes (xorshift: incompressible enough, cheap) to `path` in
/// 1 MiB pieces and returns their SHA-256.
pub fn write_file(path: &Path, len: u64, seed: u64) -> [u8; 32] {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut hash = Sha256::new();
    let mut state = seed | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = usize::try_from(left.min(buf.len() as u64)).expect("chunk");
        hash.update(&buf[..n]);
        out.write_all(&buf[..n]).expect("write");
        left -= n as u64;
    }
    out.flush().expect("flush");
    hash.finalize().into()
}

/// SHA-256 of a file read in 1 MiB pieces.
pub fn hash_file(path: &Path) -> [u8; 32] {
    let mut file = std::fs::File::open(path).expect("open");
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf).expect("read") {
            0 => return hash.finalize().into(),
            n => hash.update(&buf[..n]),
        }
    }
}

/// Writes the JSON body of the phone's `POST /admin/phones/{p}/send` with `file` as
/// `data_base64`, encoded piece by piece (the body never sits whole in this process).
pub fn write_send_body(body: &Path, to: &str, kind: &str, mimetype: &str, file: &Path) {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(body).expect("create"));
    write!(
        out,
        "{{\"to\":\"{to}\",\"media\":{{\"kind\":\"{kind}\",\"mimetype\":\"{mimetype}\",\"data_base64\":\""
    )
    .expect("write");
    let mut input = std::fs::File::open(file).expect("open");
    // A multiple of 3 bytes per piece: the pieces' base64 concatenates without padding.
    let mut buf = vec![0u8; 3 << 18];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match input.read(&mut buf[filled..]).expect("read") {
                0 => break,
                n => filled += n,
            }
        }
        if filled == 0 {
            break;
        }
        out.write_all(STANDARD.encode(&buf[..filled]).as_bytes())
            .expect("write");
        if filled < buf.len() {
            break;
        }
    }
    out.write_all(b"\"}}").expect("write");
    out.flush().expect("flush");
}

/// `curl` posts `body` (a file) to the sim's admin API, so the body is held by curl's
/// process, not the measured one. Returns the HTTP status.
pub fn post_file(admin: std::net::SocketAddr, path: &str, body: &Path) -> u16 {
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(format!("@{}", body.display()))
        .arg(format!("http://{admin}{path}"))
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

//! The load harnesses' wa-sim: `wagate sim` in its own process (so its CPU is its own and
//! is measured apart from the client's), or one already running that the caller names.
//! Also: CPU time of a process from `/proc/<pid>/stat`, and the sim's admin API.
// Shared by several examples, each of which uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use wa_protocol::signal::PublicKey;

/// How long an admin request may take.
const ADMIN_DEADLINE: Duration = Duration::from_secs(30);

/// A running wa-sim the harness talks to.
pub struct SimProcess {
    child: Option<Child>,
    /// The WebSocket URL clients connect to.
    pub url: String,
    /// The admin API's address (same listener as the WebSocket).
    pub admin: SocketAddr,
    /// The root key of its certificate chain.
    pub root: PublicKey,
    /// Its process id, when known (for its CPU time).
    pub pid: Option<u32>,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            // The harness is done with it; a sim that already exited is fine.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `target/<profile>/wagate` next to the example, or `$WAGATE_BIN`.
fn wagate_bin() -> PathBuf {
    std::env::var("WAGATE_BIN").map_or_else(
        |_| {
            let exe = std::env::current_exe().expect("exe");
            exe.parent()
                .and_then(|p| p.parent())
                .map(|p| p.join("wagate"))
                .unwrap_or_else(|| PathBuf::from("wagate"))
        },
        PathBuf::from,
    )
}

fn parse_root(hex_key: &str) -> PublicKey {
    let root: [u8; 32] = hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .expect("the root key is 64 hex digits");
    PublicKey::from_bytes(root)
}

/// `ws://host:port/ws/chat` → `host:port`.
fn admin_of(url: &str) -> SocketAddr {
    url.trim_start_matches("ws://")
        .trim_end_matches("/ws/chat")
        .parse()
        .expect("the sim URL is ws://<ip>:<port>/ws/chat")
}

impl SimProcess {
    /// Runs `wagate sim --listen 127.0.0.1:0` and reads its URL and root key from stdout.
    pub fn spawn() -> Self {
        let mut command = Command::new(wagate_bin());
        command.args(["sim", "--listen", "127.0.0.1:0"]);
        Self::spawn_command(command)
    }

    /// Runs `command` (a sim that prints `wa-sim listening on <url>` and
    /// `root public key: <hex>` as `wagate sim` does) and reads its URL and root key.
    pub fn spawn_command(mut command: Command) -> Self {
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut url = String::new();
        let mut root = String::new();
        while url.is_empty() || root.is_empty() {
            let line = lines.next().expect("the sim prints its URL").expect("read");
            if let Some(u) = line.strip_prefix("wa-sim listening on ") {
                u.clone_into(&mut url);
            }
            if let Some(r) = line.strip_prefix("root public key: ") {
                r.clone_into(&mut root);
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Self {
            pid: Some(child.id()),
            child: Some(child),
            admin: admin_of(&url),
            root: parse_root(&root),
            url,
        }
    }

    /// A sim someone else runs: its URL, root key (hex) and, if known, its pid.
    pub fn external(url: &str, root_hex: &str, pid: Option<u32>) -> Self {
        Self {
            child: None,
            url: url.to_owned(),
            admin: admin_of(url),
            root: parse_root(root_hex),
            pid,
        }
    }

    /// The sim's CPU time so far, if its pid is known.
    pub fn cpu(&self) -> Option<Duration> {
        self.pid.and_then(cpu_of)
    }

    /// Creates a sim account (with its simulated phone) for `phone`.
    pub async fn create_account(&self, phone: &str) {
        let body = format!("{{\"phone\":\"{phone}\"}}");
        let (status, reply) = wa_testkit::http::request(
            self.admin,
            "POST",
            "/admin/accounts",
            Some(("application/json", &body)),
            ADMIN_DEADLINE,
        )
        .await;
        assert_eq!(status, 201, "create account {phone}: {reply}");
    }

    /// `phone` scans a QR code shown by a companion.
    pub async fn scan(&self, phone: &str, qr: &str) {
        let path = format!("/admin/phones/{phone}/scan");
        let (status, reply) = wa_testkit::http::request(
            self.admin,
            "POST",
            &path,
            Some(("text/plain", qr)),
            ADMIN_DEADLINE,
        )
        .await;
        assert!((200..300).contains(&status), "scan by {phone}: {reply}");
    }

    /// `phone`'s simulated phone sends an end-to-end encrypted text to `to`.
    pub async fn phone_send(&self, phone: &str, to: &str, text: &str) {
        let path = format!("/admin/phones/{phone}/send");
        let body = format!("{{\"to\":\"{to}\",\"text\":\"{text}\"}}");
        let (status, reply) = wa_testkit::http::request(
            self.admin,
            "POST",
            &path,
            Some(("application/json", &body)),
            ADMIN_DEADLINE,
        )
        .await;
        assert!((200..300).contains(&status), "{phone} sends: {reply}");
    }

    /// A counter of `GET /admin/counters` (0 when absent).
    pub async fn counter(&self, key: &str) -> u64 {
        let (status, counters) =
            wa_testkit::http::request(self.admin, "GET", "/admin/counters", None, ADMIN_DEADLINE)
                .await;
        assert_eq!(status, 200, "counters: {counters}");
        counters[key].as_u64().unwrap_or(0)
    }
}

/// User + system CPU time of process `pid` (`/proc/<pid>/stat` fields 14 and 15, in clock
/// ticks of 1/100 s, the Linux default `USER_HZ`).
pub fn cpu_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its ')' are 3, 4, ….
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// This process's CPU time so far.
pub fn own_cpu() -> Duration {
    cpu_of(std::process::id()).expect("/proc/<own pid>/stat")
}

/// Resident memory of this process, KiB (`/proc/self/statm`, 4 KiB pages).
pub fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

//! Issue 13's memory proof through the real binary: a 100 MB video sent and received by
//! `wagate serve`, with the gateway process's resident memory measured from `/proc`.
//!
//! ```sh
//! cargo build -p wagate --bin wagate --example media_memory
//! target/debug/examples/media_memory --size-mb 100
//! ```
//!
//! Steps: `wagate sim` in its own process (its memory is its own); a gateway account linked by
//! QR to a sim phone in a sled store (an in-process `wa_client::Gateway`, which then stops);
//! `wagate serve` on that store as a child (`WAGATE_MEDIA_SCHEME=http`, private media URLs and
//! webhooks allowed), the account's `Message` webhook pointed at a receiver in this process and
//! its `media_delivery` set to `"s3"` with S3 off (received files go to the gateway's media
//! directory); a text each way (sessions established). Then two legs, each with the child's
//! peak RSS reset first (`/proc/<pid>/clear_refs` value 5) and its `VmRSS` read:
//!
//! 1. **send**: `POST /chat/send/video` with `Video: "http://127.0.0.1:<port>/big.mp4"`, a
//!    file this process serves from disk (an `ftyp` box first, then pseudo-random bytes); the
//!    contact's phone downloads it and its inbox shows the SHA-256, which must be the file's;
//! 2. **receive**: the contact's phone sends a video of the same size to the account (its
//!    admin request, base64 JSON, is written to a file and posted by `curl`); the `Message`
//!    webhook's `s3.url` must serve the same bytes.
//!
//! After each leg the child's `VmHWM` is read; one JSON line per leg (`send`, `receive`, and
//! `both`: from the RSS before the first leg to the higher peak): before, peak, growth (peak −
//! before, MiB) and seconds. The receive leg includes serving the stored file back.

#[path = "../../wa-client/examples/support/sim_process.rs"]
mod sim_process;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wa_client::{Backoff, ClientConfig, EventKind, Gateway};
use wa_protocol::connection::Config;
use wa_protocol::noise::TrustRoot;
use wa_store::{Account, AccountId, Durability, SledStore, Store, StoreConfig};
use wa_testkit::{poll_until, wait_for, HookReceiver};

use sim_process::SimProcess;

const ADMIN_TOKEN: &str = "media-memory-admin-token-0123456789";
const USER_TOKEN: &str = "media-memory-user-token";
/// The gateway account's phone (made-up number).
const ME: &str = "15550923001";
/// Its contact's phone (made-up number).
const CONTACT: &str = "15550923002";
/// Bytes in a MB, as the harness counts them.
const MIB: u64 = 1 << 20;
/// How long one leg may take.
const LEG_DEADLINE: Duration = Duration::from_secs(600);

fn main() {
    let mut size_mb = 100u64;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--size-mb" => size_mb = it.next().and_then(|v| v.parse().ok()).expect("--size-mb N"),
            other => panic!("unknown option {other}"),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(size_mb));
}

/// `wagate serve` as a child, killed when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        // The harness is done with it; a child that already exited is fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wagate_bin() -> PathBuf {
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

fn serve(sim: &SimProcess, dir: &Path) -> Served {
    let bin = wagate_bin();
    let mut child = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(["--wa-url", &sim.url, "--trust-root"])
        .arg(hex::encode(sim.root.as_bytes()))
        .env("WAGATE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("WAGATE_MEDIA_SCHEME", "http")
        .env("WAGATE_MEDIA_ALLOW_PRIVATE", "true")
        .env("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("WEBHOOK_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
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

/// Links the account (user token [`USER_TOKEN`], autostart) in the sled store at `dir`.
async fn link(sim: &SimProcess, dir: &Path) {
    sim.create_account(ME).await;
    sim.create_account(CONTACT).await;
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&StoreConfig::at(dir)).expect("store"));
    let id = AccountId::generate(&mut StdRng::seed_from_u64(23));
    let mut account = Account::new(id, "memory", USER_TOKEN, 0);
    account.autostart = true;
    store
        .create_account(&account, Durability::Durable)
        .expect("account");
    let config = ClientConfig {
        url: sim.url.clone(),
        connection: Config {
            trust: TrustRoot::new(sim.root),
            ..Config::default()
        },
        backoff: Backoff::default(),
        ..ClientConfig::default()
    };
    let gateway = Gateway::new(Arc::clone(&store), config);
    let mut events = gateway.subscribe();
    gateway.link_qr(&id).await.expect("start linking");
    loop {
        let event = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .expect("a gateway event within a minute");
        match event.map(|e| e.kind) {
            Ok(EventKind::Qr { code, .. }) => sim.scan(ME, &code).await,
            Ok(EventKind::Connected { .. }) => break,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    gateway.shutdown(Duration::from_secs(30)).await;
    drop(gateway);
    store.flush().expect("flush");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Arc::strong_count(&store) > 1 {
        assert!(
            Instant::now() < deadline,
            "the linking gateway holds the store"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The gateway's user API.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("token", USER_TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .timeout(LEG_DEADLINE)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

/// A `kB` field of `/proc/<pid>/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Writes an MP4-looking file of `len` bytes (an `ftyp` box, then xorshift bytes) in 1 MiB
/// pieces; returns its SHA-256.
fn write_video(path: &Path, len: u64, seed: u64) -> [u8; 32] {
    const FTYP: &[u8] = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2";
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut hash = Sha256::new();
    let mut state = seed | 1;
    let mut buf = vec![0u8; MIB as usize];
    let mut left = len;
    let mut first = true;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        if first {
            buf[..FTYP.len()].copy_from_slice(FTYP);
            first = false;
        }
        let n = usize::try_from(left.min(MIB)).expect("chunk");
        hash.update(&buf[..n]);
        out.write_all(&buf[..n]).expect("write");
        left -= n as u64;
    }
    out.flush().expect("flush");
    hash.finalize().into()
}

/// The body of the phone's `POST /admin/phones/{p}/send` with `file` as `data_base64`,
/// encoded piece by piece into `body`.
fn write_send_body(body: &Path, file: &Path) {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let mut out = std::io::BufWriter::new(std::fs::File::create(body).expect("create"));
    write!(
        out,
        "{{\"to\":\"{ME}\",\"media\":{{\"kind\":\"video\",\"mimetype\":\"video/mp4\",\"data_base64\":\""
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
        out.write_all(STANDARD.encode(&buf[..filled]).as_bytes())
            .expect("write");
        if filled < buf.len() {
            break;
        }
    }
    out.write_all(b"\"}}").expect("write");
    out.flush().expect("flush");
}

/// Serves `file` as `video/mp4` to every request (HTTP/1.1, one request per connection,
/// streamed from disk); returns the address.
async fn serve_file(file: PathBuf) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("file server");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let file = file.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut byte).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&byte[..n]),
                    }
                }
                let mut f = tokio::fs::File::open(&file).await.expect("open");
                let len = f.metadata().await.expect("metadata").len();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
                );
                if socket.write_all(answer.as_bytes()).await.is_ok() {
                    // A fetcher that gives up early is the gateway's business, not this server's.
                    let _ = tokio::io::copy(&mut f, &mut socket).await;
                }
            });
        }
    });
    addr
}

/// The child's figures over one leg.
struct Leg {
    before_kib: u64,
    peak_kib: u64,
    seconds: f64,
}

impl Leg {
    fn print(&self, name: &str, size_mb: u64) {
        let growth = self.peak_kib.saturating_sub(self.before_kib) as f64 / 1024.0;
        println!(
            "{}",
            json!({
                "leg": name, "size_mb": size_mb, "vm_rss_before_kib": self.before_kib,
                "vm_hwm_after_kib": self.peak_kib, "growth_mib": (growth * 10.0).round() / 10.0,
                "seconds": (self.seconds * 100.0).round() / 100.0,
            })
        );
    }
}

/// Resets the child's peak RSS and reads its RSS.
fn leg_start(pid: u32) -> (u64, Instant) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the child's VmHWM");
    (status_kib(pid, "VmRSS"), Instant::now())
}

fn leg_end(pid: u32, (before_kib, start): (u64, Instant)) -> Leg {
    Leg {
        before_kib,
        peak_kib: status_kib(pid, "VmHWM"),
        seconds: start.elapsed().as_secs_f64(),
    }
}

fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Sends a text to the contact (retried while the restored account connects), waits for the
/// contact's reply webhook: sessions both ways.
async fn warm_up(api: &Api, sim: &SimProcess, hooks: &mut HookReceiver) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = api
            .post(
                "/chat/send/text",
                &json!({"Phone": CONTACT, "Body": "warm-up"}),
            )
            .await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "warm-up send: {status} {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sim.phone_send(CONTACT, ME, "warm-up reply").await;
    wait_for(&mut hooks.hooks, LEG_DEADLINE, "the reply's webhook", |h| {
        (h.payload()["type"] == "Message").then_some(())
    })
    .await
    .expect("the reply arrives");
}

/// Leg 1: the gateway fetches `url` and sends it as a video; the contact's phone checks it.
async fn send_leg(api: &Api, sim: &SimProcess, url: &str, sha: [u8; 32]) {
    let body = json!({"Phone": CONTACT, "Video": url, "Caption": "memory proof"});
    let (status, answer) = api.post("/chat/send/video", &body).await;
    assert_eq!(status, 200, "send/video: {answer}");
    let want = hex::encode(sha);
    let path = format!("/admin/phones/{CONTACT}/messages");
    let admin = sim.admin;
    poll_until(LEG_DEADLINE, "the phone checks the video", || {
        let (path, want) = (path.clone(), want.clone());
        async move {
            let deadline = Duration::from_secs(30);
            let (status, inbox) =
                wa_testkit::http::request(admin, "GET", &path, None, deadline).await;
            assert_eq!(status, 200, "inbox");
            let entry = inbox
                .as_array()?
                .iter()
                .find(|m| m["kind"] == "video")?
                .clone();
            assert!(entry["media_error"].is_null(), "phone: {entry}");
            entry["sha256"].as_str().map(|s| assert_eq!(s, want))
        }
    })
    .await
    .expect("the phone downloads the video");
}

/// Leg 2: the contact's phone posts `body`; the `Message` webhook's `s3.url` serves the file.
async fn receive_leg(api: &Api, sim: &SimProcess, hooks: &mut HookReceiver, body: &Path) -> String {
    let path = format!("http://{}/admin/phones/{CONTACT}/send", sim.admin);
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(format!("@{}", body.display()))
        .arg(path)
        .output()
        .expect("curl runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "200",
        "phone send"
    );
    let url = wait_for(&mut hooks.hooks, LEG_DEADLINE, "the video's webhook", |h| {
        let p = h.payload();
        if p["type"] != "Message" || p["event"]["Message"]["videoMessage"].is_null() {
            return None;
        }
        assert!(p.get("s3Error").is_none(), "{p}");
        p["s3"]["url"].as_str().map(str::to_owned)
    })
    .await
    .expect("the video's Message webhook");
    let got = api
        .http
        .get(&url)
        .header("token", USER_TOKEN)
        .timeout(LEG_DEADLINE)
        .send()
        .await
        .expect("GET the stored file");
    assert_eq!(got.status().as_u16(), 200, "{url}");
    sha_hex(&got.bytes().await.expect("the stored file"))
}

async fn run(size_mb: u64) {
    let dir = wa_testkit::temp_dir("media-memory");
    let sim = SimProcess::spawn();
    link(&sim, dir.path()).await;
    let served = serve(&sim, dir.path());
    let pid = served.child.id();
    let api = Api {
        http: wa_testkit::http_client(),
        base: format!("http://{}", served.addr),
    };
    let mut hooks = HookReceiver::start().await;
    let hook = json!({"webhookURL": hooks.url("/hook"), "events": ["Message"]});
    assert_eq!(api.post("/webhook", &hook).await.0, 200, "webhook");
    let s3 = json!({"enabled": false, "media_delivery": "s3"});
    assert_eq!(
        api.post("/session/s3/config", &s3).await.0,
        200,
        "s3 config"
    );
    warm_up(&api, &sim, &mut hooks).await;

    let len = size_mb * MIB;
    let out_file = dir.path().join("big.mp4");
    let out_sha = write_video(&out_file, len, 1);
    let in_file = dir.path().join("incoming.mp4");
    let in_sha = write_video(&in_file, len, 2);
    let send_body = dir.path().join("phone-send.json");
    write_send_body(&send_body, &in_file);
    std::fs::remove_file(&in_file).expect("remove");
    let files = serve_file(out_file).await;
    let url = format!("http://{files}/big.mp4");

    let start = leg_start(pid);
    send_leg(&api, &sim, &url, out_sha).await;
    let sent = leg_end(pid, start);
    sent.print("send", size_mb);

    let start = leg_start(pid);
    let got = receive_leg(&api, &sim, &mut hooks, &send_body).await;
    let received = leg_end(pid, start);
    assert_eq!(got, hex::encode(in_sha), "the stored file is the file sent");
    received.print("receive", size_mb);
    let both = Leg {
        before_kib: sent.before_kib,
        peak_kib: sent.peak_kib.max(received.peak_kib),
        seconds: sent.seconds + received.seconds,
    };
    both.print("both", size_mb);
    drop_sim_files(&sim).await;
}

/// The sim child is killed, not stopped: its stored files and the phones' copies go now.
async fn drop_sim_files(sim: &SimProcess) {
    for (path, body) in [
        ("/admin/media/expire", "{\"all\":true}"),
        ("/admin/media/forget", "{}"),
    ] {
        let (status, answer) = wa_testkit::http::request(
            sim.admin,
            "POST",
            path,
            Some(("application/json", body)),
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
}

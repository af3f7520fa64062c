//! The terminal experience end to end: `wagate link` against an in-process wa-sim prints a QR
//! (and its text), the simulated phone scans it, and the command exits once logged in; then
//! `wagate store check` verifies every record it wrote, and `wagate serve` refuses to start
//! without an admin token.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use wa_testkit::{start_sim, temp_dir};

const PHONE: &str = "15550108888";
const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_by_qr_from_the_terminal_then_store_check() {
    let sim = start_sim(&[PHONE]).await;
    let tmp = temp_dir("cli");
    let dir = tmp.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wagate"))
        .args(["link", "--wa-url", &sim.url(), "--trust-root"])
        .arg(hex::encode(sim.root_key().as_bytes()))
        .arg("--data-dir")
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("wagate runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut transcript = Vec::new();
    let run = async {
        let mut scanned = false;
        while let Some(line) = lines.next_line().await.expect("read") {
            transcript.push(line.clone());
            if let Some(qr) = line.strip_prefix("qr: ") {
                if !scanned {
                    sim.scan(PHONE, qr).expect("the phone scans the printed QR");
                    scanned = true;
                }
            }
        }
        child.wait().await.expect("exit status")
    };
    let status = tokio::time::timeout(DEADLINE, run)
        .await
        .expect("wagate link finishes in time");
    assert!(status.success(), "wagate link failed: {transcript:#?}");
    let text = transcript.join("\n");
    assert!(text.contains('▀') || text.contains('▄'), "a QR is drawn");
    assert!(
        text.contains(&format!("connected as {PHONE}:1@s.whatsapp.net")),
        "{text}"
    );
    assert!(text.contains("token: "), "{text}");

    let check = Command::new(env!("CARGO_BIN_EXE_wagate"))
        .args(["store", "check", "--data-dir"])
        .arg(&dir)
        .output()
        .await
        .expect("store check runs");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{out}");
    assert!(out.contains("ok: "), "{out}");
}

#[tokio::test]
async fn serve_requires_an_admin_token() {
    let tmp = temp_dir("cli-serve");
    let out = Command::new(env!("CARGO_BIN_EXE_wagate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("data"))
        .env_remove("WAGATE_ADMIN_TOKEN")
        .output()
        .await
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin token is required"));
}

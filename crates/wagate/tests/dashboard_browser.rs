//! Issue 14's first proof: the web dashboard end to end in headless Chromium (Debian's
//! `chromium`, driven by `playwright-core` from `tests/node/package-lock.json`), against the
//! real binary and wa-sim. `tests/node/dashboard_e2e.mjs` drives the browser through the
//! dashboard's selector contract: a wrong token is refused, Tab reaches the login button, the
//! login page has no horizontal scroll at 390×844, log in, create a session, open its QR modal,
//! the sim's phone scans the QR, the badge turns `working` without a reload and the modal
//! closes itself, open the session page, send a message to a second sim phone, see it
//! `delivered` in the events list, the pages have no horizontal scroll at 390×844; a second
//! session links by the pair code the page shows, typed on a third sim phone.
//!
//! This side decodes the QR image the modal shows (rqrr) and checks it holds the same text as
//! its `data-qr`, has the phone scan it (`POST /admin/phones/{phone}/scan`, WA-SIM.md "Admin
//! API"), and checks the second phone's inbox (`GET /admin/phones/{phone}/messages`) holds the
//! message the page sent. Every step leaves a screenshot in `target/artifacts/dashboard/`.
//! A missing Chromium, Node.js or npm package fails the test (each is installed when missing).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wa_sim::SimServer;
use wa_testkit::browser::{artifacts_dir, ensure_chromium, ensure_npm_packages, node_dir};
use wa_testkit::session_flow::{phone_enters_code, phone_scans};
use wa_testkit::{poll_until, qr, start_sim, JsonLines, Served, ADMIN_TOKEN, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
/// The phone that scans the dashboard's QR (made up).
const LINK_PHONE: &str = "15550142101";
/// The phone the dashboard's test message goes to (made up).
const PEER_PHONE: &str = "15550142102";
/// The phone that links a second session by typing the pair code the page shows (made up).
const CODE_PHONE: &str = "15550142103";
/// Each browser step's deadline (the QR-to-working and delivery steps get twice as long).
const STEP_DEADLINE: Duration = Duration::from_secs(20);
/// The whole browser run, Chromium's start included.
const RUN_DEADLINE: Duration = Duration::from_secs(300);

/// What the browser script reported.
#[derive(Debug, Default)]
struct Run {
    /// Each step: `{"step", "status", "ms", "error"?}`.
    steps: Vec<Value>,
    /// The message sent from the session page: `{"id", "to", "text"}`.
    sent: Option<Value>,
    /// Faults this side found (QR image against `data-qr`, the scan, the inbox).
    faults: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    let dir = node_dir();
    ensure_npm_packages(&dir);
    let chromium = ensure_chromium();
    let shots = artifacts_dir("dashboard");
    let sim = start_sim(&[LINK_PHONE, PEER_PHONE, CODE_PHONE]).await;
    let served = Served::start(Path::new(BIN), &sim, &[]).await;
    let env = [
        ("WAGATE_URL", served.base()),
        ("WAGATE_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("WA_SIM_ADMIN_URL", format!("http://{}", sim.addr())),
        ("WA_PHONE_LINK", LINK_PHONE.to_owned()),
        ("WA_PHONE_PEER", PEER_PHONE.to_owned()),
        ("WA_PHONE_CODE", CODE_PHONE.to_owned()),
        ("WA_SCREENSHOT_DIR", shots.display().to_string()),
        ("WA_SCAN_HANDSHAKE", "1".to_owned()),
        ("CHROMIUM_PATH", chromium.display().to_string()),
        ("WA_STEP_DEADLINE_MS", STEP_DEADLINE.as_millis().to_string()),
    ];
    let mut node = JsonLines::spawn_node(&dir, "dashboard_e2e.mjs", &env).expect("node runs");
    let mut run = drive(&mut node, &sim, &shots, &served).await;
    if let Some(sent) = run.sent.clone() {
        if let Err(fault) = check_inbox(&sim, &sent).await {
            run.faults.push(fault);
        }
    }
    run.faults.extend(missing_screenshots(&run.steps, &shots));
    report(&run, &served, &shots);
}

/// Reads the script's lines until it is done, answering its QR with a scan and its pair code
/// with the phone typing it.
async fn drive(node: &mut JsonLines, sim: &SimServer, shots: &Path, served: &Served) -> Run {
    let started = Instant::now();
    let mut run = Run::default();
    loop {
        let left = RUN_DEADLINE.saturating_sub(started.elapsed());
        let line = node
            .wait_for(left, "the browser script's next line", |_| true)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{e}; steps so far: {:#?}\ngateway log:\n{}",
                    run.steps,
                    served.log()
                )
            });
        match line["event"].as_str() {
            Some("step") => eprintln!("[dashboard] {line}"),
            Some("qr") => {
                let answer = scan(sim, shots, &line, &mut run.faults).await;
                node.send(&answer).await.expect("answer the browser script");
            }
            Some("paircode") => {
                let answer = enter_code(sim, &line, &mut run.faults).await;
                node.send(&answer).await.expect("answer the browser script");
            }
            Some("sent") => {
                eprintln!("[dashboard] the page sent {line}");
                run.sent = Some(line);
            }
            Some("done") => {
                run.steps = line["steps"].as_array().cloned().unwrap_or_default();
                return run;
            }
            Some("fatal") => panic!("the browser script failed: {}", line["error"]),
            _ => eprintln!("[dashboard] unexpected line {line}"),
        }
    }
}

/// Decodes the modal's QR image, checks it holds its `data-qr`, keeps it as an artifact and
/// has the sim's phone scan the text; the answer for the script.
async fn scan(sim: &SimServer, shots: &Path, line: &Value, faults: &mut Vec<String>) -> Value {
    let data_qr = line["dataQr"].as_str().unwrap_or_default();
    let src = line["src"].as_str().unwrap_or_default();
    keep_qr_png(shots, src);
    match qr::decode_data_url(src) {
        Some(decoded) if decoded == data_qr => {
            eprintln!(
                "[dashboard] the modal's QR image decodes to its data-qr ({} chars)",
                decoded.len()
            );
        }
        Some(decoded) => faults.push(format!(
            "the QR image holds {decoded:?}, its data-qr says {data_qr:?}"
        )),
        None => faults.push(format!("the QR image does not decode: {src:.80}")),
    }
    let (status, body) = phone_scans(sim, LINK_PHONE, data_qr).await;
    if status != 200 {
        faults.push(format!("the phone's scan answered {status}: {body}"));
    }
    json!({ "cmd": "scanned", "ok": status == 200, "status": status, "body": body })
}

/// The third phone types the pair code the page showed; the answer for the script.
async fn enter_code(sim: &SimServer, line: &Value, faults: &mut Vec<String>) -> Value {
    let code = line["code"].as_str().unwrap_or_default();
    let (status, body) = phone_enters_code(sim, CODE_PHONE, code).await;
    // 202: the sim accepted the code and goes on pairing (WA-SIM.md "Admin API").
    let ok = (200..300).contains(&status);
    if !ok {
        faults.push(format!("the phone typing {code:?} got {status}: {body}"));
    }
    json!({ "cmd": "entered", "ok": ok, "status": status, "body": body })
}

/// Writes the QR the modal showed next to the screenshots (`07-qr-image.png`).
fn keep_qr_png(shots: &Path, src: &str) {
    use base64::Engine;
    let png = src
        .strip_prefix("data:image/png;base64,")
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok());
    if let Some(png) = png {
        let path = shots.join("07-qr-image.png");
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

/// The second phone received the message the page sent, from the linked phone.
async fn check_inbox(sim: &SimServer, sent: &Value) -> Result<(), String> {
    let path = format!("/admin/phones/{PEER_PHONE}/messages");
    let path = &path;
    let found = poll_until(
        DEADLINE,
        "the sent message in the phone's inbox",
        move || async move {
            let (status, body) =
                wa_testkit::http::request(sim.addr(), "GET", path, None, DEADLINE).await;
            let inbox = if status == 200 {
                body.as_array().cloned()
            } else {
                None
            };
            inbox?
                .into_iter()
                .find(|m| m["id"] == sent["id"] && m["text"] == sent["text"])
        },
    )
    .await
    .map_err(|e| format!("{e}: {sent} is not in {PEER_PHONE}'s inbox"))?;
    if found["from"] == LINK_PHONE {
        eprintln!("[dashboard] {PEER_PHONE}'s inbox on the sim holds it: {found}");
        Ok(())
    } else {
        Err(format!(
            "the message came from {}, not {LINK_PHONE}",
            found["from"]
        ))
    }
}

/// Every step that ran left its `NN-<step>.png`, a PNG.
fn missing_screenshots(steps: &[Value], shots: &Path) -> Vec<String> {
    steps
        .iter()
        .filter(|s| s["status"] != "blocked")
        .filter_map(|s| {
            let path: PathBuf = shots.join(format!("{}.png", s["step"].as_str()?));
            let png = std::fs::read(&path).unwrap_or_default();
            (!png.starts_with(b"\x89PNG\r\n\x1a\n"))
                .then(|| format!("no screenshot {}", path.display()))
        })
        .collect()
}

/// Prints each step and fails with everything that did not pass.
fn report(run: &Run, served: &Served, shots: &Path) {
    let failed: Vec<String> = run
        .steps
        .iter()
        .filter(|s| s["status"] != "passed")
        .map(|s| format!("{} {}: {}", s["step"], s["status"], s["error"]))
        .chain(run.faults.iter().cloned())
        .collect();
    assert!(
        !run.steps.is_empty() && failed.is_empty(),
        "the dashboard's browser test failed (screenshots in {}):\n  {}\ngateway log (tail):\n{}",
        shots.display(),
        failed.join("\n  "),
        tail(&served.log(), 40)
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

//! Crash test (issue 10, "Proof"; the durability rule of item 8): a gateway process
//! (`burst_sender`, over a sled store) sends a burst of texts to a sim phone while the phone
//! texts it back; the test kills it with SIGKILL in the middle of the burst and starts it again
//! over the same store, ten times, with the phone texting it while it is down too. Afterwards:
//!
//! - every send acknowledged to the caller (printed after `send_text` returned `Ok`) is in the
//!   phone's decrypted inbox (`GET /admin/phones/{phone}/messages`) with its text, exactly
//!   once (a send whose ack the kill cut off is resent after the restart under its id with a
//!   new key; the phone, like a real receiver, keeps one message per id and counts the repeat
//!   as `phone:duplicate`);
//! - the phone decrypted every message it received: the sim counts none as
//!   `phone:undecryptable` (`GET /admin/counters`), so no ciphertext reused a message key
//!   (the receiver's duplicate-counter failure);
//! - every text the phone sent was reported by the gateway, delivered live at most once, and at
//!   most once per process; a repeat in a later process is only the restart's re-emission of a
//!   report the killed process had not marked durably (printed as `pending`, by design).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;
use tokio::sync::broadcast;
use wa_sim::{SimEvent, SimServer};
use wa_testkit::{http, start_sim, temp_dir, wait_for, JsonLines};

const GATEWAY: &str = "15550108201";
const PHONE: &str = "15550108202";
/// Processes killed mid-burst; one more runs to the end.
const KILLS: usize = 10;
/// Texts each process is asked to send (more than any kill point below).
const BURST: usize = 40;
/// Texts the phone sends while each process runs, and while it is down.
const PHONE_TEXTS_UP: usize = 3;
const PHONE_TEXTS_DOWN: usize = 2;
const DEADLINE: Duration = Duration::from_secs(60);

/// Everything the processes printed, and what the phone sent.
#[derive(Default)]
struct Ledger {
    /// Ids acknowledged to the caller, with their texts.
    acked: HashMap<String, String>,
    /// What each process (by run) reported receiving: id → phases (`live`/`pending`).
    reports: Vec<HashMap<String, Vec<String>>>,
    /// Ids the phone sent to the gateway, with their texts.
    phone_sent: Vec<(String, String)>,
    /// Acks printed by the current process.
    acked_this_run: usize,
}

impl Ledger {
    fn new_run(&mut self) {
        self.reports.push(HashMap::new());
        self.acked_this_run = 0;
    }

    fn note(&mut self, line: &Value) {
        let text = |key: &str| line[key].as_str().unwrap_or_default().to_owned();
        match line["event"].as_str() {
            Some("acked") => {
                let previous = self.acked.insert(text("id"), text("text"));
                assert!(previous.is_none(), "an id acknowledged twice: {line}");
                self.acked_this_run += 1;
            }
            Some("received") => {
                let run = self.reports.last_mut().expect("a run started");
                run.entry(text("id")).or_default().push(text("phase"));
            }
            Some("lagged") => panic!("the gateway's event bus overflowed: {line}"),
            _ => {}
        }
    }

    /// How many times `id` was reported, over every process.
    fn reported(&self, id: &str) -> usize {
        self.reports
            .iter()
            .filter_map(|run| run.get(id))
            .map(Vec::len)
            .sum()
    }
}

/// Starts a `burst_sender` over `store` for run `run`.
fn spawn(sim: &SimServer, store: &Path, run: usize) -> JsonLines {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_burst_sender"));
    cmd.arg("--store")
        .arg(store)
        .args(["--to", PHONE, "--count", &BURST.to_string()])
        .args(["--run", &run.to_string()])
        .env("WA_SIM_URL", sim.url())
        .env("WA_SIM_ROOT_KEY", hex::encode(sim.root_key().as_bytes()));
    JsonLines::spawn(cmd, "burst_sender").expect("the burst sender starts")
}

/// Waits for a line of `child` matching `done`, noting every line on the way.
async fn until(
    child: &mut JsonLines,
    ledger: &mut Ledger,
    what: &str,
    mut done: impl FnMut(&Ledger, &Value) -> bool,
) {
    child
        .wait_for(DEADLINE, what, |v| {
            ledger.note(v);
            done(ledger, v)
        })
        .await
        .unwrap_or_else(|e| panic!("burst sender: {e}"));
}

fn phone_texts(sim: &SimServer, ledger: &mut Ledger, run: usize, range: std::ops::Range<usize>) {
    for j in range {
        let text = format!("phone {run}.{j}");
        let id = sim
            .phone_send(PHONE, GATEWAY, &text)
            .expect("the phone sends");
        ledger.phone_sent.push((id.as_str().to_owned(), text));
    }
}

/// One process: started (linked by QR in run 0), connected, texted by the phone, then either
/// killed after `3 + 3 * run` acknowledged sends or (the last run) left to finish its burst
/// and to report every text the phone sent, then closed.
async fn one_run(sim: &SimServer, store: &Path, run: usize, ledger: &mut Ledger) {
    ledger.new_run();
    let mut child = spawn(sim, store, run);
    if run == 0 {
        let mut qr = None;
        until(&mut child, ledger, "a QR code", |_, v| {
            let found = v["event"] == "qr";
            if found {
                qr = v["code"].as_str().map(str::to_owned);
            }
            found
        })
        .await;
        sim.scan(GATEWAY, &qr.expect("a QR text"))
            .expect("the phone scans");
    }
    until(&mut child, ledger, "connected", |_, v| {
        v["event"] == "connected"
    })
    .await;
    phone_texts(sim, ledger, run, 0..PHONE_TEXTS_UP);
    if run < KILLS {
        let kill_after = 3 + 3 * run;
        until(&mut child, ledger, "acknowledged sends", |l, _| {
            l.acked_this_run >= kill_after
        })
        .await;
        let rest = child
            .kill_and_drain(DEADLINE)
            .await
            .expect("the killed process's output ends");
        rest.iter().for_each(|v| ledger.note(v));
        phone_texts(
            sim,
            ledger,
            run,
            PHONE_TEXTS_UP..PHONE_TEXTS_UP + PHONE_TEXTS_DOWN,
        );
        return;
    }
    until(&mut child, ledger, "the burst's end", |_, v| {
        v["event"] == "burst-done"
    })
    .await;
    let all_reported = |l: &Ledger| l.phone_sent.iter().all(|(id, _)| l.reported(id) > 0);
    if !all_reported(ledger) {
        child
            .wait_for(DEADLINE, "every phone text reported", |v| {
                ledger.note(v);
                all_reported(ledger)
            })
            .await
            .unwrap_or_else(|e| {
                let missing: Vec<_> = ledger
                    .phone_sent
                    .iter()
                    .filter(|(id, _)| ledger.reported(id) == 0)
                    .collect();
                panic!("burst sender: {e}; never reported: {missing:?}")
            });
    }
    child.close_stdin();
    let status = child.wait_exit(DEADLINE).await.expect("it exits");
    assert!(status.success(), "the last process exits cleanly: {status}");
    let rest = child
        .kill_and_drain(DEADLINE)
        .await
        .expect("its output ends");
    rest.iter().for_each(|v| ledger.note(v));
}

/// Every acknowledged send is in the phone's inbox with its text, and the phone failed to
/// decrypt nothing. Returns how many deliveries repeated an id (sends resent after a restart).
async fn assert_phone_side(
    sim: &SimServer,
    ledger: &Ledger,
    events: &mut broadcast::Receiver<SimEvent>,
) -> usize {
    let mut decrypted = HashSet::new();
    let all = |d: &HashSet<String>| ledger.acked.keys().all(|id| d.contains(id));
    let waited = wait_for(
        events,
        DEADLINE,
        "the phone decrypts every acknowledged send",
        |e| {
            if let SimEvent::PhoneReceived { phone, id } = e {
                if phone.as_str() == PHONE {
                    decrypted.insert(id.clone());
                }
            }
            all(&decrypted).then_some(())
        },
    )
    .await;
    if let Err(e) = waited {
        let missing: Vec<_> = ledger
            .acked
            .iter()
            .filter(|(id, _)| !decrypted.contains(*id))
            .collect();
        panic!(
            "{e}: not at the phone: {missing:?}; sim counters {:?}",
            sim.counters()
        );
    }
    let path = format!("/admin/phones/{PHONE}/messages");
    let (status, inbox) = http::request(sim.addr(), "GET", &path, None, DEADLINE).await;
    assert_eq!(status, 200, "{inbox}");
    let inbox = inbox.as_array().expect("an array");
    // A send whose ack the kill cut off is sent again after the restart under the same id
    // (with a new message key): the phone keeps one message per id (counting the repeat as
    // `phone:duplicate`), so every id is in its inbox exactly once.
    let mut seen = HashMap::new();
    for m in inbox {
        let id = m["id"].as_str().expect("an id").to_owned();
        let text = m["text"].as_str().expect("a text").to_owned();
        assert!(seen.insert(id, text).is_none(), "one message per id: {m}");
    }
    for (id, text) in &ledger.acked {
        assert_eq!(
            seen.get(id),
            Some(text),
            "acknowledged send {id} in the phone's inbox"
        );
    }
    let (status, counters) =
        http::request(sim.addr(), "GET", "/admin/counters", None, DEADLINE).await;
    assert_eq!(status, 200, "{counters}");
    let resent =
        usize::try_from(counters["phone:duplicate"].as_u64().unwrap_or(0)).unwrap_or(usize::MAX);
    assert_eq!(
        counters["phone:undecryptable"].as_u64().unwrap_or(0),
        0,
        "{counters}"
    );
    assert!(counters["phone:message"].as_u64().unwrap_or(0) >= ledger.acked.len() as u64);
    resent
}

/// Every phone text reported; live at most once, at most once per process; nothing else
/// reported.
fn assert_gateway_side(ledger: &Ledger) -> usize {
    let sent: HashSet<&str> = ledger
        .phone_sent
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    let mut reemitted = 0;
    for run in &ledger.reports {
        for (id, phases) in run {
            assert!(
                sent.contains(id.as_str()),
                "reported a message the phone never sent: {id}"
            );
            assert_eq!(phases.len(), 1, "{id} reported {phases:?} by one process");
            reemitted += usize::from(phases[0] == "pending");
        }
    }
    for (id, _) in &ledger.phone_sent {
        let live = ledger
            .reports
            .iter()
            .filter(|run| run.get(id).is_some_and(|p| p[0] == "live"))
            .count();
        assert!(live <= 1, "{id} delivered live {live} times");
        assert!(ledger.reported(id) >= 1, "{id} never reported");
    }
    reemitted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_bursts_loses_and_reuses_nothing() {
    let sim = start_sim(&[GATEWAY, PHONE]).await;
    let mut events = sim.subscribe();
    let dir = temp_dir("crash-burst");
    let store = dir.path().join("wa_sessions");
    let mut ledger = Ledger::default();
    for run in 0..=KILLS {
        one_run(&sim, &store, run, &mut ledger).await;
    }
    assert!(ledger.acked.len() >= (0..KILLS).map(|r| 3 + 3 * r).sum::<usize>() + BURST);
    let resent = assert_phone_side(&sim, &ledger, &mut events).await;
    let reemitted = assert_gateway_side(&ledger);
    eprintln!(
        "{} sends acknowledged over {} processes ({resent} resent after a restart); {} phone \
         texts, {reemitted} re-emitted after a kill",
        ledger.acked.len(),
        KILLS + 1,
        ledger.phone_sent.len()
    );
    sim.shutdown();
}

//! Crash test: a child process writes sessions, prekey consumptions and outbox sends as fast as
//! it can, printing one line per durable acknowledgement; the parent SIGKILLs it at random
//! moments, reopens the store and checks that every acknowledged write is there and that no
//! record is half-written or half-committed. Waits are on the child's stdout lines (with
//! deadlines), never on sleeps.
//!
//! The child is this test binary re-invoked with `WA_STORE_CRASH_DIR` set; without it,
//! `crash_child` returns at once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{account_id, TestDir};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use wa_store::{
    Durability, IncomingSession, NewOutbound, OutboxStatus, SendStep, SessionUpdate, SledStore,
    Store, StoreConfig,
};

const DIR_ENV: &str = "WA_STORE_CRASH_DIR";
const ROUND_ENV: &str = "WA_STORE_CRASH_ROUND";
const SESSION_THREADS: u64 = 2;
const PREKEYS: u32 = 812;

/// A self-checking record: seq, length, deterministic filler, SHA-256 tail. Lengths vary so
/// records straddle sled's buffers differently.
fn record(seq: u64) -> Vec<u8> {
    let len = 64 + (seq.wrapping_mul(37) % 2000) as usize;
    let mut v = Vec::with_capacity(len + 32);
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend_from_slice(&(len as u64).to_le_bytes());
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x as u8);
    }
    let h = Sha256::digest(&v);
    v.extend_from_slice(&h);
    v
}

/// The seq of a valid record; panics on a half-written one.
fn seq_of(what: &str, bytes: &[u8]) -> u64 {
    assert!(
        bytes.len() >= 48,
        "{what}: record too short ({} bytes)",
        bytes.len()
    );
    let seq = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    assert_eq!(bytes, record(seq).as_slice(), "{what}: half-written record");
    seq
}

fn ack(line: String) {
    let mut out = std::io::stdout().lock();
    // The parent reads these lines; a closed pipe means it is gone and so should we be.
    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
        std::process::exit(0);
    }
}

#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let round: u8 = std::env::var(ROUND_ENV)
        .expect("round")
        .parse()
        .expect("round number");
    let store: Arc<dyn Store> =
        Arc::new(SledStore::open(&StoreConfig::at(&dir)).expect("child open"));
    let a = account_id(round);
    let d = Durability::Durable;
    ack("READY".into());
    let mut threads = Vec::new();
    for t in 0..SESSION_THREADS {
        let s = store.clone();
        threads.push(std::thread::spawn(move || {
            let addr = format!("s.{t}");
            for seq in 1.. {
                s.save_session(&a, &addr, &record(seq), d)
                    .expect("save session");
                ack(format!("S {t} {seq}"));
            }
        }));
    }
    let s = store.clone();
    threads.push(std::thread::spawn(move || {
        s.add_prekeys(&a, PREKEYS, &mut rand::rngs::OsRng, d)
            .expect("prekeys");
        ack("P".into());
        for id in 1..=PREKEYS {
            let addr = format!("pk.{id}");
            let rec = record(u64::from(id));
            let inc = IncomingSession {
                session: SessionUpdate {
                    address: &addr,
                    record: &rec,
                },
                prekey_id: Some(id),
                identity: None,
            };
            s.commit_incoming(&a, &inc, d).expect("commit incoming");
            ack(format!("C {id}"));
        }
    }));
    let s = store;
    threads.push(std::thread::spawn(move || {
        for i in 1u64.. {
            let id = format!("m{i}");
            let payload = record(i);
            let m = NewOutbound {
                message_id: &id,
                chat: "c@s.whatsapp.net",
                payload: &payload,
                now_ms: i,
            };
            s.enqueue(&a, &m, d).expect("enqueue");
            ack(format!("E {i}"));
            let rec = record(i);
            let sessions = [SessionUpdate {
                address: "ob.0",
                record: &rec,
            }];
            let step = SendStep {
                message_id: &id,
                sessions: &sessions,
                sender_key: None,
                now_ms: i,
            };
            s.commit_send(&a, &step, d).expect("commit send");
            ack(format!("M {i}"));
        }
    }));
    for t in threads {
        t.join().expect("writer");
    }
}

#[derive(Default, Debug)]
struct Acked {
    sessions: BTreeMap<u64, u64>,
    prekeys_added: bool,
    consumed: BTreeSet<u32>,
    enqueued: BTreeSet<u64>,
    sent: BTreeSet<u64>,
    lines: u64,
}

impl Acked {
    fn record(&mut self, line: &str) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| parts[i].parse::<u64>().expect("number");
        match parts.first().copied() {
            Some("S") => {
                let e = self.sessions.entry(num(1)).or_default();
                *e = (*e).max(num(2));
            }
            Some("P") => self.prekeys_added = true,
            Some("C") => {
                self.consumed.insert(num(1) as u32);
            }
            Some("E") => {
                self.enqueued.insert(num(1));
            }
            Some("M") => {
                self.sent.insert(num(1));
            }
            _ => return,
        }
        self.lines += 1;
    }
}

fn verify(store: &SledStore, round: u8, acked: &Acked) {
    let a = account_id(round);
    for t in 0..SESSION_THREADS {
        let addr = format!("s.{t}");
        match (
            store.load_session(&a, &addr).expect("load"),
            acked.sessions.get(&t),
        ) {
            (Some(rec), min) => {
                let seq = seq_of(&addr, &rec);
                assert!(
                    seq >= min.copied().unwrap_or(0),
                    "round {round}: {addr} lost acked seq"
                );
            }
            (None, None) => {}
            (None, Some(seq)) => panic!("round {round}: {addr} acked seq {seq} missing"),
        }
    }
    // Prekeys: the batch is all-or-nothing; each id is either unconsumed with no session, or
    // consumed with its session (never one without the other).
    let counts = store.prekey_counts(&a).expect("counts");
    if acked.prekeys_added {
        assert!(counts.total > 0 || acked.consumed.len() as u32 <= PREKEYS);
    }
    let mut consumed = 0;
    for id in 1..=PREKEYS {
        let present = store.load_prekey(&a, id).expect("prekey").is_some();
        let session = store
            .load_session(&a, &format!("pk.{id}"))
            .expect("session");
        match (present, session) {
            (true, None) => assert!(
                !acked.consumed.contains(&id),
                "round {round}: acked consumption {id} undone"
            ),
            (false, Some(rec)) => {
                assert_eq!(seq_of("pk", &rec), u64::from(id));
                consumed += 1;
            }
            (false, None) => assert!(
                counts.total == 0 && consumed == 0 && !acked.prekeys_added,
                "round {round}: prekey {id} gone without its session"
            ),
            (true, Some(_)) => panic!("round {round}: prekey {id} both present and consumed"),
        }
    }
    assert!(consumed >= acked.consumed.len());
    // Outbox: acked entries exist; acked sends are Sent; the session advanced by the sends is
    // exactly the one of the last Sent entry (the two were committed together).
    let entries = store.outbox_entries(&a).expect("entries");
    let by_id: BTreeMap<u64, OutboxStatus> = entries
        .iter()
        .map(|e| (e.message_id[1..].parse::<u64>().expect("id"), e.status))
        .collect();
    for e in &entries {
        let i: u64 = e.message_id[1..].parse().expect("id");
        assert_eq!(seq_of("payload", &e.payload), i);
    }
    for i in &acked.enqueued {
        assert!(
            by_id.contains_key(i),
            "round {round}: acked enqueue m{i} missing"
        );
    }
    for i in &acked.sent {
        assert_eq!(
            by_id.get(i),
            Some(&OutboxStatus::Sent),
            "round {round}: acked send m{i} not Sent"
        );
    }
    let last_sent = by_id
        .iter()
        .filter(|(_, s)| **s == OutboxStatus::Sent)
        .map(|(i, _)| *i)
        .max();
    let ob = store
        .load_session(&a, "ob.0")
        .expect("ob")
        .map(|r| seq_of("ob.0", &r));
    assert_eq!(ob, last_sent, "round {round}: send step half-committed");
}

fn run_round(dir: &Path, round: u8, kill_after: u64) -> (Acked, Duration) {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(DIR_ENV, dir)
        .env(ROUND_ENV, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut acked = Acked::default();
    let mut ready = false;
    let mut started = Instant::now();
    while !ready || acked.lines < kill_after {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.ends_with("READY") => {
                ready = true;
                started = Instant::now();
            }
            Ok(line) => acked.record(&line),
            Err(e) => panic!("round {round}: child gave no event in time ({e:?})"),
        }
    }
    child.kill().expect("SIGKILL");
    let elapsed = started.elapsed();
    child.wait().expect("reap");
    reader.join().expect("reader");
    // Lines written before the kill are acknowledgements too.
    while let Ok(line) = rx.try_recv() {
        acked.record(&line);
    }
    (acked, elapsed)
}

#[test]
fn sigkill_loses_no_acknowledged_write() {
    let rounds: u8 = std::env::var("WA_STORE_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let seed: u64 = std::env::var("WA_STORE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("crash test seed {seed} (WA_STORE_CRASH_SEED to replay)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let t = TestDir::new("crash");
    let dir = t.join("wa_sessions");
    drop(SledStore::open(&StoreConfig::at(&dir)).expect("create"));
    let mut history = Vec::new();
    let mut total = 0u64;
    let mut busy = Duration::ZERO;
    for round in 1..=rounds {
        // Some rounds die right after opening, the rest after a random number of acks.
        let kill_after = if rng.gen_bool(0.15) {
            0
        } else {
            rng.gen_range(1..1500)
        };
        let (acked, elapsed) = run_round(&dir, round, kill_after);
        total += acked.lines;
        busy += elapsed;
        history.push((round, acked));
        let store = SledStore::open(&StoreConfig::at(&dir)).expect("reopen after SIGKILL");
        for (r, a) in &history {
            verify(&store, *r, a);
        }
        let report = store.check().expect("check");
        assert!(report.is_ok(), "round {round}: {:?}", report.problems);
    }
    println!(
        "crash test: {rounds} rounds, {total} durable acks verified, {:.0} acks/s in the child",
        total as f64 / busy.as_secs_f64().max(1e-9)
    );
}

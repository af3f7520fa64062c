//! Crash test: a child process writes sessions, prekey consumptions and outbox sends as fast as
//! it can, printing one line per durable acknowledgement; the parent SIGKILLs it at random
//! moments, reopens the store and checks that every acknowledged write is there and that no
//! record is half-written or half-committed. Waits are on the child's stdout lines (with
//! deadlines), never on sleeps.
//!
//! The child is this test binary re-invoked with `WA_STORE_CRASH_DIR` set; without it,
//! `crash_child` returns at once.
//!
//! Most acknowledged writes of a round live only in the write-ahead log when the child dies (the
//! checkpoint into sled runs every 500 ms), so every reopen exercises log replay. On top of that,
//! after each kill the test appends to the newest log segment what a torn append leaves behind
//! (a record cut short, or one with a damaged byte) whose writes would visibly break the
//! store if applied in whole or in part; on odd rounds a well-formed record goes before it, which
//! replay must apply.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{account_id, jid, test_dir, CHAT};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use wa_protocol::binary::Jid;
use wa_store::{
    Durability, IncomingSession, NewOutbound, OutboxStatus, ReceiveOutcome, ReceivedKey,
    ReceivedMessage, SendStep, SessionUpdate, SledStore, Store, StoreConfig,
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

/// A ~1 KB self-checking record that differs from its predecessor in 40 bytes (like a Signal
/// session advanced by one message), so the store logs it as a patch: fixed filler, then seq
/// and SHA-256(seq ‖ filler), then fixed filler.
fn patchable(seq: u64) -> Vec<u8> {
    let filler: Vec<u8> = (0..500u32).map(|i| (i * 31 % 251) as u8).collect();
    let mut v = filler.clone();
    v.extend_from_slice(&seq.to_le_bytes());
    let mut h = Sha256::new();
    h.update(seq.to_le_bytes());
    h.update(&filler);
    v.extend_from_slice(&h.finalize());
    v.extend_from_slice(&filler);
    v
}

fn patchable_seq(bytes: &[u8]) -> u64 {
    assert_eq!(bytes.len(), 1040, "patched record of wrong length");
    let seq = u64::from_le_bytes(bytes[500..508].try_into().expect("8 bytes"));
    assert_eq!(bytes, patchable(seq).as_slice(), "patched record damaged");
    seq
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
    // Odd rounds checkpoint every 5 ms, so kills also land during log rotations, checkpoints
    // into sled and segment removals.
    let config = StoreConfig {
        flush_every_ms: Some(if round % 2 == 1 { 5 } else { 500 }),
        ..StoreConfig::at(&dir)
    };
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&config).expect("child open"));
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
    // Patch-logged session saves, made durable the way async callers do (buffered write, then
    // a DurableWait).
    let s = store.clone();
    threads.push(std::thread::spawn(move || {
        for seq in 1.. {
            s.save_session(&a, "p.0", &patchable(seq), Durability::Buffered)
                .expect("save session");
            s.durable().wait().expect("durable");
            ack(format!("Q {seq}"));
        }
    }));
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
    // Received messages: each dedup entry committed with the session it advanced.
    let s = store.clone();
    threads.push(std::thread::spawn(move || {
        let peer = peer();
        for i in 1u64.. {
            let id = format!("r{i}");
            let rec = record(i);
            let sessions = [SessionUpdate {
                address: "in.0",
                record: &rec,
            }];
            let m = received(&peer, &id, &sessions);
            let out = s.commit_received(&a, &m, d).expect("commit received");
            assert!(matches!(out, ReceiveOutcome::New { .. }));
            ack(format!("R {i}"));
        }
    }));
    let s = store;
    threads.push(std::thread::spawn(move || {
        for i in 1u64.. {
            let id = format!("m{i}");
            let payload = record(i);
            let m = NewOutbound {
                message_id: &id,
                chat: &CHAT,
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

fn peer() -> Jid {
    jid("1001@lid")
}

fn received<'a>(
    peer: &'a Jid,
    id: &'a str,
    sessions: &'a [SessionUpdate<'a>],
) -> ReceivedMessage<'a> {
    ReceivedMessage {
        key: ReceivedKey {
            chat: peer,
            sender: peer,
            id,
        },
        t: 1,
        sessions,
        prekey_id: None,
        identity: None,
        sender_keys: &[],
        report: Some(id.as_bytes()),
        now_ms: 1,
    }
}

#[derive(Default, Debug)]
struct Acked {
    sessions: BTreeMap<u64, u64>,
    /// Highest acknowledged seq of the patch-logged session `p.0`.
    patched: u64,
    prekeys_added: bool,
    consumed: BTreeSet<u32>,
    enqueued: BTreeSet<u64>,
    sent: BTreeSet<u64>,
    /// Highest acknowledged received-message commit.
    received: u64,
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
            Some("Q") => self.patched = self.patched.max(num(1)),
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
            Some("R") => self.received = self.received.max(num(1)),
            _ => return,
        }
        self.lines += 1;
    }
}

fn verify(store: &SledStore, round: u8, acked: &Acked) {
    let a = account_id(round);
    let patched = store
        .load_session(&a, "p.0")
        .expect("load")
        .map_or(0, |r| patchable_seq(&r));
    assert!(
        patched >= acked.patched,
        "round {round}: p.0 acked seq {} but found {patched}",
        acked.patched
    );
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
    verify_received(store, round, acked);
}

/// Received messages: every acknowledged commit is there, the dedup entries are exactly
/// r1..=rN, the session is the one committed with rN, and rN delivered again is a duplicate.
fn verify_received(store: &SledStore, round: u8, acked: &Acked) {
    let a = account_id(round);
    let peer = peer();
    let held = |i: u64| {
        let id = format!("r{i}");
        let k = ReceivedKey {
            chat: &peer,
            sender: &peer,
            id: &id,
        };
        store.is_received(&a, &k).expect("is received")
    };
    let mut last = 0;
    while held(last + 1) {
        last += 1;
    }
    assert!(
        last >= acked.received,
        "round {round}: acked receive r{} lost (have {last})",
        acked.received
    );
    assert!(
        !held(last + 2),
        "round {round}: received entries not contiguous"
    );
    let session = store
        .load_session(&a, "in.0")
        .expect("in.0")
        .map(|r| seq_of("in.0", &r));
    assert_eq!(
        session,
        (last > 0).then_some(last),
        "round {round}: receive commit half-applied"
    );
    // Nothing was marked reported: exactly one pending report per committed message.
    let reports: Vec<Vec<u8>> = store
        .pending_reports(&a, usize::MAX)
        .expect("pending reports")
        .into_iter()
        .map(|p| p.payload)
        .collect();
    let want: Vec<Vec<u8>> = (1..=last).map(|i| format!("r{i}").into_bytes()).collect();
    assert_eq!(
        reports, want,
        "round {round}: pending reports differ from the commits"
    );
    if last > 0 {
        let id = format!("r{last}");
        let rec = record(last + 1);
        let sessions = [SessionUpdate {
            address: "in.0",
            record: &rec,
        }];
        let again = store
            .commit_received(&a, &received(&peer, &id, &sessions), Durability::Buffered)
            .expect("commit again");
        assert_eq!(
            again,
            ReceiveOutcome::Duplicate,
            "round {round}: r{last} reported twice"
        );
    }
}

// ----- the write-ahead log, as documented in the crate (format of `wal.<n>` segments) -----

const WAL_MAGIC: &[u8] = b"wagwal02";
const SESSIONS_TREE: u8 = 5;

/// One logged write: tree index, key, new value (`None` = removal).
type WalOp = (u8, Vec<u8>, Option<Vec<u8>>);

fn wal_frame(seq: u64, ops: &[WalOp]) -> Vec<u8> {
    let mut payload = seq.to_le_bytes().to_vec();
    payload.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    for (tree, key, value) in ops {
        payload.push(*tree);
        payload.push(u8::from(value.is_some()));
        payload.extend_from_slice(&(key.len() as u32).to_le_bytes());
        payload.extend_from_slice(key);
        if let Some(v) = value {
            payload.extend_from_slice(&(v.len() as u32).to_le_bytes());
            payload.extend_from_slice(v);
        }
    }
    let mut out = (payload.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Sequence number of the last intact record of a segment.
/// The last sequence number of the well-formed records at the start of a segment, and where
/// they end (anything after is the torn tail of an append the kill interrupted).
fn wal_valid_prefix(bytes: &[u8]) -> (Option<u64>, usize) {
    let Some(mut rest) = bytes.strip_prefix(WAL_MAGIC) else {
        return (None, 0);
    };
    let mut last = None;
    while rest.len() >= 8 {
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4"));
        let Some(payload) = rest.get(8..8 + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc || payload.len() < 8 {
            break;
        }
        last = Some(u64::from_le_bytes(payload[..8].try_into().expect("8")));
        rest = &rest[8 + len..];
    }
    (last, bytes.len() - rest.len())
}

/// A stored session value: version byte + `OpaqueRecord { record }`.
fn session_value(record: &[u8]) -> Vec<u8> {
    let mut v = vec![1, 0x0a];
    let mut n = record.len() as u64;
    while n >= 0x80 {
        v.push((n as u8) | 0x80);
        n >>= 7;
    }
    v.push(n as u8);
    v.extend_from_slice(record);
    v
}

fn session_key(round: u8, address: &str) -> Vec<u8> {
    let mut k = account_id(round).as_bytes().to_vec();
    k.extend_from_slice(address.as_bytes());
    k
}

/// Appends a torn record (after a well-formed one on odd rounds) to the newest log segment.
fn tear_log_tail(dir: &Path, round: u8, rng: &mut impl Rng) {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("wal."))
        })
        .collect();
    segments.sort();
    let newest = segments.last().cloned().expect("a log segment");
    let mut bytes = std::fs::read(&newest).expect("read segment");
    if !bytes.starts_with(WAL_MAGIC) {
        bytes = WAL_MAGIC.to_vec();
    }
    // The kill may itself have cut an append short: drop that torn tail first (replay ignores
    // it too), so the records below follow the last intact one.
    let (last, end) = wal_valid_prefix(&bytes);
    bytes.truncate(end.max(WAL_MAGIC.len()));
    let mut seq = last.map_or(1, |s| s + 1);
    if round % 2 == 1 {
        let ops = [(
            SESSIONS_TREE,
            session_key(round, "wal.probe"),
            Some(session_value(&record(u64::from(round)))),
        )];
        bytes.extend_from_slice(&wal_frame(seq, &ops));
        seq += 1;
    }
    // If any of this were applied, verify() would see it: the send-step session vanishes while
    // its outbox entry stays Sent, and the probe appears.
    let ops = [
        (
            SESSIONS_TREE,
            session_key(round, "torn.probe"),
            Some(session_value(b"torn")),
        ),
        (SESSIONS_TREE, session_key(round, "ob.0"), None),
        (SESSIONS_TREE, session_key(round, "s.0"), None),
        (
            SESSIONS_TREE,
            session_key(round, "torn.probe2"),
            Some(session_value(b"torn")),
        ),
    ];
    let mut torn = wal_frame(seq, &ops);
    match rng.gen_range(0..3) {
        // Cut anywhere, even inside the header.
        0 => torn.truncate(rng.gen_range(1..torn.len())),
        // Complete length, one damaged byte.
        1 => {
            let i = rng.gen_range(8..torn.len());
            torn[i] ^= 1 << rng.gen_range(0..8);
        }
        // The tail of the append never reached the disk (zeros).
        _ => {
            let from = rng.gen_range(9..torn.len());
            torn[from..].fill(0);
        }
    }
    bytes.extend_from_slice(&torn);
    std::fs::write(&newest, &bytes).expect("write segment");
}

fn verify_log_probes(store: &SledStore, round: u8) {
    let a = account_id(round);
    for p in ["torn.probe", "torn.probe2"] {
        assert_eq!(
            store.load_session(&a, p).expect("probe"),
            None,
            "round {round}: a torn log record was applied"
        );
    }
    if round % 2 == 1 {
        assert_eq!(
            store.load_session(&a, "wal.probe").expect("probe"),
            Some(record(u64::from(round))),
            "round {round}: an intact log record was not replayed"
        );
    }
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
    let t = test_dir("crash");
    let dir = t.path().join("wa_sessions");
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
        tear_log_tail(&dir, round, &mut rng);
        let store = SledStore::open(&StoreConfig::at(&dir)).expect("reopen after SIGKILL");
        for (r, a) in &history {
            verify(&store, *r, a);
            verify_log_probes(&store, *r);
        }
        let report = store.check().expect("check");
        assert!(report.is_ok(), "round {round}: {:?}", report.problems);
    }
    println!(
        "crash test: {rounds} rounds, {total} durable acks verified, {:.0} acks/s in the child",
        total as f64 / busy.as_secs_f64().max(1e-9)
    );
}

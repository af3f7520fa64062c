//! Durable send-step load outside criterion, with real Signal session records.
//!
//! SENDERS accounts each hold an established Signal session (one archived state, like a peer
//! that re-keyed once). A send step is what the gateway's send path does per message:
//! `enqueue` (buffered) → `session::encrypt` (the record advances one chain step) →
//! `commit_send` (session + outbox `Queued → Sent`) → **durable** before the bytes would leave.
//! Steps run for SECONDS; the total rate, CPU time and bytes written per send are printed.
//!
//! * `threads` mode: one OS thread per sender, `commit_send(.., Durable)` blocks.
//! * `async` mode: one tokio task per sender on a 2-worker runtime; `commit_send(.., Buffered)`
//!   then `store.durable().await` (no thread held per pending send).
//!
//! `cargo run --release -p wa-store --example sendload -- [threads|async] [senders] [seconds]`
//!
//! Diagnostics: `SENDLOAD_CHECKPOINT_MS=<ms>|none` sets the checkpoint interval;
//! `SENDLOAD_BUFFERED=1` (async mode) skips the durable wait, to see the CPU ceiling without it;
//! `SENDLOAD_ACK=1` removes each entry after its send, as the server's ack does.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_protocol::binary::Jid;
use wa_protocol::signal::{
    generate_pre_keys, session, LocalIdentity, PreKeyBundle, PreKeySignalMessage, ResponderPreKeys,
    SessionRecord, SignedPreKey,
};
use wa_store::{
    AccountId, Durability, NewOutbound, SendStep, SessionUpdate, SledStore, Store, StoreConfig,
};

/// The chat every message goes to.
static CHAT: LazyLock<Jid> =
    LazyLock::new(|| "15550002222@s.whatsapp.net".parse().expect("valid jid"));

static MSG: AtomicU64 = AtomicU64::new(0);
const PEER: &str = "15550002222.0";

/// A session with one round trip done, on top of an archived earlier one.
fn session_record(rng: &mut StdRng) -> SessionRecord {
    let alice = LocalIdentity::generate(rng);
    let bob = LocalIdentity::generate(rng);
    let mut record = SessionRecord::new();
    for round in 0..2 {
        let spk = SignedPreKey::generate(&bob.key_pair, round + 1, 0, rng);
        let opks = generate_pre_keys(round * 10 + 1, 1, rng);
        let bundle = PreKeyBundle::from_local(&bob, &spk, opks.first());
        record = session::process_bundle(&record, &alice, &bundle, None, rng).expect("bundle");
        let (next, first) = session::encrypt(&record, b"hello").expect("encrypt");
        let parsed = PreKeySignalMessage::parse(first.bytes()).expect("parse");
        let keys = ResponderPreKeys {
            signed_pre_key: Some(&spk),
            one_time_pre_key: opks.first(),
        };
        let out = session::decrypt_prekey(&SessionRecord::new(), &bob, &parsed, keys, None, rng)
            .expect("pkmsg");
        let (_, reply) = session::encrypt(&out.record, b"hi").expect("reply");
        record = session::decrypt(&next, reply.bytes(), rng)
            .expect("reply decrypts")
            .0;
    }
    record
}

/// One send step up to the durable point (which the caller provides); returns the message id.
fn step(s: &dyn Store, a: &AccountId, record: &mut SessionRecord, d: Durability) -> String {
    let id = format!("3EB0{:016X}", MSG.fetch_add(1, Ordering::Relaxed));
    let m = NewOutbound {
        message_id: &id,
        chat: &CHAT,
        payload: b"{\"conversation\":\"hello from the load harness\"}",
        now_ms: 1,
    };
    s.enqueue(a, &m, Durability::Buffered).expect("enqueue");
    let (next, _ciphertext) = session::encrypt(record, &[0x5a; 64]).expect("encrypt");
    *record = next;
    let bytes = record.to_bytes();
    let sessions = [SessionUpdate {
        address: PEER,
        record: &bytes,
    }];
    let send = SendStep {
        message_id: &id,
        sessions: &sessions,
        sender_key: None,
        now_ms: 2,
    };
    s.commit_send(a, &send, d).expect("commit");
    id
}

/// A distinct account per sender.
fn account(t: usize) -> AccountId {
    let mut id = [0xA5; 16];
    id[..8].copy_from_slice(&(t as u64).to_be_bytes());
    AccountId::from_bytes(id)
}

fn proc_io(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn cpu_seconds() -> f64 {
    // utime + stime of the whole process, in clock ticks (100 Hz on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "async".into());
    let senders: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(64);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let dir = std::env::temp_dir().join(format!("wa-sendload-{}", std::process::id()));
    let mut config = StoreConfig::at(&dir);
    if let Ok(ms) = std::env::var("SENDLOAD_CHECKPOINT_MS") {
        config.flush_every_ms = ms.parse().ok();
    }
    let s: Arc<dyn Store> = Arc::new(SledStore::open(&config).expect("open"));
    let mut rng = StdRng::seed_from_u64(7);
    let records: Vec<SessionRecord> = (0..senders).map(|_| session_record(&mut rng)).collect();
    let record_len = records[0].to_bytes().len();
    let done = Arc::new(AtomicU64::new(0));
    // Diagnostics: SENDLOAD_BUFFERED=1 skips the durable wait (the CPU ceiling of the rest).
    let buffered_only = std::env::var_os("SENDLOAD_BUFFERED").is_some();
    // SENDLOAD_ACK=1: the server's ack arrives right after the send and the entry is removed
    // (the gateway's normal outbox life); by default entries stay `Sent` (the harder case).
    let ack = std::env::var_os("SENDLOAD_ACK").is_some();
    let written0 = proc_io("write_bytes:");
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    match mode.as_str() {
        "threads" => {
            let hs: Vec<_> = records
                .into_iter()
                .enumerate()
                .map(|(t, mut record)| {
                    let s = s.clone();
                    let done = done.clone();
                    std::thread::spawn(move || {
                        let a = account(t);
                        while Instant::now() < end {
                            let id = step(&*s, &a, &mut record, Durability::Durable);
                            if ack {
                                s.remove_outbox(&a, &id, Durability::Buffered).expect("ack");
                            }
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().expect("join");
            }
        }
        "async" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .expect("runtime");
            rt.block_on(async {
                let tasks: Vec<_> = records
                    .into_iter()
                    .enumerate()
                    .map(|(t, mut record)| {
                        let s = s.clone();
                        let done = done.clone();
                        tokio::spawn(async move {
                            let a = account(t);
                            while Instant::now() < end {
                                let id = step(&*s, &a, &mut record, Durability::Buffered);
                                if !buffered_only {
                                    s.durable().await.expect("durable");
                                } else {
                                    tokio::task::yield_now().await;
                                }
                                if ack {
                                    s.remove_outbox(&a, &id, Durability::Buffered).expect("ack");
                                }
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("task");
                }
            });
        }
        other => panic!("unknown mode {other:?} (threads or async)"),
    }
    let el = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let n = done.load(Ordering::Relaxed);
    let written = proc_io("write_bytes:").saturating_sub(written0);
    println!(
        "{mode} {senders} senders: {n} durable send steps in {el:.2}s = {:.0} sends/s; \
         CPU {:.1} µs/send; {:.0} bytes written to disk per send (session record {record_len} B)",
        n as f64 / el,
        cpu * 1e6 / n.max(1) as f64,
        written as f64 / n.max(1) as f64,
    );
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}

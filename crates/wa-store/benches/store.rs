//! Store benchmarks: session load+save, prekey consume + session save (transaction), outbox
//! enqueue + mark sent, and durable vs buffered send steps (single writer, many writer threads
//! sharing syncs through group commit, and many async tasks awaiting `Store::durable`).
//!
//! Each send step saves a session record that differs from the previous one in 40 bytes, as a
//! Signal session advanced by one message does (`examples/sendload` uses real records).

#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::SeedableRng;
use wa_protocol::binary::Jid;
use wa_store::{
    AccountId, Durability, IncomingSession, MemStore, NewOutbound, SendStep, SessionUpdate,
    SledStore, Store, StoreConfig,
};

const RECORD: [u8; 1200] = [0x5a; 1200];

/// A 900-byte session-like record: fixed bytes except a 40-byte "chain key" region.
fn record(step: u64) -> Vec<u8> {
    let mut r: Vec<u8> = (0..900u32).map(|i| (i * 7 % 251) as u8).collect();
    for i in 0..5 {
        r[400 + 8 * i..408 + 8 * i].copy_from_slice(&step.wrapping_mul(i as u64 + 3).to_le_bytes());
    }
    r
}

/// A distinct account per writer.
fn account(t: u64) -> AccountId {
    let mut id = [0xA5; 16];
    id[..8].copy_from_slice(&t.to_be_bytes());
    AccountId::from_bytes(id)
}

fn sled_store(tag: &str) -> (Arc<dyn Store>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("wa-store-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = SledStore::open(&StoreConfig::at(&dir)).expect("open");
    (Arc::new(s), dir)
}

fn backends(tag: &str) -> Vec<(&'static str, Arc<dyn Store>, Option<std::path::PathBuf>)> {
    let (s, dir) = sled_store(tag);
    vec![
        ("mem", Arc::new(MemStore::new()), None),
        ("sled", s, Some(dir)),
    ]
}

fn cleanup(b: Vec<(&'static str, Arc<dyn Store>, Option<std::path::PathBuf>)>) {
    for (_, s, dir) in b {
        drop(s);
        if let Some(d) = dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The chat every message goes to.
static CHAT: LazyLock<Jid> =
    LazyLock::new(|| "15550002222@s.whatsapp.net".parse().expect("valid jid"));

static MSG: AtomicU64 = AtomicU64::new(0);

fn send_step(s: &dyn Store, a: &AccountId, d: Durability) {
    let n = MSG.fetch_add(1, Ordering::Relaxed);
    let id = format!("3EB0{n:016X}");
    let rec = record(n);
    let m = NewOutbound {
        message_id: &id,
        chat: &CHAT,
        payload: b"hello",
        now_ms: 1,
    };
    s.enqueue(a, &m, Durability::Buffered).expect("enqueue");
    let sessions = [SessionUpdate {
        address: "15550002222.0",
        record: &rec,
    }];
    let step = SendStep {
        message_id: &id,
        sessions: &sessions,
        sender_key: None,
        now_ms: 2,
    };
    s.commit_send(a, &step, d).expect("commit");
}

fn session_load_save(c: &mut Criterion) {
    let b = backends("session");
    let mut g = c.benchmark_group("session_load_save");
    let a = AccountId::from_bytes([1; 16]);
    for (name, s, _) in &b {
        s.save_session(&a, "15550002222.0", &RECORD, Durability::Buffered)
            .expect("seed");
        g.bench_function(*name, |bch| {
            bch.iter(|| {
                let r = s
                    .load_session(&a, "15550002222.0")
                    .expect("load")
                    .expect("present");
                s.save_session(&a, "15550002222.0", &r, Durability::Buffered)
                    .expect("save");
            })
        });
    }
    g.finish();
    cleanup(b);
}

fn prekey_consume(c: &mut Criterion) {
    let b = backends("prekey");
    let mut g = c.benchmark_group("prekey_consume_session_save");
    let a = AccountId::from_bytes([2; 16]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for (name, s, _) in &b {
        g.bench_function(*name, |bch| {
            bch.iter_custom(|iters| {
                let mut ids = Vec::with_capacity(iters as usize);
                let mut left = iters;
                while left > 0 {
                    let n = left.min(10_000) as u32;
                    ids.extend(
                        s.add_prekeys(&a, n, &mut rng, Durability::Buffered)
                            .expect("add")
                            .into_iter()
                            .map(|(id, _)| id),
                    );
                    left -= u64::from(n);
                }
                let start = Instant::now();
                for id in ids {
                    let inc = IncomingSession {
                        session: SessionUpdate {
                            address: "15550003333.0",
                            record: &RECORD,
                        },
                        prekey_id: Some(id),
                        identity: None,
                    };
                    s.commit_incoming(&a, &inc, Durability::Buffered)
                        .expect("commit");
                }
                start.elapsed()
            })
        });
    }
    g.finish();
    cleanup(b);
}

fn outbox(c: &mut Criterion) {
    let b = backends("outbox");
    let mut g = c.benchmark_group("outbox_enqueue_mark_sent");
    let a = AccountId::from_bytes([3; 16]);
    for (name, s, _) in &b {
        g.bench_function(*name, |bch| {
            bch.iter(|| send_step(&**s, &a, Durability::Buffered))
        });
    }
    g.finish();
    cleanup(b);
}

fn durable_vs_buffered(c: &mut Criterion) {
    let (s, dir) = sled_store("durable");
    let a = AccountId::from_bytes([4; 16]);
    let mut g = c.benchmark_group("send_step_sled");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("buffered_1_thread", |bch| {
        bch.iter(|| send_step(&*s, &a, Durability::Buffered))
    });
    g.bench_function("durable_1_thread", |bch| {
        bch.iter(|| send_step(&*s, &a, Durability::Durable))
    });
    for threads in [16u64, 64, 256] {
        g.bench_with_input(
            BenchmarkId::new("durable_group_commit_threads", threads),
            &threads,
            |bch, &threads| {
                bch.iter_custom(|iters| {
                    let per = iters.div_ceil(threads);
                    let start = Instant::now();
                    let hs: Vec<_> = (0..threads)
                        .map(|t| {
                            let s = s.clone();
                            // Many accounts, as in the gateway.
                            let a = account(t);
                            std::thread::spawn(move || {
                                for _ in 0..per {
                                    send_step(&*s, &a, Durability::Durable);
                                }
                            })
                        })
                        .collect();
                    for h in hs {
                        h.join().expect("thread");
                    }
                    // Time per send step, so 1/time is sends per second of the whole process.
                    start
                        .elapsed()
                        .mul_f64(iters as f64 / (per * threads) as f64)
                })
            },
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    for tasks in [64u64, 1000] {
        g.bench_with_input(
            BenchmarkId::new("durable_group_commit_async_tasks", tasks),
            &tasks,
            |bch, &tasks| {
                bch.iter_custom(|iters| {
                    let per = iters.div_ceil(tasks);
                    let start = Instant::now();
                    rt.block_on(async {
                        let hs: Vec<_> = (0..tasks)
                            .map(|t| {
                                let s = s.clone();
                                let a = account(t);
                                tokio::spawn(async move {
                                    for _ in 0..per {
                                        send_step(&*s, &a, Durability::Buffered);
                                        s.durable().await.expect("durable");
                                    }
                                })
                            })
                            .collect();
                        for h in hs {
                            h.await.expect("task");
                        }
                    });
                    start.elapsed().mul_f64(iters as f64 / (per * tasks) as f64)
                })
            },
        );
    }
    g.finish();
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = session_load_save, prekey_consume, outbox, durable_vs_buffered
}
criterion_main!(benches);

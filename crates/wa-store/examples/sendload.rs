//! Durable send-step load outside criterion: THREADS writers (one account each) run
//! enqueue (buffered) + commit_send (durable) for SECONDS and the total rate is printed.
//!
//! `cargo run --release --example sendload -- [threads] [seconds]`
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wa_store::{
    AccountId, Durability, NewOutbound, SendStep, SessionUpdate, SledStore, Store, StoreConfig,
};

const RECORD: [u8; 1200] = [0x5a; 1200];
static MSG: AtomicU64 = AtomicU64::new(0);

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(64);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let dir = std::env::temp_dir().join(format!("wa-sendload-{}", std::process::id()));
    let s: Arc<dyn Store> = Arc::new(SledStore::open(&StoreConfig::at(&dir)).expect("open"));
    let done = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let s = s.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let a = AccountId::from_bytes([t as u8; 16]);
                while Instant::now() < end {
                    let id = format!("m{}", MSG.fetch_add(1, Ordering::Relaxed));
                    let m = NewOutbound {
                        message_id: &id,
                        chat: "15550002222@s.whatsapp.net",
                        payload: b"hello",
                        now_ms: 1,
                    };
                    s.enqueue(&a, &m, Durability::Buffered).expect("enqueue");
                    let sessions = [SessionUpdate {
                        address: "15550002222.0",
                        record: &RECORD,
                    }];
                    let step = SendStep {
                        message_id: &id,
                        sessions: &sessions,
                        sender_key: None,
                        now_ms: 2,
                    };
                    s.commit_send(&a, &step, Durability::Durable)
                        .expect("commit");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("join");
    }
    let el = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "{threads} threads: {n} durable send steps in {el:.2}s = {:.0} sends/s",
        n as f64 / el
    );
    drop(s);
    let _ = std::fs::remove_dir_all(dir);
}

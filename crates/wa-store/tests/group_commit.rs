//! Group commit of the write-ahead log, counted with `SledStore::log_syncs` (how many
//! `fdatasync`s the log made) instead of timed: buffered writes cost no sync, one wait covers
//! every write before it, a patient wait rides on someone else's sync (or syncs by its
//! deadline), and writers waiting concurrently under a group-commit window share syncs.

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use wa_store::{Durability, SledStore, Store, StoreConfig, WebhookDelivery};

const B: Durability = Durability::Buffered;

/// A store whose checkpointer runs only when the log grows large (a checkpoint's rotation
/// syncs too): every sync counted here is one a durable wait asked for.
fn open(dir: &tempfile::TempDir, window: Duration) -> SledStore {
    let config = StoreConfig {
        flush_every_ms: None,
        group_commit_window: window,
        ..StoreConfig::at(dir.path().join("wa_sessions"))
    };
    SledStore::open(&config).expect("open")
}

fn dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("wa-store-group-commit-")
        .tempdir()
        .expect("test dir")
}

fn delivery(seq: u64) -> WebhookDelivery {
    WebhookDelivery {
        seq,
        receiver: "http://receiver.invalid/".to_owned(),
        account: None,
        kind: "Message".to_owned(),
        content_type: "application/json".to_owned(),
        body: format!("{{\"n\":{seq}}}").into_bytes(),
        signature: None,
        attempts: 0,
        next_attempt_ms: 1_000 + seq,
        enqueued_ms: 1_000,
        last_error: String::new(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn buffered_writes_cost_no_sync_and_one_wait_covers_them_all() {
    let dir = dir();
    let store = open(&dir, Duration::ZERO);
    store.flush().unwrap();
    let base = store.log_syncs();
    for seq in 1..=100 {
        store.webhook_put(&delivery(seq), B).unwrap();
    }
    assert_eq!(store.log_syncs(), base, "a buffered write asks for no sync");
    store.durable().wait().unwrap();
    assert_eq!(
        store.log_syncs(),
        base + 1,
        "one sync for the hundred writes"
    );
    store.durable().wait().unwrap();
    assert_eq!(store.log_syncs(), base + 1, "nothing new: no sync");
    for seq in 101..=103 {
        store
            .webhook_put(&delivery(seq), Durability::Durable)
            .unwrap();
    }
    assert_eq!(
        store.log_syncs(),
        base + 4,
        "a durable write waits for its own sync"
    );
}

#[test]
fn a_patient_wait_rides_on_the_next_sync_anyone_asks_for() {
    let dir = dir();
    let store = open(&dir, Duration::ZERO);
    store.flush().unwrap();
    let base = store.log_syncs();
    runtime().block_on(async {
        store.webhook_put(&delivery(1), B).unwrap();
        let mut patient = pin!(store.durable_within(Duration::from_secs(600)));
        // Registered (pending): it asked for no sync of its own.
        let first = std::future::poll_fn(|cx| Poll::Ready(patient.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        assert!(!patient.is_durable());
        store.webhook_put(&delivery(2), B).unwrap();
        store.durable().await.unwrap();
        tokio::time::timeout(Duration::from_secs(30), patient)
            .await
            .expect("covered by the other wait's sync")
            .unwrap();
    });
    assert_eq!(store.log_syncs(), base + 1, "both waits shared one sync");
}

#[test]
fn a_patient_wait_alone_syncs_by_its_deadline() {
    let dir = dir();
    let store = open(&dir, Duration::ZERO);
    store.flush().unwrap();
    let base = store.log_syncs();
    runtime().block_on(async {
        store.webhook_put(&delivery(1), B).unwrap();
        let wait = store.durable_within(Duration::from_millis(20));
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .expect("synced once its patience ran out")
            .unwrap();
    });
    assert_eq!(store.log_syncs(), base + 1);
    drop(store);
    let store = open(&dir, Duration::ZERO);
    assert_eq!(
        store.webhook_max_seq().unwrap(),
        1,
        "the write survived a reopen"
    );
}

#[test]
fn concurrent_writers_share_syncs_under_a_group_commit_window() {
    const THREADS: u64 = 8;
    const EACH: u64 = 25;
    let dir = dir();
    let store = Arc::new(open(&dir, Duration::from_millis(5)));
    store.flush().unwrap();
    let base = store.log_syncs();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..EACH {
                    store.webhook_put(&delivery(1 + t * EACH + i), B).unwrap();
                    store.durable().wait().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    let syncs = store.log_syncs() - base;
    let ops = THREADS * EACH;
    // Each writer waits for its own write before the next: without sharing that would be one
    // sync per write. Within a 5 ms window every writer not descheduled for that long joins
    // the next sync (about EACH syncs in all); half the writes is a bound with a wide margin.
    assert!(
        syncs >= EACH,
        "each writer waited {EACH} times in turn: {syncs} syncs"
    );
    assert!(syncs * 2 <= ops, "{syncs} syncs for {ops} durable writes");
    drop(store);
    let store = open(&dir, Duration::ZERO);
    assert_eq!(store.webhook_queued(1000).unwrap().len() as u64, ops);
}

/// The log segments in the store's directory.
fn segments(dir: &tempfile::TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("wa_sessions"))
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("wal."))
        .collect();
    names.sort();
    names
}

#[test]
fn timed_ticks_between_spaced_checkpoints_sync_buffered_writes_without_rotating() {
    let dir = dir();
    let config = StoreConfig {
        flush_every_ms: Some(10),
        checkpoint_every_ms: Some(600_000),
        ..StoreConfig::at(dir.path().join("wa_sessions"))
    };
    let store = SledStore::open(&config).expect("open");
    store.flush().unwrap();
    let before = segments(&dir);
    let base = store.log_syncs();
    store.webhook_put(&delivery(1), B).unwrap();
    // Nobody asks for a sync: a timer tick makes the write durable. The patient wait would
    // ask for its own only after 10 minutes, far beyond the 30 s deadline.
    runtime().block_on(async {
        tokio::time::timeout(
            Duration::from_secs(30),
            store.durable_within(Duration::from_secs(600)),
        )
        .await
        .expect("a buffered write was not synced by the flush ticks")
        .unwrap();
    });
    assert!(store.log_syncs() > base);
    assert_eq!(
        segments(&dir),
        before,
        "no rotation before checkpoint_every_ms"
    );
}

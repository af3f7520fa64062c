//! The durable webhook queue and its dead letters (issue 12 item 1) on both backends: seq order,
//! replace after a failed attempt, bury into the dead letters and replay at the end of the
//! queue (each one transaction), `check()` clean, and everything still there after a reopen.
#![allow(clippy::unwrap_used)]

mod common;

use common::{account_id, mem, sled, test_dir, Subject};
use wa_store::{Durability, SledStore, Store, StoreConfig, WebhookDelivery};

const B: Durability = Durability::Buffered;

fn delivery(seq: u64, receiver: &str) -> WebhookDelivery {
    WebhookDelivery {
        seq,
        receiver: receiver.to_owned(),
        account: Some(account_id(1)),
        kind: "Message".to_owned(),
        content_type: "application/json".to_owned(),
        body: format!("{{\"n\":{seq}}}").into_bytes(),
        signature: seq.is_multiple_of(2).then(|| format!("sig{seq}")),
        attempts: 0,
        next_attempt_ms: 1_000 + seq,
        enqueued_ms: 1_000,
        last_error: String::new(),
    }
}

fn seqs(list: &[WebhookDelivery]) -> Vec<u64> {
    list.iter().map(|d| d.seq).collect()
}

fn exercise(s: &Subject) {
    let store = &s.store;
    assert_eq!(store.webhook_max_seq().unwrap(), 0);
    // Out of order writes come back in seq order (u64 big-endian keys: 256 after 2).
    for seq in [256, 2, 3, 1] {
        store.webhook_put(&delivery(seq, "http://a/"), B).unwrap();
    }
    assert_eq!(seqs(&store.webhook_queued(10).unwrap()), [1, 2, 3, 256]);
    assert_eq!(seqs(&store.webhook_queued(2).unwrap()), [1, 2]);
    assert_eq!(
        store.webhook_queued(10).unwrap()[0],
        delivery(1, "http://a/")
    );

    // A failed attempt replaces the record.
    let mut failed = delivery(2, "http://a/");
    failed.attempts = 1;
    failed.last_error = "HTTP 503".into();
    store.webhook_put(&failed, B).unwrap();
    assert_eq!(store.webhook_queued(10).unwrap()[1], failed);

    // Sent: removed once.
    assert!(store.webhook_remove(1, B).unwrap());
    assert!(!store.webhook_remove(1, B).unwrap());

    // Given up: out of the queue, into the dead letters, as the caller says.
    failed.attempts = 5;
    assert!(store.webhook_bury(&failed, B).unwrap());
    assert!(!store.webhook_bury(&failed, B).unwrap(), "no longer queued");
    assert_eq!(seqs(&store.webhook_queued(10).unwrap()), [3, 256]);
    assert_eq!(store.webhook_dead_letters(10).unwrap(), [failed.clone()]);
    assert_eq!(store.webhook_max_seq().unwrap(), 256);

    // Replay: at the end of the queue, attempts reset, body and signature unchanged.
    let replayed = store.webhook_replay(2, 257, 9_000, B).unwrap().unwrap();
    assert_eq!(replayed.seq, 257);
    assert_eq!(replayed.attempts, 0);
    assert_eq!(replayed.next_attempt_ms, 9_000);
    assert_eq!(replayed.body, failed.body);
    assert_eq!(replayed.signature, failed.signature);
    assert!(replayed.last_error.is_empty());
    assert!(store.webhook_dead_letters(10).unwrap().is_empty());
    assert_eq!(seqs(&store.webhook_queued(10).unwrap()), [3, 256, 257]);
    assert_eq!(store.webhook_replay(2, 258, 9_000, B).unwrap(), None);

    // A replay onto a queued seq is refused and changes nothing.
    store.webhook_bury(&delivery(3, "http://a/"), B).unwrap();
    assert!(store.webhook_replay(3, 256, 9_000, B).is_err());
    assert_eq!(seqs(&store.webhook_dead_letters(10).unwrap()), [3]);
    assert!(store.webhook_discard(3, B).unwrap());
    assert!(!store.webhook_discard(3, B).unwrap());

    // An alert has no account.
    let mut alert = delivery(300, "http://global/");
    alert.account = None;
    store.webhook_put(&alert, B).unwrap();
    assert_eq!(store.webhook_queued(10).unwrap().last(), Some(&alert));

    let report = store.check().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(
        report.counts.contains(&("webhook_queue", 3)),
        "{:?}",
        report.counts
    );
    assert!(
        report.counts.contains(&("webhook_dead", 0)),
        "{:?}",
        report.counts
    );
    // Logout and account deletion leave the deliveries of the account's events.
    store.logout(&account_id(1), B).unwrap();
    assert_eq!(store.webhook_queued(10).unwrap().len(), 3);
}

#[test]
fn the_queue_and_dead_letters_in_memory() {
    exercise(&mem());
}

#[test]
fn the_queue_and_dead_letters_on_disk() {
    exercise(&sled());
}

#[test]
fn queued_and_dead_deliveries_survive_a_reopen() {
    let dir = test_dir("webhooks");
    let config = StoreConfig::at(dir.path().join("wa_sessions"));
    {
        let store = SledStore::open(&config).unwrap();
        for seq in 1..=3 {
            store.webhook_put(&delivery(seq, "http://a/"), B).unwrap();
        }
        store.webhook_bury(&delivery(2, "http://a/"), B).unwrap();
        // Buffered writes ride on the next shared sync.
        store.flush().unwrap();
    }
    let store = SledStore::open(&config).unwrap();
    assert_eq!(seqs(&store.webhook_queued(10).unwrap()), [1, 3]);
    assert_eq!(seqs(&store.webhook_dead_letters(10).unwrap()), [2]);
    assert_eq!(store.webhook_max_seq().unwrap(), 3);
}

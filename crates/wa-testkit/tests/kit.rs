//! The kit's own pieces: waiting picks the first match and reports a deadline or a closed
//! stream by name, one account's events skip the others', temp dirs go away on drop.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{broadcast, mpsc};
use wa_client::{Event, EventKind};
use wa_protocol::time::Millis;
use wa_store::AccountId;
use wa_testkit::{temp_dir, wait_for, AccountEvents, Error, DEADLINE};

#[tokio::test]
async fn wait_for_returns_the_first_match_and_names_what_never_came() {
    let (tx, mut rx) = broadcast::channel(8);
    for n in [1, 2, 3, 4] {
        tx.send(n).expect("a receiver");
    }
    let mut seen = Vec::new();
    let even = wait_for(&mut rx, DEADLINE, "an even number", |n: &i32| {
        seen.push(*n);
        (n % 2 == 0).then_some(*n * 10)
    })
    .await
    .expect("2 is even");
    assert_eq!((even, seen), (20, vec![1, 2]));

    let short = Duration::from_millis(50);
    let err = wait_for(&mut rx, short, "a five", |n| (*n == 5).then_some(()))
        .await
        .expect_err("4 is not 5, and nothing else comes");
    assert!(
        matches!(&err, Error::Timeout { what, deadline } if what == "a five" && *deadline == short),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "no a five within 50ms");

    drop(tx);
    let err = wait_for(&mut rx, DEADLINE, "a six", |n| (*n == 6).then_some(()))
        .await
        .expect_err("the sender is gone");
    assert!(
        matches!(&err, Error::Closed { what } if what == "a six"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_lagging_broadcast_receiver_goes_on_with_what_is_left() {
    let (tx, mut rx) = broadcast::channel(2);
    for n in 0..5 {
        tx.send(n).expect("a receiver");
    }
    let got = wait_for(&mut rx, DEADLINE, "any", |n: &i32| Some(*n))
        .await
        .expect("the newest events are kept");
    assert_eq!(got, 3);
}

#[tokio::test]
async fn mpsc_receivers_are_event_sources_too() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tx.send("a").expect("open");
    tx.send("b").expect("open");
    let got = wait_for(&mut rx, DEADLINE, "b", |s: &&str| (*s == "b").then_some(())).await;
    assert!(got.is_ok());
}

#[tokio::test]
async fn account_events_skip_other_accounts() {
    let mine = AccountId::generate(&mut StdRng::seed_from_u64(1));
    let other = AccountId::generate(&mut StdRng::seed_from_u64(2));
    let (tx, rx) = broadcast::channel(8);
    for account in [other, mine] {
        let event = Event {
            account,
            at: Millis(1),
            kind: EventKind::Stopped,
        };
        tx.send(event).expect("a receiver");
    }
    drop(tx);
    let mut events = AccountEvents::new(rx, mine);
    assert_eq!(events.id(), &mine);
    let mut count = 0;
    let err = wait_for(&mut events, DEADLINE, "nothing", |e| {
        assert!(matches!(e, EventKind::Stopped));
        count += 1;
        None::<()>
    })
    .await
    .expect_err("the bus closes");
    assert!(matches!(err, Error::Closed { .. }));
    assert_eq!(count, 1, "only the account's own event");
}

#[test]
fn temp_dirs_are_removed_on_drop() {
    let dir = temp_dir("kit");
    let path = dir.path().to_path_buf();
    std::fs::write(path.join("file"), b"x").expect("write");
    assert!(path.is_dir());
    assert!(path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("wagate-test-kit-")));
    drop(dir);
    assert!(!path.exists());
}

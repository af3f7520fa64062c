//! Offline delivery across a restart mid-batch (issue 10 item 7, `session-lifecycle.md` §8):
//! while the account is down its phone's contact sends 120 texts; the account comes back, is
//! stopped after the first few reports, and starts again from the same sled store. Every text
//! arrives, in the order sent, reported once per run: a message committed but not yet marked
//! reported (the teardown cut the mark off) is handed over again at the start of the next
//! run, nothing else repeats; one delivered but not acked is delivered again by the server and
//! recognized as already received.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use wa_client::{Event, EventKind, Gateway};
use wa_protocol::MessageId;
use wa_store::{AccountId, SledStore, Store, StoreConfig};
use wa_testkit::{client_config, new_account, start_sim, temp_dir, wait_for, Linked, DEADLINE};

const A: &str = "15550110001";
const B: &str = "15550110002";
const N: usize = 120;
const FIRST_RUN: usize = 8;

/// The id of a message event of `account`, if `e` is one.
fn reported(e: &Event, account: &AccountId) -> Option<MessageId> {
    match &e.kind {
        EventKind::Message(m) if e.account == *account => Some(m.id.clone()),
        _ => None,
    }
}

/// Run 1: back online on a runtime of its own, which is torn down after the first reports
/// (the process dying mid-batch: no graceful finish of what was read); what it reported.
/// The test holds the event receiver itself, so every event the gateway emitted before the
/// teardown (and so every message it may have marked reported) is counted.
async fn first_run(linked: &Linked, store: &Arc<dyn Store>, a: AccountId) -> Vec<MessageId> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let run1 = Gateway::new(Arc::clone(store), client_config(&linked.sim));
    let mut bus = run1.subscribe();
    runtime.spawn(async move {
        run1.connect(&a).await.expect("connects");
        // The gateway lives until the runtime is torn down.
        std::future::pending::<()>().await;
    });
    let mut seen: Vec<MessageId> = Vec::new();
    wait_for(&mut bus, DEADLINE, "the first reports", |e| {
        seen.extend(reported(e, &a));
        (seen.len() >= FIRST_RUN).then_some(())
    })
    .await
    .expect("the batch starts");
    runtime.shutdown_background();
    while let Ok(e) = bus.try_recv() {
        seen.extend(reported(&e, &a));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_batch_survives_a_restart_mid_batch() {
    let dir = temp_dir("offline");
    let store: Arc<dyn Store> =
        Arc::new(SledStore::open(&StoreConfig::at(dir.path())).expect("store opens"));
    let sim = start_sim(&[A, B]).await;
    let a = new_account(store.as_ref(), 101);
    let config = client_config(&sim);
    let mut linked = Linked::link(sim, A, Arc::clone(&store), config, a).await;
    let warm = linked.sim.phone_send(B, A, "warm-up").expect("sends");
    wait_for(&mut linked.events, DEADLINE, "the warm-up", |e| {
        matches!(e, EventKind::Message(m) if m.id == warm).then_some(())
    })
    .await
    .expect("reported");

    linked.disconnect_gateway().await;
    let sent: Vec<MessageId> = (0..N)
        .map(|i| {
            linked
                .sim
                .phone_send(B, A, &format!("offline {i}"))
                .expect("queued")
        })
        .collect();

    let run1 = first_run(&linked, &store, a).await;
    assert!(run1.len() < N, "stopped mid-batch: {} of {N}", run1.len());

    // Run 2: a new gateway over the same store.
    let gateway = Gateway::new(Arc::clone(&store), client_config(&linked.sim));
    let mut bus = gateway.subscribe();
    gateway.connect(&a).await.expect("connects again");
    let last = sent.last().expect("sent").clone();
    let mut run2: Vec<MessageId> = Vec::new();
    wait_for(&mut bus, DEADLINE, "the rest of the batch", |e| {
        let id = reported(e, &a)?;
        run2.push(id.clone());
        (id == last).then_some(())
    })
    .await
    .expect("the batch completes");
    // Anything reported twice would come before a text sent now.
    let sentinel = linked.sim.phone_send(B, A, "after").expect("sends");
    wait_for(&mut bus, DEADLINE, "the text after the batch", |e| {
        let id = reported(e, &a)?;
        if id == sentinel {
            return Some(());
        }
        run2.push(id);
        None
    })
    .await
    .expect("reported");

    for (name, run) in [("run 1", &run1), ("run 2", &run2)] {
        let distinct: HashSet<&MessageId> = run.iter().collect();
        assert_eq!(
            distinct.len(),
            run.len(),
            "{name} reports each once: {run:?}"
        );
    }
    // A message reported by run 1 whose "reported" mark the teardown cut off is handed over
    // again, first thing, by run 2 (a pending report); nothing else repeats, nothing is lost.
    let before: HashSet<&MessageId> = run1.iter().collect();
    let again = run2.iter().take_while(|id| before.contains(id)).count();
    assert!(
        run2[again..].iter().all(|id| !before.contains(id)),
        "only pending reports repeat, at the start of run 2: {run1:?} then {run2:?}"
    );
    let mut seen = run1.clone();
    seen.extend(run2[again..].iter().cloned());
    assert_eq!(
        seen,
        sent,
        "all {N}, in order (run 1: {}, repeated: {again})",
        run1.len()
    );
    assert_eq!(gateway.shutdown(Duration::from_secs(10)).await, 0);
}

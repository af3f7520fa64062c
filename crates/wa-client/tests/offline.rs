//! Offline delivery across a restart mid-batch (issue 10 item 7, `session-lifecycle.md` §8):
//! while the account is down its phone's contact sends 30 texts; the account comes back, is
//! stopped after the first few reports, and starts again from the same sled store. Every text
//! arrives, in the order sent, each reported exactly once over both runs (a message committed
//! but not yet reported is handed over at the next start; one delivered but not acked is
//! delivered again by the server and recognized as already received).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use wa_client::{Event, EventKind, Gateway};
use wa_protocol::MessageId;
use wa_store::{AccountId, SledStore, Store, StoreConfig};
use wa_testkit::{client_config, new_account, start_sim, temp_dir, wait_for, Linked, DEADLINE};

const A: &str = "15550110001";
const B: &str = "15550110002";
const N: usize = 30;
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
async fn first_run(linked: &Linked, store: &Arc<dyn Store>, a: AccountId) -> Vec<MessageId> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let run1 = Gateway::new(Arc::clone(store), client_config(&linked.sim));
    let mut bus = run1.subscribe();
    runtime.spawn(async move {
        run1.connect(&a).await.expect("connects");
        while let Ok(e) = bus.recv().await {
            if let Some(id) = reported(&e, &a) {
                if tx.send(id).is_err() {
                    break;
                }
            }
        }
    });
    let mut seen: Vec<MessageId> = Vec::new();
    wait_for(&mut rx, DEADLINE, "the first reports", |id| {
        seen.push(id.clone());
        (seen.len() >= FIRST_RUN).then_some(())
    })
    .await
    .expect("the batch starts");
    runtime.shutdown_background();
    while let Ok(id) = rx.try_recv() {
        seen.push(id);
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

    let mut seen = first_run(&linked, &store, a).await;
    let first_run = seen.len();
    assert!(first_run < N, "stopped mid-batch: {first_run} of {N}");

    // Run 2: a new gateway over the same store.
    let gateway = Gateway::new(Arc::clone(&store), client_config(&linked.sim));
    let mut bus = gateway.subscribe();
    gateway.connect(&a).await.expect("connects again");
    let last = sent.last().expect("sent").clone();
    wait_for(&mut bus, DEADLINE, "the rest of the batch", |e| {
        let id = reported(e, &a)?;
        seen.push(id.clone());
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
        seen.push(id);
        None
    })
    .await
    .expect("reported");

    let distinct: HashSet<&MessageId> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "each reported once: {seen:?}");
    assert_eq!(seen, sent, "all {N}, in order (first run: {first_run})");
    assert_eq!(gateway.shutdown(Duration::from_secs(10)).await, 0);
}

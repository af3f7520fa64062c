//! `ReportAcks::Consumer` (issue 12, at-least-once Message events): a pending report handed over
//! at start stays pending until the consumer acks it with `Gateway::ack_report`, so a consumer
//! that died before persisting the event gets it again on the next start, and never after its
//! ack.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_client::{EventKind, Gateway, ReceivedText, ReportAcks};
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::{encode_padded, Content};
use wa_store::{AccountId, Durability, MemStore, ReceivedKey, ReceivedMessage, Store};
use wa_testkit::{client_config, new_account, start_sim, wait_for, AccountEvents, DEADLINE};

fn commit_pending(store: &dyn Store, id: &AccountId) {
    let sender = Jid::device("15550107101", 3, Server::WhatsApp);
    let chat = Jid::user("15550107101", Server::WhatsApp);
    let padded = encode_padded(
        &Content::text("ack me").to_message(),
        &mut StdRng::seed_from_u64(2),
    );
    let mut report = vec![2u8];
    report.extend_from_slice(&padded);
    let message = ReceivedMessage {
        key: ReceivedKey {
            chat: &chat,
            sender: &sender,
            id: "3EB0ACKME001",
        },
        t: 1_800_000_000,
        sessions: &[],
        prekey_id: None,
        identity: None,
        sender_keys: &[],
        report: Some(&report),
        now_ms: 1_800_000_000_000,
    };
    store
        .commit_received(id, &message, Durability::Durable)
        .expect("committed");
}

/// Starts a gateway in consumer-acks mode and returns it with the Messages handed over before
/// the first connect.
async fn start(
    store: &Arc<dyn Store>,
    sim: &wa_sim::SimServer,
    id: AccountId,
) -> (Gateway, Vec<Box<ReceivedText>>) {
    let mut config = client_config(sim);
    config.reports = ReportAcks::Consumer;
    let gateway = Gateway::new(Arc::clone(store), config);
    let mut events = AccountEvents::new(gateway.subscribe(), id);
    gateway.connect(&id).await.expect("starts");
    let mut reported = Vec::new();
    wait_for(&mut events, DEADLINE, "the first connect", |e| match e {
        EventKind::Message(m) => {
            reported.push(m.clone());
            None
        }
        EventKind::Connecting { .. } => Some(()),
        _ => None,
    })
    .await
    .expect("the task starts");
    (gateway, reported)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_stays_pending_until_the_consumer_acks_it() {
    let sim = start_sim(&[]).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), 8);
    commit_pending(store.as_ref(), &id);

    // The consumer never acks (it "died"): the report is still pending.
    let (gateway, reported) = start(&store, &sim, id).await;
    assert_eq!(reported.len(), 1, "handed over: {reported:?}");
    let seq = reported[0]
        .report
        .expect("the event carries its report seq");
    assert_eq!(reported[0].id.as_str(), "3EB0ACKME001");
    let pending = store.pending_reports(&id, 10).expect("store");
    assert_eq!(pending.len(), 1, "not marked by the client");
    assert_eq!(pending[0].seq, seq);
    assert_eq!(gateway.shutdown(Duration::from_secs(10)).await, 0);

    // Next start: handed over again, with the same seq; this time the consumer acks.
    let (gateway, reported) = start(&store, &sim, id).await;
    assert_eq!(reported.len(), 1, "again after a start without ack");
    assert_eq!(reported[0].report, Some(seq));
    assert!(gateway.ack_report(&id, seq).expect("acked"));
    assert!(
        !gateway.ack_report(&id, seq).expect("acked"),
        "twice: a no-op"
    );
    assert!(store.pending_reports(&id, 10).expect("store").is_empty());
    assert_eq!(gateway.shutdown(Duration::from_secs(10)).await, 0);

    // Acked: never again.
    let (gateway, reported) = start(&store, &sim, id).await;
    assert!(reported.is_empty(), "never after the ack: {reported:?}");
    assert_eq!(gateway.shutdown(Duration::from_secs(10)).await, 0);
}

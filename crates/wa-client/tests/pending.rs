//! Exactly-once reporting across a restart (`wa-store`'s pending reports): a message committed
//! with its report but never handed over (the process died between the commit and the event)
//! is announced when the account starts, once, and not again on the next start.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_client::{EventKind, Gateway};
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::{encode_padded, Content};
use wa_store::{Durability, MemStore, ReceivedKey, ReceivedMessage, Store};
use wa_testkit::{client_config, new_account, start_sim, wait_for, AccountEvents, DEADLINE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_unreported_message_is_handed_over_once_at_start() {
    let sim = start_sim(&[]).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), 7);
    let sender = Jid::device("15550107001", 3, Server::WhatsApp);
    let chat = Jid::user("15550107001", Server::WhatsApp);
    let padded = encode_padded(
        &Content::text("left over").to_message(),
        &mut StdRng::seed_from_u64(1),
    );
    let mut report = vec![2u8];
    report.extend_from_slice(&padded);
    let message = ReceivedMessage {
        key: ReceivedKey {
            chat: &chat,
            sender: &sender,
            id: "3EB0PENDING1",
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
        .commit_received(&id, &message, Durability::Durable)
        .expect("committed");

    for round in 0..2 {
        let gateway = Gateway::new(Arc::clone(&store), client_config(&sim));
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
        if round == 0 {
            assert_eq!(reported.len(), 1, "handed over once");
            let m = &reported[0];
            assert_eq!(m.id.as_str(), "3EB0PENDING1");
            assert_eq!(m.chat, chat);
            assert_eq!(m.sender.phone, Some(chat.clone()));
            assert!(matches!(&m.content, Content::Text(t) if t.text == "left over"));
        } else {
            assert!(reported.is_empty(), "never twice: {reported:?}");
        }
        assert!(store.pending_reports(&id, 10).expect("store").is_empty());
        assert_eq!(gateway.shutdown(Duration::from_secs(10)).await, 0);
    }
}

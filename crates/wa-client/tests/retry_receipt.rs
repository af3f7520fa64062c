//! Recovery through retry receipts (`messaging.md` §11, issue 10 item 6): the gateway loses its
//! session with a phone (deleted from the store while the account is stopped); the phone's
//! next text (on its old, never answered session: a `pkmsg` naming a consumed prekey) cannot
//! be decrypted, so the gateway acks it and asks
//! again with `<receipt type="retry" count=1>`; the phone's resend fails the same way, the
//! second receipt carries our keys (a fresh one-time prekey, stored first), and the phone's
//! `pkmsg` from them decrypts. The text is reported exactly once.

use std::sync::Arc;

use wa_client::EventKind;
use wa_protocol::stanza::{Receipt, ReceiptType};
use wa_sim::SimEvent;
use wa_store::{Durability, MemStore, Store};
use wa_testkit::{client_config, new_account, start_sim, wait_for, Linked, DEADLINE};

const A: &str = "15550109001";
const B: &str = "15550109002";

/// B texts A; waits for the report of it and returns every text reported on the way.
async fn phone_texts(linked: &mut Linked, text: &str) -> Vec<String> {
    let id = linked.sim.phone_send(B, A, text).expect("the phone sends");
    let mut seen = Vec::new();
    wait_for(
        &mut linked.events,
        DEADLINE,
        "the phone's text",
        |e| match e {
            EventKind::Message(m) => {
                seen.push(m.id.as_str().to_owned());
                (m.id == id).then_some(())
            }
            _ => None,
        },
    )
    .await
    .expect("reported");
    seen
}

/// The retry receipts among the sim's buffered events.
fn retry_receipts(sim_events: &mut tokio::sync::broadcast::Receiver<SimEvent>) -> Vec<Receipt> {
    let mut retries = Vec::new();
    while let Ok(e) = sim_events.try_recv() {
        if let SimEvent::Stanza { node, .. } = e {
            if node.tag == "receipt" && node.attr_str("type") == Some("retry") {
                retries.push(Receipt::from_node(&node).expect("a typed retry receipt"));
            }
        }
    }
    retries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_session_is_recovered_through_retry_receipts() {
    let sim = start_sim(&[A, B]).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let a = new_account(store.as_ref(), 91);
    let config = client_config(&sim);
    let mut linked = Linked::link(sim, A, Arc::clone(&store), config, a).await;
    phone_texts(&mut linked, "one").await;

    // Stop, lose every session with B, start again.
    linked.disconnect_gateway().await;
    let lost: Vec<String> = store
        .session_addresses(&a)
        .expect("store")
        .into_iter()
        .filter(|addr| addr.starts_with(B))
        .collect();
    assert!(!lost.is_empty(), "a session with B existed");
    for addr in &lost {
        store
            .delete_session(&a, addr, Durability::Durable)
            .expect("deleted");
    }
    let prekeys_before = store.prekey_counts(&a).expect("counts");
    linked.gateway.connect(&a).await.expect("connects");
    wait_for(&mut linked.events, DEADLINE, "Connected", |e| {
        matches!(e, EventKind::Connected { .. }).then_some(())
    })
    .await
    .expect("connected again");

    let mut sim_events = linked.sim.subscribe();
    let two = linked.sim.phone_send(B, A, "two").expect("the phone sends");
    wait_for(&mut linked.events, DEADLINE, "the recovered text", |e| {
        matches!(e, EventKind::Message(m) if m.id == two).then_some(())
    })
    .await
    .expect("the text is recovered");
    // The gateway's retry receipts, as the sim saw them (before the resend that decrypted).
    let retries = retry_receipts(&mut sim_events);
    assert_eq!(
        retries.len(),
        2,
        "count 1 without keys, count 2 with: {retries:?}"
    );
    let first = retries[0].retry.as_ref().expect("retry info");
    let second = retries[1].retry.as_ref().expect("retry info");
    assert_eq!(retries[0].kind, ReceiptType::Retry);
    assert_eq!((first.count, first.id.as_str()), (1, two.as_str()));
    assert!(first.keys.is_none(), "no keys on the first retry (§11)");
    // The phone's session was never answered, so it still sends `pkmsg`s naming the one-time
    // prekey its first text consumed: "invalid prekey id" (3); a `msg` would say "no session" (1).
    assert!(matches!(first.error, Some(1 | 3)), "{:?}", first.error);
    assert_eq!(second.count, 2);
    let keys = second.keys.as_ref().expect("keys from count 2 on (§11)");
    let fresh = keys.prekey.expect("a fresh one-time prekey");
    // The fresh prekey was stored, offered and then consumed by the phone's pkmsg.
    assert!(
        store.load_prekey(&a, fresh.id).expect("store").is_none(),
        "consumed"
    );
    let after = store.prekey_counts(&a).expect("counts");
    assert_eq!(after, prekeys_before, "one added, one consumed");
    assert!(
        linked.sim.counters().get("phone:retry-receipt").copied() >= Some(2),
        "the phone answered both"
    );

    // Exactly once: nothing of "two" again before the next text.
    let seen = phone_texts(&mut linked, "three").await;
    assert!(
        !seen.iter().any(|id| id == two.as_str()),
        "reported twice: {seen:?}"
    );
}

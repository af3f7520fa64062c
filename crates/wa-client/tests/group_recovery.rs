//! Group sends and receives that go wrong and recover, against wa-sim (issue 10 items 5, 6, 8;
//! `messaging.md` §8, §9, §11):
//! - a group send committed but never acknowledged is sent again after the next login, once,
//!   with the same id and a new sender-key iteration;
//! - a phone's `skmsg` we cannot decrypt (we lost its sender key) gets an ack and a retry
//!   receipt; the phone answers pairwise with the message and its SKDM; the message is reported
//!   once;
//! - cached group metadata expires: a send after the TTL asks for the participants again;
//! - a send planned from stale metadata (a change we never heard of) is acked with the server's
//!   `phash`, not ours: the gateway fetches the group again and sends the message with its
//!   SKDM pairwise to the member it had missed, once.

mod support;

use std::sync::Arc;
use support::group::{create, is_metadata_query, send_to_group};

use support::{linked, next_status, swallowed, user};
use wa_client::{EventKind, ParticipantAction, SendOptions};
use wa_protocol::message::Content;
use wa_protocol::stanza::{EncType, MessageStanza, Receipt, ReceiptType};
use wa_protocol::time::{Clock, ManualClock, SystemClock};
use wa_sim::{Faults, SimEvent};
use wa_store::{Durability, MemStore, MessageStatus, Store};
use wa_testkit::{client_config, new_account, start_sim, wait_for, Linked, DEADLINE};

const A: &str = "15550130001";
const B: &str = "15550130002";
const C: &str = "15550130003";

/// The `skmsg` ciphertext of a group send.
fn skmsg_of(m: &MessageStanza) -> Vec<u8> {
    m.encs
        .iter()
        .find(|e| e.kind == EncType::SkMsg)
        .map(|e| e.ciphertext.clone())
        .expect("an skmsg")
}

/// How many copies of `id` `phone` recorded.
fn copies(linked: &Linked, phone: &str, id: &str) -> usize {
    let inbox = linked.sim.phone_messages(phone).expect("inbox");
    inbox.iter().filter(|m| m.id == id).count()
}

/// With the `drop_messages` fault on, sends `text` to `group`; once the sim swallowed it, the
/// fault is lifted and the connection dropped. The send's outcome and the swallowed stanza.
async fn swallowed_group_send(
    linked: &Linked,
    group: &wa_protocol::binary::Jid,
    text: &str,
) -> (
    Result<wa_client::SentMessage, wa_client::Error>,
    MessageStanza,
) {
    let mut events = linked.sim.subscribe();
    let content = Content::text(text);
    let send = linked
        .gateway
        .send(&linked.id, group.clone(), content, SendOptions::default());
    swallowed(linked, &mut events, A, B, send).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_group_send_is_resent_after_the_next_login() {
    let mut linked = linked(&[A, B, C], 131).await;
    let group = create(&linked, A, "Resend", &[B, C]).await;
    send_to_group(&linked, &group, "first", &[B, C]).await;

    let mut events = linked.sim.subscribe();
    let (outcome, first) = swallowed_group_send(&linked, &group, "in flight").await;
    assert!(
        matches!(&outcome, Err(wa_client::Error::Unconfirmed(i)) if i == first.id.as_str()),
        "{outcome:?}"
    );

    // After the reconnect: the same id again, a new skmsg, decrypted once by each phone.
    let id = first.id.as_str().to_owned();
    let mut again = Vec::new();
    let mut waiting = vec![B, C];
    wait_for(&mut events, DEADLINE, "the resend decrypted", |e| {
        match e {
            SimEvent::Stanza { node, .. }
                if node.tag == "message" && node.attr_str("id") == Some(id.as_str()) =>
            {
                again.push(MessageStanza::from_node(node).expect("parses"));
            }
            SimEvent::PhoneReceived { phone, id: got } if *got == id => {
                waiting.retain(|p| *p != phone.as_str());
            }
            _ => {}
        }
        waiting.is_empty().then_some(())
    })
    .await
    .expect("resent and decrypted by both phones");
    // The swallowed stanza, then exactly one resend.
    assert_eq!(again.len(), 2, "{again:?}");
    let resent = &again[1];
    assert_eq!(resent.to, Some(group.clone()));
    assert!(resent.phash.is_some());
    assert_ne!(
        skmsg_of(&first),
        skmsg_of(resent),
        "a new sender-key iteration"
    );
    for phone in [B, C] {
        assert_eq!(copies(&linked, phone, &id), 1, "{phone}");
    }
    assert!(matches!(
        next_status(&mut linked, &first.id).await,
        MessageStatus::Sent { server_t: Some(_) }
    ));
    // A later send still decrypts everywhere (no sender-key iteration was used twice), and the
    // resend did not go out again meanwhile.
    send_to_group(&linked, &group, "after", &[B, C]).await;
    let counters = linked.sim.counters();
    assert_eq!(
        counters.get("route:dropped").copied(),
        Some(1),
        "{counters:?}"
    );
    assert_eq!(counters.get("phone:undecryptable"), None, "{counters:?}");
    for phone in [B, C] {
        assert_eq!(copies(&linked, phone, &id), 1, "{phone}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecryptable_skmsg_is_recovered_through_a_retry_receipt() {
    let mut linked = linked(&[A, B], 132).await;
    let group = create(&linked, A, "Lost key", &[B]).await;
    let first = linked
        .sim
        .phone_send(B, &group.to_string(), "first")
        .expect("phone sends");
    wait_for(
        &mut linked.events,
        DEADLINE,
        "the first message",
        |e| match e {
            EventKind::Message(m) if m.id == first => Some(()),
            _ => None,
        },
    )
    .await
    .expect("decrypted with the phone's SKDM");

    // We lose the phone's sender key; the phone believes we hold it: its next message is an
    // skmsg alone.
    let address = format!("{B}:0");
    let (account, key) = (linked.id, group.to_string());
    assert!(linked
        .store
        .load_sender_key(&account, &key, &address)
        .expect("store")
        .is_some());
    linked
        .store
        .delete_sender_key(&account, &key, &address, Durability::Durable)
        .expect("store");
    let mut sim_events = linked.sim.subscribe();
    let second = linked
        .sim
        .phone_send(B, &group.to_string(), "second")
        .expect("phone sends");
    let message = wait_for(
        &mut linked.events,
        DEADLINE,
        "the second message",
        |e| match e {
            EventKind::Message(m) if m.id == second => Some(m.clone()),
            _ => None,
        },
    )
    .await
    .expect("recovered through the retry receipt");
    assert_eq!(message.chat, group);
    assert_eq!(message.content, Content::text("second"));

    let retry = wait_for(
        &mut sim_events,
        DEADLINE,
        "our retry receipt",
        |e| match e {
            SimEvent::Stanza { node, .. } if node.tag == "receipt" => Receipt::from_node(node)
                .ok()
                .filter(|r| r.kind == ReceiptType::Retry && r.id == second),
            _ => None,
        },
    )
    .await
    .expect("the gateway asked again");
    assert_eq!(retry.to, Some(group.clone()));
    assert_eq!(retry.participant, Some(user(B)));
    assert_eq!(retry.retry.as_ref().map(|r| r.count), Some(1));

    // Reported once: a third message arrives with no second report of the second between.
    let third = linked
        .sim
        .phone_send(B, &group.to_string(), "third")
        .expect("phone sends");
    let mut repeats = 0;
    wait_for(
        &mut linked.events,
        DEADLINE,
        "the third message",
        |e| match e {
            EventKind::Message(m) if m.id == second => {
                repeats += 1;
                None
            }
            EventKind::Message(m) if m.id == third => Some(()),
            _ => None,
        },
    )
    .await
    .expect("the third decrypts with the key the resend carried");
    assert_eq!(repeats, 0);
}

/// The group-metadata queries (`w:g2` `<query>`, `messaging.md` §9 step 1) the sim got since
/// the last call.
fn metadata_queries(events: &mut tokio::sync::broadcast::Receiver<SimEvent>) -> usize {
    let mut n = 0;
    while let Ok(e) = events.try_recv() {
        if matches!(e, SimEvent::Stanza { node, .. } if is_metadata_query(&node)) {
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_group_metadata_expires() {
    let sim = start_sim(&[A, B]).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), 133);
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let mut config = client_config(&sim);
    config.clock = Arc::clone(&clock) as Arc<dyn Clock>;
    let linked = Linked::link(sim, A, store, config, id).await;
    let mut ours = linked.gateway.subscribe();
    let group = create(&linked, A, "Expiry", &[B]).await;
    // The `create` notification drops the group's cached metadata (as every `w:gp2` does): wait
    // until it is handled, so it cannot land between the sends below.
    wait_for(&mut ours, DEADLINE, "the create notification", |e| {
        let EventKind::Stanza(node) = &e.kind else {
            return None;
        };
        let from = node.attr("from").map(ToString::to_string);
        (node.attr_str("type") == Some("w:gp2") && from == Some(group.to_string())).then_some(())
    })
    .await
    .expect("the create notification reaches the client");

    let mut events = linked.sim.subscribe();
    send_to_group(&linked, &group, "one", &[B]).await;
    assert_eq!(metadata_queries(&mut events), 1, "the first send asks");
    send_to_group(&linked, &group, "two", &[B]).await;
    assert_eq!(
        metadata_queries(&mut events),
        0,
        "the second uses the cache"
    );
    clock.advance(9 * 60 * 1000);
    send_to_group(&linked, &group, "three", &[B]).await;
    assert_eq!(
        metadata_queries(&mut events),
        0,
        "still fresh after nine minutes"
    );
    clock.advance(60 * 1000);
    send_to_group(&linked, &group, "four", &[B]).await;
    assert_eq!(
        metadata_queries(&mut events),
        1,
        "expired after ten minutes"
    );
    send_to_group(&linked, &group, "five", &[B]).await;
    assert_eq!(metadata_queries(&mut events), 0, "cached again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_phash_sends_the_message_and_key_to_the_missed_member() {
    let linked = linked(&[A, B, C], 134).await;
    let group = create(&linked, A, "Stale", &[B]).await;
    send_to_group(&linked, &group, "one", &[B]).await;

    // Our own phone adds C; our companion never hears of it (its metadata stays [A, B]).
    let quiet = Faults {
        drop_group_notifications: true,
        ..Faults::default()
    };
    linked.sim.set_faults(A, quiet).expect("faults");
    let done = linked
        .sim
        .change_group(A, &group, ParticipantAction::Add, &[C])
        .expect("A's phone adds C");
    assert!(done.iter().all(|(_, code)| code.is_none()), "{done:?}");
    // The fault stays on until the send is settled: the add's notification may still be on its
    // way, and letting it through would refresh our metadata before the send (no stale phash).

    let mut events = linked.sim.subscribe();
    let sent = linked
        .gateway
        .send(
            &linked.id,
            group.clone(),
            Content::text("two"),
            SendOptions::default(),
        )
        .await
        .expect("accepted");
    let id = sent.id.as_str().to_owned();
    let mut pairwise = Vec::new();
    let mut waiting = vec![B, C];
    wait_for(&mut events, DEADLINE, "both phones decrypt it", |e| {
        match e {
            SimEvent::Stanza { node, .. }
                if node.tag == "message"
                    && node.attr_str("id") == Some(id.as_str())
                    && node.attr("participant").is_some() =>
            {
                pairwise.push(MessageStanza::from_node(node).expect("parses"));
            }
            SimEvent::PhoneReceived { phone, id: got } if *got == id => {
                waiting.retain(|p| *p != phone.as_str());
            }
            _ => {}
        }
        waiting.is_empty().then_some(())
    })
    .await
    .expect("C gets the message it had missed");
    assert_eq!(pairwise.len(), 1, "one pairwise resend: {pairwise:?}");
    assert_eq!(pairwise[0].participant, Some(user(C)));
    assert_eq!(pairwise[0].to, Some(group.clone()));
    assert_ne!(pairwise[0].encs[0].kind, EncType::SkMsg);
    assert_eq!(copies(&linked, C, &id), 1);
    assert_eq!(copies(&linked, B, &id), 1);
    linked.sim.set_faults(A, Faults::default()).expect("faults");
    let counters = linked.sim.counters();
    assert_eq!(
        counters.get("route:phash-stale").copied(),
        Some(1),
        "{counters:?}"
    );

    // C holds our key now: the next send is one skmsg, no SKDM, and C reads it.
    let third = send_to_group(&linked, &group, "three", &[B, C]).await;
    assert!(third.participants.is_empty(), "{third:?}");
    assert_eq!(
        linked.sim.counters().get("route:phash-stale").copied(),
        Some(1)
    );
}

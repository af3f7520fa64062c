//! 1:1 text messaging over real sockets through wa-sim's router (`messaging.md` §4–§8, §10,
//! §16): two gateway accounts of one gateway, each linked to its own sim phone. A sends to B's
//! phone number: device lists by usync, bundles, `pkmsg`, the server's ack resolves the send
//! with its timestamp, B's companion decrypts it (reported once), B's delivery receipt moves
//! A's status to Delivered and B's read receipt to Read; B answers, after which A's next send to B's companion is a `msg`.

use std::sync::Arc;

use wa_client::{Error, EventKind, Gateway};
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::message::Content;
use wa_protocol::stanza::{EncType, MessageStanza};
use wa_protocol::MessageId;
use wa_sim::{SimEvent, SimServer};
use wa_store::{AccountId, Durability, ListedDevice, MemStore, MessageStatus, Store};
use wa_testkit::{
    client_config, new_account, start_sim, wait_for, AccountEvents, Linked, DEADLINE,
};

const A: &str = "15550109001";
const B: &str = "15550109002";

/// Links a second account of `linked`'s gateway to `phone`; returns its id and events.
async fn link_second(linked: &Linked, phone: &str, seed: u64) -> (AccountId, AccountEvents) {
    let id = new_account(linked.store.as_ref(), seed);
    let mut events = AccountEvents::new(linked.gateway.subscribe(), id);
    linked.gateway.link_qr(&id).await.expect("links");
    let qr = wait_for(&mut events, DEADLINE, "a QR code", |e| match e {
        EventKind::Qr { code, .. } => Some(code.clone()),
        _ => None,
    })
    .await
    .expect("QR");
    linked.sim.scan(phone, &qr).expect("the phone scans");
    wait_for(&mut events, DEADLINE, "Connected", |e| {
        matches!(e, EventKind::Connected { .. }).then_some(())
    })
    .await
    .expect("connected");
    (id, events)
}

/// The `<enc>` type A's stanza `id` carried for `device`, as the sim received it.
async fn enc_type_for(
    sim_events: &mut tokio::sync::broadcast::Receiver<SimEvent>,
    id: &MessageId,
    device: &Jid,
) -> EncType {
    let node: Node = wait_for(sim_events, DEADLINE, "the sent message", |e| match e {
        SimEvent::Stanza { node, .. }
            if node.tag == "message" && node.attr_str("id") == Some(id.as_str()) =>
        {
            Some(node.clone())
        }
        _ => None,
    })
    .await
    .expect("the sim saw the message");
    let stanza = MessageStanza::from_node(&node).expect("parses");
    let enc = stanza
        .participants
        .iter()
        .find(|p| &p.jid == device)
        .unwrap_or_else(|| panic!("no enc for {device} in {node}"));
    enc.enc.kind
}

async fn wait_text(events: &mut AccountEvents, text: &str) -> (MessageId, Jid, Option<Jid>) {
    wait_for(events, DEADLINE, "the message", |e| match e {
        EventKind::Message(m) => match &m.content {
            Content::Text(t) if t.text == text => Some((
                m.id.clone(),
                m.sender.device.clone(),
                m.sender.phone.clone(),
            )),
            other => panic!("unexpected message {other:?}"),
        },
        _ => None,
    })
    .await
    .expect("the message arrives")
}

async fn wait_status(events: &mut AccountEvents, id: &MessageId) -> MessageStatus {
    wait_for(events, DEADLINE, "a status", |e| match e {
        EventKind::MessageStatus { id: i, status } if i == id => Some(*status),
        _ => None,
    })
    .await
    .expect("status")
}

fn user(phone: &str) -> Jid {
    Jid::user(phone, Server::WhatsApp)
}

async fn setup() -> (Linked, AccountId, AccountEvents) {
    let sim: SimServer = start_sim(&[A, B]).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let a = new_account(store.as_ref(), 91);
    let config = client_config(&sim);
    let linked = Linked::link(sim, A, store, config, a).await;
    let (b, events_b) = link_second(&linked, B, 92).await;
    (linked, b, events_b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_both_ways_with_acks_receipts_and_sessions() {
    let (mut linked, b, mut events_b) = setup().await;
    let gateway: &Gateway = &linked.gateway;
    let a = linked.id;
    let b_device = linked
        .store
        .device(&b)
        .expect("store")
        .expect("B")
        .jid
        .expect("jid");
    let mut sim_events = linked.sim.subscribe();

    let first = gateway
        .send_text(&a, user(B), "hello B")
        .await
        .expect("sent");
    assert!(first.server_t.is_some(), "the ack's timestamp");
    assert_eq!(
        enc_type_for(&mut sim_events, &first.id, &b_device).await,
        EncType::PkMsg,
        "a new session starts with a pkmsg"
    );
    let (got, sender, phone) = wait_text(&mut events_b, "hello B").await;
    assert_eq!(got, first.id);
    assert_eq!(sender.user_part(), A);
    assert_eq!(phone, Some(user(A)), "the sender's phone number");
    // The ack moved the status to Sent (with the ack's t), then B's delivery receipt.
    assert_eq!(
        wait_status(&mut linked.events, &first.id).await,
        MessageStatus::Sent {
            server_t: first.server_t
        }
    );
    let delivered = wait_status(&mut linked.events, &first.id).await;
    assert!(
        matches!(delivered, MessageStatus::Delivered { .. }),
        "{delivered:?}"
    );
    assert_eq!(
        gateway.message_status(&a, &first.id).await.expect("status"),
        delivered
    );

    // B reads it: A's status moves to Read.
    let chat = user(A);
    gateway
        .mark_read(&b, chat, None, std::slice::from_ref(&first.id))
        .await
        .expect("read receipt sent");
    let read = wait_status(&mut linked.events, &first.id).await;
    assert!(matches!(read, MessageStatus::Read { .. }), "{read:?}");

    // B answers: A decrypts it, which ends A's pending prekey with B's companion.
    let reply = gateway.send_text(&b, user(A), "hi A").await.expect("sent");
    let (got, _, _) = wait_text(&mut linked.events, "hi A").await;
    assert_eq!(got, reply.id);

    let second = gateway.send_text(&a, user(B), "again").await.expect("sent");
    assert_eq!(
        enc_type_for(&mut sim_events, &second.id, &b_device).await,
        EncType::Msg,
        "the established session sends a msg"
    );
    let (got, _, _) = wait_text(&mut events_b, "again").await;
    assert_eq!(got, second.id);
    // Exactly once: nothing is left to report on either side (the mark follows the event,
    // on a blocking thread: wait for it with a deadline).
    for account in [b, a] {
        let store = Arc::clone(&linked.store);
        let marked = async move {
            while !store
                .pending_reports(&account, 10)
                .expect("store")
                .is_empty()
            {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(5), marked)
            .await
            .expect("every received message marked reported");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_sends_all_resolve_on_their_acks() {
    let (linked, _, mut events_b) = setup().await;
    let a = linked.id;
    let gateway = &linked.gateway;
    let texts: Vec<String> = (0..8).map(|i| format!("burst {i}")).collect();
    let sends = texts
        .iter()
        .map(|t| gateway.send_text(&a, user(B), t.clone()));
    let sent = futures_util::future::join_all(sends).await;
    let mut ids = Vec::new();
    for s in sent {
        let s = s.expect("every send is acknowledged");
        assert!(s.server_t.is_some());
        ids.push(s.id);
    }
    let mut seen = Vec::new();
    while seen.len() < texts.len() {
        let id = wait_for(&mut events_b, DEADLINE, "a burst message", |e| match e {
            EventKind::Message(m) => Some(m.id.clone()),
            _ => None,
        })
        .await
        .expect("delivered");
        assert!(!seen.contains(&id), "reported twice: {id:?}");
        seen.push(id);
    }
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    for id in &ids {
        let status = gateway.message_status(&a, id).await.expect("status");
        assert!(
            !matches!(status, MessageStatus::Queued | MessageStatus::Failed { .. }),
            "{status:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusal_fails_the_send_with_its_code_never_sent() {
    let (mut linked, b, _events_b) = setup().await;
    let a = linked.id;
    let gateway = &linked.gateway;
    gateway.send_text(&a, user(B), "first").await.expect("sent");
    // A stale device list naming a device B does not have (with a session, so it is encrypted
    // for): the server refuses the whole message with 479 (`messaging.md` §8, §16).
    let store = &linked.store;
    let b_device = store
        .device(&b)
        .expect("store")
        .expect("B")
        .jid
        .expect("jid");
    let mut list = store
        .device_list(&a, &user(B))
        .expect("store")
        .expect("cached");
    list.devices.push(ListedDevice {
        id: 99,
        key_index: Some(99),
        hosted: false,
    });
    store
        .save_device_list(&a, &list, Durability::Durable)
        .expect("saved");
    let real = format!("{B}:{}", b_device.device_id());
    let record = store
        .load_session(&a, &real)
        .expect("store")
        .expect("session");
    store
        .save_session(&a, &format!("{B}:99"), &record, Durability::Durable)
        .expect("saved");
    let err = gateway
        .send_text(&a, user(B), "refused")
        .await
        .expect_err("the server refuses it");
    let Error::Rejected { id, code } = err else {
        panic!("{err:?}");
    };
    assert_eq!(code, 479);
    let id: MessageId = id.parse().expect("id");
    let status = wait_status(&mut linked.events, &id).await;
    assert_eq!(status, MessageStatus::Failed { code: Some(479) });
    assert_eq!(
        gateway.message_status(&a, &id).await.expect("status"),
        status
    );
}

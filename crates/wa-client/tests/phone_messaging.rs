//! wagate ↔ a simulated phone over real sockets (`messaging.md` §4–§10): the linked account
//! sends a text to another sim phone, which decrypts it (the first send a `pkmsg`; after the
//! phone's answer a `msg`); the phone's delivery and read receipts move the status to
//! Delivered and Read; the own-device copy decrypts on the sender's own phone; the phone's text
//! reaches the account as one `EventKind::Message`.

use tokio::sync::broadcast;
use wa_client::EventKind;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::Content;
use wa_protocol::stanza::{EncType, MessageStanza};
use wa_protocol::MessageId;
use wa_sim::SimEvent;
use wa_store::{MemStore, MessageStatus, Store};
use wa_testkit::{client_config, new_account, start_sim, wait_for, Linked, DEADLINE};

const A: &str = "15550106001";
const B: &str = "15550106002";

fn user(phone: &str) -> Jid {
    Jid::user(phone, Server::WhatsApp)
}

/// Sends `text` from the linked account to `phone` and waits until that phone recorded it;
/// returns the id and the `<enc>` type the stanza carried for the phone (device 0). Also waits
/// until our own phone recorded the own-device copy.
async fn send_to_phone(linked: &Linked, phone: &str, text: &str) -> (MessageId, EncType) {
    let mut events: broadcast::Receiver<SimEvent> = linked.sim.subscribe();
    let sent = linked
        .gateway
        .send_text(&linked.id, user(phone), text)
        .await
        .expect("acknowledged");
    assert!(sent.server_t.is_some(), "the ack's t");
    let (mut kind, mut peer, mut own) = (None, false, false);
    let mut pick = |e: &SimEvent| {
        match e {
            SimEvent::Stanza { node, .. }
                if node.tag == "message" && node.attr_str("id") == Some(sent.id.as_str()) =>
            {
                let stanza = MessageStanza::from_node(node).expect("parses");
                let enc = stanza.participants.iter().find(|p| p.jid == user(phone));
                kind = enc.map(|p| p.enc.kind);
            }
            SimEvent::PhoneReceived { phone: p, id } if id == sent.id.as_str() => {
                peer |= p.as_str() == phone;
                own |= p.as_str() == A;
            }
            _ => {}
        }
        (peer && own).then_some(())
    };
    wait_for(&mut events, DEADLINE, "both phones decrypt it", &mut pick)
        .await
        .expect("delivered to the phone, and the own-device copy to our own phone");
    (sent.id, kind.expect("the sim saw the stanza first"))
}

async fn status(linked: &mut Linked, id: &MessageId) -> MessageStatus {
    wait_for(&mut linked.events, DEADLINE, "a status", |e| match e {
        EventKind::MessageStatus { id: i, status } if i == id => Some(*status),
        _ => None,
    })
    .await
    .expect("status")
}

/// The phone texts the linked account: one `EventKind::Message` with its text and number.
async fn phone_answers(linked: &mut Linked) -> MessageId {
    let answer = linked
        .sim
        .phone_send(B, A, "hello gateway")
        .expect("phone sends");
    let m = wait_for(
        &mut linked.events,
        DEADLINE,
        "the phone's text",
        |e| match e {
            EventKind::Message(m) => Some(m.clone()),
            _ => None,
        },
    )
    .await
    .expect("received");
    assert_eq!(m.id, answer);
    assert!(matches!(&m.content, Content::Text(t) if t.text == "hello gateway"));
    assert_eq!(m.sender.phone, Some(user(B)));
    assert_eq!(m.chat, user(B));

    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_with_a_sim_phone_both_ways() {
    let sim = start_sim(&[A, B]).await;
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(MemStore::new());
    let a = new_account(store.as_ref(), 61);
    let config = client_config(&sim);
    let mut linked = Linked::link(sim, A, store, config, a).await;

    let (first, kind) = send_to_phone(&linked, B, "hello phone").await;
    assert_eq!(kind, EncType::PkMsg, "a new session starts with a pkmsg");
    let inbox = linked.sim.phone_messages(B).expect("inbox");
    let got = inbox
        .iter()
        .find(|m| m.id == first.as_str())
        .expect("recorded");
    assert_eq!(
        (got.from.as_str(), got.kind.as_str(), got.text.as_str()),
        (A, "text", "hello phone")
    );
    // The own-device copy (DeviceSentMessage) decrypts on A's own phone, naming the chat.
    let own = linked.sim.phone_messages(A).expect("inbox");
    assert!(own
        .iter()
        .any(|m| m.id == first.as_str() && m.chat.starts_with(B)));
    // The status: Sent by the ack, Delivered by the phone's receipt, Read once it reads.
    assert!(matches!(
        status(&mut linked, &first).await,
        MessageStatus::Sent { server_t: Some(_) }
    ));
    assert!(matches!(
        status(&mut linked, &first).await,
        MessageStatus::Delivered { .. }
    ));
    linked
        .sim
        .phone_read(B, A, &[first.as_str().to_owned()])
        .expect("the phone reads it");
    assert!(matches!(
        status(&mut linked, &first).await,
        MessageStatus::Read { .. }
    ));
    assert!(matches!(
        linked
            .gateway
            .message_status(&a, &first)
            .await
            .expect("status"),
        MessageStatus::Read { .. }
    ));

    let answer = phone_answers(&mut linked).await;

    // The session is confirmed both ways: the next send to the phone is a msg.
    let (_, kind) = send_to_phone(&linked, B, "second").await;
    assert_eq!(kind, EncType::Msg);
    // Reported exactly once: no second Message event for the answer, nothing pending.
    let again = wait_for(
        &mut linked.events,
        std::time::Duration::from_millis(300),
        "a duplicate",
        |e| matches!(e, EventKind::Message(m) if m.id == answer).then_some(()),
    )
    .await;
    assert!(again.is_err(), "reported twice");
    assert!(linked
        .store
        .pending_reports(&a, 10)
        .expect("store")
        .is_empty());
}

//! Malformed or undecryptable stanzas from the server (`messaging.md` §10, §11; issue 10's
//! "bad input" proof), injected into the linked account's live connection by the sim: each is
//! answered (a nack with a code, or an ack and a retry receipt), and the connection stays up:
//! a text sent afterwards is received on the same connection.

use std::sync::Arc;

use wa_client::EventKind;
use wa_protocol::binary::Node;
use wa_protocol::stanza::{AckClass, Receipt, ReceiptType, StanzaAck};
use wa_sim::SimEvent;
use wa_store::{MemStore, Store};
use wa_testkit::{client_config, new_account, start_sim, wait_for, Linked, DEADLINE};

const A: &str = "15550112001";
const B: &str = "15550112002";

fn from_b() -> String {
    format!("{B}@s.whatsapp.net")
}

fn message(id: &str) -> Node {
    Node::new("message")
        .with_attr("id", id)
        .with_attr("from", from_b())
        .with_attr("type", "text")
        .with_attr("t", "1800000000")
}

/// Injects `node` into the account's connection and returns the first stanza the gateway
/// sends back that `pick` accepts.
async fn answer<T>(
    linked: &Linked,
    node: Node,
    what: &str,
    pick: impl FnMut(&SimEvent) -> Option<T>,
) -> T {
    let mut events = linked.sim.subscribe();
    assert!(linked.sim.send(linked.conn, node), "injected");
    wait_for(&mut events, DEADLINE, what, pick)
        .await
        .expect("answered")
}

/// The gateway's `<ack>` for stanza `id`.
fn ack_for(id: &'static str) -> impl FnMut(&SimEvent) -> Option<StanzaAck> {
    move |e| match e {
        SimEvent::Stanza { node, .. } if node.tag == "ack" && node.attr_str("id") == Some(id) => {
            Some(StanzaAck::from_node(node).expect("a typed ack"))
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_stanzas_are_answered_and_the_connection_stays() {
    let sim = start_sim(&[A, B]).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let a = new_account(store.as_ref(), 121);
    let config = client_config(&sim);
    let mut linked = Linked::link(sim, A, store, config, a).await;

    // A message without any <enc>: nacked with a code.
    let ack = answer(
        &linked,
        message("3EB0BAD00001"),
        "a nack",
        ack_for("3EB0BAD00001"),
    )
    .await;
    assert_eq!(ack.class, AckClass::Message);
    assert!(ack.error.is_some(), "a nack: {ack:?}");

    // An <enc> of an unknown type: nacked.
    let odd = message("3EB0BAD00002").with_children(vec![Node::new("enc")
        .with_attr("v", "2")
        .with_attr("type", "weird")]);
    let ack = answer(&linked, odd, "a nack", ack_for("3EB0BAD00002")).await;
    assert!(ack.error.is_some(), "a nack: {ack:?}");

    // Garbage where a Signal message should be: acked, and a retry receipt asks again.
    let mut garbage = Node::new("enc")
        .with_attr("v", "2")
        .with_attr("type", "msg");
    garbage.content = Some(wa_protocol::binary::Content::Bytes(vec![0x33; 48]));
    let undecryptable = message("3EB0BAD00003").with_children(vec![garbage]);
    let retry = answer(&linked, undecryptable, "a retry receipt", |e| match e {
        SimEvent::Stanza { node, .. }
            if node.tag == "receipt" && node.attr_str("id") == Some("3EB0BAD00003") =>
        {
            Some(Receipt::from_node(node).expect("a typed receipt"))
        }
        _ => None,
    })
    .await;
    assert_eq!(retry.kind, ReceiptType::Retry);
    assert_eq!(retry.retry.as_ref().map(|r| r.count), Some(1));

    // A retry receipt without its <retry> part, and one without an id: the first is nacked.
    let receipt = Node::new("receipt")
        .with_attr("id", "3EB0BAD00004")
        .with_attr("from", from_b())
        .with_attr("type", "retry");
    let ack = answer(&linked, receipt, "a receipt nack", ack_for("3EB0BAD00004")).await;
    assert_eq!(ack.class, AckClass::Receipt);
    assert!(ack.error.is_some(), "a nack: {ack:?}");
    assert!(linked.sim.send(
        linked.conn,
        Node::new("receipt").with_attr("from", from_b())
    ));

    notification_then_text(&mut linked).await;
}

/// A devices notification whose device has no jid, then a text that must still arrive.
async fn notification_then_text(linked: &mut Linked) {
    // A devices notification whose device has no jid: acked, nothing else.
    let notification = Node::new("notification")
        .with_attr("id", "3EB0BAD00005")
        .with_attr("from", from_b())
        .with_attr("type", "devices")
        .with_children(vec![
            Node::new("add").with_children(vec![Node::new("device")])
        ]);
    let ack = answer(
        linked,
        notification,
        "a notification ack",
        ack_for("3EB0BAD00005"),
    )
    .await;
    assert_eq!(ack.class, AckClass::Notification);

    // Still connected: the phone's text arrives, with no disconnect before it.
    let id = linked.sim.phone_send(B, A, "still here").expect("sends");
    wait_for(&mut linked.events, DEADLINE, "the text", |e| match e {
        EventKind::Message(m) if m.id == id => Some(()),
        EventKind::Disconnected { cause, .. } => panic!("the connection dropped: {cause:?}"),
        _ => None,
    })
    .await
    .expect("received on the same connection");
}

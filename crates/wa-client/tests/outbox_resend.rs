//! An outbox entry committed but never acknowledged is sent again after the next login (issue
//! 10 item 8): the sim swallows the message (no route, no ack) and the connection drops; the
//! send fails as `Unconfirmed` (outcome unknown, never "sent"); after the reconnect the gateway
//! encrypts the stored message again (a new ratchet step, so a new ciphertext) and sends it
//! under the same id; the phone decrypts it once and the status moves to Sent.

mod support;

use support::{inbox_entry, linked, next_status, send_to_phone, swallowed, user};
use wa_client::Error;
use wa_protocol::message::Content;
use wa_protocol::stanza::MessageStanza;
use wa_sim::SimEvent;
use wa_store::MessageStatus;
use wa_testkit::{wait_for, DEADLINE};

const A: &str = "15550110001";
const B: &str = "15550110002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_send_is_resent_after_the_next_login() {
    let mut linked = linked(&[A, B], 101).await;
    send_to_phone(&linked, user(B), B, Content::text("one"), None).await;

    let mut events = linked.sim.subscribe();
    let send = linked.gateway.send_text(&linked.id, user(B), "in flight");
    let (outcome, first) = swallowed(&linked, &mut events, A, B, send).await;
    assert!(
        matches!(&outcome, Err(Error::Unconfirmed(i)) if i == first.id.as_str()),
        "{outcome:?}"
    );

    // After the reconnect: the same id again, a new ciphertext, decrypted once by the phone.
    let mut again = None;
    wait_for(&mut events, DEADLINE, "the resend decrypted", |e| match e {
        SimEvent::Stanza { node, .. }
            if node.tag == "message" && node.attr_str("id") == Some(first.id.as_str()) =>
        {
            again = Some(MessageStanza::from_node(node).expect("parses"));
            None
        }
        SimEvent::PhoneReceived { phone, id }
            if phone.as_str() == B && *id == first.id.as_str() =>
        {
            Some(())
        }
        _ => None,
    })
    .await
    .expect("resent and decrypted");
    let again = again.expect("the sim saw the resend first");
    let enc_for_phone = |m: &MessageStanza| {
        m.participants
            .iter()
            .find(|p| p.jid == user(B))
            .map(|p| p.enc.ciphertext.clone())
            .expect("the phone's enc")
    };
    assert_ne!(
        enc_for_phone(&first),
        enc_for_phone(&again),
        "a new message key"
    );
    assert_eq!(
        inbox_entry(&linked, B, &first.id),
        ("text".into(), "in flight".into())
    );
    let copies = linked
        .sim
        .phone_messages(B)
        .expect("inbox")
        .iter()
        .filter(|m| m.id == first.id.as_str())
        .count();
    assert_eq!(copies, 1);
    assert!(matches!(
        next_status(&mut linked, &first.id).await,
        MessageStatus::Sent { server_t: Some(_) }
    ));
    let counters = linked.sim.counters();
    assert_eq!(
        counters.get("route:dropped").copied(),
        Some(1),
        "{counters:?}"
    );
}

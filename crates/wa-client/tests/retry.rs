//! Retry receipts answered over real sockets (`messaging.md` §11, issue 10 item 6): the sim
//! phone loses its session with the gateway, cannot decrypt the next message and answers it
//! with a retry receipt carrying `<keys>`; the gateway builds a new session from those keys,
//! encrypts the stored message again for that device only and resends it under the same id
//! (one direct `<enc count="1">`, `device_fanout="false"`); the phone decrypts it, once.

mod support;

use support::{inbox_entry, linked, next_status, send_to_phone, user};
use wa_client::EventKind;
use wa_protocol::message::Content;
use wa_protocol::stanza::{EncType, MessageStanza};
use wa_sim::SimEvent;
use wa_store::MessageStatus;
use wa_testkit::{wait_for, DEADLINE};

const A: &str = "15550109001";
const B: &str = "15550109002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_phone_cannot_decrypt_is_recovered_by_its_retry_receipt() {
    let mut linked = linked(&[A, B], 91).await;
    // A session both ways: the gateway's pkmsg, the phone's answer.
    send_to_phone(&linked, user(B), B, Content::text("one"), None).await;
    linked.sim.phone_send(B, A, "two").expect("phone sends");
    wait_for(&mut linked.events, DEADLINE, "the phone's text", |e| {
        matches!(e, EventKind::Message(_)).then_some(())
    })
    .await
    .expect("received");

    let lost = linked.sim.phone_forget_sessions(B).expect("phone");
    assert!(lost >= 1);
    let mut events = linked.sim.subscribe();
    let (sent, first) =
        send_to_phone(&linked, user(B), B, Content::text("after the loss"), None).await;
    let first = MessageStanza::from_node(&first).expect("parses");
    let to_phone = first
        .participants
        .iter()
        .find(|p| p.jid == user(B))
        .expect("the phone's enc");
    assert_eq!(to_phone.enc.kind, EncType::Msg, "sent on the old session");

    // The phone's retry receipt reached the gateway, which resent the message.
    let resend = wait_for(&mut events, DEADLINE, "the resend", |e| match e {
        SimEvent::Stanza { node, .. }
            if node.tag == "message"
                && node.attr_str("id") == Some(sent.id.as_str())
                && node.child("participants").is_none() =>
        {
            Some(MessageStanza::from_node(node).expect("parses"))
        }
        _ => None,
    })
    .await
    .expect("resent");
    assert_eq!(resend.to, Some(user(B)), "to the requesting device only");
    assert_eq!(resend.device_fanout, Some(false));
    let [enc] = resend.encs.as_slice() else {
        panic!("one direct enc: {resend:?}");
    };
    assert_eq!(enc.count, Some(1));
    assert_eq!(
        enc.kind,
        EncType::PkMsg,
        "a new session from the receipt's keys"
    );
    assert!(resend.device_identity.is_some());

    // Decrypted once, under the same id.
    assert_eq!(
        inbox_entry(&linked, B, &sent.id),
        ("text".into(), "after the loss".into())
    );
    let copies = linked
        .sim
        .phone_messages(B)
        .expect("inbox")
        .iter()
        .filter(|m| m.id == sent.id.as_str())
        .count();
    assert_eq!(copies, 1);
    let counters = linked.sim.counters();
    assert_eq!(
        counters.get("phone:undecryptable").copied(),
        Some(1),
        "{counters:?}"
    );
    // The status still moves: Sent by the first ack, Delivered by the phone's receipt.
    assert!(matches!(
        next_status(&mut linked, &sent.id).await,
        MessageStatus::Sent { .. }
    ));
    assert!(matches!(
        next_status(&mut linked, &sent.id).await,
        MessageStatus::Delivered { .. }
    ));
}

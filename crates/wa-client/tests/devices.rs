//! Device lists follow the peer's devices (`messaging.md` §4): the gateway caches a contact's
//! list; when the contact's phone links a companion (here a second gateway account scanning
//! its QR) or unlinks one, the server's `<notification type="devices">` drops the cached list,
//! and the next send addresses the new device set, as the signed key-index list vouches for it.

use std::collections::BTreeSet;
use std::sync::Arc;

use wa_client::EventKind;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::stanza::MessageStanza;
use wa_sim::SimEvent;
use wa_store::{MemStore, Store};
use wa_testkit::{
    client_config, new_account, start_sim, wait_for, AccountEvents, Linked, DEADLINE,
};

const A: &str = "15550111001";
const B: &str = "15550111002";

/// A sends `text` to B; the devices of B its stanza addressed.
async fn send_to_b(linked: &Linked, text: &str) -> BTreeSet<u16> {
    let mut sim_events = linked.sim.subscribe();
    let sent = linked
        .gateway
        .send_text(&linked.id, Jid::user(B, Server::WhatsApp), text)
        .await
        .expect("acknowledged");
    wait_for(&mut sim_events, DEADLINE, "the stanza", |e| match e {
        SimEvent::Stanza { node, .. }
            if node.tag == "message" && node.attr_str("id") == Some(sent.id.as_str()) =>
        {
            let stanza = MessageStanza::from_node(node).expect("parses");
            Some(
                stanza
                    .participants
                    .iter()
                    .filter(|p| p.jid.user_part() == B)
                    .map(|p| p.jid.device_id())
                    .collect(),
            )
        }
        _ => None,
    })
    .await
    .expect("the sim saw it")
}

/// Waits for A's devices notification about B (announced after the cache is dropped).
async fn devices_notified(linked: &mut Linked) {
    wait_for(
        &mut linked.events,
        DEADLINE,
        "a devices notification",
        |e| match e {
            EventKind::Stanza(node)
                if node.tag == "notification"
                    && node.attr_str("type") == Some("devices")
                    && node.attr_jid("from").map(Jid::user_part) == Some(B) =>
            {
                Some(())
            }
            _ => None,
        },
    )
    .await
    .expect("notified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_follow_linked_and_unlinked_devices() {
    let sim = start_sim(&[A, B]).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let a = new_account(store.as_ref(), 111);
    let b2 = new_account(store.as_ref(), 112);
    let config = client_config(&sim);
    let mut linked = Linked::link(sim, A, Arc::clone(&store), config, a).await;
    assert_eq!(send_to_b(&linked, "before").await, BTreeSet::from([0]));

    // B's phone links a companion: a second gateway account scans B's QR.
    let mut events_b2 = AccountEvents::new(linked.gateway.subscribe(), b2);
    linked.gateway.link_qr(&b2).await.expect("links");
    let qr = wait_for(&mut events_b2, DEADLINE, "a QR", |e| match e {
        EventKind::Qr { code, .. } => Some(code.clone()),
        _ => None,
    })
    .await
    .expect("QR");
    let companion = linked.sim.scan(B, &qr).expect("B scans");
    let device = companion.device_id();
    wait_for(&mut events_b2, DEADLINE, "B's companion online", |e| {
        matches!(e, EventKind::Connected { .. }).then_some(())
    })
    .await
    .expect("connected");
    devices_notified(&mut linked).await;

    assert_eq!(
        send_to_b(&linked, "after link").await,
        BTreeSet::from([0, device]),
        "the new companion is addressed"
    );
    wait_for(
        &mut events_b2,
        DEADLINE,
        "the companion decrypts",
        |e| match e {
            EventKind::Message(m) => Some(m.chat.user_part() == A),
            _ => None,
        },
    )
    .await
    .expect("received");

    // B's phone unlinks it.
    linked
        .sim
        .remove_device(B, u8::try_from(device).expect("device number"))
        .expect("unlinked");
    devices_notified(&mut linked).await;
    assert_eq!(
        send_to_b(&linked, "after unlink").await,
        BTreeSet::from([0]),
        "the unlinked companion is not"
    );
}

//! Helpers shared by the send-side tests (`send_kinds.rs`, `privacy_tokens.rs`, `retry.rs`,
//! `lid_account.rs`): a gateway account linked to one sim phone (LID-migrated or not), sends
//! whose arrival on a phone is awaited, and status events.

#![allow(dead_code, reason = "each test file uses a part of these helpers")]

pub mod group;

use std::sync::Arc;

use wa_client::{EventKind, SendOptions, SentMessage};
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::message::Content;
use wa_protocol::stanza::{ChatStateKind, MessageStanza};
use wa_protocol::MessageId;
use wa_sim::{Faults, SimEvent, SwitchesUpdate};
use wa_store::{MemStore, MessageStatus, Store};
use wa_testkit::{client_config, new_account, start_sim, wait_for, Linked, DEADLINE};

/// The user JID of a phone number.
pub fn user(phone: &str) -> Jid {
    Jid::user(phone, Server::WhatsApp)
}

/// A sim with `phones`, the first linked to a gateway account (in-memory store, `seed`).
pub async fn linked(phones: &[&str], seed: u64) -> Linked {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    linked_with(phones, seed, store, false).await
}

/// A sim with `phones`, the first linked to a gateway account in `store` (`seed`); with
/// `lid_migrated`, that account is switched to LID-migrated before it links, so the sim's
/// pair-success tells the gateway so (`<client-props>`, `login-pairing.md` §4.4).
pub async fn linked_with(
    phones: &[&str],
    seed: u64,
    store: Arc<dyn Store>,
    lid_migrated: bool,
) -> Linked {
    let sim = start_sim(phones).await;
    if lid_migrated {
        let update = SwitchesUpdate {
            lid_migrated: Some(true),
            ..SwitchesUpdate::default()
        };
        let phone = phones[0].parse().expect("a phone number");
        sim.update_account(&phone, update).expect("switched");
    }
    let id = new_account(store.as_ref(), seed);
    let config = client_config(&sim);
    Linked::link(sim, phones[0], store, config, id).await
}

/// Sends `content` to `phone` (with `id`, if given) and waits until that phone recorded it;
/// returns the send and the (first) stanza the sim received.
pub async fn send_to_phone(
    linked: &Linked,
    to: Jid,
    phone: &str,
    content: Content,
    id: Option<MessageId>,
) -> (SentMessage, Node) {
    send_seen_by(linked, to, &[phone], content, id).await
}

/// Sends `content` to `to` (with `id`, if given) and waits until each of `phones` recorded it
/// (the chat's phone; our own phone for the own-device copy); returns the send and the
/// (first) stanza the sim received.
pub async fn send_seen_by(
    linked: &Linked,
    to: Jid,
    phones: &[&str],
    content: Content,
    id: Option<MessageId>,
) -> (SentMessage, Node) {
    let mut events = linked.sim.subscribe();
    let sent = linked
        .gateway
        .send(&linked.id, to, content, SendOptions { id })
        .await
        .expect("acknowledged");
    assert!(sent.server_t.is_some(), "the ack's t");
    let mut node = None;
    let mut waiting: Vec<&str> = phones.to_vec();
    let mut pick = |e: &SimEvent| {
        match e {
            SimEvent::Stanza { node: n, .. }
                if n.tag == "message"
                    && n.attr_str("id") == Some(sent.id.as_str())
                    && node.is_none() =>
            {
                node = Some(n.clone());
            }
            SimEvent::PhoneReceived { phone: p, id } if id == sent.id.as_str() => {
                waiting.retain(|w| *w != p.as_str());
            }
            _ => {}
        }
        waiting.is_empty().then_some(())
    };
    wait_for(&mut events, DEADLINE, "the phone decrypts it", &mut pick)
        .await
        .expect("the phone decrypts it");
    (sent, node.expect("the sim saw the stanza first"))
}

/// The next status announced for `id`.
pub async fn next_status(linked: &mut Linked, id: &MessageId) -> MessageStatus {
    wait_for(&mut linked.events, DEADLINE, "a status", |e| match e {
        EventKind::MessageStatus { id: i, status } if i == id => Some(*status),
        _ => None,
    })
    .await
    .expect("status")
}

/// The phone's inbox entry for `id`: (kind, text).
pub fn inbox_entry(linked: &Linked, phone: &str, id: &MessageId) -> (String, String) {
    let inbox = linked.sim.phone_messages(phone).expect("inbox");
    let m = inbox
        .iter()
        .find(|m| m.id == id.as_str())
        .unwrap_or_else(|| panic!("{id} not in {phone}'s inbox"));
    (m.kind.clone(), m.text.clone())
}

/// With the `drop_messages` fault on `own`'s account, runs `send`; once the sim has swallowed the
/// message (the chat state to `peer` sent after it has reached the sim: one connection's stanzas
/// are taken in order), lifts the fault and drops the connection. The send's outcome and the
/// swallowed stanza. `events` must be subscribed before the call.
pub async fn swallowed<T>(
    linked: &Linked,
    events: &mut tokio::sync::broadcast::Receiver<SimEvent>,
    own: &str,
    peer: &str,
    send: impl std::future::Future<Output = T>,
) -> (T, MessageStanza) {
    let swallow = Faults {
        drop_messages: true,
        ..Faults::default()
    };
    linked.sim.set_faults(own, swallow).expect("faults");
    let drop_it = async {
        let first = wait_for(
            &mut *events,
            DEADLINE,
            "the swallowed message",
            |e| match e {
                SimEvent::Stanza { node, .. } if node.tag == "message" => {
                    Some(MessageStanza::from_node(node).expect("parses"))
                }
                _ => None,
            },
        )
        .await
        .expect("the message reached the sim");
        linked
            .gateway
            .send_chat_state(&linked.id, user(peer), ChatStateKind::Paused)
            .await
            .expect("chat state");
        wait_for(&mut *events, DEADLINE, "the chat state", |e| match e {
            SimEvent::Stanza { node, .. } if node.tag == "chatstate" => Some(()),
            _ => None,
        })
        .await
        .expect("the sim took the chat state");
        linked
            .sim
            .set_faults(own, Faults::default())
            .expect("faults");
        assert!(linked.sim.drop_connection(linked.conn));
        first
    };
    tokio::join!(send, drop_it)
}

//! Group helpers shared by the group tests (`groups.rs`, `group_recovery.rs`): create a group,
//! send to it and wait for every phone, a phone's group message as the gateway reports it, our
//! sender key as the store holds it.

use wa_client::{EventKind, ParticipantRole, ReceivedText, SendOptions};
use wa_protocol::binary::{Jid, Node};
use wa_protocol::message::Content;
use wa_protocol::signal::SenderKeyRecord;
use wa_protocol::stanza::MessageStanza;
use wa_protocol::MessageId;
use wa_sim::SimEvent;
use wa_testkit::{wait_for, Linked, DEADLINE};

use super::user;

/// Sends `text` to `group`, waits until each of `phones` decrypted it; the stanza the sim got.
pub async fn send_to_group(
    linked: &Linked,
    group: &Jid,
    text: &str,
    phones: &[&str],
) -> MessageStanza {
    let mut events = linked.sim.subscribe();
    let sent = linked
        .gateway
        .send(
            &linked.id,
            group.clone(),
            Content::text(text),
            SendOptions::default(),
        )
        .await
        .expect("the server accepts the group message");
    let mut node: Option<Node> = None;
    let mut waiting: Vec<&str> = phones.to_vec();
    wait_for(&mut events, DEADLINE, "every phone decrypts it", |e| {
        match e {
            SimEvent::Stanza { node: n, .. }
                if n.tag == "message" && n.attr_str("id") == Some(sent.id.as_str()) =>
            {
                node = Some(n.clone());
            }
            SimEvent::PhoneReceived { phone, id } if id == sent.id.as_str() => {
                waiting.retain(|p| *p != phone.as_str());
            }
            _ => {}
        }
        waiting.is_empty().then_some(())
    })
    .await
    .expect("every phone decrypts it");
    for phone in phones {
        assert_eq!(text_in(linked, phone, &sent.id), text, "{phone}'s copy");
    }
    MessageStanza::from_node(&node.expect("the sim saw the stanza")).expect("parses")
}

pub fn text_in(linked: &Linked, phone: &str, id: &MessageId) -> String {
    let inbox = linked.sim.phone_messages(phone).expect("inbox");
    let m = inbox
        .iter()
        .find(|m| m.id == id.as_str())
        .unwrap_or_else(|| panic!("{id} not in {phone}'s inbox"));
    m.text.clone()
}

/// Our sender-key record for `group` as the store holds it (our device's Signal address is
/// `user:device`, `signal.md` §8).
pub fn own_sender_key(linked: &Linked, group: &Jid) -> SenderKeyRecord {
    let device = linked
        .store
        .device(&linked.id)
        .expect("store")
        .expect("linked");
    let own = device.jid.expect("own jid");
    let address = format!("{}:{}", own.user_part(), own.device_id());
    let bytes = linked
        .store
        .load_sender_key(&linked.id, &group.to_string(), &address)
        .expect("store")
        .expect("our sender key");
    SenderKeyRecord::from_bytes(&bytes).expect("record")
}

/// The users whose devices got a pairwise `<enc>` (our SKDM) in `stanza`.
pub fn skdm_users(stanza: &MessageStanza) -> Vec<String> {
    let mut users: Vec<String> = stanza
        .participants
        .iter()
        .map(|p| p.jid.user_part().to_owned())
        .collect();
    users.sort();
    users.dedup();
    users
}

/// `phone` writes `text` to `group`; the message as the gateway reports it.
pub async fn from_phone(linked: &mut Linked, phone: &str, group: &Jid, text: &str) -> ReceivedText {
    let id = linked
        .sim
        .phone_send(phone, &group.to_string(), text)
        .expect("phone sends");
    let message = wait_for(
        &mut linked.events,
        DEADLINE,
        "the group message",
        |e| match e {
            EventKind::Message(m) if m.id == id => Some(m.clone()),
            _ => None,
        },
    )
    .await
    .expect("the gateway decrypts the phone's group message");
    assert_eq!(message.chat, *group);
    assert_eq!(message.content, Content::text(text));
    *message
}

/// Creates the group of `members` (and us, the account of phone `owner`) and checks its
/// metadata; its JID.
pub async fn create(linked: &Linked, owner: &str, subject: &str, members: &[&str]) -> Jid {
    let users = members.iter().map(|p| user(p)).collect();
    let info = linked
        .gateway
        .create_group(&linked.id, subject, users)
        .await
        .expect("group created");
    assert!(info.jid.is_group());
    assert_eq!(info.subject, subject);
    let role = |phone: &str| info.participant(&user(phone)).map(|p| p.role);
    assert_eq!(role(owner), Some(ParticipantRole::SuperAdmin));
    for m in members {
        assert_eq!(role(m), Some(ParticipantRole::Member));
    }
    let fetched = linked
        .gateway
        .group_info(&linked.id, &info.jid)
        .await
        .expect("metadata");
    assert_eq!(fetched.participants.len(), members.len() + 1);
    info.jid
}

/// Whether `node` is a `w:g2` metadata query (`<iq xmlns="w:g2" type="get"><query/></iq>`,
/// `messaging.md` §9 step 1).
pub fn is_metadata_query(node: &Node) -> bool {
    node.tag == "iq"
        && node.attr_str("xmlns") == Some("w:g2")
        && node.attr_str("type") == Some("get")
        && node.children().iter().any(|c| c.tag == "query")
}

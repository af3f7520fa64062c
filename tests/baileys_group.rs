//! A group of wagate, Baileys 7.0.0-rc14 and a sim phone through wa-sim (issue 10, "Proof"):
//! the gateway creates it; each member writes to it and the two others decrypt (sender keys:
//! SKDM pairwise, then `skmsg`). Then the gateway removes the phone; the gateway and Baileys
//! write again (the gateway's sender key is rotated after the removal) and decrypt each other,
//! and the removed phone gets neither.

mod baileys_pair;

use serde_json::json;
use wa_client::{ParticipantAction, SendOptions};
use wa_protocol::binary::Jid;
use wa_protocol::message::Content;
use wa_sim::SimEvent;
use wa_testkit::wait_for;

use baileys_pair::{connect_both, user, Pair, DEADLINE};

const GATEWAY: &str = "15550108401";
const BAILEYS: &str = "15550108402";
const PHONE: &str = "15550108403";

/// The gateway writes `text` to `group`: Baileys reports it (in the group) and sends a
/// receipt for it; the phone decrypts it when `phone_member`, else it never gets it.
async fn from_gateway(pair: &mut Pair, group: &Jid, text: &str, phone_member: bool) {
    let sent = pair
        .linked
        .gateway
        .send(
            &pair.linked.id,
            group.clone(),
            Content::text(text),
            SendOptions::default(),
        )
        .await
        .expect("the server accepts the group message");
    let id = sent.id.as_str().to_owned();
    pair.baileys_seen
        .until(&mut pair.baileys, "the gateway's group message", |s| {
            s.messages.contains_key(&id)
        })
        .await;
    let line = &pair.baileys_seen.messages[&id][0];
    assert_eq!(
        line["remoteJid"].as_str(),
        Some(group.to_string().as_str()),
        "{line}"
    );
    assert_eq!(
        (line["kind"].as_str(), line["text"].as_str()),
        (Some("text"), Some(text))
    );
    let (conn, mut receipt, mut at_phone) = (pair.baileys_conn, false, false);
    let what = "Baileys' receipt (and the phone's copy)";
    wait_for(&mut pair.sim_events, DEADLINE, what, |e| {
        match e {
            SimEvent::Stanza { conn: c, node } if *c == conn && node.tag == "receipt" => {
                receipt |= node.attr_str("id") == Some(id.as_str());
            }
            SimEvent::PhoneReceived { phone, id: i } if phone.as_str() == PHONE => {
                at_phone |= *i == id;
            }
            _ => {}
        }
        (receipt && (at_phone || !phone_member)).then_some(())
    })
    .await
    .expect("Baileys sends a receipt, and a member phone decrypts the message");
    assert_eq!(
        in_phone_inbox(pair, &id),
        phone_member,
        "{text} at the phone"
    );
}

/// Baileys writes `text` to `group`: the gateway reports it (chat the group, sender Baileys'
/// number); the phone decrypts it when `phone_member`.
async fn from_baileys(pair: &mut Pair, group: &Jid, text: &str, r: u64, phone_member: bool) {
    let cmd = json!({"cmd": "send", "to": group.to_string(), "text": text, "ref": r});
    pair.baileys
        .send(&cmd)
        .await
        .expect("Baileys reads commands");
    pair.baileys_seen
        .until(&mut pair.baileys, "Baileys' group send", |s| {
            s.sent.contains_key(&r)
        })
        .await;
    let id = pair.baileys_seen.sent[&r].clone();
    pair.gateway
        .until(&mut pair.linked.events, "Baileys' group message", |s| {
            s.received.contains_key(&id)
        })
        .await;
    let m = &pair.gateway.received[&id][0];
    assert_eq!(
        (&m.chat, &m.sender.phone),
        (group, &Some(user(BAILEYS))),
        "{m:?}"
    );
    assert_eq!(m.content, Content::text(text));
    if phone_member {
        wait_for(
            &mut pair.sim_events,
            DEADLINE,
            "the phone decrypts it",
            |e| match e {
                SimEvent::PhoneReceived { phone, id: i } if phone.as_str() == PHONE && *i == id => {
                    Some(())
                }
                _ => None,
            },
        )
        .await
        .expect("the phone decrypts Baileys' group message");
    }
    assert_eq!(
        in_phone_inbox(pair, &id),
        phone_member,
        "{text} at the phone"
    );
}

/// The phone writes `text` to `group`: the gateway and Baileys both report it.
async fn from_phone(pair: &mut Pair, group: &Jid, text: &str) {
    let id = pair
        .linked
        .sim
        .phone_send(PHONE, &group.to_string(), text)
        .expect("the phone sends")
        .as_str()
        .to_owned();
    pair.gateway
        .until(&mut pair.linked.events, "the phone's group message", |s| {
            s.received.contains_key(&id)
        })
        .await;
    let m = &pair.gateway.received[&id][0];
    assert_eq!(
        (&m.chat, &m.sender.phone),
        (group, &Some(user(PHONE))),
        "{m:?}"
    );
    assert_eq!(m.content, Content::text(text));
    pair.baileys_seen
        .until(
            &mut pair.baileys,
            "the phone's group message at Baileys",
            |s| s.messages.contains_key(&id),
        )
        .await;
    let line = &pair.baileys_seen.messages[&id][0];
    assert_eq!(
        line["remoteJid"].as_str(),
        Some(group.to_string().as_str()),
        "{line}"
    );
    assert_eq!(line["text"].as_str(), Some(text), "{line}");
}

fn in_phone_inbox(pair: &Pair, id: &str) -> bool {
    let inbox = pair.linked.sim.phone_messages(PHONE).expect("inbox");
    inbox.iter().any(|m| m.id == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wagate_baileys_and_a_phone_share_a_group_before_and_after_a_removal() {
    let mut pair = connect_both(GATEWAY, BAILEYS, &[PHONE]).await;
    let (gateway, id) = (&pair.linked.gateway, pair.linked.id);
    let info = gateway
        .create_group(&id, "Trio", vec![user(BAILEYS), user(PHONE)])
        .await
        .expect("the gateway creates the group");
    let group = info.jid;
    from_gateway(&mut pair, &group, "hello from wagate", true).await;
    from_baileys(&mut pair, &group, "hello from Baileys", 1, true).await;
    from_phone(&mut pair, &group, "hello from the phone").await;

    let removed = pair
        .linked
        .gateway
        .update_participants(&id, &group, ParticipantAction::Remove, vec![user(PHONE)])
        .await
        .expect("the gateway removes the phone");
    assert!(removed.iter().all(|p| p.error.is_none()), "{removed:?}");
    from_gateway(&mut pair, &group, "after the removal, wagate", false).await;
    from_baileys(&mut pair, &group, "after the removal, Baileys", 2, false).await;
    let Pair {
        linked, baileys, ..
    } = pair;
    baileys.kill().await;
    linked.sim.shutdown();
}

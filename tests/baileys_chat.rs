//! wagate ↔ Baileys 7.0.0-rc14 through wa-sim (issue 10, "Proof"): a gateway account linked to
//! one sim phone and the real Baileys client linked to another exchange 100 texts each way,
//! pipelined (all sends in flight at once). Every text arrives exactly once on the other side;
//! delivery receipts are seen on both sides (the gateway's `MessageStatus` reaches Delivered
//! and the sim saw Baileys send a receipt for each; Baileys reports `messages.update` status
//! DELIVERY_ACK and the sim saw the gateway send a receipt for each). Then a reaction, an edit
//! and a revoke go each way: the gateway reports Baileys' as typed `Content`, and Baileys
//! reports the gateway's (`Gateway::send`) as its reaction/edit/revoke messages.

mod baileys_pair;

use std::collections::{HashMap, HashSet};

use futures_util::future::join_all;
use serde_json::json;
use tokio::sync::broadcast;
use wa_client::SendOptions;
use wa_protocol::message::{Content, Edit, MessageKey, Reaction, Revoke};
use wa_protocol::stanza::Receipt;
use wa_sim::{ConnId, SimEvent};
use wa_store::MessageStatus;
use wa_testkit::wait_for;

use baileys_pair::{connect_both, user, GatewaySeen, Pair, DEADLINE};

const GATEWAY: &str = "15550108101";
const BAILEYS: &str = "15550108102";
/// Texts each way.
const TEXTS: usize = 100;
/// Baileys' `WAMessageStatus.DELIVERY_ACK` (`proto.WebMessageInfo.Status`).
const DELIVERY_ACK: i64 = 3;

/// Whether the gateway's status of `id` reached Delivered (or Read).
fn delivered(seen: &GatewaySeen, id: &str) -> bool {
    matches!(
        seen.statuses.get(id),
        Some(MessageStatus::Delivered { .. } | MessageStatus::Read { .. })
    )
}

/// The ids of the receipts each connection sent, as the sim saw them arrive.
#[derive(Default)]
struct ReceiptsSeen {
    by_conn: HashMap<ConnId, HashSet<String>>,
}

impl ReceiptsSeen {
    async fn until(
        &mut self,
        events: &mut broadcast::Receiver<SimEvent>,
        what: &str,
        done: impl Fn(&Self) -> bool,
    ) {
        if done(self) {
            return;
        }
        wait_for(events, DEADLINE, what, |e| {
            if let SimEvent::Stanza { conn, node } = e {
                if node.tag == "receipt" {
                    let receipt = Receipt::from_node(node).expect("a client's receipt parses");
                    let ids = self.by_conn.entry(*conn).or_default();
                    ids.extend(receipt.ids().map(|id| id.as_str().to_owned()));
                }
            }
            done(self).then_some(())
        })
        .await
        .unwrap_or_else(|e| panic!("sim: {e}"));
    }

    fn all(&self, conn: ConnId, ids: &[String]) -> bool {
        self.by_conn
            .get(&conn)
            .is_some_and(|seen| ids.iter().all(|id| seen.contains(id)))
    }
}

/// The pair, and the receipts the sim saw.
struct Chat {
    pair: Pair,
    receipts: ReceiptsSeen,
}

/// 100 texts from the gateway, all in flight at once: each acknowledged by the server, each
/// reported once by Baileys with its text, each Delivered on the gateway, and Baileys sent a
/// delivery receipt for each. Returns the ids in send order.
async fn gateway_to_baileys(chat: &mut Chat) -> Vec<String> {
    let (gateway, id) = (&chat.pair.linked.gateway, chat.pair.linked.id);
    let sends = (0..TEXTS).map(|i| gateway.send_text(&id, user(BAILEYS), format!("gw {i}")));
    let ids: Vec<String> = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.expect("the server acknowledges").id.as_str().to_owned())
        .collect();
    let texts: HashMap<&str, String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), format!("gw {i}")))
        .collect();
    chat.pair
        .baileys_seen
        .until(&mut chat.pair.baileys, "the gateway's texts", |s| {
            ids.iter().all(|id| s.messages.contains_key(id))
        })
        .await;
    for id in &ids {
        let line = &chat.pair.baileys_seen.messages[id][0];
        assert_eq!(
            (&line["kind"], &line["fromMe"]),
            (&json!("text"), &json!(false))
        );
        assert_eq!(
            line["text"].as_str(),
            Some(texts[id.as_str()].as_str()),
            "{line}"
        );
    }
    chat.pair
        .gateway
        .until(
            &mut chat.pair.linked.events,
            "Delivered for every text",
            |s| ids.iter().all(|id| delivered(s, id)),
        )
        .await;
    let conn = chat.pair.baileys_conn;
    chat.receipts
        .until(&mut chat.pair.sim_events, "Baileys' receipts", |r| {
            r.all(conn, &ids)
        })
        .await;
    for msg in &ids {
        let status = gateway
            .message_status(&id, &msg.parse().expect("an id"))
            .await
            .expect("a status");
        assert!(matches!(
            status,
            MessageStatus::Delivered { .. } | MessageStatus::Read { .. }
        ));
    }
    ids
}

/// 100 texts from Baileys, all written at once: each reported once by the gateway with its
/// text and Baileys' number, the gateway sent a delivery receipt for each, and Baileys saw
/// DELIVERY_ACK for each. Returns the ids in command order.
async fn baileys_to_gateway(chat: &mut Chat) -> Vec<String> {
    let to = user(GATEWAY).to_string();
    for i in 0..TEXTS {
        let cmd = json!({"cmd": "send", "to": to, "text": format!("baileys {i}"), "ref": i});
        chat.pair
            .baileys
            .send(&cmd)
            .await
            .expect("Baileys reads commands");
    }
    chat.pair
        .baileys_seen
        .until(&mut chat.pair.baileys, "Baileys' sends", |s| {
            (0..TEXTS as u64).all(|r| s.sent.contains_key(&r))
        })
        .await;
    let ids: Vec<String> = (0..TEXTS as u64)
        .map(|r| chat.pair.baileys_seen.sent[&r].clone())
        .collect();
    chat.pair
        .gateway
        .until(&mut chat.pair.linked.events, "Baileys' texts", |s| {
            ids.iter().all(|id| s.received.contains_key(id))
        })
        .await;
    for (i, id) in ids.iter().enumerate() {
        let m = &chat.pair.gateway.received[id][0];
        assert_eq!(m.sender.phone, Some(user(BAILEYS)), "{m:?}");
        match &m.content {
            Content::Text(t) => assert_eq!(t.text, format!("baileys {i}")),
            other => panic!("not a text: {other:?}"),
        }
    }
    let conn = chat.pair.linked.conn;
    chat.receipts
        .until(&mut chat.pair.sim_events, "the gateway's receipts", |r| {
            r.all(conn, &ids)
        })
        .await;
    chat.pair
        .baileys_seen
        .until(&mut chat.pair.baileys, "DELIVERY_ACK for every text", |s| {
            ids.iter()
                .all(|id| s.statuses.get(id).is_some_and(|st| *st >= DELIVERY_ACK))
        })
        .await;
    ids
}

/// Baileys reacts to the gateway's first text, edits its own first text and revokes its
/// second: the gateway reports a `Reaction`, an `Edit` and a `Revoke` naming those ids.
async fn baileys_kinds_to_gateway(chat: &mut Chat, from_gateway: &[String], own: &[String]) {
    let to = user(GATEWAY).to_string();
    let commands = [
        json!({"cmd": "react", "to": to, "target": from_gateway[0], "fromMe": false,
               "emoji": "👍", "ref": 1000}),
        json!({"cmd": "edit", "to": to, "target": own[0], "text": "baileys 0, edited", "ref": 1001}),
        json!({"cmd": "revoke", "to": to, "target": own[1], "ref": 1002}),
    ];
    for cmd in &commands {
        chat.pair
            .baileys
            .send(cmd)
            .await
            .expect("Baileys reads commands");
    }
    chat.pair
        .baileys_seen
        .until(&mut chat.pair.baileys, "the kinds sent", |s| {
            (1000..1003).all(|r| s.sent.contains_key(&r))
        })
        .await;
    let ids: Vec<String> = (1000..1003)
        .map(|r| chat.pair.baileys_seen.sent[&r].clone())
        .collect();
    chat.pair
        .gateway
        .until(
            &mut chat.pair.linked.events,
            "the reaction, edit and revoke",
            |s| ids.iter().all(|id| s.received.contains_key(id)),
        )
        .await;
    let content = |i: usize| chat.pair.gateway.received[&ids[i]][0].content.clone();
    match content(0) {
        Content::Reaction(r) => {
            assert_eq!(
                (r.target.id.as_str(), r.emoji.as_str()),
                (from_gateway[0].as_str(), "👍")
            );
            assert!(
                !r.target.from_me,
                "Baileys reacted to a message it received"
            );
        }
        other => panic!("not a reaction: {other:?}"),
    }
    match content(1) {
        Content::Edit(e) => {
            assert_eq!(e.target.id.as_str(), own[0]);
            assert!(matches!(&*e.content, Content::Text(t) if t.text == "baileys 0, edited"));
        }
        other => panic!("not an edit: {other:?}"),
    }
    match content(2) {
        Content::Revoke(r) => assert_eq!(r.target.id.as_str(), own[1]),
        other => panic!("not a revoke: {other:?}"),
    }
}

/// The gateway reacts to Baileys' first text, edits its own first text and revokes its
/// second (`Gateway::send`): Baileys reports a reaction, an edit and a revoke naming them.
async fn gateway_kinds_to_baileys(chat: &mut Chat, from_baileys: &[String], own: &[String]) {
    let key = |id: &str, from_me: bool| MessageKey {
        remote_jid: user(BAILEYS),
        from_me,
        id: id.parse().expect("an id"),
        participant: None,
    };
    let kinds = [
        Content::Reaction(Reaction {
            target: key(&from_baileys[0], false),
            emoji: "🎉".to_owned(),
            sent_at: None,
        }),
        Content::Edit(Edit {
            target: key(&own[0], true),
            content: Box::new(Content::text("gw 0, edited")),
            edited_at: None,
        }),
        Content::Revoke(Revoke {
            target: key(&own[1], true),
        }),
    ];
    let (gateway, id) = (&chat.pair.linked.gateway, chat.pair.linked.id);
    let mut ids = Vec::new();
    for content in kinds {
        let sent = gateway
            .send(&id, user(BAILEYS), content, SendOptions::default())
            .await
            .expect("the server acknowledges");
        ids.push(sent.id.as_str().to_owned());
    }
    chat.pair
        .baileys_seen
        .until(
            &mut chat.pair.baileys,
            "the gateway's reaction, edit and revoke",
            |s| ids.iter().all(|id| s.messages.contains_key(id)),
        )
        .await;
    let line = |i: usize| chat.pair.baileys_seen.messages[&ids[i]][0].clone();
    let expected = [
        ("reaction", from_baileys[0].as_str(), Some("🎉")),
        ("edit", own[0].as_str(), Some("gw 0, edited")),
        ("revoke", own[1].as_str(), None),
    ];
    for (i, (kind, target, text)) in expected.into_iter().enumerate() {
        let got = line(i);
        assert_eq!(
            (got["kind"].as_str(), got["target"].as_str()),
            (Some(kind), Some(target)),
            "{got}"
        );
        assert_eq!(got["text"].as_str(), text, "{got}");
    }
}

/// Every message arrived exactly once on each side (over everything each side reported).
fn assert_exactly_once(chat: &Chat, to_baileys: &[String], to_gateway: &[String]) {
    for id in to_baileys {
        let n = chat.pair.baileys_seen.messages[id].len();
        assert_eq!(n, 1, "Baileys reported {id} {n} times");
    }
    for id in to_gateway {
        let n = chat.pair.gateway.received[id].len();
        assert_eq!(n, 1, "the gateway reported {id} {n} times");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_and_baileys_chat_through_the_sim() {
    let mut chat = Chat {
        pair: connect_both(GATEWAY, BAILEYS, &[]).await,
        receipts: ReceiptsSeen::default(),
    };
    let to_baileys = gateway_to_baileys(&mut chat).await;
    let to_gateway = baileys_to_gateway(&mut chat).await;
    baileys_kinds_to_gateway(&mut chat, &to_baileys, &to_gateway).await;
    gateway_kinds_to_baileys(&mut chat, &to_gateway, &to_baileys).await;
    assert_exactly_once(&chat, &to_baileys, &to_gateway);
    let Pair {
        linked, baileys, ..
    } = chat.pair;
    baileys.kill().await;
    linked.sim.shutdown();
}

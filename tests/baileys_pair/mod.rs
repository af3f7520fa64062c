//! What the Baileys tests share: a gateway account and the real Baileys client, each linked
//! to its own sim phone's account and connected, and what each side has reported so far.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast;
use wa_client::{ClientConfig, EventKind, ReceivedText};
use wa_protocol::binary::{Jid, Server};
use wa_sim::{ConnId, SimEvent, SimServer};
use wa_store::{MemStore, MessageStatus, Store};
use wa_testkit::{
    client_config, new_account, start_sim, wait_for, AccountEvents, JsonLines, Linked,
};
use wagate_tests::{ensure_npm_packages, node_dir};

/// Every wait: generous for a loaded 2-core machine; a passing run never waits this long.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// The user JID of a phone number.
pub fn user(phone: &str) -> Jid {
    Jid::user(phone, Server::WhatsApp)
}

/// What the gateway account reported: messages by id, the newest status of each sent id.
#[derive(Default)]
pub struct GatewaySeen {
    pub received: HashMap<String, Vec<ReceivedText>>,
    pub statuses: HashMap<String, MessageStatus>,
}

impl GatewaySeen {
    fn note(&mut self, event: &EventKind) {
        match event {
            EventKind::Message(m) => self
                .received
                .entry(m.id.as_str().to_owned())
                .or_default()
                .push((**m).clone()),
            EventKind::MessageStatus { id, status } => {
                self.statuses.insert(id.as_str().to_owned(), *status);
            }
            _ => {}
        }
    }

    /// Waits until `done` holds, noting every event on the way.
    pub async fn until(
        &mut self,
        events: &mut AccountEvents,
        what: &str,
        done: impl Fn(&Self) -> bool,
    ) {
        if done(self) {
            return;
        }
        wait_for(events, DEADLINE, what, |e| {
            self.note(e);
            done(self).then_some(())
        })
        .await
        .unwrap_or_else(|e| panic!("gateway: {e}"));
    }
}

/// What Baileys reported: `message` lines by id, the highest status per id, and the id of
/// each command it sent, by the command's `ref`.
#[derive(Default)]
pub struct BaileysSeen {
    pub messages: HashMap<String, Vec<Value>>,
    pub statuses: HashMap<String, i64>,
    pub sent: HashMap<u64, String>,
}

impl BaileysSeen {
    fn note(&mut self, line: &Value) {
        let id = line["id"].as_str().map(str::to_owned);
        match (line["event"].as_str(), id) {
            (Some("message"), Some(id)) => self.messages.entry(id).or_default().push(line.clone()),
            (Some("messages.update"), Some(id)) => {
                if let Some(status) = line["status"].as_i64() {
                    let best = self.statuses.entry(id).or_insert(status);
                    *best = (*best).max(status);
                }
            }
            (Some("sent"), Some(id)) => {
                if let Some(r) = line["ref"].as_u64() {
                    self.sent.insert(r, id);
                }
            }
            (Some("send-error"), _) => panic!("Baileys could not send: {line}"),
            _ => {}
        }
    }

    /// Waits until `done` holds, noting every line on the way.
    pub async fn until(
        &mut self,
        baileys: &mut JsonLines,
        what: &str,
        done: impl Fn(&Self) -> bool,
    ) {
        if done(self) {
            return;
        }
        baileys
            .wait_for(DEADLINE, what, |v| {
                self.note(v);
                done(self)
            })
            .await
            .unwrap_or_else(|e| panic!("Baileys: {e}"));
    }
}

/// Both clients linked and connected, with what each has reported so far.
pub struct Pair {
    /// The gateway account and the sim.
    pub linked: Linked,
    /// What the gateway reported.
    pub gateway: GatewaySeen,
    /// The Baileys process.
    pub baileys: JsonLines,
    /// What Baileys reported.
    pub baileys_seen: BaileysSeen,
    /// Baileys' connection on the sim.
    pub baileys_conn: ConnId,
    /// The sim's events since just after the gateway linked.
    pub sim_events: broadcast::Receiver<SimEvent>,
}

/// Links the gateway account (the sim's phone scans its QR), then starts Baileys and links it
/// to the other phone's account the same way.
pub async fn connect_both(gateway_phone: &str, baileys_phone: &str, others: &[&str]) -> Pair {
    connect_both_with(gateway_phone, baileys_phone, others, |_, _| Vec::new()).await
}

/// [`connect_both`], with `setup` adjusting the gateway's config for the sim and returning
/// extra environment variables for the Baileys process.
pub async fn connect_both_with(
    gateway_phone: &str,
    baileys_phone: &str,
    others: &[&str],
    setup: impl FnOnce(&SimServer, &mut ClientConfig) -> Vec<(&'static str, String)>,
) -> Pair {
    let dir = node_dir();
    ensure_npm_packages(&dir);
    let phones: Vec<&str> = [gateway_phone, baileys_phone]
        .iter()
        .chain(others)
        .copied()
        .collect();
    let sim = start_sim(&phones).await;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), 81);
    let mut config = client_config(&sim);
    let mut env = setup(&sim, &mut config);
    let linked = Linked::link(sim, gateway_phone, store, config, id).await;
    let mut sim_events = linked.sim.subscribe();
    env.extend([
        ("WA_SIM_URL", linked.sim.url()),
        (
            "WA_SIM_ROOT_KEY",
            hex::encode(linked.sim.root_key().as_bytes()),
        ),
        ("WA_RECONNECT_ON_RESTART", "1".to_owned()),
    ]);
    let mut baileys = JsonLines::spawn_node(&dir, "baileys_client.mjs", &env).expect("node runs");
    let qr = baileys
        .wait_for(DEADLINE, "a QR code", |v| {
            v["event"] == "connection.update" && v["qr"].is_string()
        })
        .await
        .expect("Baileys shows a QR");
    let jid = linked
        .sim
        .scan(baileys_phone, qr["qr"].as_str().expect("qr"))
        .expect("the phone scans Baileys' QR");
    let baileys_conn = wait_for(&mut sim_events, DEADLINE, "Baileys' login", |e| match e {
        SimEvent::LoggedIn { conn, jid: j } if *j == jid => Some(*conn),
        _ => None,
    })
    .await
    .expect("Baileys logs in");
    baileys
        .wait_for(DEADLINE, "connection open", |v| {
            v["event"] == "connection.update" && v["connection"] == "open"
        })
        .await
        .expect("Baileys reaches open");
    Pair {
        linked,
        gateway: GatewaySeen::default(),
        baileys,
        baileys_seen: BaileysSeen::default(),
        baileys_conn,
        sim_events,
    }
}

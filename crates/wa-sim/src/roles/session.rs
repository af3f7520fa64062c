//! The session role: a linked companion that logged in.
//!
//! Login is checked against the account (known number, the companion's Noise key, the
//! `refuse_login` fault) and answered `<success>` or `<failure>`. Then the IQs a fresh session
//! sends: keepalive pings (`w:p`), prekey count, upload and digest (`encrypt`), passive/active
//! (with the offline count), props (`abt`), blocklist, privacy, dirty bits, app-state sync
//! answers, usync and prekey bundles (served by [`discovery`]), group IQs (`w:g2`, served by
//! [`groups`]), `media_conn` (`w:m`, served by [`media`]), and the companion removing itself (`md` remove-companion-device). Malformed IQs
//! get an error IQ or, without id/type, a stream error, as the real server answers.

use wa_protocol::binary::Node;
use wa_protocol::payload::Login;
use wa_protocol::signal::PublicKey;
use wa_protocol::stanza::{parse_prekey_upload, Ib};
use wa_protocol::PhoneNumber;

use crate::event::{device_jid, ConnId, SimEvent};
use crate::mailbox::DeviceKey;
use crate::nodes;
use crate::roles::{discovery, groups, media};
use crate::state::{Action, Shared};

/// A logged-in companion.
#[derive(Debug)]
pub(crate) struct Session {
    key: DeviceKey,
}

/// Checks a login: `Ok` with the session and `<success>`, or `Err` with `<failure>` and a close.
pub(crate) fn start(
    shared: &Shared,
    conn: ConnId,
    noise_pub: &PublicKey,
    login: &Login,
) -> Result<(Session, Vec<Action>), Vec<Action>> {
    let refuse = |reason| vec![Action::Send(nodes::failure(reason)), Action::Close];
    // A username that is no phone number cannot have an account: 401 like an unknown one.
    let Ok(phone) = login.username.to_string().parse::<PhoneNumber>() else {
        return Err(refuse(401));
    };
    let device = login.device;
    let verdict = shared.with_world(|w| {
        let Ok(account) = w.account(&phone) else {
            return Err(401);
        };
        if let Some(code) = account.faults.refuse_login {
            return Err(code);
        }
        match account.companions.get(&device) {
            Some(c) if c.noise_pub == *noise_pub => {}
            _ => return Err(401),
        }
        let lid = account.lid_device(device);
        w.logged_in.insert(conn, (phone.clone(), device));
        Ok(lid)
    });
    let lid = verdict.map_err(refuse)?;
    let jid = device_jid(&phone, device);
    shared.emit(SimEvent::LoggedIn { conn, jid });
    let success = nodes::success(shared.now_secs(), lid);
    let session = Session {
        key: (phone, device),
    };
    let mut actions = vec![Action::Send(success)];
    if !login.passive {
        // An active login gets its backlog at once (`session-lifecycle.md` §8).
        actions.extend(session.go_active(shared, conn));
    }
    Ok((session, actions))
}

impl Session {
    /// The companion: (account, device).
    pub(crate) fn device_key(&self) -> &DeviceKey {
        &self.key
    }

    /// The companion went active: its offline queue, in order, then the end marker
    /// `<ib><offline count=N/></ib>` (`session-lifecycle.md` §8); live deliveries from now on.
    fn go_active(&self, shared: &Shared, conn: ConnId) -> Vec<Action> {
        let queued = shared.with_world(|w| w.mailbox.activate(&self.key, conn));
        let count = queued.len();
        let mut actions: Vec<Action> = queued.into_iter().map(Action::Send).collect();
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        actions.push(Action::Send(Ib::Offline { count }.to_node()));
        actions
    }

    /// Answers an IQ from the companion.
    pub(crate) fn iq(&self, shared: &Shared, conn: ConnId, node: &Node) -> Vec<Action> {
        let (Some(id), Some(kind)) = (node.attr_str("id"), node.attr_str("type")) else {
            let error = nodes::bad_request_stream_error("iq without id or type");
            return vec![Action::Send(error), Action::Close];
        };
        if kind == "result" || kind == "error" {
            return vec![];
        }
        let Some(xmlns) = node.attr_str("xmlns") else {
            return vec![Action::Send(nodes::iq_bad_request(id))];
        };
        let t = shared.now_secs();
        let ok = |children| vec![Action::Send(nodes::iq_result(id, t, children))];
        match (xmlns, kind) {
            ("w:p", "get") => {
                let drop = shared
                    .with_world(|w| w.account(&self.key.0).is_ok_and(|a| a.faults.drop_pings));
                if drop {
                    vec![]
                } else {
                    ok(vec![])
                }
            }
            ("encrypt", "get") if node.child("count").is_some() => {
                let n = shared.with_world(|w| w.directory.prekey_count(&self.key.0, self.key.1));
                ok(vec![Node::new("count").with_attr("value", n.to_string())])
            }
            ("encrypt", "get") if node.child("digest").is_some() => ok(vec![Node::new("digest")]),
            ("encrypt", "get") if node.child("key").is_some() => {
                discovery::bundles(shared, id, node)
            }
            ("usync", "get") => discovery::usync(shared, id, node, self.device_key()),
            ("encrypt", "set") => self.upload_prekeys(shared, conn, id, node),
            ("passive", "set") => self.passive(shared, conn, id, node),
            ("abt", "get") => ok(vec![Node::new("props")
                .with_attr("protocol", "1")
                .with_attr("hash", "wa-sim")]),
            ("blocklist", "get") => ok(vec![Node::new("list")]),
            ("privacy", "get") => ok(vec![privacy_settings()]),
            ("privacy", "set") | ("urn:xmpp:whatsapp:dirty", "set") => ok(vec![]),
            ("w:sync:app:state", "set") => ok(vec![app_state_versions(node)]),
            ("w:g2", _) => groups::iq(shared, &self.key, id, node),
            ("w:m", "set") if node.child("media_conn").is_some() => media::media_conn(shared, id),
            ("md", "set") if node.child("remove-companion-device").is_some() => {
                self.remove_self(shared, conn, id)
            }
            _ => vec![Action::Send(nodes::iq_not_implemented(id))],
        }
    }

    /// `<iq xmlns=encrypt type=set>`: the companion publishes its keys.
    fn upload_prekeys(&self, shared: &Shared, conn: ConnId, id: &str, node: &Node) -> Vec<Action> {
        let Ok(upload) = parse_prekey_upload(node) else {
            return vec![Action::Send(nodes::iq_bad_request(id))];
        };
        let count = upload.prekeys.len();
        shared.with_world(|w| {
            if w.has_companion(&self.key.0, self.key.1) {
                w.directory.record_upload(&self.key.0, self.key.1, upload);
            }
        });
        shared.emit(SimEvent::PreKeysUploaded { conn, count });
        vec![Action::Send(nodes::iq_result(
            id,
            shared.now_secs(),
            vec![],
        ))]
    }

    /// `<iq xmlns=passive type=set>` with `<active/>` (answered, then the offline backlog and
    /// its count) or `<passive/>`.
    fn passive(&self, shared: &Shared, conn: ConnId, id: &str, node: &Node) -> Vec<Action> {
        let result = Action::Send(nodes::iq_result(id, shared.now_secs(), vec![]));
        if node.child("active").is_some() {
            let mut actions = vec![result];
            actions.extend(self.go_active(shared, conn));
            actions
        } else if node.child("passive").is_some() {
            vec![result]
        } else {
            vec![Action::Send(nodes::iq_bad_request(id))]
        }
    }

    /// `<iq xmlns=md><remove-companion-device>`: the companion logs itself out.
    fn remove_self(&self, shared: &Shared, conn: ConnId, id: &str) -> Vec<Action> {
        shared.with_world(|w| w.remove_companion(&self.key.0, self.key.1));
        let jid = device_jid(&self.key.0, self.key.1);
        shared.emit(SimEvent::DeviceRemoved { conn, jid });
        vec![
            Action::Send(nodes::iq_result(id, shared.now_secs(), vec![])),
            Action::Send(nodes::stream_end()),
            Action::Close,
        ]
    }
}

/// Every privacy category set to `all`.
fn privacy_settings() -> Node {
    const CATEGORIES: [&str; 6] = [
        "readreceipts",
        "last",
        "online",
        "profile",
        "status",
        "groupadd",
    ];
    Node::new("privacy").with_children(
        CATEGORIES
            .iter()
            .map(|c| {
                Node::new("category")
                    .with_attr("name", *c)
                    .with_attr("value", "all")
            })
            .collect(),
    )
}

/// The app-state sync answer: every asked-for collection at version 0 (no patches yet).
fn app_state_versions(node: &Node) -> Node {
    let collections = node
        .child("sync")
        .map(|s| {
            s.children_by_tag("collection")
                .filter_map(|c| c.attr_str("name"))
                .map(|name| {
                    Node::new("collection")
                        .with_attr("name", name)
                        .with_attr("version", "0")
                })
                .collect()
        })
        .unwrap_or_default();
    Node::new("sync").with_children(collections)
}

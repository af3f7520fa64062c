//! Helpers of the socket tests: the admin API over HTTP, a raw companion logging in, its keys.

use std::time::Duration;

use prost::Message as _;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;
use wa_protocol::binary::Node;
use wa_protocol::message::receive::PreKeySet;
use wa_protocol::payload::{login_payload, ClientIdentity};
use wa_protocol::signal::{LocalIdentity, PreKey, SignedPreKey};
use wa_testkit::raw::{RawOptions, RawSocket};
use wa_testkit::Linked;

/// How long any one step may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// JSON requests to the sim's admin API (wa-testkit's `http::request`).
pub struct Admin {
    /// The sim's address.
    pub addr: std::net::SocketAddr,
}

impl Admin {
    /// `POST path` with a JSON body.
    pub async fn post(&self, path: String, body: Value) -> (u16, Value) {
        self.post_raw(path, &body.to_string()).await
    }

    /// `POST path` with `body` as it is (malformed JSON on purpose).
    pub async fn post_raw(&self, path: String, body: &str) -> (u16, Value) {
        let body = Some(("application/json", body));
        wa_testkit::http::request(self.addr, "POST", &path, body, DEADLINE).await
    }

    /// `GET path`.
    pub async fn get(&self, path: String) -> (u16, Value) {
        wa_testkit::http::request(self.addr, "GET", &path, None, DEADLINE).await
    }
}

/// The next node with this tag (others are skipped).
pub async fn next(socket: &mut RawSocket, tag: &str) -> Node {
    loop {
        let node = socket.recv(DEADLINE).await.expect("a node");
        if node.tag == tag {
            return node;
        }
    }
}

/// The linked companion of `phone` logs in on a raw socket and goes active.
pub async fn login_active(linked: &Linked, phone: &str, seed: u64) -> RawSocket {
    let device = linked
        .store
        .device(&linked.id)
        .expect("store")
        .expect("device");
    let number = u8::try_from(device.jid.as_ref().expect("jid").device_id()).expect("device");
    let payload = login_payload(
        &ClientIdentity::default(),
        phone.parse().expect("number"),
        number,
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let mut socket = RawSocket::connect(
        &RawOptions::to_sim(&linked.sim),
        &mut rng,
        &device.noise_key,
        &payload.encode_to_vec(),
    )
    .await
    .expect("handshake");
    assert_eq!(next(&mut socket, "success").await.tag, "success");
    let active = Node::new("iq")
        .with_attr("id", "active-1")
        .with_attr("type", "set")
        .with_attr("xmlns", "passive")
        .with_attr("to", "s.whatsapp.net")
        .with_children(vec![Node::new("active")]);
    socket.send_node(&active).await.expect("sent");
    socket
}

/// The companion's keys from its store, as a decrypting client holds them.
pub fn companion_keys(linked: &Linked) -> (LocalIdentity, PreKeySet) {
    let device = linked
        .store
        .device(&linked.id)
        .expect("store")
        .expect("device");
    let local = LocalIdentity {
        key_pair: device.identity_key.clone(),
        registration_id: device.registration_id,
    };
    let one_time = (1..=900)
        .filter_map(|id| linked.store.load_prekey(&linked.id, id).expect("store"))
        .map(|k| PreKey {
            id: k.id,
            key_pair: k.key_pair,
        })
        .collect();
    let signed = SignedPreKey {
        id: device.signed_prekey.id,
        key_pair: device.signed_prekey.key_pair.clone(),
        signature: device.signed_prekey.signature,
        created_at_ms: device.signed_prekey.timestamp_ms,
    };
    (
        local,
        PreKeySet {
            signed: vec![signed],
            one_time,
        },
    )
}

/// A counter of the sim (0 when never bumped).
pub fn count(sim: &wa_sim::SimServer, key: &str) -> u64 {
    sim.counters().get(key).copied().unwrap_or_default()
}

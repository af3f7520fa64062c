//! wa-sim is strict, so a sloppy client cannot pass against it: logins with unknown accounts or
//! the wrong Noise key are refused with `<failure>`, and malformed IQs are answered with error
//! IQs or a stream error, as the real server does.

use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_client::{connect, ClientConfig, ConnectOptions, EventKind, NoiseSocket, Registry};
use wa_protocol::binary::{Jid, Node};
use wa_protocol::connection::Config;
use wa_protocol::payload::{login_payload, ClientIdentity};
use wa_protocol::signal::KeyPair;
use wa_protocol::stanza::{prekey_upload, PreKeyUpload, UploadedPreKey, UploadedSignedPreKey};
use wa_sim::{SimConfig, SimServer};
use wa_store::{Account, AccountId, Durability, MemStore, Store};

const PHONE: &str = "15550109999";
const DEADLINE: Duration = Duration::from_secs(20);

async fn next(socket: &mut NoiseSocket) -> Node {
    tokio::time::timeout(DEADLINE, socket.next_node())
        .await
        .expect("a node in time")
        .expect("decodes")
        .expect("not closed")
}

fn options(sim: &SimServer) -> ConnectOptions {
    ConnectOptions {
        url: sim.url(),
        trust: sim.trust_root(),
        ..ConnectOptions::default()
    }
}

/// Links a companion with wagate's own client and returns its noise key.
async fn linked_noise_key(sim: &SimServer) -> KeyPair {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = AccountId::generate(&mut StdRng::seed_from_u64(5));
    store
        .create_account(
            &Account::new(id, "strict", "token-strict", 0),
            Durability::Durable,
        )
        .expect("account");
    let registry = Registry::new(
        Arc::clone(&store),
        ClientConfig {
            url: sim.url(),
            connection: Config {
                trust: sim.trust_root(),
                ..Config::default()
            },
            ..ClientConfig::default()
        },
    );
    let mut events = registry.subscribe();
    registry.start(&id);
    tokio::time::timeout(DEADLINE, async {
        loop {
            match events.recv().await.map(|e| e.kind) {
                Ok(EventKind::Qr { code, .. }) => {
                    sim.scan(PHONE, &code).expect("scan");
                }
                Ok(EventKind::Connected { .. }) => break,
                _ => {}
            }
        }
    })
    .await
    .expect("linked");
    registry.shutdown_and_wait(DEADLINE).await;
    store
        .device(&id)
        .expect("read")
        .expect("device stored")
        .noise_key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_refuses_bad_logins_and_malformed_stanzas() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    sim.create_account(PHONE);
    let noise_key = linked_noise_key(&sim).await;
    let username: u64 = PHONE.parse().expect("digits");

    // Unknown account, and the right account with a wrong Noise key: <failure reason=401>.
    for (user, key) in [
        (15_550_100_000, noise_key.clone()),
        (username, KeyPair::generate(&mut StdRng::seed_from_u64(6))),
    ] {
        let payload = login_payload(&ClientIdentity::default(), user, 1).encode_to_vec();
        let mut socket = connect(&options(&sim), &key, &payload)
            .await
            .expect("handshake");
        let failure = next(&mut socket).await;
        assert_eq!(failure.tag, "failure");
        assert_eq!(failure.attr_str("reason"), Some("401"));
    }

    // The real companion logs in.
    let payload = login_payload(&ClientIdentity::default(), username, 1).encode_to_vec();
    let mut socket = connect(&options(&sim), &noise_key, &payload)
        .await
        .expect("handshake");
    let success = next(&mut socket).await;
    assert_eq!(success.tag, "success");

    let server = || Jid::server_jid(wa_protocol::binary::Server::WhatsApp);
    // An IQ without xmlns: 400 bad-request.
    socket
        .send_node(
            &Node::new("iq")
                .with_attr("id", "a")
                .with_attr("type", "get")
                .with_attr("to", server()),
        )
        .await
        .expect("send");
    let reply = next(&mut socket).await;
    assert_eq!(reply.attr_str("type"), Some("error"));
    assert_eq!(
        reply.child("error").and_then(|e| e.attr_str("code")),
        Some("400")
    );

    // An unknown namespace: 501.
    socket
        .send_node(
            &Node::new("iq")
                .with_attr("id", "b")
                .with_attr("type", "get")
                .with_attr("xmlns", "no-such-namespace")
                .with_attr("to", server()),
        )
        .await
        .expect("send");
    let reply = next(&mut socket).await;
    assert_eq!(
        reply.child("error").and_then(|e| e.attr_str("code")),
        Some("501")
    );

    // A prekey upload whose signed prekey signature does not verify: 400.
    let mut rng = StdRng::seed_from_u64(7);
    let identity = KeyPair::generate(&mut rng);
    let upload = PreKeyUpload {
        registration_id: 7,
        identity: identity.public,
        prekeys: vec![UploadedPreKey {
            id: 1,
            public: KeyPair::generate(&mut rng).public,
        }],
        signed: UploadedSignedPreKey {
            id: 1,
            public: KeyPair::generate(&mut rng).public,
            signature: [0u8; 64],
        },
    };
    socket
        .send_node(&prekey_upload(&upload).to_node("c"))
        .await
        .expect("send");
    let reply = next(&mut socket).await;
    assert_eq!(reply.attr_str("id"), Some("c"));
    assert_eq!(
        reply.child("error").and_then(|e| e.attr_str("code")),
        Some("400")
    );

    // An IQ without id or type is a stream error, and the connection ends.
    socket
        .send_node(&Node::new("iq").with_attr("xmlns", "w:p"))
        .await
        .expect("send");
    let err = next(&mut socket).await;
    assert_eq!(err.tag, "stream:error");
    let counters = sim.counters();
    assert!(counters.get("out:stream:error").copied().unwrap_or(0) >= 2);
}

//! wa-sim is strict, so a sloppy client cannot pass against it: logins with unknown accounts or
//! the wrong Noise key are refused with `<failure>`, and malformed IQs are answered with error
//! IQs or a stream error, as the real server does.

use std::time::Duration;

use prost::Message as _;
use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_protocol::binary::{Jid, Node};
use wa_protocol::payload::{login_payload, ClientIdentity};
use wa_protocol::signal::KeyPair;
use wa_protocol::stanza::{prekey_upload, PreKeyUpload, UploadedPreKey, UploadedSignedPreKey};
use wa_testkit::raw::{RawOptions, RawSocket};
use wa_testkit::Linked;

const PHONE: &str = "15550109999";
const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_refuses_bad_logins_and_malformed_stanzas() {
    // Link a companion with wagate's own client, and keep its noise key.
    let Linked {
        sim,
        store,
        id,
        gateway,
        ..
    } = Linked::new(PHONE, 5).await;
    gateway.shutdown(DEADLINE).await;
    let noise_key = store
        .device(&id)
        .expect("read")
        .expect("device stored")
        .noise_key;
    let options = RawOptions::to_sim(&sim);
    let mut ephemerals = StdRng::seed_from_u64(8);
    let username: u64 = PHONE.parse().expect("digits");

    // Unknown account, and the right account with a wrong Noise key: <failure reason=401>.
    for (user, key) in [
        (15_550_100_000, noise_key.clone()),
        (username, KeyPair::generate(&mut StdRng::seed_from_u64(6))),
    ] {
        let payload = login_payload(&ClientIdentity::default(), user, 1).encode_to_vec();
        let mut socket = RawSocket::connect(&options, &mut ephemerals, &key, &payload)
            .await
            .expect("handshake");
        let failure = socket.recv(DEADLINE).await.expect("a node");
        assert_eq!(failure.tag, "failure");
        assert_eq!(failure.attr_str("reason"), Some("401"));
    }

    // The real companion logs in.
    let payload = login_payload(&ClientIdentity::default(), username, 1).encode_to_vec();
    let mut socket = RawSocket::connect(&options, &mut ephemerals, &noise_key, &payload)
        .await
        .expect("handshake");
    let success = socket.recv(DEADLINE).await.expect("a node");
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
    let reply = socket.recv(DEADLINE).await.expect("a node");
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
    let reply = socket.recv(DEADLINE).await.expect("a node");
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
    let reply = socket.recv(DEADLINE).await.expect("a node");
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
    let err = socket.recv(DEADLINE).await.expect("a node");
    assert_eq!(err.tag, "stream:error");
    let counters = sim.counters();
    assert!(counters.get("out:stream:error").copied().unwrap_or(0) >= 2);
}

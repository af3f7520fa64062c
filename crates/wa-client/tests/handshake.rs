//! The raw Noise client (wa-testkit's, on wa-client's WebSocket) against wa-sim over real
//! sockets on 127.0.0.1: the Noise handshake with certificate verification, both ClientPayload
//! kinds, nodes both ways, and the failure paths.

use std::time::Duration;

use futures_util::SinkExt;
use prost::Message as _;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio_tungstenite::tungstenite::Message;

use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::noise::{CertError, FrameError, HandshakeError, TrustRoot};
use wa_protocol::pairing::stanza::PairDevice;
use wa_protocol::payload::{
    login_payload, registration_payload, CheckedPayload, ClientIdentity, RegistrationKeys,
};
use wa_protocol::signal::KeyPair;
use wa_sim::{SimError, SimEvent};
use wa_testkit::raw::{RawOptions, RawSocket};
use wa_testkit::{start_sim, wait_for, Error, SimOptions};

const DEADLINE: Duration = Duration::from_secs(20);

fn registration_keys(rng: &mut StdRng) -> RegistrationKeys {
    let identity = KeyPair::generate(rng);
    let spk = KeyPair::generate(rng);
    RegistrationKeys {
        registration_id: 4242,
        identity_key: identity.public,
        signed_prekey_id: 1,
        signed_prekey: spk.public,
        signed_prekey_signature: identity.private.sign(&spk.public.to_djb(), rng),
    }
}

#[tokio::test]
async fn registration_handshake_and_nodes_both_ways() {
    let sim = start_sim(&[]).await;
    let mut events = sim.subscribe();
    let mut rng = StdRng::seed_from_u64(11);
    let noise_key = KeyPair::generate(&mut rng);
    let keys = registration_keys(&mut rng);
    let payload = registration_payload(&ClientIdentity::default(), &keys).encode_to_vec();

    let mut socket = RawSocket::connect(&RawOptions::to_sim(&sim), &mut rng, &noise_key, &payload)
        .await
        .expect("handshake completes");
    assert_eq!(socket.server().intermediate().issuer_serial, 0);

    let (conn, client_static, reg) =
        wait_for(&mut events, DEADLINE, "ClientPayload", |e| match e {
            SimEvent::ClientPayload {
                conn,
                client_static,
                payload: Ok(CheckedPayload::Registration(reg)),
                ..
            } => Some((*conn, *client_static, reg.clone())),
            SimEvent::ClientPayload {
                payload: Err(e), ..
            } => panic!("payload refused: {e}"),
            _ => None,
        })
        .await
        .expect("the sim checks the payload");
    assert_eq!(client_static, noise_key.public);
    assert_eq!(reg.keys, keys);

    // A registration is answered with pair-device refs (the QR codes to show).
    let first = socket.recv(DEADLINE).await.expect("a node");
    let refs = PairDevice::from_node(&first).expect("a pair-device IQ");
    assert_eq!(refs.refs.len(), 6);

    let ping = Node::new("iq")
        .with_attr("id", "1.2-3")
        .with_attr("xmlns", "w:p")
        .with_attr("type", "get")
        .with_attr("to", Jid::server_jid(Server::WhatsApp))
        .with_children(vec![Node::new("ping")]);
    socket.send_node(&ping).await.expect("send");
    let got = wait_for(&mut events, DEADLINE, "the ping", |e| match e {
        SimEvent::Stanza { conn: c, node } if *c == conn => Some(node.clone()),
        _ => None,
    })
    .await
    .expect("the sim receives the ping");
    assert_eq!(got, ping);
    let pong = socket.recv(DEADLINE).await.expect("a node");
    assert_eq!(pong.attr_str("id"), Some("1.2-3"));
    assert_eq!(pong.attr_str("type"), Some("result"));

    let pair = Node::new("iq")
        .with_attr("from", Jid::server_jid(Server::WhatsApp))
        .with_attr("type", "set")
        .with_attr("id", "3EB0ABCDEF")
        .with_children(vec![Node::new("pair-device")
            .with_children(vec![Node::new("ref").with_bytes(b"2@abc".to_vec())])]);
    assert!(sim.send(conn, pair.clone()));
    let received = socket.recv(DEADLINE).await.expect("a node");
    assert_eq!(received, pair);
    socket.close().await;
    wait_for(&mut events, DEADLINE, "Disconnected", |e| {
        matches!(e, SimEvent::Disconnected { conn: c } if *c == conn).then_some(())
    })
    .await
    .expect("the sim sees the close");
}

#[tokio::test]
async fn login_payload_is_reported() {
    let sim = start_sim(&[]).await;
    let mut events = sim.subscribe();
    let mut rng = StdRng::seed_from_u64(12);
    let noise_key = KeyPair::generate(&mut rng);
    let payload = login_payload(&ClientIdentity::default(), 15_550_000_001, 3).encode_to_vec();
    let _socket = RawSocket::connect(&RawOptions::to_sim(&sim), &mut rng, &noise_key, &payload)
        .await
        .expect("handshake completes");
    let login = wait_for(&mut events, DEADLINE, "a login payload", |e| match e {
        SimEvent::ClientPayload {
            payload: Ok(CheckedPayload::Login(l)),
            ..
        } => Some(l.clone()),
        _ => None,
    })
    .await
    .expect("the sim checks the payload");
    assert_eq!((login.username, login.device), (15_550_000_001, 3));
}

#[tokio::test]
async fn wrong_trust_root_is_refused() {
    let sim = start_sim(&[]).await;
    let mut rng = StdRng::seed_from_u64(13);
    let noise_key = KeyPair::generate(&mut rng);
    for trust in [
        TrustRoot::production(),
        TrustRoot::new(KeyPair::generate(&mut StdRng::seed_from_u64(14)).public),
    ] {
        let opts = RawOptions {
            trust,
            ..RawOptions::to_sim(&sim)
        };
        let err = RawSocket::connect(&opts, &mut rng, &noise_key, &[])
            .await
            .err()
            .expect("must refuse an untrusted server");
        assert!(
            matches!(
                err,
                Error::Protocol(wa_protocol::Error::Handshake(HandshakeError::Cert(
                    CertError::IntermediateSignature
                )))
            ),
            "{err}"
        );
        assert!(!err.is_transient());
    }
}

#[tokio::test]
async fn sim_times_out_silent_clients_and_refuses_bad_intros() {
    let sim = SimOptions::new()
        .handshake_timeout(Duration::from_millis(300))
        .start()
        .await;
    let mut events = sim.subscribe();

    let (mut silent, _) = tokio_tungstenite::connect_async(sim.url())
        .await
        .expect("ws");
    let error = wait_for(&mut events, DEADLINE, "ProtocolError", |e| match e {
        SimEvent::ProtocolError { error, .. } => Some(error.clone()),
        _ => None,
    })
    .await
    .expect("the sim gives up on the silent client");
    assert!(matches!(*error, SimError::HandshakeTimeout), "{error}");

    silent
        .send(Message::binary(b"GET / HTTP/1.1\r\n".to_vec()))
        .await
        .ok();
    let (mut bad, _) = tokio_tungstenite::connect_async(sim.url())
        .await
        .expect("ws");
    bad.send(Message::binary(vec![b'W', b'A', 6, 2, 0, 0, 0]))
        .await
        .expect("send");
    let error = wait_for(&mut events, DEADLINE, "ProtocolError", |e| match e {
        SimEvent::ProtocolError { error, .. } => Some(error.clone()),
        _ => None,
    })
    .await
    .expect("the sim refuses the intro");
    assert!(
        matches!(
            &*error,
            SimError::Protocol(wa_protocol::Error::Frame(FrameError::UnsupportedVersion {
                magic: 6,
                dict: 2
            }))
        ),
        "{error}"
    );
}

#[tokio::test]
async fn unreachable_server_is_a_transient_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let opts = RawOptions {
        url: format!("ws://{addr}/ws/chat"),
        ..RawOptions::default()
    };
    let mut rng = StdRng::seed_from_u64(1);
    let noise_key = KeyPair::generate(&mut rng);
    let err = RawSocket::connect(&opts, &mut rng, &noise_key, &[])
        .await
        .err()
        .expect("nothing listens");
    assert!(err.is_transient(), "{err}");
}

/// Production is `wss://`: TLS is compiled in (rustls, WebPKI roots). A server that does not speak
/// TLS gives a TLS error, not "URL scheme not supported".
#[tokio::test]
async fn wss_urls_are_spoken_over_tls() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(b"HTTP/1.1 400 not tls\r\n\r\n").await;
        }
    });
    let opts = RawOptions {
        url: format!("wss://{addr}/ws/chat"),
        ..RawOptions::default()
    };
    let mut rng = StdRng::seed_from_u64(2);
    let noise_key = KeyPair::generate(&mut rng);
    let err = RawSocket::connect(&opts, &mut rng, &noise_key, &[])
        .await
        .err()
        .expect("not a TLS server");
    assert!(
        matches!(
            err,
            Error::Open(wa_client::Error::WebSocket(
                tokio_tungstenite::tungstenite::Error::Tls(_)
                    | tokio_tungstenite::tungstenite::Error::Io(_)
            ))
        ),
        "{err:?}"
    );
    assert!(
        !format!("{err:?}").contains("TlsFeatureNotEnabled"),
        "{err:?}"
    );
}

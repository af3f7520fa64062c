//! wa-client against wa-sim over real sockets on 127.0.0.1: the Noise handshake with certificate
//! verification, both ClientPayload kinds, nodes both ways, and the failure paths.

use std::time::Duration;

use futures_util::SinkExt;
use prost::Message as _;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use wa_client::{connect, ClientError, ConnectOptions};
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::noise::{CertError, HandshakeError, TrustRoot};
use wa_protocol::pairing::stanza::PairDevice;
use wa_protocol::payload::{
    login_payload, registration_payload, CheckedPayload, ClientIdentity, RegistrationKeys,
};
use wa_protocol::signal::KeyPair;
use wa_sim::{SimConfig, SimEvent, SimServer};

const DEADLINE: Duration = Duration::from_secs(20);

async fn next_event<T>(
    rx: &mut broadcast::Receiver<SimEvent>,
    mut pick: impl FnMut(&SimEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(DEADLINE, async {
        loop {
            if let Some(t) = pick(&rx.recv().await.expect("event stream open")) {
                return t;
            }
        }
    })
    .await
    .expect("event before the deadline")
}

fn options(sim: &SimServer) -> ConnectOptions {
    ConnectOptions {
        url: sim.url(),
        trust: sim.trust_root(),
        ..ConnectOptions::default()
    }
}

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
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    let mut events = sim.subscribe();
    let mut rng = StdRng::seed_from_u64(11);
    let noise_key = KeyPair::generate(&mut rng);
    let keys = registration_keys(&mut rng);
    let payload = registration_payload(&ClientIdentity::default(), &keys).encode_to_vec();

    let mut socket = connect(&options(&sim), &noise_key, &payload)
        .await
        .expect("handshake completes");
    assert_eq!(socket.server().intermediate().issuer_serial, 0);

    let (conn, client_static, reg) = next_event(&mut events, |e| match e {
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
    .await;
    assert_eq!(client_static, noise_key.public);
    assert_eq!(reg.keys, keys);

    // A registration is answered with pair-device refs (the QR codes to show).
    let first = tokio::time::timeout(DEADLINE, socket.next_node())
        .await
        .expect("node in time")
        .expect("decodes")
        .expect("not closed");
    let refs = PairDevice::from_node(&first).expect("a pair-device IQ");
    assert_eq!(refs.refs.len(), 6);

    let ping = Node::new("iq")
        .with_attr("id", "1.2-3")
        .with_attr("xmlns", "w:p")
        .with_attr("type", "get")
        .with_attr("to", Jid::server_jid(Server::WhatsApp))
        .with_children(vec![Node::new("ping")]);
    socket.send_node(&ping).await.expect("send");
    let got = next_event(&mut events, |e| match e {
        SimEvent::Stanza { conn: c, node } if *c == conn => Some(node.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, ping);
    let pong = tokio::time::timeout(DEADLINE, socket.next_node())
        .await
        .expect("node in time")
        .expect("decodes")
        .expect("not closed");
    assert_eq!(pong.attr_str("id"), Some("1.2-3"));
    assert_eq!(pong.attr_str("type"), Some("result"));

    let pair = Node::new("iq")
        .with_attr("from", Jid::server_jid(Server::WhatsApp))
        .with_attr("type", "set")
        .with_attr("id", "3EB0ABCDEF")
        .with_children(vec![Node::new("pair-device")
            .with_children(vec![Node::new("ref").with_bytes(b"2@abc".to_vec())])]);
    assert!(sim.send(conn, pair.clone()));
    let received = tokio::time::timeout(DEADLINE, socket.next_node())
        .await
        .expect("node in time")
        .expect("decodes")
        .expect("not closed");
    assert_eq!(received, pair);
    socket.close().await;
    next_event(&mut events, |e| {
        matches!(e, SimEvent::Disconnected { conn: c } if *c == conn).then_some(())
    })
    .await;
}

#[tokio::test]
async fn login_payload_is_reported() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    let mut events = sim.subscribe();
    let noise_key = KeyPair::generate(&mut StdRng::seed_from_u64(12));
    let payload = login_payload(&ClientIdentity::default(), 15_550_000_001, 3).encode_to_vec();
    let _socket = connect(&options(&sim), &noise_key, &payload)
        .await
        .expect("handshake completes");
    let login = next_event(&mut events, |e| match e {
        SimEvent::ClientPayload {
            payload: Ok(CheckedPayload::Login(l)),
            ..
        } => Some(l.clone()),
        _ => None,
    })
    .await;
    assert_eq!((login.username, login.device), (15_550_000_001, 3));
}

#[tokio::test]
async fn wrong_trust_root_is_refused() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    let noise_key = KeyPair::generate(&mut StdRng::seed_from_u64(13));
    for trust in [
        TrustRoot::production(),
        TrustRoot::new(KeyPair::generate(&mut StdRng::seed_from_u64(14)).public),
    ] {
        let opts = ConnectOptions {
            trust,
            ..options(&sim)
        };
        let err = connect(&opts, &noise_key, &[])
            .await
            .err()
            .expect("must refuse an untrusted server");
        assert!(
            matches!(
                err,
                ClientError::Protocol(wa_protocol::Error::Handshake(HandshakeError::Cert(
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
    let sim = SimServer::start(SimConfig {
        handshake_timeout: Duration::from_millis(300),
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let mut events = sim.subscribe();

    let (mut silent, _) = tokio_tungstenite::connect_async(sim.url())
        .await
        .expect("ws");
    let error = next_event(&mut events, |e| match e {
        SimEvent::ProtocolError { error, .. } => Some(error.clone()),
        _ => None,
    })
    .await;
    assert!(error.contains("timed out"), "{error}");

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
    let error = next_event(&mut events, |e| match e {
        SimEvent::ProtocolError { error, .. } => Some(error.clone()),
        _ => None,
    })
    .await;
    assert!(
        error.contains("unsupported protocol version 6.2"),
        "{error}"
    );
}

#[tokio::test]
async fn unreachable_server_is_a_transient_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let opts = ConnectOptions {
        url: format!("ws://{addr}/ws/chat"),
        ..ConnectOptions::default()
    };
    let err = connect(
        &opts,
        &KeyPair::generate(&mut StdRng::seed_from_u64(1)),
        &[],
    )
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
    let opts = ConnectOptions {
        url: format!("wss://{addr}/ws/chat"),
        ..ConnectOptions::default()
    };
    let err = connect(
        &opts,
        &KeyPair::generate(&mut StdRng::seed_from_u64(2)),
        &[],
    )
    .await
    .err()
    .expect("not a TLS server");
    assert!(
        matches!(
            err,
            ClientError::WebSocket(tokio_tungstenite::tungstenite::Error::Tls(_))
                | ClientError::WebSocket(tokio_tungstenite::tungstenite::Error::Io(_))
        ),
        "{err:?}"
    );
    assert!(
        !format!("{err:?}").contains("TlsFeatureNotEnabled"),
        "{err:?}"
    );
}

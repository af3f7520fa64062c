//! The sim runs on the clock it is given: with a `ManualClock` the certificate chain, the
//! pairing role's IQ results and the phone's pair-success carry virtual time, and move only
//! when the clock does.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wa_protocol::binary::{Limits, Node};
use wa_protocol::noise::{
    encode_frame, FrameDecoder, FramedTransport, Initiator, MAX_FRAME_LEN, WA_HEADER,
};
use wa_protocol::pairing::qr_string;
use wa_protocol::pairing::stanza::{PairDevice, PairSuccess};
use wa_protocol::payload::{registration_payload, ClientIdentity, RegistrationKeys};
use wa_protocol::signal::KeyPair;
use wa_protocol::stanza::server_jid;
use wa_protocol::time::{ManualClock, Millis};
use wa_sim::{SimConfig, SimServer};

const PHONE: &str = "15550104242";
const DEADLINE: Duration = Duration::from_secs(10);
/// 2020-09-13: far from the system clock, so a stray system-time read would show.
const START: Millis = Millis(1_600_000_000_000);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A bare companion speaking to the sim over the wire.
struct Companion {
    ws: Ws,
    transport: FramedTransport,
}

impl Companion {
    /// Connects and registers (handshake at `now`, a registration payload).
    async fn register(sim: &SimServer, now: Millis, noise: &KeyPair, identity: &KeyPair) -> Self {
        let mut rng = StdRng::seed_from_u64(3);
        let (mut ws, _) = tokio_tungstenite::connect_async(sim.url())
            .await
            .expect("websocket");
        let (await_hello, hello) = Initiator::start(KeyPair::generate(&mut rng));
        let mut wire = WA_HEADER.to_vec();
        encode_frame(&hello, &mut wire).expect("frame");
        ws.send(Message::binary(wire)).await.expect("send hello");

        let mut decoder = FrameDecoder::for_client(MAX_FRAME_LEN);
        let server_hello = loop {
            if let Some(frame) = decoder.next_frame().expect("frame") {
                break frame;
            }
            decoder.push(&next_binary(&mut ws).await);
        };
        // The chain must be valid at virtual time: it was issued from the injected clock.
        let await_finish = await_hello
            .read_server_hello(&server_hello, &sim.trust_root(), now.unix_secs())
            .expect("server hello verifies at virtual time");
        let spk = KeyPair::generate(&mut rng);
        let keys = RegistrationKeys {
            registration_id: 77,
            identity_key: identity.public,
            signed_prekey_id: 1,
            signed_prekey: spk.public,
            signed_prekey_signature: identity.private.sign(&spk.public.to_djb(), &mut rng),
        };
        let payload = registration_payload(&ClientIdentity::default(), &keys).encode_to_vec();
        let (cipher, finish) = await_finish
            .write_client_finish(noise, &payload)
            .expect("finish");
        let mut wire = Vec::new();
        encode_frame(&finish, &mut wire).expect("frame");
        ws.send(Message::binary(wire)).await.expect("send finish");
        let transport = FramedTransport::new(cipher, decoder, Limits::default());
        Self { ws, transport }
    }

    async fn next_node(&mut self) -> Node {
        loop {
            if let Some(node) = self.transport.next_node().expect("node decodes") {
                return node;
            }
            let data = next_binary(&mut self.ws).await;
            self.transport.push(&data);
        }
    }

    async fn send_node(&mut self, node: &Node) {
        let mut out = Vec::new();
        self.transport.encode_node(node, &mut out).expect("encode");
        self.ws.send(Message::binary(out)).await.expect("send");
    }

    /// Sends a keepalive ping and returns the `t` of its result.
    async fn ping(&mut self, id: &str) -> u64 {
        let ping = Node::new("iq")
            .with_attr("id", id)
            .with_attr("type", "get")
            .with_attr("xmlns", "w:p")
            .with_attr("to", server_jid());
        self.send_node(&ping).await;
        let result = self.next_node().await;
        assert_eq!(result.attr_str("id"), Some(id), "{result:?}");
        assert_eq!(result.attr_str("type"), Some("result"), "{result:?}");
        result
            .attr_str("t")
            .and_then(|t| t.parse().ok())
            .expect("t on the result")
    }
}

async fn next_binary(ws: &mut Ws) -> Vec<u8> {
    loop {
        let msg = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a message in time")
            .expect("not closed")
            .expect("websocket");
        if let Message::Binary(data) = msg {
            return data.to_vec();
        }
    }
}

#[tokio::test]
async fn roles_put_the_injected_clock_on_the_wire() {
    let clock = Arc::new(ManualClock::new(START));
    let sim = SimServer::start(SimConfig {
        seed: Some(11),
        clock: Arc::clone(&clock) as _,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    sim.create_account(&PHONE.parse().expect("a phone number"));

    let mut rng = StdRng::seed_from_u64(4);
    let (noise, identity) = (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
    let mut companion = Companion::register(&sim, START, &noise, &identity).await;
    let refs = PairDevice::from_node(&companion.next_node().await).expect("pair-device");

    // The pairing role answers pings with the clock's time, and follows it.
    assert_eq!(companion.ping("p1").await, START.unix_secs());
    clock.advance(90_000);
    assert_eq!(companion.ping("p2").await, START.unix_secs() + 90);

    // The phone's pair-success is stamped by the same clock.
    clock.advance(3_600_000);
    let adv_secret = [9u8; 32];
    let qr = qr_string(
        &refs.refs[0],
        &noise.public,
        &identity.public,
        &adv_secret,
        'W',
    );
    sim.scan(PHONE, &qr).expect("the phone scans");
    let success = PairSuccess::from_node(&companion.next_node().await).expect("pair-success");
    assert_eq!(success.t, Some(START.unix_secs() + 90 + 3_600));
}

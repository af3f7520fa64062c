//! The server side of the Noise handshake as a sans-IO state machine: bytes in, bytes out.
//!
//! ```text
//!  handle_input(intro ‖ frame(ClientHello))  ─▶ poll_transmit() = frame(ServerHello)
//!  handle_input(frame(ClientFinish) ‖ …)     ─▶ Ok(Some(Accepted { transport, client_static, … }))
//! ```
//!
//! [`Accept`] wraps the [`Responder`] typestates and a [`FrameDecoder::for_server`], so every
//! server (wa-sim, the protocol tests' fake server) writes the handshake sequence once. Timeouts
//! stay with the driver: it owns the clock and the socket.

use std::collections::VecDeque;

use super::error::HandshakeError;
use super::frame::{encode_frame, FrameDecoder, Intro};
use super::framed::FramedTransport;
use super::handshake::{Responder, ResponderAwaitClientHello, ResponderAwaitFinish};
use crate::binary::Limits;
use crate::error::Error;
use crate::signal::{KeyPair, PublicKey};

/// Where the server-side handshake stands.
enum Step {
    /// Waiting for the intro and the ClientHello frame.
    AwaitHello {
        responder: ResponderAwaitClientHello,
        ephemeral: KeyPair,
    },
    /// ServerHello queued; waiting for the ClientFinish frame.
    AwaitFinish(ResponderAwaitFinish),
    /// Accepted, or failed: no further input is taken.
    Done,
}

/// A server-side handshake in progress (the responder of Noise XX, with the framing around it).
pub struct Accept {
    decoder: FrameDecoder,
    step: Step,
    transmit: VecDeque<Vec<u8>>,
    limits: Limits,
}

impl core::fmt::Debug for Accept {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let step = match self.step {
            Step::AwaitHello { .. } => "await-hello",
            Step::AwaitFinish(_) => "await-finish",
            Step::Done => "done",
        };
        f.debug_struct("Accept")
            .field("step", &step)
            .field("buffered", &self.decoder.buffered())
            .field("transmit", &self.transmit.len())
            .finish_non_exhaustive()
    }
}

/// A completed server-side handshake.
#[derive(Debug)]
pub struct Accepted {
    /// The established transport; bytes that arrived after the ClientFinish are buffered in it.
    pub transport: FramedTransport,
    /// The client's static (noise) public key, proven by the handshake.
    pub client_static: PublicKey,
    /// The raw `ClientPayload` protobuf the client sent in its ClientFinish.
    pub payload: Vec<u8>,
    /// What preceded the first frame: the plain WA header or the `ED` edge-routing pre-intro.
    pub intro: Intro,
}

impl Accept {
    /// Prepares to answer one client with our static key, the certificate chain bytes that
    /// certify it, our ephemeral key for this connection and the largest frame accepted.
    pub fn new(
        static_key: KeyPair,
        cert_chain: Vec<u8>,
        ephemeral: KeyPair,
        max_frame: usize,
    ) -> Self {
        Self {
            decoder: FrameDecoder::for_server(max_frame),
            step: Step::AwaitHello {
                responder: Responder::start(static_key, cert_chain),
                ephemeral,
            },
            transmit: VecDeque::new(),
            limits: Limits::default(),
        }
    }

    /// Node decoding limits of the transport handed out in [`Accepted`] (default:
    /// `Limits::default()`).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Bytes read from the socket. `Ok(Some(accepted))` once the ClientFinish has been read;
    /// bytes that arrived after it stay buffered inside `accepted.transport`.
    ///
    /// After an error or once accepted, further calls fail with [`HandshakeError::Finished`].
    pub fn handle_input(&mut self, data: &[u8]) -> Result<Option<Accepted>, Error> {
        if matches!(self.step, Step::Done) {
            return Err(HandshakeError::Finished.into());
        }
        self.decoder.push(data);
        loop {
            let frame = match self.decoder.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(None),
                Err(e) => {
                    self.step = Step::Done;
                    return Err(e.into());
                }
            };
            match core::mem::replace(&mut self.step, Step::Done) {
                Step::AwaitHello {
                    responder,
                    ephemeral,
                } => {
                    let (next, reply) = responder.read_client_hello(&frame, ephemeral)?;
                    let mut out = Vec::new();
                    encode_frame(&reply, &mut out)?;
                    self.transmit.push_back(out);
                    self.step = Step::AwaitFinish(next);
                }
                Step::AwaitFinish(responder) => {
                    let done = responder.read_client_finish(&frame)?;
                    return Ok(Some(self.accepted(done)));
                }
                Step::Done => return Err(HandshakeError::Finished.into()),
            }
        }
    }

    fn accepted(&mut self, done: super::handshake::ClientFinished) -> Accepted {
        let decoder = core::mem::replace(&mut self.decoder, FrameDecoder::for_server(0));
        let intro = decoder.intro().cloned().unwrap_or(Intro::Plain);
        Accepted {
            transport: FramedTransport::new(done.transport, decoder, self.limits.clone()),
            client_static: done.client_static,
            payload: done.payload,
            intro,
        }
    }

    /// Next bytes to write (the framed ServerHello).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::binary::Node;
    use crate::connection::{Config, Connection, Credentials, Millis};
    use crate::noise::{build_cert_chain, TrustRoot, WA_HEADER};
    use crate::payload::{check_client_payload, CheckedPayload};

    const T0: Millis = Millis(1_800_000_000_000);

    fn server(rng: &mut StdRng) -> (Accept, TrustRoot, PublicKey) {
        let root = KeyPair::generate(rng);
        let inter = KeyPair::generate(rng);
        let static_key = KeyPair::generate(rng);
        let chain = build_cert_chain(
            &root,
            &inter,
            &static_key.public,
            T0.unix_secs() - 1000,
            T0.unix_secs() + 1000,
            rng,
        );
        let public = static_key.public;
        let accept = Accept::new(static_key, chain, KeyPair::generate(rng), 1 << 20);
        (accept, TrustRoot::new(root.public), public)
    }

    /// Accept answers the client `Connection`, learns its noise key and payload, and the transport
    /// carries nodes both ways, including bytes that arrived in the same chunk as the finish.
    #[test]
    fn accepts_the_client_connection() {
        let mut rng = StdRng::seed_from_u64(7);
        let (mut accept, trust, _) = server(&mut rng);
        let creds = Credentials::generate(&mut rng);
        let noise_pub = creds.noise_key.public;
        let cfg = Config {
            trust,
            ..Config::default()
        };
        let mut conn = Connection::new(cfg, creds, StdRng::seed_from_u64(8), T0);

        // The client's intro and hello, fed one byte at a time.
        let hello = conn.poll_transmit().expect("client hello");
        assert_eq!(hello[..4], WA_HEADER);
        for b in &hello {
            assert!(accept.handle_input(&[*b]).expect("hello").is_none());
        }
        let server_hello = accept.poll_transmit().expect("server hello");
        assert!(accept.poll_transmit().is_none());
        conn.handle_input(&server_hello, T0);
        let finish = conn.poll_transmit().expect("client finish");
        let accepted = accept.handle_input(&finish).expect("finish").expect("done");
        assert_eq!(accepted.client_static, noise_pub);
        assert_eq!(accepted.intro, Intro::Plain);
        assert!(matches!(
            check_client_payload(&accepted.payload),
            Ok(CheckedPayload::Registration(_))
        ));
        assert!(matches!(
            accept.handle_input(&[]),
            Err(Error::Handshake(HandshakeError::Finished))
        ));

        // Server → client: a stream error reaches the client's state machine.
        let mut transport = accepted.transport;
        let mut out = Vec::new();
        transport
            .encode_node(&Node::new("xmlstreamend"), &mut out)
            .expect("encode");
        conn.handle_input(&out, T0);
        assert!(conn.is_closed());
    }

    #[test]
    fn edge_routing_intro_and_bad_input() {
        let mut rng = StdRng::seed_from_u64(9);
        let (mut accept, trust, server_pub) = server(&mut rng);
        let mut wire = vec![b'E', b'D', 0, 1, 0, 0, 2, 4, 2];
        wire.extend_from_slice(&WA_HEADER);
        let (client, hello) = crate::noise::Initiator::start(KeyPair::generate(&mut rng));
        encode_frame(&hello, &mut wire).expect("fits");
        assert!(accept.handle_input(&wire).expect("hello").is_none());
        let mut decoder = FrameDecoder::for_client(1 << 20);
        decoder.push(&accept.poll_transmit().expect("server hello"));
        let server_hello = decoder.next_frame().expect("frame").expect("whole");
        let client = client
            .read_server_hello(&server_hello, &trust, T0.unix_secs())
            .expect("verified");
        assert_eq!(client.server().static_key(), &server_pub);
        let noise = KeyPair::generate(&mut rng);
        let (cipher, finish) = client.write_client_finish(&noise, b"pl").expect("finish");
        let mut wire = Vec::new();
        encode_frame(&finish, &mut wire).expect("fits");
        // A first transport node in the same chunk as the finish stays buffered in the transport.
        let mut client_side =
            FramedTransport::new(cipher, FrameDecoder::for_client(1 << 20), Limits::default());
        client_side
            .encode_node(&Node::new("presence"), &mut wire)
            .expect("encode");
        let accepted = accept.handle_input(&wire).expect("finish").expect("done");
        assert_eq!(accepted.intro, Intro::EdgeRouting(vec![4, 2]));
        assert_eq!(accepted.payload, b"pl");
        assert_eq!(accepted.client_static, noise.public);
        let mut transport = accepted.transport;
        assert_eq!(
            transport.next_node().expect("decodes"),
            Some(Node::new("presence"))
        );
        assert_eq!(transport.next_node().expect("decodes"), None);

        // A ClientHello that does not decode fails the handshake, and nothing is taken after.
        let (mut accept, _, _) = server(&mut rng);
        let mut garbage = WA_HEADER.to_vec();
        encode_frame(&[0xff, 0x01], &mut garbage).expect("fits");
        assert!(matches!(
            accept.handle_input(&garbage),
            Err(Error::Handshake(HandshakeError::Decode(_)))
        ));
        assert!(matches!(
            accept.handle_input(&[]),
            Err(Error::Handshake(HandshakeError::Finished))
        ));

        let (mut accept, _, _) = server(&mut rng);
        assert!(matches!(
            accept.handle_input(b"GET / HTTP/1.1"),
            Err(Error::Frame(_))
        ));
    }
}

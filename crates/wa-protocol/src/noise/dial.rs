//! The client side of one connection up to its transport, sans-IO: the `WA` intro and the
//! ClientHello out, the ServerHello in (certificate chain verified), the ClientFinish out.
//!
//! [`Accept`](super::Accept) is the server's counterpart. Both wrap the handshake typestates
//! and the frame codec, so the sequence is written once per role: the gateway's `Connection` and
//! the test kit's raw client both dial through [`Dial`]. Timeouts stay with the caller.

use super::cert::{TrustRoot, VerifiedServer};
use super::frame::{encode_frame, FrameDecoder, WA_HEADER};
use super::framed::FramedTransport;
use super::handshake::{Initiator, InitiatorAwaitServerHello};
use crate::binary::Limits;
use crate::error::Error;
use crate::signal::KeyPair;

/// A dial in progress: the intro and ClientHello are written, the ServerHello is awaited.
pub struct Dial {
    initiator: InitiatorAwaitServerHello,
    decoder: FrameDecoder,
}

impl core::fmt::Debug for Dial {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dial").finish_non_exhaustive()
    }
}

/// A finished dial: the transport, what the server proved, and the last bytes to write.
pub struct Dialed {
    /// Node transport over the session keys; bytes that arrived after the ServerHello are
    /// already buffered in it.
    pub transport: FramedTransport,
    /// What the certificate chain proved about the server.
    pub server: VerifiedServer,
    /// The framed ClientFinish (carrying the ClientPayload), to write before any node.
    pub finish: Vec<u8>,
}

impl core::fmt::Debug for Dialed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dialed")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Dial {
    /// Starts a dial with our `ephemeral` key, accepting server frames up to `max_frame`
    /// bytes. Returns the first bytes to write: the `WA` intro and the framed ClientHello.
    pub fn start(ephemeral: KeyPair, max_frame: usize) -> (Self, Vec<u8>) {
        let (initiator, hello) = Initiator::start(ephemeral);
        let mut first = WA_HEADER.to_vec();
        // A ClientHello is ~40 bytes, far below any frame limit.
        encode_frame(&hello, &mut first).unwrap_or_default();
        let dial = Self {
            initiator,
            decoder: FrameDecoder::for_client(max_frame),
        };
        (dial, first)
    }

    /// Bytes read from the socket.
    pub fn push(&mut self, data: &[u8]) {
        self.decoder.push(data);
    }

    /// The ServerHello, once it is whole (`Ok(None)` until then).
    pub fn server_hello(&mut self) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.decoder.next_frame()?)
    }

    /// Verifies `server_hello` (its certificate chain against `trust` at unix time
    /// `now_secs`), then writes the ClientFinish proving `noise_key` and carrying `payload`.
    pub fn finish(
        self,
        server_hello: &[u8],
        trust: &TrustRoot,
        now_secs: u64,
        noise_key: &KeyPair,
        payload: &[u8],
        limits: Limits,
    ) -> Result<Dialed, Error> {
        let verified = self
            .initiator
            .read_server_hello(server_hello, trust, now_secs)?;
        let server = *verified.server();
        let (cipher, finish_msg) = verified.write_client_finish(noise_key, payload)?;
        let mut finish = Vec::new();
        encode_frame(&finish_msg, &mut finish)?;
        Ok(Dialed {
            transport: FramedTransport::new(cipher, self.decoder, limits),
            server,
            finish,
        })
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::binary::Node;
    use crate::noise::{build_cert_chain, Accept, HandshakeError};

    struct Server {
        accept: Accept,
        trust: TrustRoot,
    }

    fn server(rng: &mut StdRng) -> Server {
        let root = KeyPair::generate(rng);
        let inter = KeyPair::generate(rng);
        let static_key = KeyPair::generate(rng);
        let chain = build_cert_chain(&root, &inter, &static_key.public, 0, 10_000, rng);
        Server {
            accept: Accept::new(static_key, chain, KeyPair::generate(rng), 1 << 20),
            trust: TrustRoot::new(root.public),
        }
    }

    #[test]
    fn dial_and_accept_agree_and_carry_the_payload() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut s = server(&mut rng);
        let noise_key = KeyPair::generate(&mut rng);
        let (mut dial, first) = Dial::start(KeyPair::generate(&mut rng), 1 << 20);
        assert_eq!(&first[..4], &WA_HEADER);
        assert!(s.accept.handle_input(&first).expect("hello").is_none());
        let hello = s.accept.poll_transmit().expect("server hello");
        // Byte by byte: nothing until the ServerHello is whole.
        let (last, head) = hello.split_last().expect("non-empty");
        dial.push(head);
        assert_eq!(dial.server_hello().expect("frames"), None);
        dial.push(&[*last]);
        let frame = dial.server_hello().expect("frames").expect("whole");
        let mut dialed = dial
            .finish(
                &frame,
                &s.trust,
                1_000,
                &noise_key,
                b"payload",
                Limits::default(),
            )
            .expect("verified");
        let mut accepted = s
            .accept
            .handle_input(&dialed.finish)
            .expect("finish")
            .expect("accepted");
        assert_eq!(accepted.payload, b"payload");
        assert_eq!(accepted.client_static, noise_key.public);
        let mut out = Vec::new();
        dialed
            .transport
            .encode_node(&Node::new("ping"), &mut out)
            .expect("encodes");
        accepted.transport.push(&out);
        let node = accepted.transport.next_node().expect("decodes");
        assert_eq!(node.map(|n| n.tag), Some("ping".to_owned()));
    }

    #[test]
    fn an_untrusted_server_is_refused() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut s = server(&mut rng);
        let (mut dial, first) = Dial::start(KeyPair::generate(&mut rng), 1 << 20);
        s.accept.handle_input(&first).expect("hello");
        dial.push(&s.accept.poll_transmit().expect("server hello"));
        let frame = dial.server_hello().expect("frames").expect("whole");
        let other = TrustRoot::new(KeyPair::generate(&mut rng).public);
        let noise_key = KeyPair::generate(&mut rng);
        let err = dial
            .finish(&frame, &other, 1_000, &noise_key, b"", Limits::default())
            .expect_err("wrong root");
        assert!(
            matches!(err, Error::Handshake(HandshakeError::Cert(_))),
            "{err}"
        );
    }
}

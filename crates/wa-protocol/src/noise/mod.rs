//! The Noise transport of WhatsApp Web: `Noise_XX_25519_AESGCM_SHA256`.
//!
//! ```text
//!  client (Initiator)                                   server (Responder)
//!  WA 06 03 ‖ frame(ClientHello{e})        ─────────▶   ResponderAwaitClientHello::read_client_hello
//!  InitiatorAwaitServerHello::read_server_hello  ◀──   frame(ServerHello{e, enc(s), enc(CertChain)})
//!     └ verifies the certificate chain against the injected TrustRoot
//!  InitiatorAwaitFinish::write_client_finish   ────▶   ResponderAwaitFinish::read_client_finish
//!  TransportCipher (write = first HKDF half)            TransportCipher (roles swapped)
//! ```
//!
//! Every handshake phase is its own type and each step consumes the previous one, so a half-done
//! handshake can never encrypt application data. Ephemeral keys and signature randomness come from
//! the caller; nothing here reads a clock or a socket. Sources: `transport-noise.md` (§4 steps,
//! §5 certificates, §6 split), whatsmeow `socket/noisehandshake.go` and `handshake.go`, Baileys
//! `src/Utils/noise-handler.ts`.

mod accept;
pub(crate) mod cert;
mod dial;
pub(crate) mod error;
pub(crate) mod frame;
mod framed;
mod handshake;
mod symmetric;
mod transport;

pub use accept::{Accept, Accepted};
pub use cert::{build_cert_chain, CertError, CertInfo, TrustRoot, VerifiedServer};
pub use dial::{Dial, Dialed};
pub use error::HandshakeError;
pub use frame::{
    encode_frame, FrameDecoder, FrameError, Intro, FRAME_HEADER_LEN, MAX_FRAME_LEN, WA_HEADER,
};
pub use framed::FramedTransport;
pub use handshake::{
    ClientFinished, Initiator, InitiatorAwaitFinish, InitiatorAwaitServerHello, Responder,
    ResponderAwaitClientHello, ResponderAwaitFinish, NOISE_XX_NAME,
};
pub use transport::{TransportCipher, TAG_LEN};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::KeyPair;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const NOW: u64 = 1_800_000_000;

    /// A whole handshake between our own initiator and responder, then traffic both ways.
    #[test]
    fn initiator_and_responder_agree() {
        let mut rng = StdRng::seed_from_u64(3);
        let root = KeyPair::generate(&mut rng);
        let inter = KeyPair::generate(&mut rng);
        let server_static = KeyPair::generate(&mut rng);
        let chain = build_cert_chain(
            &root,
            &inter,
            &server_static.public,
            NOW - 1,
            NOW + 1,
            &mut rng,
        );
        let noise_key = KeyPair::generate(&mut rng);

        let (client, hello) = Initiator::start(KeyPair::generate(&mut rng));
        let server = Responder::start(server_static.clone(), chain);
        let (server, server_hello) = server
            .read_client_hello(&hello, KeyPair::generate(&mut rng))
            .expect("hello");
        let client = client
            .read_server_hello(&server_hello, &TrustRoot::new(root.public), NOW)
            .expect("server hello");
        assert_eq!(client.server().static_key(), &server_static.public);
        let (mut c, finish) = client
            .write_client_finish(&noise_key, b"payload")
            .expect("finish");
        let done = server.read_client_finish(&finish).expect("client finish");
        assert_eq!(done.client_static, noise_key.public);
        assert_eq!(done.payload, b"payload");
        let mut s = done.transport;
        for i in 0..10u8 {
            let ct = c.seal(&[i; 40]).expect("seal");
            assert_eq!(s.open(&ct).expect("open"), vec![i; 40]);
            let ct = s.seal(&[i]).expect("seal");
            assert_eq!(c.open(&ct).expect("open"), vec![i]);
        }
        assert_eq!((c.sent(), c.received()), (10, 10));

        // A flipped bit is a MAC failure, and the transport stays broken afterwards.
        let mut ct = c.seal(b"x").expect("seal");
        ct[0] ^= 1;
        assert_eq!(s.open(&ct), Err(HandshakeError::BadMac("transport frame")));
        let ct = c.seal(b"y").expect("seal");
        assert_eq!(s.open(&ct), Err(HandshakeError::TransportBroken));
    }

    #[test]
    fn handshake_messages_are_checked() {
        let mut rng = StdRng::seed_from_u64(4);
        let (client, _hello) = Initiator::start(KeyPair::generate(&mut rng));
        let trust = TrustRoot::new(KeyPair::generate(&mut rng).public);
        assert!(matches!(
            client.read_server_hello(&[0xff, 0x01], &trust, NOW),
            Err(HandshakeError::Decode(_))
        ));
        let server = Responder::start(KeyPair::generate(&mut rng), vec![]);
        // A HandshakeMessage with no clientHello.
        assert_eq!(
            server
                .read_client_hello(&[], KeyPair::generate(&mut rng))
                .err(),
            Some(HandshakeError::Missing("clientHello"))
        );
        // A clientHello whose ephemeral is 31 bytes.
        let mut short = vec![0x12, 0x21, 0x0a, 0x1f];
        short.extend_from_slice(&[7; 31]);
        let server = Responder::start(KeyPair::generate(&mut rng), vec![]);
        assert_eq!(
            server
                .read_client_hello(&short, KeyPair::generate(&mut rng))
                .err(),
            Some(HandshakeError::BadKeyLength("clientHello.ephemeral"))
        );
    }

    #[test]
    fn tampered_server_hello_fails_authentication() {
        let mut rng = StdRng::seed_from_u64(5);
        let root = KeyPair::generate(&mut rng);
        let inter = KeyPair::generate(&mut rng);
        let server_static = KeyPair::generate(&mut rng);
        let chain = build_cert_chain(
            &root,
            &inter,
            &server_static.public,
            NOW - 1,
            NOW + 1,
            &mut rng,
        );
        let (client, hello) = Initiator::start(KeyPair::generate(&mut rng));
        let (_, mut server_hello) = Responder::start(server_static, chain)
            .read_client_hello(&hello, KeyPair::generate(&mut rng))
            .expect("hello");
        let last = server_hello.len() - 1;
        server_hello[last] ^= 0x80;
        assert_eq!(
            client
                .read_server_hello(&server_hello, &TrustRoot::new(root.public), NOW)
                .err(),
            Some(HandshakeError::BadMac("certificate chain"))
        );
    }
}

//! XX handshake typestates for both roles (`transport-noise.md` §4.4).

use prost::Message;

use super::cert::{TrustRoot, VerifiedServer};
use super::error::HandshakeError;
use super::frame::WA_HEADER;
use super::symmetric::SymmetricState;
use super::transport::TransportCipher;
use crate::pb::handshake::handshake_message::{ClientFinish, ClientHello, ServerHello};
use crate::pb::handshake::HandshakeMessage;
use crate::signal::{KeyPair, PublicKey};

fn key32(bytes: Option<&[u8]>, what: &'static str) -> Result<PublicKey, HandshakeError> {
    let bytes = bytes.ok_or(HandshakeError::Missing(what))?;
    PublicKey::from_slice(bytes).ok_or(HandshakeError::BadKeyLength(what))
}

fn decode(msg: &[u8]) -> Result<HandshakeMessage, HandshakeError> {
    HandshakeMessage::decode(msg).map_err(HandshakeError::Decode)
}

/// The Noise protocol name, exactly 32 bytes, used directly as the initial hash.
pub const NOISE_XX_NAME: &[u8; 32] = b"Noise_XX_25519_AESGCM_SHA256\0\0\0\0";

/// Entry point of the client role.
#[derive(Debug)]
pub struct Initiator;

impl Initiator {
    /// Starts a handshake with a fresh ephemeral key; returns the next state and the serialised
    /// `HandshakeMessage{clientHello}` (to be framed after the [`WA_HEADER`] intro).
    pub fn start(ephemeral: KeyPair) -> (InitiatorAwaitServerHello, Vec<u8>) {
        let mut sym = SymmetricState::new(NOISE_XX_NAME, &WA_HEADER);
        sym.mix_hash(ephemeral.public.as_bytes());
        let hello = HandshakeMessage {
            client_hello: Some(ClientHello {
                ephemeral: Some(ephemeral.public.as_bytes().to_vec()),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec();
        (InitiatorAwaitServerHello { sym, ephemeral }, hello)
    }
}

/// Client: ClientHello sent, waiting for the ServerHello.
pub struct InitiatorAwaitServerHello {
    sym: SymmetricState,
    ephemeral: KeyPair,
}

impl InitiatorAwaitServerHello {
    /// Processes the ServerHello: DH steps, decrypts the server static and its certificate chain
    /// and verifies the chain against `trust` at `now` (unix seconds).
    pub fn read_server_hello(
        self,
        msg: &[u8],
        trust: &TrustRoot,
        now: u64,
    ) -> Result<InitiatorAwaitFinish, HandshakeError> {
        let opened = self.open_server_hello(msg)?;
        let server = VerifiedServer::verify(&opened.chain, &opened.server_static, trust, now)?;
        Ok(InitiatorAwaitFinish {
            sym: opened.sym,
            server_ephemeral: opened.server_ephemeral,
            server,
        })
    }

    /// The cryptographic half of [`Self::read_server_hello`]: everything but the chain check.
    fn open_server_hello(mut self, msg: &[u8]) -> Result<OpenedServerHello, HandshakeError> {
        let hello = decode(msg)?
            .server_hello
            .ok_or(HandshakeError::Missing("serverHello"))?;
        let server_eph = key32(hello.ephemeral.as_deref(), "serverHello.ephemeral")?;
        let static_ct = hello
            .r#static
            .as_deref()
            .ok_or(HandshakeError::Missing("serverHello.static"))?;
        let payload_ct = hello
            .payload
            .as_deref()
            .ok_or(HandshakeError::Missing("serverHello.payload"))?;

        let sym = &mut self.sym;
        sym.mix_hash(server_eph.as_bytes());
        sym.mix_key(&self.ephemeral.private.agree(&server_eph));
        let server_static = sym.decrypt_and_hash(static_ct, "server static")?;
        let server_static = PublicKey::from_slice(&server_static)
            .ok_or(HandshakeError::BadKeyLength("server static"))?;
        sym.mix_key(&self.ephemeral.private.agree(&server_static));
        let chain = sym.decrypt_and_hash(payload_ct, "certificate chain")?;
        Ok(OpenedServerHello {
            sym: self.sym,
            server_ephemeral: server_eph,
            server_static,
            chain,
        })
    }
}

/// A decrypted ServerHello whose certificate chain is not checked yet (never leaves this module).
struct OpenedServerHello {
    sym: SymmetricState,
    server_ephemeral: PublicKey,
    server_static: PublicKey,
    chain: Vec<u8>,
}

/// Client: the server is authenticated; the ClientFinish is next.
pub struct InitiatorAwaitFinish {
    sym: SymmetricState,
    server_ephemeral: PublicKey,
    server: VerifiedServer,
}

impl InitiatorAwaitFinish {
    /// What the certificate chain proved about the server.
    pub fn server(&self) -> &VerifiedServer {
        &self.server
    }

    /// Encrypts our static (noise) key and the `ClientPayload`, and splits into the transport.
    /// Returns the transport and the serialised `HandshakeMessage{clientFinish}` to frame.
    pub fn write_client_finish(
        self,
        noise_key: &KeyPair,
        client_payload: &[u8],
    ) -> Result<(TransportCipher, Vec<u8>), HandshakeError> {
        client_finish(self.sym, &self.server_ephemeral, noise_key, client_payload)
    }
}

fn client_finish(
    mut sym: SymmetricState,
    server_ephemeral: &PublicKey,
    noise_key: &KeyPair,
    client_payload: &[u8],
) -> Result<(TransportCipher, Vec<u8>), HandshakeError> {
    let static_ct = sym.encrypt_and_hash(noise_key.public.as_bytes())?;
    sym.mix_key(&noise_key.private.agree(server_ephemeral));
    let payload_ct = sym.encrypt_and_hash(client_payload)?;
    let (write, read) = sym.split();
    let finish = HandshakeMessage {
        client_finish: Some(ClientFinish {
            r#static: Some(static_ct),
            payload: Some(payload_ct),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec();
    Ok((TransportCipher::new(write, read), finish))
}

/// Entry point of the server role.
#[derive(Debug)]
pub struct Responder;

impl Responder {
    /// Prepares to answer one client with our static key and the certificate chain bytes that
    /// certify it.
    pub fn start(static_key: KeyPair, cert_chain: Vec<u8>) -> ResponderAwaitClientHello {
        ResponderAwaitClientHello {
            sym: SymmetricState::new(NOISE_XX_NAME, &WA_HEADER),
            static_key,
            cert_chain,
        }
    }
}

/// Server: waiting for the ClientHello.
pub struct ResponderAwaitClientHello {
    sym: SymmetricState,
    static_key: KeyPair,
    cert_chain: Vec<u8>,
}

impl ResponderAwaitClientHello {
    /// Processes the ClientHello and produces the serialised `HandshakeMessage{serverHello}`,
    /// using `ephemeral` as our ephemeral key.
    pub fn read_client_hello(
        mut self,
        msg: &[u8],
        ephemeral: KeyPair,
    ) -> Result<(ResponderAwaitFinish, Vec<u8>), HandshakeError> {
        let hello = decode(msg)?
            .client_hello
            .ok_or(HandshakeError::Missing("clientHello"))?;
        let client_eph = key32(hello.ephemeral.as_deref(), "clientHello.ephemeral")?;
        let sym = &mut self.sym;
        sym.mix_hash(client_eph.as_bytes());
        sym.mix_hash(ephemeral.public.as_bytes());
        sym.mix_key(&ephemeral.private.agree(&client_eph));
        let static_ct = sym.encrypt_and_hash(self.static_key.public.as_bytes())?;
        sym.mix_key(&self.static_key.private.agree(&client_eph));
        let payload_ct = sym.encrypt_and_hash(&self.cert_chain)?;
        let reply = HandshakeMessage {
            server_hello: Some(ServerHello {
                ephemeral: Some(ephemeral.public.as_bytes().to_vec()),
                r#static: Some(static_ct),
                payload: Some(payload_ct),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec();
        Ok((
            ResponderAwaitFinish {
                sym: self.sym,
                ephemeral,
            },
            reply,
        ))
    }
}

/// Server: ServerHello sent, waiting for the ClientFinish.
pub struct ResponderAwaitFinish {
    sym: SymmetricState,
    ephemeral: KeyPair,
}

/// What the responder learns from a completed handshake.
#[derive(Debug)]
pub struct ClientFinished {
    /// The transport cipher (server roles: write = second HKDF half).
    pub transport: TransportCipher,
    /// The client's static (noise) public key, proven by the handshake.
    pub client_static: PublicKey,
    /// The decrypted `ClientPayload` bytes.
    pub payload: Vec<u8>,
}

impl ResponderAwaitFinish {
    /// Processes the ClientFinish: authenticates the client's static key and decrypts its payload.
    pub fn read_client_finish(mut self, msg: &[u8]) -> Result<ClientFinished, HandshakeError> {
        let finish = decode(msg)?
            .client_finish
            .ok_or(HandshakeError::Missing("clientFinish"))?;
        let static_ct = finish
            .r#static
            .as_deref()
            .ok_or(HandshakeError::Missing("clientFinish.static"))?;
        let payload_ct = finish
            .payload
            .as_deref()
            .ok_or(HandshakeError::Missing("clientFinish.payload"))?;
        let sym = &mut self.sym;
        let client_static = sym.decrypt_and_hash(static_ct, "client static")?;
        let client_static = PublicKey::from_slice(&client_static)
            .ok_or(HandshakeError::BadKeyLength("client static"))?;
        sym.mix_key(&self.ephemeral.private.agree(&client_static));
        let payload = sym.decrypt_and_hash(payload_ct, "client payload")?;
        let (client_write, client_read) = sym.split();
        Ok(ClientFinished {
            transport: TransportCipher::new(client_read, client_write),
            client_static,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    //! The fixed-key vector of `transport-noise.md` §8 (`data/vectors/noise_xx_vector.txt`),
    //! produced by running Baileys' noise handler against an independent responder.
    use super::*;
    use crate::noise::{encode_frame, CertError, FrameDecoder, MAX_FRAME_LEN};

    const VECTOR: &str = include_str!("../../../../data/vectors/noise_xx_vector.txt");

    fn get(label: &str) -> Vec<u8> {
        let line = VECTOR
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label}"));
        let hexpart = line[label.len()..]
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("empty {label}"));
        hex::decode(hexpart).expect("hex")
    }

    fn key(label: &str) -> KeyPair {
        let bytes: [u8; 32] = get(label).try_into().expect("32");
        KeyPair::from_private_bytes(bytes)
    }

    fn client_hello_and_state() -> (InitiatorAwaitServerHello, Vec<u8>) {
        Initiator::start(key("client_eph_priv "))
    }

    #[test]
    fn initiator_first_message_is_byte_exact() {
        let (state, hello) = client_hello_and_state();
        let mut wire = WA_HEADER.to_vec();
        encode_frame(&hello, &mut wire).expect("fits");
        assert_eq!(wire, get("wire1 (client->server, first ws message) "));
        assert_eq!(state.sym.h().to_vec(), get("h after client e "));
    }

    #[test]
    fn responder_reproduces_server_hello_and_transport() {
        let server_static = key("server_static_priv ");
        let chain = get("certChain plaintext ");
        let responder = Responder::start(server_static, chain);
        let (_, hello) = client_hello_and_state();
        let (await_finish, server_hello) = responder
            .read_client_hello(&hello, key("server_eph_priv "))
            .expect("client hello");
        assert_eq!(server_hello, get("serverHello bytes "));

        let finish = HandshakeMessage {
            client_finish: Some(ClientFinish {
                r#static: Some(get("clientFinish.static ct ")),
                payload: Some(get("clientFinish.payload ct ")),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec();
        let done = await_finish.read_client_finish(&finish).expect("finish");
        assert_eq!(done.payload, vec![0x08, 0x01]);
        assert_eq!(
            done.client_static,
            key("client_static_priv ").public,
            "server learns the client's noise key"
        );
        let mut transport = done.transport;
        // Client → server frame #0 is the ping IQ of binary-node.md §9.
        let mut dec = FrameDecoder::for_client(MAX_FRAME_LEN);
        dec.push(&get("client->server frame0 "));
        let frame = dec.next_frame().expect("frame").expect("whole");
        assert_eq!(
            transport.open(&frame).expect("opens"),
            hex::decode("00f8091908ff831b2a3f1657042911fa0003").expect("hex")
        );
        // Server → client frame #0 seals the same ping to the vector's bytes.
        let sealed = transport
            .seal(&hex::decode("00f8091908ff831b2a3f1657042911fa0003").expect("hex"))
            .expect("seal");
        let mut wire = Vec::new();
        encode_frame(&sealed, &mut wire).expect("fits");
        assert_eq!(wire, get("server->client frame0 (len prefix + ct) "));
    }

    #[test]
    fn initiator_reproduces_client_finish_and_keys() {
        let (state, _) = client_hello_and_state();
        let opened = state
            .open_server_hello(&get("serverHello bytes "))
            .expect("opens");
        assert_eq!(opened.chain, get("certChain plaintext "));
        assert_eq!(opened.sym.ck().to_vec(), get("ck after es "));
        let (mut transport, finish) = client_finish(
            opened.sym,
            &opened.server_ephemeral,
            &key("client_static_priv "),
            &[0x08, 0x01],
        )
        .expect("finish");
        let msg = HandshakeMessage::decode(finish.as_slice()).expect("decodes");
        let cf = msg.client_finish.expect("clientFinish");
        assert_eq!(cf.r#static, Some(get("clientFinish.static ct ")));
        assert_eq!(cf.payload, Some(get("clientFinish.payload ct ")));
        let sealed = transport
            .seal(&hex::decode("00f8091908ff831b2a3f1657042911fa0003").expect("hex"))
            .expect("seal");
        let mut wire = Vec::new();
        encode_frame(&sealed, &mut wire).expect("fits");
        assert_eq!(wire, get("client->server frame0 "));
    }

    #[test]
    fn public_initiator_refuses_the_vectors_unsigned_chain() {
        let (state, _) = client_hello_and_state();
        let trust = TrustRoot::new(KeyPair::from_private_bytes([0x55; 32]).public);
        let err = state
            .read_server_hello(&get("serverHello bytes "), &trust, 1_750_000_000)
            .err()
            .expect("must refuse");
        assert_eq!(err, HandshakeError::Cert(CertError::IntermediateSignature));
    }
}

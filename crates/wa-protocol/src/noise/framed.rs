//! The post-handshake pipeline both roles share: node ⇄ flags+node bytes ⇄ sealed frame.
//!
//! ```text
//! send:    Node ─binary::marshal─▶ plaintext ─TransportCipher::seal─▶ ciphertext ─encode_frame─▶ wire
//! receive: wire ─FrameDecoder─▶ ciphertext ─TransportCipher::open─▶ plaintext ─binary::unmarshal─▶ Node
//! ```

use super::frame::{encode_frame, FrameDecoder};
use super::transport::TransportCipher;
use crate::binary::{marshal, unmarshal, Limits, Node};
use crate::error::Error;

/// An established Noise transport with its frame decoder: push received bytes, pull nodes; give
/// nodes, get bytes to write. Pure: the caller owns the socket.
#[derive(Debug)]
pub struct FramedTransport {
    cipher: TransportCipher,
    decoder: FrameDecoder,
    limits: Limits,
}

impl FramedTransport {
    /// Wraps a transport cipher and the decoder that read the handshake (it may already hold
    /// bytes of the first transport frames).
    pub fn new(cipher: TransportCipher, decoder: FrameDecoder, limits: Limits) -> Self {
        Self {
            cipher,
            decoder,
            limits,
        }
    }

    /// Encodes, encrypts and frames `node`, appending the wire bytes to `out`.
    pub fn encode_node(&mut self, node: &Node, out: &mut Vec<u8>) -> Result<(), Error> {
        let mut plaintext = marshal(node)?;
        self.cipher.seal_in_place(&mut plaintext)?;
        encode_frame(&plaintext, out)?;
        Ok(())
    }

    /// Feeds bytes received from the socket.
    pub fn push(&mut self, data: &[u8]) {
        self.decoder.push(data);
    }

    /// The next decrypted plaintext (flags byte + node), if a whole frame is buffered.
    fn next_plaintext(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let Some(mut frame) = self.decoder.next_frame()? else {
            return Ok(None);
        };
        self.cipher.open_in_place(&mut frame)?;
        Ok(Some(frame))
    }

    /// The next decoded node, if a whole frame is buffered.
    pub fn next_node(&mut self) -> Result<Option<Node>, Error> {
        match self.next_plaintext()? {
            Some(plaintext) => Ok(Some(unmarshal(&plaintext, &self.limits)?)),
            None => Ok(None),
        }
    }
}

//! The hashes a media message carries (`media.md` §2 and §4): `fileSha256` and `fileLength`
//! over the plaintext, `fileEncSha256` over the uploaded body (`ciphertext ‖ mac`), and for
//! audio and video the streaming sidecar over the same body. Each runs apart from the
//! [`super::MediaCipher`], so a caller can spread the work over threads.

use sha2::{Digest, Sha256};

use super::sidecar::SidecarBuilder;

/// `fileSha256` and `fileLength` of a plaintext fed in order.
#[derive(Clone, Default)]
pub struct PlainDigest {
    hash: Sha256,
    len: u64,
}

impl PlainDigest {
    /// A digest of nothing yet.
    pub fn new() -> PlainDigest {
        PlainDigest::default()
    }

    /// Feeds the next plaintext bytes.
    pub fn update(&mut self, plaintext: &[u8]) {
        self.hash.update(plaintext);
        self.len += plaintext.len() as u64;
    }

    /// The SHA-256 and the length.
    pub(crate) fn finish(self) -> ([u8; 32], u64) {
        (self.hash.finalize().into(), self.len)
    }
}

/// `fileEncSha256` (and the sidecar, when one is built) of a body fed in order.
#[derive(Clone)]
pub struct BodyDigest {
    hash: Sha256,
    sidecar: Option<SidecarBuilder>,
    len: u64,
}

/// What [`BodyDigest::finish`] gives: the hash, the length, the sidecar.
pub(crate) type BodySums = ([u8; 32], u64, Option<Vec<u8>>);

impl BodyDigest {
    /// A digest building `sidecar` too, if given.
    pub(crate) fn new(sidecar: Option<SidecarBuilder>) -> BodyDigest {
        BodyDigest {
            hash: Sha256::new(),
            sidecar,
            len: 0,
        }
    }

    /// Feeds the next body bytes (ciphertext, then the MAC).
    pub fn update(&mut self, body: &[u8]) {
        self.hash.update(body);
        self.len += body.len() as u64;
        if let Some(s) = self.sidecar.as_mut() {
            s.update(body);
        }
    }

    /// `fileEncSha256` of the body fed so far (the upload token's hash once the body is
    /// whole), without finishing.
    pub fn sha256(&self) -> [u8; 32] {
        self.hash.clone().finalize().into()
    }

    /// Bytes of body fed so far.
    pub fn fed(&self) -> u64 {
        self.len
    }

    /// The SHA-256, the length and the sidecar.
    pub(crate) fn finish(self) -> BodySums {
        let sidecar = self.sidecar.map(SidecarBuilder::finish);
        (self.hash.finalize().into(), self.len, sidecar)
    }
}

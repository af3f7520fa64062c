//! The cipher half of media encryption (`media.md` §2 steps 1–3): AES-256-CBC with PKCS#7
//! padding, and the HMAC-SHA256 over `iv ‖ ciphertext` whose first 10 bytes follow the
//! ciphertext. The hashes the message carries are [`super::digest`]'s.

use aes::cipher::consts::U16;
use aes::cipher::inout::InOutBuf;
use aes::cipher::{BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::keys::{keyed_mac, MediaKey, MediaKeys};
use super::kind::MediaType;

/// AES block length.
pub(crate) const BLOCK: usize = 16;
/// Length of the MAC appended to the ciphertext (`media.md` §2 step 3, whatsmeow
/// `mediaHMACLength = 10`).
pub const MAC_LEN: usize = 10;

/// Turns plaintext fed in pieces of any size into the uploaded body (`ciphertext ‖ mac`),
/// appended to the caller's buffer as whole AES blocks; at most 15 plaintext bytes stay
/// buffered between calls. It computes no hash: [`super::MediaEncryptor`] adds them, or a
/// caller runs [`super::PlainDigest`] and [`super::BodyDigest`] beside it (on other threads)
/// over the same bytes. [`MediaCipher::split`] parts the AES from the MAC for a caller that
/// runs them on two threads.
#[derive(Clone)]
pub struct MediaCipher {
    cbc: MediaCbc,
    mac: BodyMac,
}

/// The AES half of a [`MediaCipher`]: AES-256-CBC with PKCS#7 padding, no MAC.
#[derive(Clone)]
pub struct MediaCbc {
    cbc: cbc::Encryptor<aes::Aes256>,
    partial: [u8; BLOCK],
    partial_len: usize,
}

/// The MAC half of a [`MediaCipher`]: HMAC-SHA256 over `iv ‖ ciphertext`, fed every byte the
/// [`MediaCbc`] appends (its `finish` included), in order.
#[derive(Clone)]
pub struct BodyMac {
    mac: Hmac<Sha256>,
}

impl MediaCipher {
    /// A cipher for `ty` with `key`.
    pub fn new(key: &MediaKey, ty: MediaType) -> MediaCipher {
        MediaCipher::from_keys(&MediaKeys::expand(key, ty))
    }

    /// A cipher with already expanded keys.
    pub(crate) fn from_keys(keys: &MediaKeys) -> MediaCipher {
        let mut mac = keyed_mac(&keys.mac_key);
        mac.update(&keys.iv);
        MediaCipher {
            cbc: MediaCbc {
                cbc: cbc::Encryptor::new(&keys.cipher_key.into(), &keys.iv.into()),
                partial: [0; BLOCK],
                partial_len: 0,
            },
            mac: BodyMac { mac },
        }
    }

    /// The AES and the MAC apart (the body is the AES output followed by
    /// [`BodyMac::finish`]'s tag).
    pub fn split(self) -> (MediaCbc, BodyMac) {
        (self.cbc, self.mac)
    }

    /// Encrypts the next plaintext piece, appending whole ciphertext blocks to `out`.
    pub fn update(&mut self, plaintext: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        self.cbc.update(plaintext, out);
        self.mac.update(&out[start..]);
    }

    /// Pads and encrypts the last block and appends it and the 10-byte MAC to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        let start = out.len();
        self.cbc.finish(out);
        self.mac.update(&out[start..]);
        out.extend_from_slice(&self.mac.finish());
    }
}

impl MediaCbc {
    /// Encrypts the next plaintext piece, appending whole ciphertext blocks to `out`.
    pub fn update(&mut self, plaintext: &[u8], out: &mut Vec<u8>) {
        let mut input = plaintext;
        if self.partial_len > 0 {
            let need = BLOCK - self.partial_len;
            let take = need.min(input.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&input[..take]);
            self.partial_len += take;
            input = &input[take..];
            if self.partial_len < BLOCK {
                return;
            }
            let block = self.partial;
            self.partial_len = 0;
            self.seal_blocks(&block, out);
        }
        let whole = input.len() - input.len() % BLOCK;
        if whole > 0 {
            self.seal_blocks(&input[..whole], out);
        }
        let tail = &input[whole..];
        self.partial[..tail.len()].copy_from_slice(tail);
        self.partial_len = tail.len();
    }

    /// Pads and encrypts the last block, appending it to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        let pad = BLOCK - self.partial_len;
        let mut last = self.partial;
        // PKCS#7: `pad` bytes of value `pad` (1..=16).
        last[self.partial_len..].fill(pad as u8);
        self.seal_blocks(&last, out);
    }

    /// Encrypts `blocks` (whole AES blocks) in place at the end of `out`.
    fn seal_blocks(&mut self, blocks: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(blocks);
        let (chunks, _) = InOutBuf::from(&mut out[start..]).into_chunks::<U16>();
        self.cbc.encrypt_blocks_inout_mut(chunks);
    }
}

impl BodyMac {
    /// Feeds the next ciphertext bytes.
    pub fn update(&mut self, ciphertext: &[u8]) {
        self.mac.update(ciphertext);
    }

    /// The 10-byte MAC that ends the body.
    pub fn finish(self) -> [u8; MAC_LEN] {
        let tag = self.mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&tag[..MAC_LEN]);
        out
    }
}

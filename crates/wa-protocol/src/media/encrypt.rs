//! Streaming media encryption (`media.md` §2): AES-256-CBC with PKCS#7, the 10-byte MAC over
//! `iv ‖ ciphertext` appended, and the hashes and length the message carries.

use aes::cipher::consts::U16;
use aes::cipher::inout::InOutBuf;
use aes::cipher::{BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::keys::{keyed_mac, MediaKey, MediaKeys};
use super::kind::MediaType;
use super::sidecar::SidecarBuilder;

/// AES block length.
pub(crate) const BLOCK: usize = 16;
/// Length of the MAC appended to the ciphertext (`media.md` §2 step 3, whatsmeow
/// `mediaHMACLength = 10`).
pub const MAC_LEN: usize = 10;

/// Length of the uploaded blob for `plaintext_len` bytes: PKCS#7 always adds 1 to 16 bytes,
/// then the MAC.
pub const fn encrypted_len(plaintext_len: u64) -> u64 {
    (plaintext_len / BLOCK as u64 + 1) * BLOCK as u64 + MAC_LEN as u64
}

/// What a finished encryption gives for the message (`media.md` §2 and §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedMedia {
    /// `fileSha256`: SHA-256 of the plaintext.
    pub file_sha256: [u8; 32],
    /// `fileEncSha256`: SHA-256 of `ciphertext ‖ mac` (the uploaded body).
    pub file_enc_sha256: [u8; 32],
    /// `fileLength`: plaintext bytes.
    pub file_length: u64,
    /// Bytes of the uploaded body (`ciphertext ‖ mac`).
    pub enc_length: u64,
    /// `streamingSidecar` (audio and video; see [`super::sidecar`]).
    pub streaming_sidecar: Option<Vec<u8>>,
}

/// Encrypts a media file fed in pieces of any size. Output is appended to the caller's buffer
/// as whole AES blocks; at most 15 plaintext bytes stay buffered between calls.
#[derive(Clone)]
pub struct MediaEncryptor {
    cbc: cbc::Encryptor<aes::Aes256>,
    mac: Hmac<Sha256>,
    plain_hash: Sha256,
    enc_hash: Sha256,
    partial: [u8; BLOCK],
    partial_len: usize,
    file_length: u64,
    sidecar: Option<SidecarBuilder>,
}

impl MediaEncryptor {
    /// An encryptor for `ty` with `key`; it builds a streaming sidecar when
    /// [`MediaType::has_sidecar`].
    pub fn new(key: &MediaKey, ty: MediaType) -> MediaEncryptor {
        MediaEncryptor::with_sidecar(key, ty, ty.has_sidecar())
    }

    /// An encryptor that builds a streaming sidecar exactly when `sidecar` is set.
    pub fn with_sidecar(key: &MediaKey, ty: MediaType, sidecar: bool) -> MediaEncryptor {
        let keys = MediaKeys::expand(key, ty);
        let mut mac = keyed_mac(&keys.mac_key);
        mac.update(&keys.iv);
        MediaEncryptor {
            cbc: cbc::Encryptor::new(&keys.cipher_key.into(), &keys.iv.into()),
            mac,
            plain_hash: Sha256::new(),
            enc_hash: Sha256::new(),
            partial: [0; BLOCK],
            partial_len: 0,
            file_length: 0,
            sidecar: sidecar.then(|| SidecarBuilder::new(&keys.mac_key)),
        }
    }

    /// Encrypts the next plaintext piece, appending whole ciphertext blocks to `out`.
    pub fn update(&mut self, plaintext: &[u8], out: &mut Vec<u8>) {
        self.plain_hash.update(plaintext);
        self.file_length += plaintext.len() as u64;
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

    /// Pads and encrypts the last block, appends it and the 10-byte MAC to `out`, and returns
    /// the hashes and lengths.
    pub fn finish(mut self, out: &mut Vec<u8>) -> EncryptedMedia {
        let pad = BLOCK - self.partial_len;
        let mut last = self.partial;
        // PKCS#7: `pad` bytes of value `pad` (1..=16).
        last[self.partial_len..].fill(pad as u8);
        self.seal_blocks(&last, out);
        let tag = self.mac.finalize().into_bytes();
        let mac = &tag[..MAC_LEN];
        out.extend_from_slice(mac);
        self.enc_hash.update(mac);
        let streaming_sidecar = self.sidecar.map(|mut s| {
            s.update(mac);
            s.finish()
        });
        EncryptedMedia {
            file_sha256: self.plain_hash.finalize().into(),
            file_enc_sha256: self.enc_hash.finalize().into(),
            file_length: self.file_length,
            enc_length: encrypted_len(self.file_length),
            streaming_sidecar,
        }
    }

    /// Encrypts `blocks` (whole AES blocks) in place at the end of `out` and feeds the MAC,
    /// the body hash and the sidecar.
    fn seal_blocks(&mut self, blocks: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(blocks);
        let sealed = &mut out[start..];
        let (chunks, _) = InOutBuf::from(&mut *sealed).into_chunks::<U16>();
        self.cbc.encrypt_blocks_inout_mut(chunks);
        self.mac.update(sealed);
        self.enc_hash.update(&*sealed);
        if let Some(s) = self.sidecar.as_mut() {
            s.update(sealed);
        }
    }
}

/// Encrypts a whole plaintext at once: `(ciphertext ‖ mac, EncryptedMedia)`.
pub fn encrypt(key: &MediaKey, ty: MediaType, plaintext: &[u8]) -> (Vec<u8>, EncryptedMedia) {
    let mut out = Vec::with_capacity(plaintext.len() + BLOCK + MAC_LEN);
    let mut enc = MediaEncryptor::new(key, ty);
    enc.update(plaintext, &mut out);
    let info = enc.finish(&mut out);
    (out, info)
}

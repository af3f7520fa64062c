//! Streaming media decryption with verification (`media.md` §2, "Decrypting").
//!
//! The body arrives in pieces; [`MediaDecryptor::update`] releases plaintext as soon as it is
//! certain it is not the padded last block, but that plaintext is **unverified**: the MAC sits
//! at the very end of the body. Only [`MediaDecryptor::finish`] checks the MAC, then
//! `fileEncSha256`, the padding, `fileSha256` and `fileLength`. A caller streams the released
//! plaintext to a temporary file and hands the file on only after `finish` returned
//! [`VerifiedMedia`]; on an error it deletes the file.

use aes::cipher::consts::U16;
use aes::cipher::inout::InOutBuf;
use aes::cipher::{BlockDecryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::cipher::{BLOCK, MAC_LEN};
use super::error::MediaError;
use super::keys::{keyed_mac, MediaKey, MediaKeys};
use super::kind::MediaType;

/// What the message promises about the blob (its `fileEncSha256`, `fileSha256` and
/// `fileLength`, `media.md` §4). A `None` is not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// SHA-256 of the downloaded body (`ciphertext ‖ mac`).
    pub file_enc_sha256: Option<[u8; 32]>,
    /// SHA-256 of the plaintext.
    pub file_sha256: Option<[u8; 32]>,
    /// Plaintext length.
    pub file_length: Option<u64>,
}

/// Proof that a blob verified: returned only by a successful [`MediaDecryptor::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedMedia {
    /// SHA-256 of the plaintext.
    pub file_sha256: [u8; 32],
    /// SHA-256 of the body.
    pub file_enc_sha256: [u8; 32],
    /// Plaintext bytes.
    pub file_length: u64,
}

/// Decrypts a downloaded body fed in pieces of any size, holding back at most 26 bytes (the
/// possible last block and MAC) between calls.
#[derive(Clone)]
pub struct MediaDecryptor {
    cbc: cbc::Decryptor<aes::Aes256>,
    mac: Hmac<Sha256>,
    body_hash: Sha256,
    plain_hash: Sha256,
    /// Body bytes not yet decrypted: at most one block plus the MAC after each call.
    held: Vec<u8>,
    body_len: u64,
    plain_len: u64,
    expected: Expected,
}

impl MediaDecryptor {
    /// A decryptor for a blob of type `ty` encrypted with `key`, checking `expected` at the end.
    pub fn new(key: &MediaKey, ty: MediaType, expected: Expected) -> MediaDecryptor {
        let keys = MediaKeys::expand(key, ty);
        let mut mac = keyed_mac(&keys.mac_key);
        mac.update(&keys.iv);
        MediaDecryptor {
            cbc: cbc::Decryptor::new(&keys.cipher_key.into(), &keys.iv.into()),
            mac,
            body_hash: Sha256::new(),
            plain_hash: Sha256::new(),
            held: Vec::with_capacity(2 * BLOCK + MAC_LEN),
            body_len: 0,
            plain_len: 0,
            expected,
        }
    }

    /// Bytes of body fed so far.
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// Feeds the next piece of the body and appends the plaintext it frees to `out`.
    /// That plaintext is UNVERIFIED until [`MediaDecryptor::finish`] succeeds.
    pub fn update(&mut self, body: &[u8], out: &mut Vec<u8>) {
        self.body_hash.update(body);
        self.body_len += body.len() as u64;
        let total = self.held.len() + body.len();
        // Keep at least one ciphertext byte and the MAC back, so the last (padded) block and
        // the MAC are never released here.
        let ready = total.saturating_sub(MAC_LEN + 1) / BLOCK * BLOCK;
        if ready == 0 {
            self.held.extend_from_slice(body);
            return;
        }
        let from_held = ready.min(self.held.len());
        let from_body = ready - from_held;
        let start = out.len();
        out.extend_from_slice(&self.held[..from_held]);
        out.extend_from_slice(&body[..from_body]);
        self.held.drain(..from_held);
        self.held.extend_from_slice(&body[from_body..]);
        let blocks = &mut out[start..];
        self.mac.update(blocks);
        let (chunks, _) = InOutBuf::from(&mut *blocks).into_chunks::<U16>();
        self.cbc.decrypt_blocks_inout_mut(chunks);
        self.plain_hash.update(&*blocks);
        self.plain_len += ready as u64;
    }

    /// Verifies the MAC, then `fileEncSha256`, the padding, `fileSha256` and `fileLength`, and
    /// appends the last plaintext bytes to `out`. Everything released before is trustworthy
    /// only if this returns `Ok`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<VerifiedMedia, MediaError> {
        if self.body_len < (BLOCK + MAC_LEN) as u64 {
            return Err(MediaError::Truncated { len: self.body_len });
        }
        let ciphertext_len = self.body_len - MAC_LEN as u64;
        if !ciphertext_len.is_multiple_of(BLOCK as u64) {
            return Err(MediaError::Misaligned {
                len: ciphertext_len,
            });
        }
        // An aligned body leaves exactly the last block and the MAC held back.
        let split = self.held.len() - MAC_LEN;
        let (last, mac) = self.held.split_at_mut(split);
        self.mac.update(last);
        self.mac
            .verify_truncated_left(mac)
            .map_err(|_| MediaError::BadMac)?;
        let file_enc_sha256: [u8; 32] = self.body_hash.finalize().into();
        check_hash(self.expected.file_enc_sha256, &file_enc_sha256)
            .ok_or(MediaError::EncHashMismatch)?;
        let (chunks, _) = InOutBuf::from(&mut *last).into_chunks::<U16>();
        self.cbc.decrypt_blocks_inout_mut(chunks);
        let kept = unpad(last).ok_or(MediaError::BadPadding)?;
        self.plain_hash.update(kept);
        self.plain_len += kept.len() as u64;
        let file_sha256: [u8; 32] = self.plain_hash.finalize().into();
        check_hash(self.expected.file_sha256, &file_sha256).ok_or(MediaError::PlainHashMismatch)?;
        if let Some(expected) = self.expected.file_length {
            if expected != self.plain_len {
                return Err(MediaError::LengthMismatch {
                    expected,
                    actual: self.plain_len,
                });
            }
        }
        out.extend_from_slice(kept);
        Ok(VerifiedMedia {
            file_sha256,
            file_enc_sha256,
            file_length: self.plain_len,
        })
    }
}

/// `Some(())` when there is nothing to check or the hashes agree (constant time).
fn check_hash(expected: Option<[u8; 32]>, actual: &[u8; 32]) -> Option<()> {
    match expected {
        None => Some(()),
        Some(e) => bool::from(e.ct_eq(actual)).then_some(()),
    }
}

/// The block without its PKCS#7 padding (1..=16 bytes, each the pad length).
fn unpad(block: &[u8]) -> Option<&[u8]> {
    let pad = usize::from(*block.last()?);
    if pad == 0 || pad > BLOCK || pad > block.len() {
        return None;
    }
    let (kept, padding) = block.split_at(block.len() - pad);
    padding
        .iter()
        .all(|&b| usize::from(b) == pad)
        .then_some(kept)
}

/// Decrypts and verifies a whole body at once.
pub fn decrypt(
    key: &MediaKey,
    ty: MediaType,
    body: &[u8],
    expected: Expected,
) -> Result<(Vec<u8>, VerifiedMedia), MediaError> {
    let mut out = Vec::with_capacity(body.len());
    let mut dec = MediaDecryptor::new(key, ty, expected);
    dec.update(body, &mut out);
    let verified = dec.finish(&mut out)?;
    Ok((out, verified))
}

//! The in-memory limits the media harness compares the gateway's transfers with, measured in
//! the same run on the same machine: the bare AES-256-CBC + HMAC-SHA256 primitives (what any
//! implementation of `media.md` §2 must do per byte), and wa-protocol's streaming encrypt and
//! decrypt paths (which add the two SHA-256 hashes the message carries, and the sidecar for
//! audio and video), all on memory with no I/O, fed in the same 256 KiB pieces as the upload.

use std::time::Instant;

use aes::cipher::consts::U16;
use aes::cipher::inout::InOutBuf;
use aes::cipher::{BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use wa_protocol::media::{Expected, MediaDecryptor, MediaEncryptor, MediaKey, MediaType};

/// Plaintext bytes per step (the client's `READ_CHUNK`).
const PIECE: usize = 256 * 1024;

/// Seconds to AES-256-CBC-encrypt `plain` (whole blocks, in place in a reused buffer) and
/// HMAC-SHA256 the ciphertext.
pub fn raw_cbc_hmac(plain: &[u8]) -> f64 {
    let key = [7u8; 32];
    let iv = [9u8; 16];
    let start = Instant::now();
    let mut cbc = cbc::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into());
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[5u8; 32]).expect("any key length");
    let mut buf = vec![0u8; PIECE];
    for piece in plain.chunks(PIECE) {
        let whole = piece.len() - piece.len() % 16;
        let sealed = &mut buf[..whole];
        sealed.copy_from_slice(&piece[..whole]);
        let (blocks, _) = InOutBuf::from(&mut *sealed).into_chunks::<U16>();
        cbc.encrypt_blocks_inout_mut(blocks);
        mac.update(sealed);
    }
    std::hint::black_box(mac.finalize().into_bytes());
    start.elapsed().as_secs_f64()
}

/// Seconds for wa-protocol's [`MediaEncryptor`] over `plain`, writing the body into a reused
/// buffer.
pub fn encrypt_path(key: &MediaKey, ty: MediaType, plain: &[u8]) -> f64 {
    let mut body = Vec::with_capacity(PIECE + 64);
    let start = Instant::now();
    let mut enc = MediaEncryptor::new(key, ty);
    for piece in plain.chunks(PIECE) {
        body.clear();
        enc.update(piece, &mut body);
    }
    std::hint::black_box(enc.finish(&mut body));
    start.elapsed().as_secs_f64()
}

/// Seconds for wa-protocol's [`MediaDecryptor`] over `body` (verified at the end), writing
/// plaintext into a reused buffer.
pub fn decrypt_path(key: &MediaKey, ty: MediaType, body: &[u8]) -> f64 {
    let mut out = Vec::with_capacity(PIECE + 64);
    let start = Instant::now();
    let mut dec = MediaDecryptor::new(key, ty, Expected::default());
    for piece in body.chunks(PIECE) {
        out.clear();
        dec.update(piece, &mut out);
    }
    dec.finish(&mut out).expect("own body verifies");
    start.elapsed().as_secs_f64()
}

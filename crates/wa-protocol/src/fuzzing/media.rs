//! Fuzz entry of the media decrypt path (`media.md` §2).

use crate::media::{encrypt, Expected, MediaDecryptor, MediaKey, MediaType};

/// The key the seeds are encrypted with: the media vector's `media_key`
/// (`data/vectors/media_vector.json`), with image keys, so the vector's `enc_file` is a seed.
pub const FUZZ_MEDIA_KEY: [u8; 32] = [
    0xb4, 0x56, 0x53, 0x0f, 0xd7, 0xe4, 0x27, 0x6c, 0xc5, 0x76, 0xf5, 0x06, 0x1d, 0x65, 0x58, 0x9f,
    0x8f, 0x6d, 0xbe, 0xc2, 0x4d, 0x96, 0x70, 0x3d, 0x0a, 0x48, 0xf8, 0xe2, 0xd0, 0x18, 0x6d, 0xa6,
];

/// Decrypts a body fed in pieces. The first byte picks the piece size, the rest is the body.
/// It must never panic; a body that verifies must be exactly what encrypting its plaintext
/// again gives (the key and iv are fixed, so encryption is deterministic), and update must
/// never have released more than the final plaintext.
pub fn media_decrypt(data: &[u8]) {
    let Some((&piece, body)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1);
    let key = MediaKey::from(FUZZ_MEDIA_KEY);
    let mut dec = MediaDecryptor::new(&key, MediaType::Image, Expected::default());
    let mut out = Vec::new();
    for p in body.chunks(piece) {
        dec.update(p, &mut out);
        let fed = dec.body_len().max(11);
        assert!(
            out.len() as u64 + 11 <= fed,
            "released the last block or the MAC"
        );
    }
    let Ok(verified) = dec.finish(&mut out) else {
        return;
    };
    assert_eq!(verified.file_length, out.len() as u64);
    let (again, info) = encrypt(&key, MediaType::Image, &out);
    assert_eq!(again, body, "a verified body re-encrypts to itself");
    assert_eq!(info.file_enc_sha256, verified.file_enc_sha256);
}

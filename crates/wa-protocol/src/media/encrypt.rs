//! Streaming media encryption (`media.md` §2): AES-256-CBC with PKCS#7, the 10-byte MAC over
//! `iv ‖ ciphertext` appended, and the hashes and length the message carries. A
//! [`MediaEncryptor`] does it all on one thread; [`encrypt_parts`] gives the same work as three
//! parts ([`PlainDigest`], [`MediaCipher`], [`BodyDigest`]) for a caller with more cores.

use super::cipher::{MediaCipher, BLOCK, MAC_LEN};
use super::digest::{BodyDigest, PlainDigest};
use super::keys::{MediaKey, MediaKeys};
use super::kind::MediaType;
use super::sidecar::SidecarBuilder;

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

impl EncryptedMedia {
    /// The message's fields from the finished digests of an [`encrypt_parts`] run (the body
    /// digest fed everything the cipher produced, `finish` included).
    pub fn from_digests(plain: PlainDigest, body: BodyDigest) -> EncryptedMedia {
        let (file_sha256, file_length) = plain.finish();
        let (file_enc_sha256, enc_length, streaming_sidecar) = body.finish();
        EncryptedMedia {
            file_sha256,
            file_enc_sha256,
            file_length,
            enc_length,
            streaming_sidecar,
        }
    }
}

/// The three parts of [`MediaEncryptor`]'s work, for a caller that runs them on separate
/// threads: feed the plaintext, in order, to the [`PlainDigest`] and the [`MediaCipher`], and
/// everything the cipher appends (its `finish` included) to the [`BodyDigest`]; then
/// [`EncryptedMedia::from_digests`]. The body digest builds the streaming sidecar exactly when
/// [`MediaType::has_sidecar`].
pub fn encrypt_parts(key: &MediaKey, ty: MediaType) -> (PlainDigest, MediaCipher, BodyDigest) {
    parts(&MediaKeys::expand(key, ty), ty.has_sidecar())
}

fn parts(keys: &MediaKeys, sidecar: bool) -> (PlainDigest, MediaCipher, BodyDigest) {
    let sidecar = sidecar.then(|| SidecarBuilder::new(&keys.mac_key));
    (
        PlainDigest::new(),
        MediaCipher::from_keys(keys),
        BodyDigest::new(sidecar),
    )
}

/// Encrypts a media file fed in pieces of any size. Output is appended to the caller's buffer
/// as whole AES blocks; at most 15 plaintext bytes stay buffered between calls.
#[derive(Clone)]
pub struct MediaEncryptor {
    plain: PlainDigest,
    cipher: MediaCipher,
    body: BodyDigest,
}

impl MediaEncryptor {
    /// An encryptor for `ty` with `key`; it builds a streaming sidecar when
    /// [`MediaType::has_sidecar`].
    pub fn new(key: &MediaKey, ty: MediaType) -> MediaEncryptor {
        MediaEncryptor::with_sidecar(key, ty, ty.has_sidecar())
    }

    /// An encryptor that builds a streaming sidecar exactly when `sidecar` is set.
    pub fn with_sidecar(key: &MediaKey, ty: MediaType, sidecar: bool) -> MediaEncryptor {
        let (plain, cipher, body) = parts(&MediaKeys::expand(key, ty), sidecar);
        MediaEncryptor {
            plain,
            cipher,
            body,
        }
    }

    /// Encrypts the next plaintext piece, appending whole ciphertext blocks to `out`.
    pub fn update(&mut self, plaintext: &[u8], out: &mut Vec<u8>) {
        self.plain.update(plaintext);
        let start = out.len();
        self.cipher.update(plaintext, out);
        self.body.update(&out[start..]);
    }

    /// Pads and encrypts the last block, appends it and the 10-byte MAC to `out`, and returns
    /// the hashes and lengths.
    pub fn finish(mut self, out: &mut Vec<u8>) -> EncryptedMedia {
        let start = out.len();
        self.cipher.finish(out);
        self.body.update(&out[start..]);
        EncryptedMedia::from_digests(self.plain, self.body)
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

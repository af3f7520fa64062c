//! The per-upload media key and its 112-byte expansion (`media.md` §1).

use core::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;

use super::error::MediaError;
use super::kind::MediaType;

/// Length of the expansion: iv 16 ‖ cipherKey 32 ‖ macKey 32 ‖ refKey 32 (`media.md` §1).
pub const EXPANDED_LEN: usize = 112;

/// The 32 random bytes of one upload (`mediaKey` in the message; `media.md` §1). The recipient
/// receives it inside the Signal-encrypted message.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaKey([u8; 32]);

impl MediaKey {
    /// A fresh key from the caller's RNG (wa-protocol owns no randomness).
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> MediaKey {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        MediaKey(key)
    }

    /// The key of a received message's `mediaKey` field: exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<MediaKey, MediaError> {
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| MediaError::KeyLength { len: bytes.len() })?;
        Ok(MediaKey(key))
    }

    /// The raw 32 bytes (for the message's `mediaKey`).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The four keys of `ty` (`media.md` §1).
    pub fn expand(&self, ty: MediaType) -> MediaKeys {
        MediaKeys::expand(self, ty)
    }
}

impl From<[u8; 32]> for MediaKey {
    fn from(bytes: [u8; 32]) -> MediaKey {
        MediaKey(bytes)
    }
}

impl fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MediaKey(…)")
    }
}

/// `HKDF-SHA256(ikm = mediaKey, salt = none, info = <type's string>, L = 112)` split into
/// `iv [0..16)`, `cipherKey [16..48)`, `macKey [48..80)`, `refKey [80..112)` (`media.md` §1).
#[derive(Clone, PartialEq, Eq)]
pub struct MediaKeys {
    /// AES-CBC initialisation vector; also the first input of the MAC.
    pub iv: [u8; 16],
    /// AES-256 key.
    pub cipher_key: [u8; 32],
    /// HMAC-SHA256 key of the file MAC and of the streaming sidecar.
    pub mac_key: [u8; 32],
    /// Unused for plain download (`media.md` §1).
    pub ref_key: [u8; 32],
}

impl MediaKeys {
    /// Expands `key` with the HKDF info of `ty`.
    pub fn expand(key: &MediaKey, ty: MediaType) -> MediaKeys {
        let mut okm = [0u8; EXPANDED_LEN];
        // salt = None is RFC 5869's default: HashLen zero bytes (media.md §1 "32 zero bytes").
        // Expansion fails only for outputs over 255 × 32 bytes; 112 never does.
        if Hkdf::<Sha256>::new(None, &key.0)
            .expand(ty.hkdf_info().as_bytes(), &mut okm)
            .is_err()
        {
            okm = [0u8; EXPANDED_LEN];
        }
        MediaKeys::from_expanded(&okm)
    }

    /// Splits a 112-byte expansion into its four keys.
    pub fn from_expanded(okm: &[u8; EXPANDED_LEN]) -> MediaKeys {
        let mut keys = MediaKeys {
            iv: [0; 16],
            cipher_key: [0; 32],
            mac_key: [0; 32],
            ref_key: [0; 32],
        };
        keys.iv.copy_from_slice(&okm[..16]);
        keys.cipher_key.copy_from_slice(&okm[16..48]);
        keys.mac_key.copy_from_slice(&okm[48..80]);
        keys.ref_key.copy_from_slice(&okm[80..112]);
        keys
    }
}

impl fmt::Debug for MediaKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MediaKeys(…)")
    }
}

/// HMAC-SHA256 keyed with a 32-byte key (the file MAC and the sidecar windows).
pub(crate) fn keyed_mac(key: &[u8; 32]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm is unreachable.
        Err(_) => <Hmac<Sha256> as Mac>::new(&Default::default()),
    }
}

//! Symmetric building blocks: HMAC-SHA256, HKDF-SHA256, AES-256-CBC/PKCS7 and the ratchet key
//! derivations of `signal.md` §4, §5 and §9 (exact HKDF infos and HMAC seeds).

use core::fmt;

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::{Result, SignalError};

type HmacSha256 = Hmac<Sha256>;
type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// HKDF info of the X3DH master secret.
const INFO_X3DH: &[u8] = b"WhisperText";
/// HKDF info of a root-key step.
const INFO_RATCHET: &[u8] = b"WhisperRatchet";
/// HKDF info of pairwise message keys.
const INFO_MESSAGE_KEYS: &[u8] = b"WhisperMessageKeys";
/// HKDF info of sender-key message keys.
const INFO_GROUP: &[u8] = b"WhisperGroup";
/// HMAC input deriving a message seed from a chain key.
const SEED_MESSAGE: [u8; 1] = [0x01];
/// HMAC input deriving the next chain key.
const SEED_CHAIN: [u8; 1] = [0x02];

/// HMAC-SHA256 keyed with `key`. HMAC takes keys of any length (RFC 2104 hashes long keys and
/// pads short ones), so `new_from_slice` cannot fail; the fallback only exists to avoid a panic
/// path and is unreachable.
fn keyed(key: &[u8]) -> HmacSha256 {
    match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => <HmacSha256 as Mac>::new(&Default::default()),
    }
}

/// HMAC-SHA256 of the concatenation of `parts`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = keyed(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time comparison of a truncated MAC.
pub(crate) fn mac_matches(expected: &[u8], received: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    expected.len() == received.len() && bool::from(expected.ct_eq(received))
}

/// HKDF-SHA256 (RFC 5869) with `N` bytes of output. `salt = None` means 32 zero bytes.
pub(crate) fn hkdf<const N: usize>(salt: Option<&[u8]>, ikm: &[u8], info: &[u8]) -> [u8; N] {
    let mut okm = [0u8; N];
    let hk = hkdf::Hkdf::<Sha256>::new(salt, ikm);
    // Expansion fails only for outputs longer than 255 blocks; every caller asks for ≤ 80 bytes.
    if hk.expand(info, &mut okm).is_err() {
        okm = [0u8; N];
    }
    okm
}

/// Splits 64 bytes into two 32-byte halves.
fn split64(okm: [u8; 64]) -> ([u8; 32], [u8; 32]) {
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    a.copy_from_slice(&okm[..32]);
    b.copy_from_slice(&okm[32..]);
    (a, b)
}

/// X3DH: `HKDF(ikm = 0xFF×32 ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4], salt = none, "WhisperText", 64)` →
/// (root key, chain key). `dhs` are the DH outputs in protocol order.
pub(crate) fn x3dh_secrets(dhs: &[[u8; 32]]) -> ([u8; 32], [u8; 32]) {
    let mut master = [0u8; 32 * 5];
    master[..32].fill(0xff);
    let mut len = 32;
    for dh in dhs.iter().take(4) {
        master[len..len + 32].copy_from_slice(dh);
        len += 32;
    }
    split64(hkdf::<64>(None, &master[..len], INFO_X3DH))
}

/// A public fingerprint of a session's X3DH, stored with the session, computed from
/// `DH(base key, signed prekey)` (both sides have it, and the responder needs no one-time prekey
/// for it). Two pkmsgs whose base keys differ as bytes but not as X25519 inputs (bit 255 set,
/// a non-canonical encoding, an added low-order point) have the same fingerprint, so a modified
/// copy of an already decrypted pkmsg is recognised instead of running X3DH again.
pub(crate) fn x3dh_session_id(dh_base_signed_pre_key: &[u8; 32]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = Sha256::new();
    h.update(b"wagate signal x3dh session id");
    h.update(dh_base_signed_pre_key);
    h.finalize().into()
}

/// Root step `KDF_RK(RK, dh)`: `HKDF(ikm = dh, salt = RK, "WhisperRatchet", 64)` →
/// (new root key, new chain key).
pub(crate) fn kdf_root(root_key: &[u8; 32], dh: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    split64(hkdf::<64>(Some(root_key), dh, INFO_RATCHET))
}

/// A symmetric chain key with the index of the message it derives next.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ChainKey {
    /// The 32-byte chain key.
    pub(crate) key: [u8; 32],
    /// Index (counter / iteration) of the next message key.
    pub(crate) index: u32,
}

impl ChainKey {
    /// A chain at `index`.
    pub(crate) const fn new(key: [u8; 32], index: u32) -> Self {
        Self { key, index }
    }

    /// Message seed of the current index and the chain key of the next one. Fails only when
    /// the index would overflow `u32`.
    pub(crate) fn step(&self) -> Result<([u8; 32], ChainKey)> {
        let index = self
            .index
            .checked_add(1)
            .ok_or(SignalError::ChainExhausted)?;
        let mac = keyed(&self.key);
        let seed: [u8; 32] = mac
            .clone()
            .chain_update(SEED_MESSAGE)
            .finalize()
            .into_bytes()
            .into();
        let next: [u8; 32] = mac.chain_update(SEED_CHAIN).finalize().into_bytes().into();
        Ok((seed, ChainKey::new(next, index)))
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainKey")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// Pairwise message keys: `HKDF(ikm = seed, salt = none, "WhisperMessageKeys", 80)` split as
/// cipher key ‖ MAC key ‖ IV.
pub(crate) struct MessageKeys {
    pub(crate) cipher_key: [u8; 32],
    pub(crate) mac_key: [u8; 32],
    pub(crate) iv: [u8; 16],
}

impl MessageKeys {
    /// Derives the keys from a message seed.
    pub(crate) fn derive(seed: &[u8; 32]) -> Self {
        let okm = hkdf::<80>(None, seed, INFO_MESSAGE_KEYS);
        let mut keys = MessageKeys {
            cipher_key: [0; 32],
            mac_key: [0; 32],
            iv: [0; 16],
        };
        keys.cipher_key.copy_from_slice(&okm[..32]);
        keys.mac_key.copy_from_slice(&okm[32..64]);
        keys.iv.copy_from_slice(&okm[64..]);
        keys
    }
}

/// Sender-key message keys: `HKDF(ikm = seed, salt = none, "WhisperGroup", 48)` split as
/// IV ‖ cipher key (reverse order of the pairwise keys, no MAC key).
pub(crate) struct SenderMessageKeys {
    pub(crate) iv: [u8; 16],
    pub(crate) cipher_key: [u8; 32],
}

impl SenderMessageKeys {
    /// Derives the keys from a sender-key message seed.
    pub(crate) fn derive(seed: &[u8; 32]) -> Self {
        let okm = hkdf::<48>(None, seed, INFO_GROUP);
        let mut keys = SenderMessageKeys {
            iv: [0; 16],
            cipher_key: [0; 32],
        };
        keys.iv.copy_from_slice(&okm[..16]);
        keys.cipher_key.copy_from_slice(&okm[16..]);
        keys
    }
}

/// AES-256-CBC with PKCS#7 padding.
pub(crate) fn aes_cbc_encrypt(key: &[u8; 32], iv: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    Aes256CbcEnc::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext)
}

/// AES-256-CBC with PKCS#7 padding; `None` when the length or padding is wrong.
pub(crate) fn aes_cbc_decrypt(key: &[u8; 32], iv: &[u8; 16], ciphertext: &[u8]) -> Option<Vec<u8>> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return None;
    }
    Aes256CbcDec::new(key.into(), iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).expect("hex")
    }

    fn h32(s: &str) -> [u8; 32] {
        h(s).try_into().expect("32 bytes")
    }

    /// RFC 5869 Appendix A.1 (signal.md §10.5).
    #[test]
    fn hkdf_rfc5869_case_1() {
        let ikm = [0x0bu8; 22];
        let salt = h("000102030405060708090a0b0c");
        let info = h("f0f1f2f3f4f5f6f7f8f9");
        let okm = hkdf::<42>(Some(&salt), &ikm, &info);
        assert_eq!(
            hex::encode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        // Case 3 (zero-length salt and info) also pins the "salt = none" convention: an
        // empty salt and a 32-zero-byte salt are the same HMAC key.
        let okm3 = hkdf::<42>(None, &ikm, &[]);
        assert_eq!(
            hex::encode(okm3),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
    }

    /// libsignal-protocol-java `ChainKeyTest.testChainKeyDerivationV3` (signal.md §10.3).
    #[test]
    fn chain_key_vector() {
        let ck = ChainKey::new(
            h32("8ab72d6f4cc5ac0d387eaf463378ddb28edd07385b1cb01250c715982e7ad48f"),
            0,
        );
        let (seed, next) = ck.step().expect("step");
        let keys = MessageKeys::derive(&seed);
        assert_eq!(
            hex::encode(keys.cipher_key),
            "bf51e9d75e0e31031051f82a2491ffc084fa298b7793bd9db620056febf45217"
        );
        assert_eq!(
            hex::encode(keys.mac_key),
            "c6c77d6a73a354337a56435e34607dfe48e3ace14e77314dc6abc172e7a7030b"
        );
        assert_eq!(hex::encode(keys.iv), "afa8207986b692a116d4b40bbff72d6c");
        assert_eq!(
            hex::encode(next.key),
            "28e8f8fee54b801eef7c5cfb2f17f32c7b334485bbb70fac6ec10342a246d15d"
        );
        assert_eq!(next.index, 1);
        assert_eq!(
            ChainKey::new([0; 32], u32::MAX).step().err(),
            Some(SignalError::ChainExhausted)
        );
    }

    #[test]
    fn hmac_parts_concatenate() {
        assert_eq!(
            hmac_sha256(b"k", &[b"ab", b"c"]),
            hmac_sha256(b"k", &[b"abc"])
        );
        // RFC 4231 test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn aes_cbc_round_trip_and_rejects() {
        let key = [7u8; 32];
        let iv = [9u8; 16];
        for len in [0usize, 1, 15, 16, 17, 100] {
            let pt = vec![0xabu8; len];
            let ct = aes_cbc_encrypt(&key, &iv, &pt);
            assert_eq!(ct.len(), (len / 16 + 1) * 16, "PKCS7 always pads");
            assert_eq!(aes_cbc_decrypt(&key, &iv, &ct), Some(pt));
            assert_eq!(aes_cbc_decrypt(&key, &iv, &ct[..ct.len() - 1]), None);
        }
        assert_eq!(aes_cbc_decrypt(&key, &iv, &[]), None);
    }
}

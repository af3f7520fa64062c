//! The Noise symmetric state (`h`, `ck`, `k`, `n`) during the handshake.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};

use super::error::HandshakeError;

/// The 12-byte AES-GCM nonce: eight zero bytes then the big-endian counter.
pub(crate) fn iv(counter: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[8..].copy_from_slice(&counter.to_be_bytes());
    iv
}

/// HKDF-SHA256 with an empty info string and 64 bytes of output, split in two halves.
pub(crate) fn hkdf_split(salt: &[u8; 32], ikm: &[u8]) -> ([u8; 32], [u8; 32]) {
    let mut okm = [0u8; 64];
    // 64 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(salt), ikm).expand(&[], &mut okm);
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    a.copy_from_slice(&okm[..32]);
    b.copy_from_slice(&okm[32..]);
    (a, b)
}

pub(crate) struct SymmetricState {
    h: [u8; 32],
    ck: [u8; 32],
    cipher: Option<Aes256Gcm>,
    n: u32,
}

impl SymmetricState {
    /// `h = ck = name` (the 32-byte name is used as is), then `MixHash(prologue)`.
    pub(crate) fn new(name: &[u8; 32], prologue: &[u8]) -> Self {
        let mut state = Self {
            h: *name,
            ck: *name,
            cipher: None,
            n: 0,
        };
        state.mix_hash(prologue);
        state
    }

    pub(crate) fn mix_hash(&mut self, data: &[u8]) {
        let mut hasher = Sha256::new();
        hasher.update(self.h);
        hasher.update(data);
        self.h = hasher.finalize().into();
    }

    /// `ck, k = HKDF(ck, ikm)`; the counter restarts at zero.
    pub(crate) fn mix_key(&mut self, ikm: &[u8]) {
        let (ck, k) = hkdf_split(&self.ck, ikm);
        self.ck = ck;
        self.cipher = Some(Aes256Gcm::new(&k.into()));
        self.n = 0;
    }

    pub(crate) fn encrypt_and_hash(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, HandshakeError> {
        let cipher = self.cipher.as_ref().ok_or(HandshakeError::NoKey)?;
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&iv(self.n)),
                Payload {
                    msg: plaintext,
                    aad: &self.h,
                },
            )
            .map_err(|_| HandshakeError::Encrypt)?;
        self.n += 1;
        self.mix_hash(&ct);
        Ok(ct)
    }

    pub(crate) fn decrypt_and_hash(
        &mut self,
        ciphertext: &[u8],
        what: &'static str,
    ) -> Result<Vec<u8>, HandshakeError> {
        let cipher = self.cipher.as_ref().ok_or(HandshakeError::NoKey)?;
        let pt = cipher
            .decrypt(
                Nonce::from_slice(&iv(self.n)),
                Payload {
                    msg: ciphertext,
                    aad: &self.h,
                },
            )
            .map_err(|_| HandshakeError::BadMac(what))?;
        self.n += 1;
        self.mix_hash(ciphertext);
        Ok(pt)
    }

    /// Final split: (first half, second half) of `HKDF(ck, "")`.
    pub(crate) fn split(&self) -> ([u8; 32], [u8; 32]) {
        hkdf_split(&self.ck, &[])
    }

    #[cfg(test)]
    pub(crate) fn h(&self) -> [u8; 32] {
        self.h
    }

    #[cfg(test)]
    pub(crate) fn ck(&self) -> [u8; 32] {
        self.ck
    }
}

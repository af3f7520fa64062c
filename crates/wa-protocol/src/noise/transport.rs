//! The transport phase: AES-256-GCM with a counter per direction and no additional data.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

use super::error::HandshakeError;
use super::symmetric::iv;

/// Length of the AES-GCM tag appended to every transport frame.
pub const TAG_LEN: usize = 16;

/// Encrypts outgoing and decrypts incoming transport frames after the handshake.
///
/// A failed decryption is fatal for the connection (the peers' counters no longer agree); the
/// cipher refuses to go on after one, as it refuses to wrap a counter.
pub struct TransportCipher {
    write: Aes256Gcm,
    read: Aes256Gcm,
    write_counter: u32,
    read_counter: u32,
    broken: bool,
}

impl core::fmt::Debug for TransportCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TransportCipher")
            .field("write_counter", &self.write_counter)
            .field("read_counter", &self.read_counter)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl TransportCipher {
    pub(crate) fn new(write_key: [u8; 32], read_key: [u8; 32]) -> Self {
        Self {
            write: Aes256Gcm::new(&write_key.into()),
            read: Aes256Gcm::new(&read_key.into()),
            write_counter: 0,
            read_counter: 0,
            broken: false,
        }
    }

    /// Encrypts `plaintext` in place (the tag is appended).
    pub fn seal_in_place(&mut self, buf: &mut Vec<u8>) -> Result<(), HandshakeError> {
        if self.broken {
            return Err(HandshakeError::TransportBroken);
        }
        let counter = self.write_counter;
        self.write_counter = counter
            .checked_add(1)
            .ok_or(HandshakeError::CounterExhausted)?;
        self.write
            .encrypt_in_place(Nonce::from_slice(&iv(counter)), &[], buf)
            .map_err(|_| HandshakeError::Encrypt)
    }

    /// Encrypts a copy of `plaintext`.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, HandshakeError> {
        let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
        buf.extend_from_slice(plaintext);
        self.seal_in_place(&mut buf)?;
        Ok(buf)
    }

    /// Decrypts a frame payload in place (the tag is removed).
    pub fn open_in_place(&mut self, buf: &mut Vec<u8>) -> Result<(), HandshakeError> {
        if self.broken {
            return Err(HandshakeError::TransportBroken);
        }
        let counter = self.read_counter;
        self.read_counter = counter
            .checked_add(1)
            .ok_or(HandshakeError::CounterExhausted)?;
        self.read
            .decrypt_in_place(Nonce::from_slice(&iv(counter)), &[], buf)
            .map_err(|_| {
                self.broken = true;
                HandshakeError::BadMac("transport frame")
            })
    }

    /// Decrypts a copy of a frame payload.
    pub fn open(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, HandshakeError> {
        let mut buf = ciphertext.to_vec();
        self.open_in_place(&mut buf)?;
        Ok(buf)
    }

    /// Number of frames sealed so far.
    pub fn sent(&self) -> u32 {
        self.write_counter
    }

    /// Number of frames opened so far.
    pub fn received(&self) -> u32 {
        self.read_counter
    }
}

//! Media encryption, pure and streaming (`media.md` §1–§3): a random 32-byte [`MediaKey`]
//! expands per [`MediaType`] into iv, cipher, MAC and ref keys; [`MediaEncryptor`] turns
//! plaintext pieces into `ciphertext ‖ mac` and the message's hashes; [`MediaDecryptor`] turns a
//! downloaded body back, releasing plaintext that counts only once `finish` verified it;
//! [`SidecarBuilder`] computes the streaming sidecar of audio and video; [`upload_token`] and
//! [`upload_path`] name the upload; [`seal_retry_request`] and [`open_retry_outcome`] (with
//! their counterparts) are the media retry crypto (`retry.rs`).
//!
//! Nothing here holds a whole file: memory per encryptor or decryptor is a few AES blocks and
//! the hash states, whatever the file size.
//!
//! ```
//! use wa_protocol::media::{decrypt, encrypt, Expected, MediaKey, MediaType};
//! let key = MediaKey::from([7u8; 32]);
//! let (body, info) = encrypt(&key, MediaType::Document, b"report");
//! let expected = Expected {
//!     file_enc_sha256: Some(info.file_enc_sha256),
//!     file_sha256: Some(info.file_sha256),
//!     file_length: Some(info.file_length),
//! };
//! let (plain, _) = decrypt(&key, MediaType::Document, &body, expected).expect("verifies");
//! assert_eq!(plain, b"report");
//! ```

mod cipher;
mod decrypt;
mod digest;
mod encrypt;
mod error;
mod keys;
mod kind;
mod retry;
pub mod sidecar;
mod token;

#[cfg(test)]
mod tests;

pub use cipher::{BodyMac, MediaCbc, MediaCipher, MAC_LEN};
pub use decrypt::{decrypt, Expected, MediaDecryptor, VerifiedMedia};
pub use digest::{BodyDigest, PlainDigest};
pub use encrypt::{encrypt, encrypt_parts, encrypted_len, EncryptedMedia, MediaEncryptor};
pub use error::MediaError;
pub use keys::{MediaKey, MediaKeys, EXPANDED_LEN};
pub use kind::MediaType;
pub use retry::{
    media_retry_key, open_retry_outcome, open_retry_request, seal_retry_outcome,
    seal_retry_request, RetryOutcome, RetryResult, MEDIA_RETRY_INFO, MEDIA_RETRY_IV_LEN,
};
pub use sidecar::SidecarBuilder;
pub use token::{parse_upload_token, upload_path, upload_token};

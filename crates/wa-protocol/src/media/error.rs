//! What the media crypto refuses (`media.md` §2: MAC, padding, hashes, lengths).

use crate::fault::Fault;

/// A media blob or key that does not verify. Everything here is the sender's or the media
/// host's doing ([`MediaError::fault`] is always [`Fault::Peer`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// A `mediaKey` that is not 32 bytes.
    #[error("media key has {len} bytes, not 32")]
    KeyLength {
        /// Bytes received.
        len: usize,
    },
    /// The body is shorter than one AES block plus the 10-byte MAC.
    #[error("media body of {len} bytes is too short")]
    Truncated {
        /// Bytes received.
        len: u64,
    },
    /// The ciphertext (body minus the MAC) is not a whole number of AES blocks.
    #[error("media ciphertext of {len} bytes is not a multiple of 16")]
    Misaligned {
        /// Ciphertext bytes received.
        len: u64,
    },
    /// The 10-byte HMAC over `iv ‖ ciphertext` does not match.
    #[error("media MAC mismatch")]
    BadMac,
    /// The PKCS#7 padding of the last block is malformed.
    #[error("media padding is malformed")]
    BadPadding,
    /// `SHA-256(ciphertext ‖ mac)` differs from the message's `fileEncSha256`.
    #[error("fileEncSha256 mismatch")]
    EncHashMismatch,
    /// `SHA-256(plaintext)` differs from the message's `fileSha256`.
    #[error("fileSha256 mismatch")]
    PlainHashMismatch,
    /// The plaintext length differs from the message's `fileLength`.
    #[error("fileLength mismatch: message says {expected}, decrypted {actual}")]
    LengthMismatch {
        /// The message's `fileLength`.
        expected: u64,
        /// Plaintext bytes decrypted.
        actual: u64,
    },
    /// An upload token that is not base64url of 32 bytes (`media.md` §3).
    #[error("malformed upload token")]
    BadToken,
    /// A media retry `enc_iv` that is not 12 bytes (`retry.rs`).
    #[error("media retry IV has {len} bytes, not 12")]
    RetryIv {
        /// Bytes received.
        len: usize,
    },
    /// A media retry `enc_p` whose AES-GCM tag does not verify under the message's key and id.
    #[error("media retry payload does not verify")]
    RetrySeal,
    /// A media retry plaintext that is not the protobuf named.
    #[error("media retry payload is not a valid {0}")]
    RetryPayload(&'static str),
}

impl MediaError {
    /// Who is at fault: the peer (sender or media host) for every variant.
    pub fn fault(&self) -> Fault {
        match self {
            MediaError::KeyLength { .. }
            | MediaError::Truncated { .. }
            | MediaError::Misaligned { .. }
            | MediaError::BadMac
            | MediaError::BadPadding
            | MediaError::EncHashMismatch
            | MediaError::PlainHashMismatch
            | MediaError::LengthMismatch { .. }
            | MediaError::BadToken
            | MediaError::RetryIv { .. }
            | MediaError::RetrySeal
            | MediaError::RetryPayload(_) => Fault::Peer,
        }
    }
}

//! Media retry crypto (issue 13: "media-retry requests when a download is gone"). The protocol
//! docs name only the `mediaretry` notification type (`baileys-peer.md` §4); the bytes below
//! are facts from the two references, cited per item:
//!
//! - key: HKDF-SHA256 of the 32-byte `mediaKey`, no salt, info
//!   `"WhatsApp Media Retry Notification"`, 32 bytes (whatsmeow `mediaretry.go`
//!   `getMediaRetryKey`; Baileys `Utils/messages-media.ts` `getMediaRetryKey`);
//! - cipher: AES-256-GCM with a random 12-byte IV, the message id's bytes as additional data,
//!   the 16-byte tag appended to the ciphertext (whatsmeow `encryptMediaRetryReceipt` and
//!   `util/gcmutil`; Baileys `encryptMediaRetryRequest` / `decryptMediaRetryData`);
//! - the request's plaintext is a `ServerErrorReceipt { stanzaID = 1 }` naming the message, the
//!   answer's a `MediaRetryNotification { stanzaID = 1, directPath = 2, result = 3,
//!   messageSecret = 4 }` with `result` one of GENERAL_ERROR 0, SUCCESS 1, NOT_FOUND 2,
//!   DECRYPTION_ERROR 3 (whatsmeow `proto/waMmsRetry/WAMmsRetry.proto`).
//!
//! Pure: the IV comes in from the caller's RNG.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use prost::Message as _;
use sha2::Sha256;

use super::error::MediaError;
use super::keys::MediaKey;
use crate::ids::MessageId;
use crate::pb::mms_retry as pb;

/// HKDF info of the retry key (whatsmeow `getMediaRetryKey`, Baileys `getMediaRetryKey`).
pub const MEDIA_RETRY_INFO: &[u8] = b"WhatsApp Media Retry Notification";
/// Bytes of the AES-GCM IV (`enc_iv`): 12 (whatsmeow `random.Bytes(12)`, Baileys
/// `randomBytes(12)`).
pub const MEDIA_RETRY_IV_LEN: usize = 12;

/// The AES-256-GCM key of a message's retry request and answer.
pub fn media_retry_key(key: &MediaKey) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(None, key.as_bytes())
        .expand(MEDIA_RETRY_INFO, &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    out
}

/// What the device that re-uploaded says (`MediaRetryNotification.result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryResult {
    /// `GENERAL_ERROR` (0; also what an absent `result` reads as).
    GeneralError,
    /// `SUCCESS` (1): `directPath` names the new upload.
    Success,
    /// `NOT_FOUND` (2): the device does not have the file.
    NotFound,
    /// `DECRYPTION_ERROR` (3): the device could not open the request.
    DecryptionError,
}

impl RetryResult {
    fn to_pb(self) -> pb::media_retry_notification::ResultType {
        use pb::media_retry_notification::ResultType as R;
        match self {
            RetryResult::GeneralError => R::GeneralError,
            RetryResult::Success => R::Success,
            RetryResult::NotFound => R::NotFound,
            RetryResult::DecryptionError => R::DecryptionError,
        }
    }

    fn from_pb(value: pb::media_retry_notification::ResultType) -> Self {
        use pb::media_retry_notification::ResultType as R;
        match value {
            R::GeneralError => RetryResult::GeneralError,
            R::Success => RetryResult::Success,
            R::NotFound => RetryResult::NotFound,
            R::DecryptionError => RetryResult::DecryptionError,
        }
    }
}

/// The decrypted answer to a retry request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryOutcome {
    /// `stanzaID`: the message the answer is for.
    pub stanza_id: Option<String>,
    /// `directPath` of the new upload (with [`RetryResult::Success`]).
    pub direct_path: Option<String>,
    /// `result`.
    pub result: RetryResult,
    /// `messageSecret`, when the device sends one.
    pub message_secret: Option<Vec<u8>>,
}

/// Encrypts the request for message `id` (`<enc_p>` of the `server-error` receipt).
pub fn seal_retry_request(
    key: &MediaKey,
    id: &MessageId,
    iv: &[u8; MEDIA_RETRY_IV_LEN],
) -> Vec<u8> {
    let plain = pb::ServerErrorReceipt {
        stanza_id: Some(id.as_str().to_owned()),
    }
    .encode_to_vec();
    seal(key, id, iv, &plain)
}

/// Opens a request (the answering device's side): the `stanzaID` it names. Refused when the
/// tag does not verify under `key` and `id`, or the plaintext is not a `ServerErrorReceipt`.
pub fn open_retry_request(
    key: &MediaKey,
    id: &MessageId,
    iv: &[u8],
    ciphertext: &[u8],
) -> Result<Option<String>, MediaError> {
    let plain = open(key, id, iv, ciphertext)?;
    let receipt = pb::ServerErrorReceipt::decode(plain.as_slice())
        .map_err(|_| MediaError::RetryPayload("ServerErrorReceipt"))?;
    Ok(receipt.stanza_id)
}

/// Encrypts the answer for message `id` (`<enc_p>` of the `mediaretry` notification).
pub fn seal_retry_outcome(
    key: &MediaKey,
    id: &MessageId,
    outcome: &RetryOutcome,
    iv: &[u8; MEDIA_RETRY_IV_LEN],
) -> Vec<u8> {
    let plain = pb::MediaRetryNotification {
        stanza_id: outcome.stanza_id.clone(),
        direct_path: outcome.direct_path.clone(),
        result: Some(outcome.result.to_pb() as i32),
        message_secret: outcome.message_secret.clone(),
    }
    .encode_to_vec();
    seal(key, id, iv, &plain)
}

/// Opens an answer (the requesting side). Refused when the tag does not verify under `key`
/// and `id`, the plaintext is not a `MediaRetryNotification`, or `result` is unknown.
pub fn open_retry_outcome(
    key: &MediaKey,
    id: &MessageId,
    iv: &[u8],
    ciphertext: &[u8],
) -> Result<RetryOutcome, MediaError> {
    let plain = open(key, id, iv, ciphertext)?;
    let n = pb::MediaRetryNotification::decode(plain.as_slice())
        .map_err(|_| MediaError::RetryPayload("MediaRetryNotification"))?;
    let result = match n.result {
        None => RetryResult::GeneralError,
        Some(v) => pb::media_retry_notification::ResultType::try_from(v)
            .map(RetryResult::from_pb)
            .map_err(|_| MediaError::RetryPayload("MediaRetryNotification.result"))?,
    };
    Ok(RetryOutcome {
        stanza_id: n.stanza_id,
        direct_path: n.direct_path,
        result,
        message_secret: n.message_secret,
    })
}

fn seal(key: &MediaKey, id: &MessageId, iv: &[u8; MEDIA_RETRY_IV_LEN], plain: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(&media_retry_key(key).into());
    let payload = Payload {
        msg: plain,
        aad: id.as_str().as_bytes(),
    };
    cipher
        .encrypt(Nonce::from_slice(iv), payload)
        .expect("AES-GCM encrypts any plaintext under 64 GiB")
}

fn open(
    key: &MediaKey,
    id: &MessageId,
    iv: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, MediaError> {
    if iv.len() != MEDIA_RETRY_IV_LEN {
        return Err(MediaError::RetryIv { len: iv.len() });
    }
    let cipher = Aes256Gcm::new(&media_retry_key(key).into());
    let payload = Payload {
        msg: ciphertext,
        aad: id.as_str().as_bytes(),
    };
    cipher
        .decrypt(Nonce::from_slice(iv), payload)
        .map_err(|_| MediaError::RetrySeal)
}

#[cfg(test)]
mod tests {
    //! Vectors computed outside this crate (Python `cryptography`: HKDF-SHA256 without salt,
    //! AESGCM with the id as associated data) from the facts in the module doc.
    use super::*;

    const KEY_HEX: &str = "c84dfe50a708e0ec382a7ad2ba40135256f41b652cebe2129661d27871111cb2";
    const REQUEST_CT: &str = "c38b2f77f9bcd8464b975ea95a3679702a56b6213cd4c2ace028398b";
    const OUTCOME_CT: &str = "78fdf66f0977457158e17b60e150817545cabfeef57f59a6164d20fd2c0f436f\
        4560196b7c40eb663258e0f83d768a221ab24d6d392d14b8cabd47a0f7af47";
    const PATH: &str = "/v/t62.7118-24/abc.enc?ccb=11-4";

    fn fixture() -> (MediaKey, MessageId) {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        (MediaKey::from(k), "3EB0C0FFEE".parse().expect("id"))
    }

    fn iv(start: u8) -> [u8; 12] {
        core::array::from_fn(|i| start + i as u8)
    }

    #[test]
    fn the_key_is_hkdf_of_the_media_key() {
        let (key, _) = fixture();
        assert_eq!(hex::encode(media_retry_key(&key)), KEY_HEX);
    }

    #[test]
    fn the_request_matches_the_vector_and_opens() {
        let (key, id) = fixture();
        let ct = seal_retry_request(&key, &id, &iv(100));
        assert_eq!(hex::encode(&ct), REQUEST_CT);
        assert_eq!(
            open_retry_request(&key, &id, &iv(100), &ct),
            Ok(Some("3EB0C0FFEE".to_owned()))
        );
    }

    #[test]
    fn the_outcome_matches_the_vector_and_opens() {
        let (key, id) = fixture();
        let outcome = RetryOutcome {
            stanza_id: Some(id.as_str().to_owned()),
            direct_path: Some(PATH.to_owned()),
            result: RetryResult::Success,
            message_secret: None,
        };
        let ct = seal_retry_outcome(&key, &id, &outcome, &iv(200));
        assert_eq!(hex::encode(&ct), OUTCOME_CT.replace(' ', ""));
        assert_eq!(open_retry_outcome(&key, &id, &iv(200), &ct), Ok(outcome));
    }

    #[test]
    fn another_id_key_iv_or_a_flipped_byte_is_refused() {
        let (key, id) = fixture();
        let ct = seal_retry_request(&key, &id, &iv(100));
        let other: MessageId = "3EB0C0FFEF".parse().expect("id");
        assert_eq!(
            open_retry_request(&key, &other, &iv(100), &ct),
            Err(MediaError::RetrySeal)
        );
        let wrong = MediaKey::from([9u8; 32]);
        assert!(open_retry_request(&wrong, &id, &iv(100), &ct).is_err());
        assert!(open_retry_request(&key, &id, &iv(101), &ct).is_err());
        assert_eq!(
            open_retry_request(&key, &id, &[0; 11], &ct),
            Err(MediaError::RetryIv { len: 11 })
        );
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 1;
            assert!(open_retry_request(&key, &id, &iv(100), &bad).is_err());
        }
    }

    #[test]
    fn an_unknown_result_is_refused_and_an_absent_one_is_a_general_error() {
        let (key, id) = fixture();
        let plain = pb::MediaRetryNotification {
            result: Some(7),
            ..Default::default()
        }
        .encode_to_vec();
        let ct = seal(&key, &id, &iv(1), &plain);
        assert!(open_retry_outcome(&key, &id, &iv(1), &ct).is_err());
        let ct = seal(&key, &id, &iv(1), &[]);
        let outcome = open_retry_outcome(&key, &id, &iv(1), &ct).expect("empty message");
        assert_eq!(outcome.result, RetryResult::GeneralError);
    }
}

//! The serialized plaintext that Signal encrypts: a `waE2E.Message` protobuf plus WhatsApp's
//! random padding (`messaging.md` §1, §2), and the errors of the plaintext layer.

use core::fmt;

use prost::Message as _;
use rand_core::CryptoRngCore;

use crate::binary::JidError;
use crate::ids::IdError;
use crate::pb::e2e::Message;
use crate::signal::padding;

/// Why a received plaintext was refused. Every variant is the peer's fault: the plaintext layer
/// only fails on what it decodes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// The `v` attribute of `<enc>` is neither `2` nor `3` (`messaging.md` §2).
    #[error("unknown <enc> version {0:?}")]
    EncVersion(String),
    /// The WhatsApp padding is inconsistent: last byte `N` is 0, longer than the plaintext, or
    /// the last `N` bytes are not all `N` (`messaging.md` §2).
    #[error("bad WhatsApp padding")]
    Padding,
    /// The plaintext is not a `waE2E.Message` protobuf (NACK 491, `messaging.md` §10).
    #[error("invalid Message protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A message of a known kind lacks a field that kind requires.
    #[error("{kind} without {field}")]
    Missing {
        /// The protobuf message (e.g. `ReactionMessage`).
        kind: &'static str,
        /// The missing field (e.g. `key`).
        field: &'static str,
    },
    /// A JID field does not parse.
    #[error("{field}: {source}")]
    Jid {
        /// The field (e.g. `MessageKey.remoteJID`).
        field: &'static str,
        /// Why it does not parse.
        source: JidError,
    },
    /// A message id field is not a valid [`MessageId`](crate::ids::MessageId).
    #[error("{field}: {source}")]
    MessageId {
        /// The field (e.g. `MessageKey.ID`).
        field: &'static str,
        /// Why it was refused.
        source: IdError,
    },
}

/// The `v` attribute of an `<enc>` node: whether the plaintext is padded (`messaging.md` §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncVersion {
    /// `v="2"`: every normal message; the protobuf carries WhatsApp padding.
    V2,
    /// `v="3"` (Armadillo / `waMsgTransport` payloads): no padding (whatsmeow `unpadMessage`).
    V3,
}

impl EncVersion {
    /// Parses the attribute value; anything but `2` or `3` is [`ContentError::EncVersion`].
    pub fn from_attr(v: &str) -> Result<Self, ContentError> {
        match v {
            "2" => Ok(EncVersion::V2),
            "3" => Ok(EncVersion::V3),
            other => Err(ContentError::EncVersion(other.chars().take(16).collect())),
        }
    }

    /// The attribute value (`"2"` or `"3"`).
    pub fn as_str(self) -> &'static str {
        match self {
            EncVersion::V2 => "2",
            EncVersion::V3 => "3",
        }
    }
}

impl fmt::Display for EncVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serializes `message` and appends WhatsApp padding for `<enc v="2">`: `N` bytes of value `N`,
/// `N` uniform in 1..=16 (Baileys and whatsapp-rust; `messaging.md` §2). Call once per recipient
/// device: each plaintext gets fresh padding (§6 step 3).
pub fn encode_padded(message: &Message, rng: &mut impl CryptoRngCore) -> Vec<u8> {
    padding::pad(&message.encode_to_vec(), rng)
}

/// Removes the padding of a decrypted `<enc v="2">` plaintext (strict: §2) and decodes the
/// `Message`; a `v="3"` plaintext is decoded as it is (no padding). Never panics on any input.
pub fn decode_padded(plaintext: &[u8], version: EncVersion) -> Result<Message, ContentError> {
    let body = match version {
        EncVersion::V2 => padding::unpad(plaintext).map_err(|_| ContentError::Padding)?,
        EncVersion::V3 => plaintext,
    };
    Ok(Message::decode(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn hello() -> Message {
        Message {
            conversation: Some("hello".into()),
            ..Default::default()
        }
    }

    #[test]
    fn padded_vector_from_the_signal_fixture_decodes() {
        // vectors/signal_pkmsg_vector.json `plaintext_padded`: conversation "hello" + 3 × 0x03.
        let v = hex::decode("0a0568656c6c6f030303").expect("hex");
        assert_eq!(decode_padded(&v, EncVersion::V2).expect("decode"), hello());
        // The same bytes as v=3 keep the padding, which is not a valid protobuf tail.
        assert!(decode_padded(&v, EncVersion::V3).is_err());
    }

    #[test]
    fn encode_pads_one_to_sixteen_bytes_of_value_n() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let body = hello().encode_to_vec();
        assert_eq!(body, b"\x0a\x05hello");
        let mut seen = [false; 17];
        for _ in 0..400 {
            let padded = encode_padded(&hello(), &mut rng);
            assert_eq!(&padded[..body.len()], &body[..]);
            let pad = &padded[body.len()..];
            let n = pad.len();
            assert!((1..=16).contains(&n), "padding length {n}");
            assert!(pad.iter().all(|&b| usize::from(b) == n));
            seen[n] = true;
            assert_eq!(
                decode_padded(&padded, EncVersion::V2).expect("round trip"),
                hello()
            );
        }
        assert!(seen[1..].iter().all(|&s| s), "every N in 1..=16 occurs");
    }

    #[test]
    fn v3_is_not_padded() {
        let body = hello().encode_to_vec();
        assert_eq!(decode_padded(&body, EncVersion::V3).expect("v3"), hello());
        // Read as v2, the last byte 'o' (0x6f) claims 111 bytes of padding: refused.
        assert_eq!(
            decode_padded(&body, EncVersion::V2),
            Err(ContentError::Padding)
        );
    }

    #[test]
    fn bad_padding_is_refused() {
        for bad in [
            &[][..],
            &[0x00],
            &[0x0a, 0x05, b'h', b'e', b'l', b'l', b'o', 0x02, 0x03],
            &[0x03, 0x03],
        ] {
            assert_eq!(
                decode_padded(bad, EncVersion::V2),
                Err(ContentError::Padding),
                "{bad:02x?}"
            );
        }
    }

    #[test]
    fn malformed_protobuf_is_an_error() {
        for bad in [
            &[0x0a, 0x05, b'h', b'i', 0x01][..], // length 5 but 2 bytes (after unpad)
            &[0x0f, 0x01],                       // wire type 7 does not exist
            &[
                0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
        ] {
            let err = decode_padded(bad, EncVersion::V3).expect_err("malformed");
            assert!(matches!(err, ContentError::Protobuf(_)), "{err}");
        }
        // A conversation that is not UTF-8.
        let err = decode_padded(&[0x0a, 0x02, 0xff, 0xfe, 0x01], EncVersion::V2).expect_err("utf8");
        assert!(matches!(err, ContentError::Protobuf(_)), "{err}");
    }

    #[test]
    fn enc_versions() {
        assert_eq!(EncVersion::from_attr("2"), Ok(EncVersion::V2));
        assert_eq!(EncVersion::from_attr("3"), Ok(EncVersion::V3));
        assert_eq!(EncVersion::V3.to_string(), "3");
        assert!(matches!(
            EncVersion::from_attr("1"),
            Err(ContentError::EncVersion(_))
        ));
        assert!(EncVersion::from_attr("").is_err());
    }
}

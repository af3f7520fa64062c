//! The pairing error, with its wire code and fault class.

use crate::fault::Fault;

/// Everything pairing can refuse, on either side.
///
/// [`PairError::wire_code`] maps each variant to the `<error code text>` of the companion's pair
/// error reply (`login-pairing.md` §4.6): HMAC and signature failures are `401`, everything else
/// (malformed input included) is `500 internal-error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PairError {
    /// The pair-success HMAC does not match the ADV secret (401 `hmac-mismatch`).
    #[error("ADV HMAC mismatch")]
    HmacMismatch,
    /// The primary's account signature does not verify (401 `signature-mismatch`).
    #[error("ADV account signature mismatch")]
    AccountSignatureMismatch,
    /// The companion's device signature does not verify (primary side; 401 `signature-mismatch`).
    #[error("ADV device signature mismatch")]
    DeviceSignatureMismatch,
    /// The pairing was vetoed locally (500 `internal-error`).
    #[error("pairing rejected locally")]
    Rejected,
    /// A protobuf does not decode (500).
    #[error("{what} does not decode: {source}")]
    Protobuf {
        /// Which message.
        what: &'static str,
        /// The decoder's complaint.
        source: prost::DecodeError,
    },
    /// A node's content is longer than this flow accepts (500).
    #[error("{what} is {got} bytes, at most {max} accepted")]
    TooLarge {
        /// What was measured.
        what: &'static str,
        /// The bound.
        max: usize,
        /// Actual length.
        got: usize,
    },
    /// A required protobuf field is absent (500).
    #[error("missing protobuf field {0}")]
    MissingField(&'static str),
    /// A field, node content or key has the wrong length (500).
    #[error("{field} must be {expected} bytes, got {got}")]
    BadLength {
        /// What was measured.
        field: &'static str,
        /// Required length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// The key index echoed by the companion is not the one the primary assigned.
    #[error("key index {got}, expected {expected}")]
    KeyIndexMismatch {
        /// The index the primary assigned.
        expected: u32,
        /// The index found.
        got: u32,
    },
    /// An ADV identity disagrees with the key it was checked against (e.g. a reply carrying a
    /// foreign account key).
    #[error("ADV identity names a different key")]
    KeyMismatch,
    /// A QR string is malformed.
    #[error("malformed QR string: {0}")]
    MalformedQr(&'static str),
    /// A pair code is not 8 characters of the linking alphabet (optionally `XXXX-XXXX`).
    #[error("malformed pair code")]
    MalformedPairCode,
    /// A pair-code message carries a linking ref other than the one of this pairing.
    #[error("linking ref mismatch")]
    RefMismatch,
    /// The pair-code key bundle does not authenticate: wrong code or tampered data.
    #[error("key bundle does not decrypt (wrong code?)")]
    BundleDecrypt,
    /// The decrypted key bundle names other identity keys than the stanza and the primary.
    #[error("key bundle names other identity keys")]
    BundleIdentityMismatch,
    /// A Diffie-Hellman result is all zeros (low-order peer key).
    #[error("low-order public key")]
    WeakKey,
    /// A crypto primitive refused its input (cannot happen with the sizes used here).
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
    /// A stanza has another tag than expected.
    #[error("expected <{expected}>, got <{got}>")]
    UnexpectedTag {
        /// The tag required.
        expected: &'static str,
        /// The tag found.
        got: String,
    },
    /// A required attribute is absent (or not a string/JID as required).
    #[error("<{tag}> lacks attribute {attr}")]
    MissingAttr {
        /// The node.
        tag: &'static str,
        /// The attribute.
        attr: &'static str,
    },
    /// An attribute has a value this flow does not accept.
    #[error("<{tag}> attribute {attr}={value:?} not accepted")]
    BadAttr {
        /// The node.
        tag: &'static str,
        /// The attribute.
        attr: &'static str,
        /// The value found.
        value: String,
    },
    /// A required child node is absent.
    #[error("<{parent}> lacks child <{child}>")]
    MissingChild {
        /// The parent node.
        parent: &'static str,
        /// The missing child.
        child: &'static str,
    },
    /// A node lacks the content it must carry (or it is not valid text where text is required).
    #[error("<{0}> lacks content")]
    MissingContent(&'static str),
}

impl PairError {
    /// Who is at fault: the peer for what it sent (bad HMAC or signature, malformed stanza or
    /// bundle), the caller for its own input (a QR string or pair code typed in, a local veto,
    /// a failing primitive).
    pub fn fault(&self) -> Fault {
        match self {
            PairError::HmacMismatch
            | PairError::AccountSignatureMismatch
            | PairError::DeviceSignatureMismatch
            | PairError::Protobuf { .. }
            | PairError::TooLarge { .. }
            | PairError::MissingField(_)
            | PairError::BadLength { .. }
            | PairError::KeyIndexMismatch { .. }
            | PairError::KeyMismatch
            | PairError::RefMismatch
            | PairError::BundleDecrypt
            | PairError::BundleIdentityMismatch
            | PairError::WeakKey
            | PairError::UnexpectedTag { .. }
            | PairError::MissingAttr { .. }
            | PairError::BadAttr { .. }
            | PairError::MissingChild { .. }
            | PairError::MissingContent(_) => Fault::Peer,
            PairError::Rejected
            | PairError::MalformedQr(_)
            | PairError::MalformedPairCode
            | PairError::Crypto(_) => Fault::Caller,
        }
    }

    /// The `(code, text)` of the `<error>` child of a pair error reply for this failure.
    pub fn wire_code(&self) -> (u16, &'static str) {
        match self {
            PairError::HmacMismatch => (401, "hmac-mismatch"),
            PairError::AccountSignatureMismatch | PairError::DeviceSignatureMismatch => {
                (401, "signature-mismatch")
            }
            PairError::Rejected
            | PairError::Protobuf { .. }
            | PairError::TooLarge { .. }
            | PairError::MissingField(_)
            | PairError::BadLength { .. }
            | PairError::KeyIndexMismatch { .. }
            | PairError::KeyMismatch
            | PairError::MalformedQr(_)
            | PairError::MalformedPairCode
            | PairError::RefMismatch
            | PairError::BundleDecrypt
            | PairError::BundleIdentityMismatch
            | PairError::WeakKey
            | PairError::Crypto(_)
            | PairError::UnexpectedTag { .. }
            | PairError::MissingAttr { .. }
            | PairError::BadAttr { .. }
            | PairError::MissingChild { .. }
            | PairError::MissingContent(_) => (500, "internal-error"),
        }
    }
}

//! Retry receipts as pure data and rules (`messaging.md` §11).
//!
//! ```text
//! receiver: decrypt fails → next_retry_count → (count ≥ 2 | forced) ⇒ RetryKeys::generate
//!           (fresh one-time prekey: persist it as uploaded) → <receipt type="retry"> [<keys>]
//! sender:   <receipt type="retry"> → SenderRetryState::decide → Drop | Resend { session }
//!           → SessionSource::Keys ⇒ RetryKeys::to_bundle → fanout::encrypt_for_device
//! ```

use rand_core::CryptoRngCore;

use crate::signal::curve::{PublicKey, Signature};
use crate::signal::keys::{LocalIdentity, PreKey, PreKeyBundle, PublicPreKey, SignedPreKey};
use crate::time::Millis;

/// The highest retry count a receiver sends (Baileys `maxMsgRetryCount = 5`, whatsapp-rust
/// `MAX_RETRY_COUNT = 5`, `messaging.md` §11; whatsmeow stops at 4).
pub const MAX_RETRY_COUNT: u32 = 5;
/// From this count on a retry receipt carries `<keys>` (whatsapp-rust
/// `MIN_RETRY_COUNT_FOR_KEYS = 2`; whatsmeow and Baileys: `count > 1`).
pub const MIN_RETRY_COUNT_FOR_KEYS: u32 = 2;
/// The sender drops retry requests from this one on, per (device, message id) (whatsmeow, §11
/// sender step 2).
pub const MAX_RETRY_REQUESTS_HANDLED: u32 = 10;
/// The sender rebuilds a session on a keyless retry (count ≥ 2) at most this often per device
/// (§11 sender step 3: "> 1 hour ago").
pub const SESSION_RECREATE_INTERVAL_MS: u64 = 60 * 60 * 1000;

/// The `error` attribute of `<retry>` (whatsapp-rust reason codes, `messaging.md` §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryReason {
    /// 0: unknown.
    Unknown,
    /// 1: no session.
    NoSession,
    /// 2: invalid key.
    InvalidKey,
    /// 3: invalid prekey id.
    InvalidPreKeyId,
    /// 4: invalid message.
    InvalidMessage,
    /// 5: invalid signature.
    InvalidSignature,
    /// 6: future message.
    FutureMessage,
    /// 7: bad MAC.
    BadMac,
    /// 8: invalid session.
    InvalidSession,
    /// 9: invalid message key.
    InvalidMessageKey,
}

impl RetryReason {
    /// The numeric code of the `error` attribute.
    pub fn code(self) -> u8 {
        match self {
            RetryReason::Unknown => 0,
            RetryReason::NoSession => 1,
            RetryReason::InvalidKey => 2,
            RetryReason::InvalidPreKeyId => 3,
            RetryReason::InvalidMessage => 4,
            RetryReason::InvalidSignature => 5,
            RetryReason::FutureMessage => 6,
            RetryReason::BadMac => 7,
            RetryReason::InvalidSession => 8,
            RetryReason::InvalidMessageKey => 9,
        }
    }
}

/// Receiver: the count of the next retry receipt for a message, or `None` when the limit is
/// reached (stop asking). `previous` is the count we last sent for this id; `enc_count` the
/// `count` attribute of the failed `<enc>` when it was itself a resend (continue from N + 1).
pub fn next_retry_count(previous: Option<u32>, enc_count: Option<u32>) -> Option<u32> {
    let last = previous.unwrap_or(0).max(enc_count.unwrap_or(0));
    let next = last.saturating_add(1);
    (next <= MAX_RETRY_COUNT).then_some(next)
}

/// Receiver: whether a retry receipt with this count carries `<keys>`. `forced`: an `skmsg`
/// failed with no sender key and no pairwise `<enc>` came with it (§11).
pub fn retry_includes_keys(count: u32, forced: bool) -> bool {
    forced || count >= MIN_RETRY_COUNT_FOR_KEYS
}

/// The `<registration>` and `<keys>` of a retry receipt: enough for the sender to start a new
/// session with us (the same content as a fetched bundle, `messaging.md` §5/§11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryKeys {
    /// `<registration>` (4 bytes big-endian on the wire).
    pub registration_id: u32,
    /// `<identity>` (32 raw bytes; `<type>` is `0x05`).
    pub identity: PublicKey,
    /// `<key>`: a freshly generated one-time prekey.
    pub pre_key: PublicPreKey,
    /// `<skey>`: our signed prekey.
    pub signed_pre_key: PublicPreKey,
    /// `<skey><signature>`.
    pub signed_pre_key_signature: Signature,
    /// `<device-identity>`: our `ADVSignedDeviceIdentity` bytes (companions).
    pub device_identity: Option<Vec<u8>>,
}

impl RetryKeys {
    /// Generates the fresh one-time prekey a retry receipt offers (whatsmeow `GenOnePreKey`)
    /// with id `pre_key_id`, and the keys to send. The driver stores the returned prekey (marked
    /// uploaded) before sending the receipt.
    pub fn generate(
        local: &LocalIdentity,
        signed_pre_key: &SignedPreKey,
        pre_key_id: u32,
        device_identity: Option<Vec<u8>>,
        rng: &mut impl CryptoRngCore,
    ) -> (PreKey, RetryKeys) {
        let pre_key = PreKey::generate(pre_key_id, rng);
        let keys = RetryKeys::from_keys(local, signed_pre_key, &pre_key, device_identity);
        (pre_key, keys)
    }

    /// The keys for existing prekeys.
    pub fn from_keys(
        local: &LocalIdentity,
        signed_pre_key: &SignedPreKey,
        pre_key: &PreKey,
        device_identity: Option<Vec<u8>>,
    ) -> RetryKeys {
        RetryKeys {
            registration_id: local.registration_id,
            identity: *local.public_key(),
            pre_key: pre_key.public(),
            signed_pre_key: signed_pre_key.public(),
            signed_pre_key_signature: signed_pre_key.signature,
            device_identity,
        }
    }

    /// Sender: the bundle to start a new session from (`fanout::DeviceTarget::bundle`). Its
    /// signature is checked when the session is built.
    pub fn to_bundle(&self) -> PreKeyBundle {
        PreKeyBundle {
            registration_id: self.registration_id,
            identity_key: self.identity,
            signed_pre_key: self.signed_pre_key,
            signed_pre_key_signature: self.signed_pre_key_signature,
            pre_key: Some(self.pre_key),
        }
    }
}

/// Sender: what one incoming retry receipt says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryRequest {
    /// `<retry count>`.
    pub count: u32,
    /// Whether it carried `<keys>`.
    pub has_keys: bool,
}

/// Sender: which session to re-encrypt with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionSource {
    /// The existing session.
    Existing,
    /// A new session from the receipt's `<keys>` ([`RetryKeys::to_bundle`]).
    Keys,
    /// A new session from a freshly fetched bundle (`messaging.md` §5, `reason="retry"`).
    FetchBundle,
}

/// Sender: the decision for one retry receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Ignore it (too many requests for this message and device).
    Drop,
    /// Re-encrypt for the requesting device only (§11 step 4) with this session.
    Resend {
        /// Where the session comes from.
        session: SessionSource,
    },
}

/// Sender: what is remembered per (requesting device, message id) and per device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderRetryState {
    /// Retry receipts handled so far for this (device, message id).
    pub requests_handled: u32,
    /// When we last rebuilt the session with this device because of a retry.
    pub last_recreated: Option<Millis>,
}

impl SenderRetryState {
    /// Applies the rule of `messaging.md` §11 (sender steps 2–3) and returns the decision with
    /// the state to remember. `has_session`: we have a session with the requesting device.
    pub fn decide(
        self,
        request: RetryRequest,
        has_session: bool,
        now: Millis,
    ) -> (SenderRetryState, RetryDecision) {
        if self.requests_handled + 1 >= MAX_RETRY_REQUESTS_HANDLED {
            return (self, RetryDecision::Drop);
        }
        let stale = self
            .last_recreated
            .is_none_or(|t| now.since(t) > SESSION_RECREATE_INTERVAL_MS);
        let session = if request.has_keys {
            SessionSource::Keys
        } else if !has_session || (request.count >= 2 && stale) {
            SessionSource::FetchBundle
        } else {
            SessionSource::Existing
        };
        let next = SenderRetryState {
            requests_handled: self.requests_handled + 1,
            last_recreated: match session {
                SessionSource::Existing => self.last_recreated,
                SessionSource::Keys | SessionSource::FetchBundle => Some(now),
            },
        };
        (next, RetryDecision::Resend { session })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn receiver_counts_and_keys() {
        assert_eq!(next_retry_count(None, None), Some(1));
        assert_eq!(next_retry_count(Some(1), None), Some(2));
        // A failed resend `<enc count="3">` continues from 4.
        assert_eq!(next_retry_count(Some(1), Some(3)), Some(4));
        assert_eq!(next_retry_count(Some(4), None), Some(5));
        assert_eq!(next_retry_count(Some(5), None), None);
        assert!(!retry_includes_keys(1, false));
        assert!(retry_includes_keys(1, true));
        assert!(retry_includes_keys(2, false));
        let codes: Vec<u8> = [
            RetryReason::Unknown,
            RetryReason::NoSession,
            RetryReason::InvalidKey,
            RetryReason::InvalidPreKeyId,
            RetryReason::InvalidMessage,
            RetryReason::InvalidSignature,
            RetryReason::FutureMessage,
            RetryReason::BadMac,
            RetryReason::InvalidSession,
            RetryReason::InvalidMessageKey,
        ]
        .iter()
        .map(|r| r.code())
        .collect();
        assert_eq!(codes, (0..=9).collect::<Vec<u8>>());
    }

    #[test]
    fn sender_rule() {
        let t0 = Millis(1_700_000_000_000);
        let keyless = |count| RetryRequest {
            count,
            has_keys: false,
        };
        let fresh = SenderRetryState::default();
        let resend = |session| RetryDecision::Resend { session };
        // Keys win; a recreation is remembered.
        let (s, d) = fresh.decide(
            RetryRequest {
                count: 2,
                has_keys: true,
            },
            true,
            t0,
        );
        assert_eq!(d, resend(SessionSource::Keys));
        assert_eq!(s.last_recreated, Some(t0));
        // First keyless retry with a session: same session.
        assert_eq!(
            fresh.decide(keyless(1), true, t0).1,
            resend(SessionSource::Existing)
        );
        // No session: fetch a bundle.
        assert_eq!(
            fresh.decide(keyless(1), false, t0).1,
            resend(SessionSource::FetchBundle)
        );
        // count ≥ 2: fetch unless recreated within the hour.
        assert_eq!(
            fresh.decide(keyless(2), true, t0).1,
            resend(SessionSource::FetchBundle)
        );
        let recent = SenderRetryState {
            requests_handled: 1,
            last_recreated: Some(t0),
        };
        assert_eq!(
            recent.decide(keyless(2), true, t0.after(1000)).1,
            resend(SessionSource::Existing)
        );
        assert_eq!(
            recent
                .decide(keyless(2), true, t0.after(SESSION_RECREATE_INTERVAL_MS + 1))
                .1,
            resend(SessionSource::FetchBundle)
        );
        // The 10th request for a message is dropped.
        let many = SenderRetryState {
            requests_handled: 9,
            last_recreated: None,
        };
        assert_eq!(many.decide(keyless(5), true, t0).1, RetryDecision::Drop);
        let nine = SenderRetryState {
            requests_handled: 8,
            last_recreated: None,
        };
        assert_eq!(nine.decide(keyless(5), true, t0).0.requests_handled, 9);
    }

    #[test]
    fn retry_keys_make_a_verifiable_bundle() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let local = LocalIdentity::generate(&mut rng);
        let spk = SignedPreKey::generate(&local.key_pair, 1, 0, &mut rng);
        let (pre_key, keys) = RetryKeys::generate(&local, &spk, 77, Some(vec![1, 2]), &mut rng);
        assert_eq!(pre_key.id, 77);
        let bundle = keys.to_bundle();
        assert!(bundle.verify_signature());
        assert_eq!(bundle.pre_key, Some(pre_key.public()));
        assert_eq!(bundle.registration_id, local.registration_id);
        assert_eq!(
            bundle,
            PreKeyBundle::from_local(&local, &spk, Some(&pre_key))
        );
    }
}

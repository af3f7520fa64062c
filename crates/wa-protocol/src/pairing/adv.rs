//! ADV ("account device verification") identities: the primary signs the companion into the
//! account (pair-success), the companion verifies and countersigns (pair-device-sign)
//! (`login-pairing.md` §4.4–§4.6 and §4.9).
//!
//! Prefixes follow whatsmeow `pair.go` after `8a86a551` and Baileys: the HMAC gets `06 05` only
//! when the container's `accountType` is HOSTED; the account signature uses `06 05` when the
//! signed `deviceType` is HOSTED, else `06 00`; the device signature always uses `06 01`.

use hmac::{Hmac, Mac};
use prost::Message;
use rand_core::CryptoRngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::PairError;
use crate::pb::adv::{
    AdvDeviceIdentity, AdvEncryptionType, AdvSignedDeviceIdentity, AdvSignedDeviceIdentityHmac,
};
use crate::signal::{KeyPair, PublicKey, SIGNATURE_LEN};

/// Prefix of the message the primary's account signature covers (E2EE devices).
pub const ACCOUNT_SIGNATURE_PREFIX: [u8; 2] = [0x06, 0x00];
/// Prefix of the message the companion's device signature covers.
pub const DEVICE_SIGNATURE_PREFIX: [u8; 2] = [0x06, 0x01];
/// Prefix of the hosted account signature, also the HMAC prefix for HOSTED containers.
pub const HOSTED_ACCOUNT_SIGNATURE_PREFIX: [u8; 2] = [0x06, 0x05];
/// Prefix of the hosted device signature. Listed for completeness: whatsmeow and Baileys sign
/// hosted devices with [`DEVICE_SIGNATURE_PREFIX`] too, and so does this module.
pub const HOSTED_DEVICE_SIGNATURE_PREFIX: [u8; 2] = [0x06, 0x06];

/// A successfully verified pair-success, as the companion stores and answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairedDevice {
    /// The key index the primary assigned (echoed as `key-index` in pair-device-sign).
    pub key_index: u32,
    /// The primary's `rawID`.
    pub raw_id: u32,
    /// The primary's signing timestamp (Unix seconds).
    pub timestamp: u64,
    /// Whether the signed device type is HOSTED.
    pub hosted: bool,
    /// The primary's identity key (`accountSignatureKey`), to trust as device 0 of the own LID.
    pub account_key: PublicKey,
    /// The decoded signed body.
    pub device_identity: AdvDeviceIdentity,
    /// The full identity to store (with `accountSignatureKey` and our `deviceSignature`); it is
    /// later attached to outgoing pkmsg stanzas as `<device-identity>`.
    pub account: AdvSignedDeviceIdentity,
    /// The bytes for the pair-device-sign reply: [`PairedDevice::account`] without
    /// `accountSignatureKey` (whatsmeow and Baileys).
    pub reply: Vec<u8>,
}

impl PairedDevice {
    /// The serialised [`PairedDevice::account`] (the stored form).
    pub fn account_bytes(&self) -> Vec<u8> {
        self.account.encode_to_vec()
    }
}

/// The key index inside a stored ADVSignedDeviceIdentity ([`PairedDevice::account_bytes`]);
/// `None` if the bytes do not decode or carry none.
pub fn stored_key_index(account: &[u8]) -> Option<u32> {
    let signed = AdvSignedDeviceIdentity::decode(account).ok()?;
    AdvDeviceIdentity::decode(signed.details?.as_slice())
        .ok()?
        .key_index
}

/// What the primary puts into the ADV identity it signs for a companion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvGrant {
    /// The primary's `rawID` (random per account).
    pub raw_id: u32,
    /// Signing time, Unix seconds.
    pub timestamp: u64,
    /// The companion's key index (usually its device number).
    pub key_index: u32,
    /// Account type, in the signed body and the HMAC container (HOSTED prefixes the HMAC).
    pub account_type: AdvEncryptionType,
    /// Device type (HOSTED switches the account signature prefix).
    pub device_type: AdvEncryptionType,
}

/// HMAC-SHA256 over `prefix ‖ details` keyed by the ADV secret.
fn adv_hmac(adv_secret: &[u8; 32], hosted: bool, details: &[u8]) -> Result<[u8; 32], PairError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(adv_secret)
        .map_err(|_| PairError::Crypto("hmac key"))?;
    if hosted {
        mac.update(&HOSTED_ACCOUNT_SIGNATURE_PREFIX);
    }
    mac.update(details);
    Ok(mac.finalize().into_bytes().into())
}

/// The message the account signature covers.
fn account_message(hosted_device: bool, details: &[u8], companion_identity: &PublicKey) -> Vec<u8> {
    let prefix = if hosted_device {
        HOSTED_ACCOUNT_SIGNATURE_PREFIX
    } else {
        ACCOUNT_SIGNATURE_PREFIX
    };
    [&prefix[..], details, companion_identity.as_bytes()].concat()
}

/// The message the device signature covers.
fn device_message(
    details: &[u8],
    companion_identity: &PublicKey,
    account_key: &PublicKey,
) -> Vec<u8> {
    [
        &DEVICE_SIGNATURE_PREFIX[..],
        details,
        companion_identity.as_bytes(),
        account_key.as_bytes(),
    ]
    .concat()
}

fn is_hosted(v: Option<i32>) -> bool {
    v == Some(AdvEncryptionType::Hosted as i32)
}

fn decode<M: Message + Default>(what: &'static str, bytes: &[u8]) -> Result<M, PairError> {
    M::decode(bytes).map_err(|source| PairError::Protobuf { what, source })
}

/// Companion side: checks a pair-success `<device-identity>` (an `ADVSignedDeviceIdentityHMAC`)
/// and countersigns it, exactly as `login-pairing.md` §4.5.
///
/// Errors: [`PairError::HmacMismatch`] (401), [`PairError::AccountSignatureMismatch`] (401, also
/// for a missing or wrongly sized account key or signature), malformed protobufs (500).
pub fn verify_pair_success(
    device_identity: &[u8],
    adv_secret: &[u8; 32],
    identity: &KeyPair,
    rng: &mut impl CryptoRngCore,
) -> Result<PairedDevice, PairError> {
    let container: AdvSignedDeviceIdentityHmac =
        decode("ADVSignedDeviceIdentityHMAC", device_identity)?;
    let details = container.details.as_deref().ok_or(PairError::MissingField(
        "ADVSignedDeviceIdentityHMAC.details",
    ))?;
    let expected = adv_hmac(adv_secret, is_hosted(container.account_type), details)?;
    let given = container.hmac.as_deref().unwrap_or_default();
    if !bool::from(expected.as_slice().ct_eq(given)) {
        return Err(PairError::HmacMismatch);
    }

    let mut signed: AdvSignedDeviceIdentity = decode("ADVSignedDeviceIdentity", details)?;
    let body = signed
        .details
        .clone()
        .ok_or(PairError::MissingField("ADVSignedDeviceIdentity.details"))?;
    let device_identity: AdvDeviceIdentity = decode("ADVDeviceIdentity", &body)?;
    let hosted = is_hosted(device_identity.device_type);

    let account_key = signed
        .account_signature_key
        .as_deref()
        .and_then(PublicKey::from_slice)
        .ok_or(PairError::AccountSignatureMismatch)?;
    let account_signature = signed
        .account_signature
        .as_deref()
        .filter(|s| s.len() == SIGNATURE_LEN)
        .ok_or(PairError::AccountSignatureMismatch)?;
    if !account_key.verify(
        &account_message(hosted, &body, &identity.public),
        account_signature,
    ) {
        return Err(PairError::AccountSignatureMismatch);
    }

    let device_signature = identity
        .private
        .sign(&device_message(&body, &identity.public, &account_key), rng);
    signed.device_signature = Some(device_signature.to_vec());
    let reply = AdvSignedDeviceIdentity {
        account_signature_key: None,
        ..signed.clone()
    }
    .encode_to_vec();

    Ok(PairedDevice {
        key_index: device_identity.key_index.unwrap_or_default(),
        raw_id: device_identity.raw_id.unwrap_or_default(),
        timestamp: device_identity.timestamp.unwrap_or_default(),
        hosted,
        account_key,
        device_identity,
        account: signed,
        reply,
    })
}

/// Primary side: the pair-success `<device-identity>` bytes for a companion (E2EE account and
/// device, the normal case; `login-pairing.md` §4.9).
pub fn sign_companion(
    account: &KeyPair,
    companion_identity: &PublicKey,
    adv_secret: &[u8; 32],
    raw_id: u32,
    timestamp: u64,
    key_index: u32,
    rng: &mut impl CryptoRngCore,
) -> Vec<u8> {
    let grant = AdvGrant {
        raw_id,
        timestamp,
        key_index,
        account_type: AdvEncryptionType::E2ee,
        device_type: AdvEncryptionType::E2ee,
    };
    sign_companion_with(account, companion_identity, adv_secret, &grant, rng)
}

/// Primary side with explicit account/device types (hosted variants), same prefixes as the
/// companion checks in [`verify_pair_success`].
pub fn sign_companion_with(
    account: &KeyPair,
    companion_identity: &PublicKey,
    adv_secret: &[u8; 32],
    grant: &AdvGrant,
    rng: &mut impl CryptoRngCore,
) -> Vec<u8> {
    let body = AdvDeviceIdentity {
        raw_id: Some(grant.raw_id),
        timestamp: Some(grant.timestamp),
        key_index: Some(grant.key_index),
        account_type: Some(grant.account_type as i32),
        device_type: Some(grant.device_type as i32),
    }
    .encode_to_vec();
    let hosted_device = grant.device_type == AdvEncryptionType::Hosted;
    let account_signature = account.private.sign(
        &account_message(hosted_device, &body, companion_identity),
        rng,
    );
    let signed = AdvSignedDeviceIdentity {
        details: Some(body),
        account_signature_key: Some(account.public.as_bytes().to_vec()),
        account_signature: Some(account_signature.to_vec()),
        device_signature: None,
    }
    .encode_to_vec();
    let hosted_account = grant.account_type == AdvEncryptionType::Hosted;
    // HMAC-SHA256 accepts any key length, so this cannot fail; an empty HMAC would only make the
    // companion answer hmac-mismatch.
    let hmac = adv_hmac(adv_secret, hosted_account, &signed)
        .map(|h| h.to_vec())
        .unwrap_or_default();
    AdvSignedDeviceIdentityHmac {
        details: Some(signed),
        hmac: Some(hmac),
        account_type: Some(grant.account_type as i32),
    }
    .encode_to_vec()
}

/// Primary/server side: checks the companion's pair-device-sign `<device-identity>` bytes.
///
/// Verifies the device signature (`06 01 ‖ details ‖ companion identity ‖ account key`), that
/// the account signature inside is still the primary's own, that an `accountSignatureKey` (which
/// whatsapp-rust includes) is `account_pub`, and that the signed key index is
/// `expected_key_index`. Returns the signed body.
pub fn verify_pair_device_sign(
    reply_bytes: &[u8],
    companion_identity: &PublicKey,
    account_pub: &PublicKey,
    expected_key_index: u32,
) -> Result<AdvDeviceIdentity, PairError> {
    let signed: AdvSignedDeviceIdentity = decode("ADVSignedDeviceIdentity", reply_bytes)?;
    let body = signed
        .details
        .as_deref()
        .ok_or(PairError::MissingField("ADVSignedDeviceIdentity.details"))?;
    let device_identity: AdvDeviceIdentity = decode("ADVDeviceIdentity", body)?;
    if let Some(key) = signed.account_signature_key.as_deref() {
        if key != account_pub.as_bytes() {
            return Err(PairError::KeyMismatch);
        }
    }
    let device_signature = signed
        .device_signature
        .as_deref()
        .ok_or(PairError::MissingField(
            "ADVSignedDeviceIdentity.deviceSignature",
        ))?;
    if !companion_identity.verify(
        &device_message(body, companion_identity, account_pub),
        device_signature,
    ) {
        return Err(PairError::DeviceSignatureMismatch);
    }
    let account_signature = signed
        .account_signature
        .as_deref()
        .ok_or(PairError::MissingField(
            "ADVSignedDeviceIdentity.accountSignature",
        ))?;
    let hosted = is_hosted(device_identity.device_type);
    if !account_pub.verify(
        &account_message(hosted, body, companion_identity),
        account_signature,
    ) {
        return Err(PairError::AccountSignatureMismatch);
    }
    let got = device_identity.key_index.unwrap_or_default();
    if got != expected_key_index {
        return Err(PairError::KeyIndexMismatch {
            expected: expected_key_index,
            got,
        });
    }
    Ok(device_identity)
}

//! The companion device's keys: device identity, signed and one-time prekeys.

use wa_protocol::binary::Jid;
use wa_protocol::payload::ClientVersion;
use wa_protocol::signal::{KeyPair, Signature};

use super::secret::Secret;

/// A signed prekey with its private half.
#[derive(Clone, Debug)]
pub struct SignedPreKey {
    /// Prekey id (24 bits on the wire).
    pub id: u32,
    /// The key pair (its `Debug` hides the private key).
    pub key_pair: KeyPair,
    /// XEdDSA signature by the identity key over the DJB public key.
    pub signature: Signature,
    /// When it was generated (ms since the Unix epoch).
    pub timestamp_ms: u64,
}

impl PartialEq for SignedPreKey {
    fn eq(&self, o: &Self) -> bool {
        self.id == o.id
            && key_pair_eq(&self.key_pair, &o.key_pair)
            && self.signature == o.signature
            && self.timestamp_ms == o.timestamp_ms
    }
}

/// A one-time prekey: generated in batches, uploaded, consumed by the first pkmsg that names it.
#[derive(Clone, Debug)]
pub struct OneTimePreKey {
    /// Prekey id (1 ..= 0xFF_FFFF).
    pub id: u32,
    /// The key pair (its `Debug` hides the private key).
    pub key_pair: KeyPair,
    /// Whether the server has it.
    pub uploaded: bool,
}

impl PartialEq for OneTimePreKey {
    fn eq(&self, o: &Self) -> bool {
        self.id == o.id && self.uploaded == o.uploaded && key_pair_eq(&self.key_pair, &o.key_pair)
    }
}

/// Counts of an account's one-time prekeys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PreKeyCounts {
    /// Unconsumed prekeys.
    pub total: u32,
    /// Of those, how many the server has.
    pub uploaded: u32,
}

/// The companion device's long-lived keys and pairing facts (one per account).
#[derive(Clone, Debug)]
pub struct DeviceIdentity {
    /// Noise static key pair.
    pub noise_key: KeyPair,
    /// Signal identity key pair.
    pub identity_key: KeyPair,
    /// Signal registration id.
    pub registration_id: u32,
    /// The current signed prekey.
    pub signed_prekey: SignedPreKey,
    /// ADV secret shared with the primary phone at pairing.
    pub adv_secret: Secret<[u8; 32]>,
    /// Own JID once paired (`user:device@s.whatsapp.net`).
    pub jid: Option<Jid>,
    /// Own LID once known (`…@lid`).
    pub lid: Option<Jid>,
    /// The primary phone's platform name, as the pairing reported it (empty: unknown).
    pub platform: String,
    /// Our own push name (the display name we announce); empty: none.
    pub push_name: String,
    /// The account's business name, as the pairing reported it (business accounts only).
    pub business_name: Option<String>,
    /// Serialized `ADVSignedDeviceIdentity` from pairing (opaque here).
    pub adv_signed_identity: Option<Vec<u8>>,
    /// Client version used at registration.
    pub client_version: ClientVersion,
    /// The account is LID-migrated (pair-success `<client-props>`, `login-pairing.md` §4.4):
    /// DMs, their participants and the own-device copy are addressed by LID
    /// (`messaging.md` §16). `false` in records written before the field existed.
    pub lid_migrated: bool,
}

impl PartialEq for DeviceIdentity {
    fn eq(&self, o: &Self) -> bool {
        key_pair_eq(&self.noise_key, &o.noise_key)
            && key_pair_eq(&self.identity_key, &o.identity_key)
            && self.registration_id == o.registration_id
            && self.signed_prekey == o.signed_prekey
            && self.adv_secret == o.adv_secret
            && self.jid == o.jid
            && self.lid == o.lid
            && self.platform == o.platform
            && self.push_name == o.push_name
            && self.business_name == o.business_name
            && self.adv_signed_identity == o.adv_signed_identity
            && self.client_version == o.client_version
            && self.lid_migrated == o.lid_migrated
    }
}

pub(crate) fn key_pair_eq(a: &KeyPair, b: &KeyPair) -> bool {
    a.public == b.public && a.private.to_bytes() == b.private.to_bytes()
}

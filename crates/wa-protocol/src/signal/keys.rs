//! Long-term keys of a device (`signal.md` §3): identity, registration id, signed prekey,
//! one-time prekeys, and the prekey bundle a peer fetches to start a session.

use prost::Message as _;
use rand_core::CryptoRngCore;

use super::curve::{KeyPair, PublicKey, Signature};
use super::error::{Result, SignalError};
use super::record::{key_pair_from_store, STORE_FORMAT_VERSION};
use crate::pb::signal_store as store;

/// Largest prekey id: ids travel as 3 bytes big-endian in `<id>` nodes.
pub const MAX_PRE_KEY_ID: u32 = 0x00ff_ffff;

/// Largest registration id we generate (Signal's classic range is 1..=16380; any `u32` is
/// accepted from peers).
pub const MAX_REGISTRATION_ID: u32 = 16380;

/// Our own identity as the session functions need it.
#[derive(Clone, Debug)]
pub struct LocalIdentity {
    /// The identity key pair (signs the signed prekey, takes part in X3DH).
    pub key_pair: KeyPair,
    /// Our registration id (sent in every PreKeySignalMessage).
    pub registration_id: u32,
}

impl LocalIdentity {
    /// Generates a fresh identity key pair and registration id.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self {
            key_pair: KeyPair::generate(rng),
            registration_id: generate_registration_id(rng),
        }
    }

    /// The public identity key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key_pair.public
    }
}

/// A random registration id in `1..=16380`.
pub fn generate_registration_id(rng: &mut impl CryptoRngCore) -> u32 {
    // Rejection sampling over 14 bits keeps the distribution uniform.
    loop {
        let candidate = rng.next_u32() & 0x3fff;
        if (1..=MAX_REGISTRATION_ID).contains(&candidate) {
            return candidate;
        }
    }
}

/// The id after `id` in the 24-bit prekey id space: 1, 2, …, 16 777 215, 1, …
pub fn next_pre_key_id(id: u32) -> u32 {
    if id == 0 || id >= MAX_PRE_KEY_ID {
        1
    } else {
        id + 1
    }
}

/// The 3-byte big-endian form of a prekey id (`<id>` node content); `None` above 2^24 − 1.
pub fn encode_pre_key_id(id: u32) -> Option<[u8; 3]> {
    if id > MAX_PRE_KEY_ID {
        return None;
    }
    let [_, a, b, c] = id.to_be_bytes();
    Some([a, b, c])
}

/// Parses a big-endian prekey id of 1 to 3 bytes (`<id>` node content).
pub fn decode_pre_key_id(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 3 {
        return None;
    }
    Some(bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

/// A prekey's public half with its id, as published in a bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicPreKey {
    /// The prekey id (24 bits).
    pub id: u32,
    /// The public key.
    pub key: PublicKey,
}

/// A one-time prekey as kept by its owner.
#[derive(Clone, Debug)]
pub struct PreKey {
    /// The prekey id (1..=2^24 − 1).
    pub id: u32,
    /// The key pair.
    pub key_pair: KeyPair,
}

impl PreKey {
    /// Generates a one-time prekey with the given id.
    pub fn generate(id: u32, rng: &mut impl CryptoRngCore) -> Self {
        Self {
            id,
            key_pair: KeyPair::generate(rng),
        }
    }

    /// The public half for upload.
    pub fn public(&self) -> PublicPreKey {
        PublicPreKey {
            id: self.id,
            key: self.key_pair.public,
        }
    }

    /// Serialises through `wa.signal_store.PreKeyRecord`.
    pub fn to_bytes(&self) -> Vec<u8> {
        store::PreKeyRecord {
            format_version: STORE_FORMAT_VERSION,
            id: self.id,
            public_key: self.key_pair.public.as_bytes().to_vec(),
            private_key: self.key_pair.private.to_bytes().to_vec(),
        }
        .encode_to_vec()
    }

    /// Parses bytes written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let r = store::PreKeyRecord::decode(bytes)
            .map_err(|_| SignalError::InvalidRecord("PreKeyRecord does not decode"))?;
        if r.format_version != STORE_FORMAT_VERSION {
            return Err(SignalError::InvalidRecord("unknown PreKeyRecord version"));
        }
        Ok(Self {
            id: r.id,
            key_pair: key_pair_from_store(&r.public_key, &r.private_key)?,
        })
    }
}

/// Generates `count` one-time prekeys with consecutive ids starting at `first_id` (0 counts as
/// 1), wrapping from 2^24 − 1 back to 1. Store the last id and continue with
/// [`next_pre_key_id`] next time.
pub fn generate_pre_keys(first_id: u32, count: usize, rng: &mut impl CryptoRngCore) -> Vec<PreKey> {
    let mut id = if (1..=MAX_PRE_KEY_ID).contains(&first_id) {
        first_id
    } else {
        next_pre_key_id(0)
    };
    let mut keys = Vec::with_capacity(count);
    for _ in 0..count {
        keys.push(PreKey::generate(id, rng));
        id = next_pre_key_id(id);
    }
    keys
}

/// A signed prekey as kept by its owner: the key pair plus the identity key's XEdDSA signature
/// over `0x05 ‖ public`.
#[derive(Clone, Debug)]
pub struct SignedPreKey {
    /// The signed prekey id (1 at device creation).
    pub id: u32,
    /// The key pair.
    pub key_pair: KeyPair,
    /// Signature by the identity key over the 33-byte public key.
    pub signature: Signature,
    /// Creation time in milliseconds since the Unix epoch, as given by the caller.
    pub created_at_ms: u64,
}

impl SignedPreKey {
    /// Generates and signs a signed prekey. `now_ms` is recorded for rotation decisions.
    pub fn generate(
        identity: &KeyPair,
        id: u32,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Self {
        let key_pair = KeyPair::generate(rng);
        let signature = identity.private.sign(&key_pair.public.to_djb(), rng);
        Self {
            id,
            key_pair,
            signature,
            created_at_ms: now_ms,
        }
    }

    /// Whether the signature verifies under `identity`.
    pub fn verify(&self, identity: &PublicKey) -> bool {
        identity.verify(&self.key_pair.public.to_djb(), &self.signature)
    }

    /// The public half for upload.
    pub fn public(&self) -> PublicPreKey {
        PublicPreKey {
            id: self.id,
            key: self.key_pair.public,
        }
    }

    /// Serialises through `wa.signal_store.SignedPreKeyRecord`.
    pub fn to_bytes(&self) -> Vec<u8> {
        store::SignedPreKeyRecord {
            format_version: STORE_FORMAT_VERSION,
            id: self.id,
            public_key: self.key_pair.public.as_bytes().to_vec(),
            private_key: self.key_pair.private.to_bytes().to_vec(),
            signature: self.signature.to_vec(),
            created_at_ms: self.created_at_ms,
        }
        .encode_to_vec()
    }

    /// Parses bytes written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let r = store::SignedPreKeyRecord::decode(bytes)
            .map_err(|_| SignalError::InvalidRecord("SignedPreKeyRecord does not decode"))?;
        if r.format_version != STORE_FORMAT_VERSION {
            return Err(SignalError::InvalidRecord(
                "unknown SignedPreKeyRecord version",
            ));
        }
        let signature: Signature = r
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| SignalError::InvalidRecord("signature length"))?;
        Ok(Self {
            id: r.id,
            key_pair: key_pair_from_store(&r.public_key, &r.private_key)?,
            signature,
            created_at_ms: r.created_at_ms,
        })
    }
}

/// A peer device's published keys, as fetched from the server (`<key>` bundle of an `encrypt`
/// IQ). Keys are in the raw 32-byte form of the XMPP nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeyBundle {
    /// The peer's registration id.
    pub registration_id: u32,
    /// The peer's identity key.
    pub identity_key: PublicKey,
    /// The peer's signed prekey.
    pub signed_pre_key: PublicPreKey,
    /// Signature of the signed prekey by the identity key.
    pub signed_pre_key_signature: Signature,
    /// A one-time prekey, when the server still had one.
    pub pre_key: Option<PublicPreKey>,
}

impl PreKeyBundle {
    /// Builds a bundle from parts received in binary nodes; the signature must be 64 bytes.
    pub fn new(
        registration_id: u32,
        identity_key: PublicKey,
        signed_pre_key: PublicPreKey,
        signed_pre_key_signature: &[u8],
        pre_key: Option<PublicPreKey>,
    ) -> Result<Self> {
        let signature: Signature = signed_pre_key_signature
            .try_into()
            .map_err(|_| SignalError::InvalidMessage("signature must be 64 bytes"))?;
        Ok(Self {
            registration_id,
            identity_key,
            signed_pre_key,
            signed_pre_key_signature: signature,
            pre_key,
        })
    }

    /// Our own bundle, as a peer would receive it.
    pub fn from_local(
        identity: &LocalIdentity,
        signed_pre_key: &SignedPreKey,
        pre_key: Option<&PreKey>,
    ) -> Self {
        Self {
            registration_id: identity.registration_id,
            identity_key: identity.key_pair.public,
            signed_pre_key: signed_pre_key.public(),
            signed_pre_key_signature: signed_pre_key.signature,
            pre_key: pre_key.map(PreKey::public),
        }
    }

    /// Whether the signed prekey's signature verifies under the identity key.
    pub fn verify_signature(&self) -> bool {
        self.identity_key.verify(
            &self.signed_pre_key.key.to_djb(),
            &self.signed_pre_key_signature,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn registration_ids_in_range() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..10_000 {
            let id = generate_registration_id(&mut rng);
            assert!((1..=16380).contains(&id));
        }
    }

    /// An RNG that counts: `next_u32` yields 0, 1, 2, …
    struct Counter(u32);

    impl rand_core::RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.0 = self.0.wrapping_add(1);
            self.0 - 1
        }
        fn next_u64(&mut self) -> u64 {
            u64::from(self.next_u32())
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.iter_mut().for_each(|b| *b = self.next_u32() as u8);
        }
        fn try_fill_bytes(
            &mut self,
            dest: &mut [u8],
        ) -> core::result::Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl rand_core::CryptoRng for Counter {}

    /// Every 14-bit draw maps to at most one id and every id has exactly one draw in each block
    /// of 2^14: the distribution over 1..=16380 is uniform (no `% n` bias).
    #[test]
    fn registration_ids_are_uniform() {
        let mut rng = Counter(0);
        let mut seen = vec![0u32; MAX_REGISTRATION_ID as usize + 1];
        for _ in 0..2 * MAX_REGISTRATION_ID {
            seen[generate_registration_id(&mut rng) as usize] += 1;
        }
        assert_eq!(seen[0], 0);
        assert!(seen[1..].iter().all(|&n| n == 2), "each id twice");
    }

    #[test]
    fn pre_key_ids_start_at_one_and_wrap() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let keys = generate_pre_keys(0, 3, &mut rng);
        assert_eq!(keys.iter().map(|k| k.id).collect::<Vec<_>>(), [1, 2, 3]);
        let keys = generate_pre_keys(MAX_PRE_KEY_ID - 1, 3, &mut rng);
        assert_eq!(
            keys.iter().map(|k| k.id).collect::<Vec<_>>(),
            [MAX_PRE_KEY_ID - 1, MAX_PRE_KEY_ID, 1]
        );
        assert_eq!(next_pre_key_id(41), 42);
        assert_eq!(encode_pre_key_id(0x0001_0203), Some([1, 2, 3]));
        assert_eq!(encode_pre_key_id(MAX_PRE_KEY_ID + 1), None);
        assert_eq!(decode_pre_key_id(&[1, 2, 3]), Some(0x0001_0203));
        assert_eq!(decode_pre_key_id(&[42]), Some(42));
        assert_eq!(decode_pre_key_id(&[]), None);
        assert_eq!(decode_pre_key_id(&[1, 2, 3, 4]), None);
    }

    #[test]
    fn signed_pre_key_signature_and_store_round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let identity = LocalIdentity::generate(&mut rng);
        let spk = SignedPreKey::generate(&identity.key_pair, 1, 1_700_000_000_000, &mut rng);
        assert!(spk.verify(identity.public_key()));
        let bundle = PreKeyBundle::from_local(&identity, &spk, None);
        assert!(bundle.verify_signature());
        let mut bad = bundle.clone();
        bad.signed_pre_key_signature[0] ^= 1;
        assert!(!bad.verify_signature());

        let bytes = spk.to_bytes();
        let back = SignedPreKey::from_bytes(&bytes).expect("decode");
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.created_at_ms, 1_700_000_000_000);

        let pk = PreKey::generate(7, &mut rng);
        let bytes = pk.to_bytes();
        assert_eq!(
            PreKey::from_bytes(&bytes).expect("decode").to_bytes(),
            bytes
        );
        assert!(PreKey::from_bytes(&[0xff, 0xff]).is_err());
    }
}

//! Curve25519 keys and XEdDSA signatures (libsignal variant).
//!
//! Keys are X25519 ("Montgomery") keys: the same identity key both does Diffie-Hellman and signs.
//! Signatures follow libsignal's `curve25519` signatures (see `signal.md` §2 and libsignal
//! `rust/core/src/curve/curve25519.rs`): an Ed25519 signature made with the Montgomery private key,
//! where the Edwards public key's sign bit travels in bit 255 of the signature instead of being
//! forced to zero as in the XEdDSA specification.

use core::fmt;

use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha512};

/// Length of an XEdDSA signature in bytes.
pub const SIGNATURE_LEN: usize = 64;

/// Type byte of a Signal-serialised ("DJB") public key: `0x05 ‖ 32 bytes`.
pub const DJB_TYPE: u8 = 0x05;

/// A 64-byte XEdDSA signature.
pub type Signature = [u8; SIGNATURE_LEN];

/// A Curve25519 public key (the 32-byte Montgomery u-coordinate).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

/// A clamped Curve25519 private key. Its `Debug` output never shows the key material.
#[derive(Clone)]
pub struct PrivateKey([u8; 32]);

/// A private key with its public key.
#[derive(Clone)]
pub struct KeyPair {
    /// The private half.
    pub private: PrivateKey,
    /// The public half.
    pub public: PublicKey,
}

impl PublicKey {
    /// Wraps 32 raw bytes (the form used in binary nodes and the Noise handshake).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses the raw 32-byte form from a slice; `None` if the length is wrong.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// Parses the 33-byte Signal form `0x05 ‖ key`; `None` for any other length or type byte.
    pub fn from_djb(bytes: &[u8]) -> Option<Self> {
        match bytes.split_first() {
            Some((&DJB_TYPE, rest)) => Self::from_slice(rest),
            _ => None,
        }
    }

    /// The raw 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 33-byte Signal serialisation `0x05 ‖ key`.
    pub fn to_djb(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = DJB_TYPE;
        out[1..].copy_from_slice(&self.0);
        out
    }

    /// Verifies a libsignal-style XEdDSA signature over `message`.
    ///
    /// Returns `false` for a malformed signature (non-canonical scalar) or a public key that has
    /// no Edwards counterpart; never panics.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = <&[u8; SIGNATURE_LEN]>::try_from(signature) else {
            return false;
        };
        let sign_bit = sig[63] >> 7;
        let mut s_bytes = [0u8; 32];
        s_bytes.copy_from_slice(&sig[32..]);
        s_bytes[31] &= 0x7f;
        // libsignal rejects signatures whose scalar has any of the top three bits set.
        if s_bytes[31] & 0xe0 != 0 {
            return false;
        }
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
            return false;
        };
        let Some(a_point) = MontgomeryPoint(self.0).to_edwards(sign_bit) else {
            return false;
        };
        let a_compressed = a_point.compress();
        let r_bytes = &sig[..32];
        let mut hasher = Sha512::new();
        hasher.update(r_bytes);
        hasher.update(a_compressed.as_bytes());
        hasher.update(message);
        let h = Scalar::from_hash(hasher);
        // R' = s·B − h·A; the signature is valid when R' encodes to the R bytes we were given.
        let r_check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&h, &-a_point, &s);
        r_check.compress().as_bytes() == r_bytes
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.0))
    }
}

impl PrivateKey {
    /// Wraps 32 bytes, clamping them as X25519 requires.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(clamp_integer(bytes))
    }

    /// The clamped private key bytes. Handle with care: never log them.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(MontgomeryPoint::mul_base_clamped(self.0).to_bytes())
    }

    /// X25519 Diffie-Hellman with a peer's public key (the raw 32-byte shared secret).
    pub fn agree(&self, their: &PublicKey) -> [u8; 32] {
        let secret = x25519_dalek::StaticSecret::from(self.0);
        secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(their.0))
            .to_bytes()
    }

    /// Signs `message` with XEdDSA (libsignal variant: Edwards sign bit in bit 255).
    ///
    /// `rng` supplies the 64 bytes of per-signature randomness `Z`.
    pub fn sign(&self, message: &[u8], rng: &mut impl CryptoRngCore) -> Signature {
        let mut z = [0u8; 64];
        rng.fill_bytes(&mut z);
        self.sign_with_nonce(message, &z)
    }

    /// Signs with caller-chosen randomness `z` (for reproducible test vectors only: reusing `z`
    /// across different messages leaks nothing thanks to the hash, but it must be secret).
    pub fn sign_with_nonce(&self, message: &[u8], z: &[u8; 64]) -> Signature {
        let a = Scalar::from_bytes_mod_order(self.0);
        let a_point = (ED25519_BASEPOINT_TABLE * &a).compress();
        let sign_bit = a_point.as_bytes()[31] & 0x80;

        // r = hash_1(k ‖ M ‖ Z): SHA-512 with the XEdDSA domain prefix 0xFE ‖ 0xFF×31.
        let mut prefix = [0xffu8; 32];
        prefix[0] = 0xfe;
        let mut hasher = Sha512::new();
        hasher.update(prefix);
        hasher.update(self.0);
        hasher.update(message);
        hasher.update(z);
        let r = Scalar::from_hash(hasher);
        let r_point = (ED25519_BASEPOINT_TABLE * &r).compress();

        let mut hasher = Sha512::new();
        hasher.update(r_point.as_bytes());
        hasher.update(a_point.as_bytes());
        hasher.update(message);
        let h = Scalar::from_hash(hasher);
        let s = r + h * a;

        let mut sig = [0u8; SIGNATURE_LEN];
        sig[..32].copy_from_slice(r_point.as_bytes());
        sig[32..].copy_from_slice(s.as_bytes());
        sig[63] = (sig[63] & 0x7f) | sign_bit;
        sig
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl KeyPair {
    /// Generates a fresh key pair from the caller's RNG.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self::from_private(PrivateKey::from_bytes(bytes))
    }

    /// Builds the pair from a private key.
    pub fn from_private(private: PrivateKey) -> Self {
        let public = private.public_key();
        Self { private, public }
    }

    /// Builds the pair from 32 private key bytes (clamped here).
    pub fn from_private_bytes(bytes: [u8; 32]) -> Self {
        Self::from_private(PrivateKey::from_bytes(bytes))
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn h<const N: usize>(s: &str) -> [u8; N] {
        let v = hex::decode(s).expect("hex");
        v.try_into().expect("length")
    }

    /// signalapp/libsignal `curve25519.rs` `test_agreement` (signal.md §10.1).
    #[test]
    fn x25519_agreement_vector() {
        let alice = KeyPair::from_private_bytes(h(
            "c806439dc9d2c476ffed8f2580c0888d58ab406bf7ae3698879021b96bb4bf59",
        ));
        let bob = KeyPair::from_private_bytes(h(
            "b03b34c33a1c44f225b662d2bf4859b8135411fa7b0386d45fb75dc5b91b4466",
        ));
        assert_eq!(
            hex::encode(alice.public.as_bytes()),
            "1bb75966f2e93a3691dfff942bb2a466a1c08b8d78ca3f4d6df8b8bfa2e4ee28"
        );
        assert_eq!(
            hex::encode(bob.public.as_bytes()),
            "653614993d2b15ee9e5fd3d86ce719ef4ec1daae1886a87b3f5fa9565a27a22f"
        );
        let shared = "325f239328941ced6e673b86ba41017448e99b649a9c3806c1dd7ca4c477e629";
        assert_eq!(hex::encode(alice.private.agree(&bob.public)), shared);
        assert_eq!(hex::encode(bob.private.agree(&alice.public)), shared);
    }

    /// signalapp/libsignal `curve25519.rs` `test_signature` (signal.md §10.2): bit 255 is set.
    #[test]
    fn libsignal_signature_vector_and_bit_flips() {
        let public = PublicKey::from_bytes(h(
            "ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64",
        ));
        let private = PrivateKey::from_bytes(h(
            "c097248412e58bf05df487968205132794178e367637f5818f81e0e6ce73e865",
        ));
        assert_eq!(private.public_key(), public);
        let message =
            hex::decode("05edce9d9c415ca78cb7252e72c2c4a554d3eb29485a0e1d503118d1a82d99fb4a")
                .expect("hex");
        let sig: [u8; 64] = h("5de88ca9a89b4a115da79109c67c9c7464a3e4180274f1cb8c63c2984e286dfbede82deb9dcd9fae0bfbb821569b3d9001bd8130cd11d486cef047bd60b86e88");
        assert_eq!(sig[63] & 0x80, 0x80, "vector exercises the sign bit");
        assert!(public.verify(&message, &sig));
        for bit in 0..512 {
            let mut bad = sig;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                !public.verify(&message, &bad),
                "bit {bit} flipped still verifies"
            );
        }
        assert!(!public.verify(&message[1..], &sig));
        assert!(!public.verify(&message, &sig[..63]));
    }

    #[test]
    fn sign_then_verify_many_keys() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for i in 0..64u32 {
            let kp = KeyPair::generate(&mut rng);
            let msg = i.to_be_bytes();
            let sig = kp.private.sign(&msg, &mut rng);
            assert!(kp.public.verify(&msg, &sig));
            let other = KeyPair::generate(&mut rng);
            assert!(!other.public.verify(&msg, &sig));
        }
    }

    #[test]
    fn djb_form() {
        let kp = KeyPair::from_private_bytes([9; 32]);
        let djb = kp.public.to_djb();
        assert_eq!(djb[0], 5);
        assert_eq!(PublicKey::from_djb(&djb), Some(kp.public));
        assert_eq!(PublicKey::from_djb(&djb[1..]), None);
        let mut wrong = djb;
        wrong[0] = 6;
        assert_eq!(PublicKey::from_djb(&wrong), None);
        assert!(format!("{:?}", kp).contains("public"));
        assert!(!format!("{:?}", kp.private).contains("09"));
    }
}

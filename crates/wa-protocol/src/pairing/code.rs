//! Phone-number linking with an 8-character pair code (`login-pairing.md` §5).
//!
//! Companion: [`PairCodeRequest`] (code + wrapped ephemeral for `companion_hello`) →
//! [`PairCodeRequest::primary_hello`] → [`PairCodeFinish`] (wrapped key bundle for
//! `companion_finish` and the derived ADV secret).
//!
//! Primary (simulated phone): [`PrimaryCodeHello::new`] when the user confirms the code (unwraps
//! the companion's ephemeral, wraps its own for `primary_hello`) →
//! [`PrimaryCodeHello::companion_finish`] → [`PrimaryCodeLinked`] (the same ADV secret).

use core::fmt;
use core::str::FromStr;

use aes::cipher::{KeyIvInit, StreamCipher};
use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use rand_core::CryptoRngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::PairError;
use crate::signal::{KeyPair, PrivateKey, PublicKey};

/// The linking alphabet (RFC 4648 base32 bit packing with `0`, `I`, `O`, `U` left out).
pub const PAIR_CODE_ALPHABET: &[u8; 32] = b"123456789ABCDEFGHJKLMNPQRSTVWXYZ";
/// PBKDF2-HMAC-SHA256 iterations for the code key (`2 << 16`).
pub const PBKDF2_ITERATIONS: u32 = 2 << 16;
/// Length of a wrapped ephemeral key: `salt(32) ‖ iv(16) ‖ AES-CTR(pub)(32)`.
pub const WRAPPED_KEY_LEN: usize = 80;
/// Length of the wrapped key bundle: `salt(32) ‖ nonce(12) ‖ AES-GCM(96-byte bundle)(112)`.
pub const WRAPPED_BUNDLE_LEN: usize = 156;
/// HKDF info of the bundle encryption key.
pub const BUNDLE_KEY_INFO: &[u8] = b"link_code_pairing_key_bundle_encryption_key";
/// HKDF info of the derived ADV secret.
pub const ADV_SECRET_INFO: &[u8] = b"adv_secret";

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// An 8-character pair code. The dash of the displayed `XXXX-XXXX` form is not key material.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PairCode([u8; 8]);

impl PairCode {
    /// A fresh code from 5 random bytes.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = [0u8; 5];
        rng.fill_bytes(&mut bytes);
        Self::from_entropy(bytes)
    }

    /// The code for 5 given bytes (base32 bit packing, most significant bits first).
    pub fn from_entropy(bytes: [u8; 5]) -> Self {
        let v = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let mut out = [0u8; 8];
        for (i, c) in out.iter_mut().enumerate() {
            let shift = 35 - 5 * i;
            let idx = ((v >> shift) & 31) as usize;
            *c = PAIR_CODE_ALPHABET.get(idx).copied().unwrap_or(b'1');
        }
        PairCode(out)
    }

    /// The 8 characters without the dash (the PBKDF2 password).
    pub fn as_str(&self) -> &str {
        // Always ASCII from the alphabet.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The 8 ASCII bytes.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Display for PairCode {
    /// `XXXX-XXXX`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.as_str();
        write!(
            f,
            "{}-{}",
            s.get(..4).unwrap_or_default(),
            s.get(4..).unwrap_or_default()
        )
    }
}

impl fmt::Debug for PairCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PairCode({self})")
    }
}

impl FromStr for PairCode {
    type Err = PairError;

    /// Accepts `XXXX-XXXX` or 8 characters, any case (normalised to upper case), surrounding
    /// whitespace ignored.
    fn from_str(s: &str) -> Result<Self, PairError> {
        let s = s.trim().as_bytes();
        let chars: Vec<u8> = match s {
            [a @ .., b'-', _, _, _, _] if a.len() == 4 => {
                s.iter().copied().filter(|&c| c != b'-').collect()
            }
            _ => s.to_vec(),
        };
        let code: [u8; 8] = chars.try_into().map_err(|_| PairError::MalformedPairCode)?;
        let code = code.map(|c| c.to_ascii_uppercase());
        if code.iter().all(|c| PAIR_CODE_ALPHABET.contains(c)) {
            Ok(PairCode(code))
        } else {
            Err(PairError::MalformedPairCode)
        }
    }
}

/// `PBKDF2-HMAC-SHA256(code, salt, 131072, 32)`: the AES-CTR key that wraps an ephemeral key.
pub fn code_key(code: &PairCode, salt: &[u8; 32]) -> [u8; 32] {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(code.as_bytes(), salt, PBKDF2_ITERATIONS, &mut key);
    key
}

/// Wraps a public key under the code: `salt ‖ iv ‖ AES-256-CTR(code_key, iv, key)`.
pub fn wrap_key(
    code: &PairCode,
    salt: &[u8; 32],
    iv: &[u8; 16],
    key: &PublicKey,
) -> [u8; WRAPPED_KEY_LEN] {
    let mut out = [0u8; WRAPPED_KEY_LEN];
    let (s, rest) = out.split_at_mut(32);
    let (i, ct) = rest.split_at_mut(16);
    s.copy_from_slice(salt);
    i.copy_from_slice(iv);
    ct.copy_from_slice(key.as_bytes());
    Aes256Ctr::new(&code_key(code, salt).into(), iv.into()).apply_keystream(ct);
    out
}

/// Unwraps a key wrapped by [`wrap_key`]. A wrong code yields a wrong key, not an error; only
/// the length is checked.
pub fn unwrap_key(code: &PairCode, wrapped: &[u8]) -> Result<PublicKey, PairError> {
    let wrapped: &[u8; WRAPPED_KEY_LEN] = wrapped.try_into().map_err(|_| PairError::BadLength {
        field: "wrapped ephemeral key",
        expected: WRAPPED_KEY_LEN,
        got: wrapped.len(),
    })?;
    let (salt, rest) = wrapped.split_at(32);
    let (iv, ct) = rest.split_at(16);
    let mut salt_arr = [0u8; 32];
    salt_arr.copy_from_slice(salt);
    let mut iv_arr = [0u8; 16];
    iv_arr.copy_from_slice(iv);
    let mut key = [0u8; 32];
    key.copy_from_slice(ct);
    Aes256Ctr::new(&code_key(code, &salt_arr).into(), &iv_arr.into()).apply_keystream(&mut key);
    Ok(PublicKey::from_bytes(key))
}

/// HKDF-SHA256 to 32 bytes.
fn hkdf32(salt: Option<&[u8]>, ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let mut okm = [0u8; 32];
    // `expand` only fails for outputs longer than 255 hash lengths; 32 bytes never does.
    let _ = Hkdf::<Sha256>::new(salt, ikm).expand(info, &mut okm);
    okm
}

/// The bundle encryption key: HKDF-SHA256(ikm = ephemeral shared secret, salt = bundle salt,
/// info = [`BUNDLE_KEY_INFO`]).
pub fn bundle_key(ephemeral_shared: &[u8; 32], bundle_salt: &[u8; 32]) -> [u8; 32] {
    hkdf32(Some(bundle_salt), ephemeral_shared, BUNDLE_KEY_INFO)
}

/// The ADV secret of a pair-code link: HKDF-SHA256(ikm = ephemeral shared ‖ identity shared ‖
/// ADV random, no salt, info = [`ADV_SECRET_INFO`]).
pub fn derive_adv_secret(
    ephemeral_shared: &[u8; 32],
    identity_shared: &[u8; 32],
    adv_random: &[u8; 32],
) -> [u8; 32] {
    let ikm = [&ephemeral_shared[..], identity_shared, adv_random].concat();
    hkdf32(None, &ikm, ADV_SECRET_INFO)
}

/// X25519 that refuses an all-zero result (a low-order peer key).
fn agree(private: &PrivateKey, their: &PublicKey) -> Result<[u8; 32], PairError> {
    let shared = private.agree(their);
    if bool::from(shared.ct_eq(&[0u8; 32])) {
        Err(PairError::WeakKey)
    } else {
        Ok(shared)
    }
}

fn random<const N: usize>(rng: &mut impl CryptoRngCore) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

/// Companion stage 1: the code and the wrapped ephemeral key for `companion_hello`.
#[derive(Clone)]
pub struct PairCodeRequest {
    code: PairCode,
    ephemeral: KeyPair,
    wrapped: [u8; WRAPPED_KEY_LEN],
    pairing_ref: Option<Vec<u8>>,
}

impl fmt::Debug for PairCodeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairCodeRequest")
            .field("code", &self.code)
            .field("ephemeral", &self.ephemeral)
            .field("pairing_ref", &self.pairing_ref)
            .finish_non_exhaustive()
    }
}

impl PairCodeRequest {
    /// A request with a fresh ephemeral key pair, salt and IV (whatsmeow).
    pub fn new(code: PairCode, rng: &mut impl CryptoRngCore) -> Self {
        let ephemeral = KeyPair::generate(rng);
        let salt = random(rng);
        let iv = random(rng);
        Self::with_ephemeral(code, ephemeral, &salt, &iv)
    }

    /// A request with a given ephemeral key pair (Baileys persists it), salt and IV.
    pub fn with_ephemeral(
        code: PairCode,
        ephemeral: KeyPair,
        salt: &[u8; 32],
        iv: &[u8; 16],
    ) -> Self {
        let wrapped = wrap_key(&code, salt, iv, &ephemeral.public);
        PairCodeRequest {
            code,
            ephemeral,
            wrapped,
            pairing_ref: None,
        }
    }

    /// The code to show the user.
    pub fn code(&self) -> &PairCode {
        &self.code
    }

    /// `link_code_pairing_wrapped_companion_ephemeral_pub` (80 bytes).
    pub fn wrapped_ephemeral(&self) -> &[u8; WRAPPED_KEY_LEN] {
        &self.wrapped
    }

    /// Records the `link_code_pairing_ref` of the companion_hello result.
    pub fn set_ref(&mut self, pairing_ref: Vec<u8>) {
        self.pairing_ref = Some(pairing_ref);
    }

    /// The recorded ref, if the companion_hello result arrived.
    pub fn pairing_ref(&self) -> Option<&[u8]> {
        self.pairing_ref.as_deref()
    }

    /// Whether a primary_hello with this ref belongs to this request (check before
    /// [`PairCodeRequest::primary_hello`], which consumes the request, to ignore stray ones).
    pub fn matches_ref(&self, pairing_ref: &[u8]) -> bool {
        self.pairing_ref.as_deref() == Some(pairing_ref)
    }

    /// Stage 2 on `primary_hello` (§5.5): unwraps the primary's ephemeral with the code, builds
    /// the wrapped key bundle and derives the ADV secret.
    ///
    /// Errors: [`PairError::RefMismatch`] (no ref recorded or another ref),
    /// [`PairError::BadLength`], [`PairError::WeakKey`].
    pub fn primary_hello(
        self,
        pairing_ref: &[u8],
        wrapped_primary: &[u8],
        primary_identity: &PublicKey,
        identity: &KeyPair,
        rng: &mut impl CryptoRngCore,
    ) -> Result<PairCodeFinish, PairError> {
        if !self.matches_ref(pairing_ref) {
            return Err(PairError::RefMismatch);
        }
        let primary_ephemeral = unwrap_key(&self.code, wrapped_primary)?;
        let ephemeral_shared = agree(&self.ephemeral.private, &primary_ephemeral)?;
        let bundle_salt: [u8; 32] = random(rng);
        let bundle_nonce: [u8; 12] = random(rng);
        let adv_random: [u8; 32] = random(rng);
        let key = bundle_key(&ephemeral_shared, &bundle_salt);
        let plain = [
            &identity.public.as_bytes()[..],
            primary_identity.as_bytes(),
            &adv_random,
        ]
        .concat();
        let ct = Aes256Gcm::new(&key.into())
            .encrypt(Nonce::from_slice(&bundle_nonce), plain.as_slice())
            .map_err(|_| PairError::Crypto("aes-gcm encrypt"))?;
        let wrapped: [u8; WRAPPED_BUNDLE_LEN] = [&bundle_salt[..], &bundle_nonce, &ct]
            .concat()
            .try_into()
            .map_err(|_| PairError::Crypto("bundle length"))?;
        let identity_shared = agree(&identity.private, primary_identity)?;
        Ok(PairCodeFinish {
            pairing_ref: pairing_ref.to_vec(),
            wrapped_bundle: wrapped,
            companion_identity: identity.public,
            primary_identity: *primary_identity,
            adv_secret: derive_adv_secret(&ephemeral_shared, &identity_shared, &adv_random),
        })
    }
}

/// Companion stage 2 done: what `companion_finish` carries and the ADV secret that replaces the
/// stored one (the pair-success HMAC is checked with it).
#[derive(Clone)]
pub struct PairCodeFinish {
    pairing_ref: Vec<u8>,
    wrapped_bundle: [u8; WRAPPED_BUNDLE_LEN],
    companion_identity: PublicKey,
    primary_identity: PublicKey,
    adv_secret: [u8; 32],
}

impl fmt::Debug for PairCodeFinish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairCodeFinish")
            .field("pairing_ref", &self.pairing_ref)
            .field("primary_identity", &self.primary_identity)
            .finish_non_exhaustive()
    }
}

impl PairCodeFinish {
    /// `link_code_pairing_ref`.
    pub fn pairing_ref(&self) -> &[u8] {
        &self.pairing_ref
    }

    /// `link_code_pairing_wrapped_key_bundle` (156 bytes).
    pub fn wrapped_bundle(&self) -> &[u8; WRAPPED_BUNDLE_LEN] {
        &self.wrapped_bundle
    }

    /// `companion_identity_public`.
    pub fn companion_identity(&self) -> &PublicKey {
        &self.companion_identity
    }

    /// The primary's identity key from `primary_hello`.
    pub fn primary_identity(&self) -> &PublicKey {
        &self.primary_identity
    }

    /// The derived ADV secret.
    pub fn adv_secret(&self) -> &[u8; 32] {
        &self.adv_secret
    }
}

/// Primary stage 1: the user confirmed the code; holds the primary's wrapped ephemeral for
/// `primary_hello`.
#[derive(Clone)]
pub struct PrimaryCodeHello {
    companion_ephemeral: PublicKey,
    ephemeral: KeyPair,
    wrapped: [u8; WRAPPED_KEY_LEN],
    pairing_ref: Vec<u8>,
}

impl fmt::Debug for PrimaryCodeHello {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrimaryCodeHello")
            .field("pairing_ref", &self.pairing_ref)
            .field("ephemeral", &self.ephemeral)
            .finish_non_exhaustive()
    }
}

impl PrimaryCodeHello {
    /// Unwraps the companion's ephemeral (from `companion_hello`) with the code the user typed
    /// and wraps a fresh ephemeral of our own. `pairing_ref` is the ref the server handed out.
    pub fn new(
        code: &PairCode,
        companion_wrapped: &[u8],
        pairing_ref: Vec<u8>,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, PairError> {
        let companion_ephemeral = unwrap_key(code, companion_wrapped)?;
        let ephemeral = KeyPair::generate(rng);
        let salt = random(rng);
        let iv = random(rng);
        let wrapped = wrap_key(code, &salt, &iv, &ephemeral.public);
        Ok(PrimaryCodeHello {
            companion_ephemeral,
            ephemeral,
            wrapped,
            pairing_ref,
        })
    }

    /// `link_code_pairing_wrapped_primary_ephemeral_pub` (80 bytes).
    pub fn wrapped_ephemeral(&self) -> &[u8; WRAPPED_KEY_LEN] {
        &self.wrapped
    }

    /// `link_code_pairing_ref`.
    pub fn pairing_ref(&self) -> &[u8] {
        &self.pairing_ref
    }

    /// On `companion_finish`: decrypts the bundle, checks that it names `companion_identity`
    /// and our `account` key, and derives the same ADV secret as the companion.
    ///
    /// Errors: [`PairError::RefMismatch`], [`PairError::BadLength`],
    /// [`PairError::BundleDecrypt`] (wrong code on either side, or tampering),
    /// [`PairError::BundleIdentityMismatch`], [`PairError::WeakKey`].
    pub fn companion_finish(
        self,
        pairing_ref: &[u8],
        wrapped_bundle: &[u8],
        companion_identity: &PublicKey,
        account: &KeyPair,
    ) -> Result<PrimaryCodeLinked, PairError> {
        if pairing_ref != self.pairing_ref.as_slice() {
            return Err(PairError::RefMismatch);
        }
        if wrapped_bundle.len() != WRAPPED_BUNDLE_LEN {
            return Err(PairError::BadLength {
                field: "wrapped key bundle",
                expected: WRAPPED_BUNDLE_LEN,
                got: wrapped_bundle.len(),
            });
        }
        let (salt, rest) = wrapped_bundle.split_at(32);
        let (nonce, ct) = rest.split_at(12);
        let mut bundle_salt = [0u8; 32];
        bundle_salt.copy_from_slice(salt);
        let ephemeral_shared = agree(&self.ephemeral.private, &self.companion_ephemeral)?;
        let key = bundle_key(&ephemeral_shared, &bundle_salt);
        let plain = Aes256Gcm::new(&key.into())
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| PairError::BundleDecrypt)?;
        let (Some(named_companion), Some(named_primary), Some(adv_random)) =
            (plain.get(..32), plain.get(32..64), plain.get(64..96))
        else {
            return Err(PairError::BadLength {
                field: "key bundle",
                expected: 96,
                got: plain.len(),
            });
        };
        if named_companion != companion_identity.as_bytes()
            || named_primary != account.public.as_bytes()
        {
            return Err(PairError::BundleIdentityMismatch);
        }
        let mut random = [0u8; 32];
        random.copy_from_slice(adv_random);
        let identity_shared = agree(&account.private, companion_identity)?;
        Ok(PrimaryCodeLinked {
            adv_secret: derive_adv_secret(&ephemeral_shared, &identity_shared, &random),
            companion_identity: *companion_identity,
        })
    }
}

/// Primary side done: sign the companion ([`super::sign_companion`]) with this ADV secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PrimaryCodeLinked {
    /// The ADV secret both sides derived.
    pub adv_secret: [u8; 32],
    /// The companion's identity key (from `companion_finish`, confirmed by the bundle).
    pub companion_identity: PublicKey,
}

impl fmt::Debug for PrimaryCodeLinked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrimaryCodeLinked")
            .field("companion_identity", &self.companion_identity)
            .finish_non_exhaustive()
    }
}

//! The server certificate chain sent (encrypted) in the ServerHello.
//!
//! `root key ─signs─▶ intermediate.details ─(its key) signs─▶ leaf.details`, and the leaf's key must
//! be the Noise static key the server just proved it holds. The checks are the union of whatsmeow's
//! (`handshake.go` `verifyServerCert`, `checkCertValidity`) as listed in `transport-noise.md` §5.3.
//! The trust root is injected: production code uses [`TrustRoot::production`], wa-sim and its tests
//! pass their own root. There is no way to skip verification.

use prost::Message;
use rand_core::CryptoRngCore;
use subtle::ConstantTimeEq;

use crate::pb::cert::cert_chain::{noise_certificate::Details, NoiseCertificate};
use crate::pb::cert::CertChain;
use crate::signal::{KeyPair, PublicKey};

/// Issuer serial the intermediate certificate must name (the root's serial).
pub const ROOT_ISSUER_SERIAL: u32 = 0;

/// The production root key as stored in `data/wa_root_key.hex`.
const PRODUCTION_ROOT_HEX: &str = include_str!("../../../../data/wa_root_key.hex");

/// Why a certificate chain was rejected. All variants are the server's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// The payload is not a `CertChain` protobuf, or a `details` blob is not `Details`.
    #[error("certificate chain does not decode: {0}")]
    Decode(#[source] prost::DecodeError),
    /// A certificate, its details or its signature is absent.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// A signature is not 64 bytes, or a key is not 32 bytes.
    #[error("{0} has the wrong length")]
    BadLength(&'static str),
    /// The intermediate is not signed by the trust root.
    #[error("intermediate certificate is not signed by the trusted root")]
    IntermediateSignature,
    /// The leaf is not signed by the intermediate's key.
    #[error("leaf certificate is not signed by the intermediate")]
    LeafSignature,
    /// The intermediate does not name the root as issuer.
    #[error("intermediate issuer serial {0} is not the root's ({ROOT_ISSUER_SERIAL})")]
    IntermediateIssuer(u32),
    /// The leaf does not name the intermediate as issuer.
    #[error("leaf issuer serial {leaf_issuer} does not match intermediate serial {intermediate}")]
    LeafIssuer {
        /// `leaf.details.issuerSerial`.
        leaf_issuer: u32,
        /// `intermediate.details.serial`.
        intermediate: u32,
    },
    /// The leaf key is not the server's Noise static key.
    #[error("leaf certificate key does not match the server static key")]
    LeafKeyMismatch,
    /// `now` is outside a certificate's validity window.
    #[error("{which} certificate is not valid at {now} (valid {not_before}..={not_after})")]
    Expired {
        /// "leaf" or "intermediate".
        which: &'static str,
        /// The caller's clock (unix seconds).
        now: u64,
        /// Start of validity.
        not_before: u64,
        /// End of validity.
        not_after: u64,
    },
}

/// The public key certificate chains must lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustRoot(PublicKey);

impl TrustRoot {
    /// Trusts `key` (for wa-sim or a private deployment).
    pub const fn new(key: PublicKey) -> Self {
        Self(key)
    }

    /// The WhatsApp production root (`data/wa_root_key.hex`).
    pub fn production() -> Self {
        let mut key = [0u8; 32];
        // The data file is checked by a unit test; a malformed file would leave zeros, which
        // then verifies nothing (fail closed).
        let _ = hex::decode_to_slice(PRODUCTION_ROOT_HEX.trim(), &mut key);
        Self(PublicKey::from_bytes(key))
    }

    /// The trusted key.
    pub fn key(&self) -> &PublicKey {
        &self.0
    }
}

impl Default for TrustRoot {
    fn default() -> Self {
        Self::production()
    }
}

/// Facts read from one verified certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertInfo {
    /// Serial number.
    pub serial: u32,
    /// The serial of the issuer.
    pub issuer_serial: u32,
    /// The certified key.
    pub key: PublicKey,
    /// Start of validity (unix seconds).
    pub not_before: u64,
    /// End of validity (unix seconds).
    pub not_after: u64,
}

/// Proof that the server's static key was certified by the trust root. Only
/// [`VerifiedServer::verify`] can build one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedServer {
    static_key: PublicKey,
    intermediate: CertInfo,
    leaf: CertInfo,
}

impl VerifiedServer {
    /// Verifies `chain_bytes` (a serialised `CertChain`) for the server static key `server_static`
    /// at time `now` (unix seconds).
    pub fn verify(
        chain_bytes: &[u8],
        server_static: &PublicKey,
        trust: &TrustRoot,
        now: u64,
    ) -> Result<Self, CertError> {
        let chain = CertChain::decode(chain_bytes).map_err(CertError::Decode)?;
        let intermediate = chain
            .intermediate
            .ok_or(CertError::Missing("intermediate"))?;
        let leaf = chain.leaf.ok_or(CertError::Missing("leaf"))?;
        let (inter_details, inter_sig) = parts(&intermediate, "intermediate")?;
        let (leaf_details, leaf_sig) = parts(&leaf, "leaf")?;

        if !trust.key().verify(inter_details, inter_sig) {
            return Err(CertError::IntermediateSignature);
        }
        let inter = info(inter_details, "intermediate key")?;
        if inter.issuer_serial != ROOT_ISSUER_SERIAL {
            return Err(CertError::IntermediateIssuer(inter.issuer_serial));
        }
        if !inter.key.verify(leaf_details, leaf_sig) {
            return Err(CertError::LeafSignature);
        }
        let leaf = info(leaf_details, "leaf key")?;
        if leaf.issuer_serial != inter.serial {
            return Err(CertError::LeafIssuer {
                leaf_issuer: leaf.issuer_serial,
                intermediate: inter.serial,
            });
        }
        if !bool::from(leaf.key.as_bytes().ct_eq(server_static.as_bytes())) {
            return Err(CertError::LeafKeyMismatch);
        }
        for (which, cert) in [("intermediate", &inter), ("leaf", &leaf)] {
            if now < cert.not_before || now > cert.not_after {
                return Err(CertError::Expired {
                    which,
                    now,
                    not_before: cert.not_before,
                    not_after: cert.not_after,
                });
            }
        }
        Ok(Self {
            static_key: *server_static,
            intermediate: inter,
            leaf,
        })
    }

    /// The server's Noise static key.
    pub fn static_key(&self) -> &PublicKey {
        &self.static_key
    }

    /// The intermediate certificate.
    pub fn intermediate(&self) -> &CertInfo {
        &self.intermediate
    }

    /// The leaf certificate.
    pub fn leaf(&self) -> &CertInfo {
        &self.leaf
    }
}

fn parts<'a>(
    cert: &'a NoiseCertificate,
    which: &'static str,
) -> Result<(&'a [u8], &'a [u8]), CertError> {
    let details = cert.details.as_deref().ok_or(CertError::Missing(which))?;
    let signature = cert.signature.as_deref().ok_or(CertError::Missing(which))?;
    if signature.len() != 64 {
        return Err(CertError::BadLength(which));
    }
    Ok((details, signature))
}

fn info(details: &[u8], key_name: &'static str) -> Result<CertInfo, CertError> {
    let d = Details::decode(details).map_err(CertError::Decode)?;
    let key = d
        .key
        .as_deref()
        .and_then(PublicKey::from_slice)
        .ok_or(CertError::BadLength(key_name))?;
    Ok(CertInfo {
        serial: d.serial.unwrap_or(0),
        issuer_serial: d.issuer_serial.unwrap_or(0),
        key,
        not_before: d.not_before.unwrap_or(0),
        not_after: d.not_after.unwrap_or(0),
    })
}

/// Builds and signs a chain `root → intermediate (serial 1) → leaf (serial 2, key = leaf_key)`
/// valid from `not_before` to `not_after`. This is what wa-sim presents.
pub fn build_cert_chain(
    root: &KeyPair,
    intermediate: &KeyPair,
    leaf_key: &PublicKey,
    not_before: u64,
    not_after: u64,
    rng: &mut impl CryptoRngCore,
) -> Vec<u8> {
    let cert = |serial, issuer_serial, key: &PublicKey, signer: &KeyPair, rng: &mut _| {
        let details = Details {
            serial: Some(serial),
            issuer_serial: Some(issuer_serial),
            key: Some(key.as_bytes().to_vec()),
            not_before: Some(not_before),
            not_after: Some(not_after),
        }
        .encode_to_vec();
        let signature = signer.private.sign(&details, rng).to_vec();
        NoiseCertificate {
            details: Some(details),
            signature: Some(signature),
        }
    };
    let inter = cert(1, ROOT_ISSUER_SERIAL, &intermediate.public, root, rng);
    let leaf = cert(2, 1, leaf_key, intermediate, rng);
    CertChain {
        leaf: Some(leaf),
        intermediate: Some(inter),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    struct Fixture {
        rng: StdRng,
        root: KeyPair,
        inter: KeyPair,
        leaf: KeyPair,
    }

    fn fixture() -> Fixture {
        let mut rng = StdRng::seed_from_u64(42);
        let root = KeyPair::generate(&mut rng);
        let inter = KeyPair::generate(&mut rng);
        let leaf = KeyPair::generate(&mut rng);
        Fixture {
            rng,
            root,
            inter,
            leaf,
        }
    }

    const NOW: u64 = 1_800_000_000;

    fn verify(f: &Fixture, chain: &[u8]) -> Result<VerifiedServer, CertError> {
        VerifiedServer::verify(chain, &f.leaf.public, &TrustRoot::new(f.root.public), NOW)
    }

    /// Re-signs a modified certificate; `which` 0 = leaf, 1 = intermediate.
    fn tamper(
        f: &mut Fixture,
        chain: &[u8],
        which: usize,
        edit: impl FnOnce(&mut Details),
        signer: Option<KeyPair>,
    ) -> Vec<u8> {
        let mut c = CertChain::decode(chain).expect("decodes");
        let cert = if which == 0 {
            c.leaf.as_mut()
        } else {
            c.intermediate.as_mut()
        }
        .expect("present");
        let mut d = Details::decode(cert.details.as_deref().expect("details")).expect("details");
        edit(&mut d);
        let bytes = d.encode_to_vec();
        let signer = signer.unwrap_or_else(|| {
            if which == 0 {
                f.inter.clone()
            } else {
                f.root.clone()
            }
        });
        cert.signature = Some(signer.private.sign(&bytes, &mut f.rng).to_vec());
        cert.details = Some(bytes);
        c.encode_to_vec()
    }

    #[test]
    fn production_root_is_the_data_file() {
        assert_eq!(
            hex::encode(TrustRoot::production().key().as_bytes()),
            "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b"
        );
        assert_eq!(TrustRoot::default(), TrustRoot::production());
    }

    #[test]
    fn a_well_built_chain_verifies() {
        let mut f = fixture();
        let chain = build_cert_chain(
            &f.root,
            &f.inter,
            &f.leaf.public,
            NOW - 10,
            NOW + 10,
            &mut f.rng,
        );
        let v = verify(&f, &chain).expect("valid");
        assert_eq!(v.static_key(), &f.leaf.public);
        assert_eq!(v.intermediate().key, f.inter.public);
        assert_eq!((v.leaf().serial, v.leaf().issuer_serial), (2, 1));
    }

    #[test]
    fn each_bad_chain_is_refused_with_its_reason() {
        let mut f = fixture();
        let chain = build_cert_chain(
            &f.root,
            &f.inter,
            &f.leaf.public,
            NOW - 10,
            NOW + 10,
            &mut f.rng,
        );

        // Untrusted root.
        let other = KeyPair::generate(&mut f.rng);
        assert_eq!(
            VerifiedServer::verify(&chain, &f.leaf.public, &TrustRoot::new(other.public), NOW),
            Err(CertError::IntermediateSignature)
        );
        // Production root does not trust a sim chain.
        assert_eq!(
            VerifiedServer::verify(&chain, &f.leaf.public, &TrustRoot::production(), NOW),
            Err(CertError::IntermediateSignature)
        );
        // Leaf key is not the server static.
        assert_eq!(
            VerifiedServer::verify(&chain, &other.public, &TrustRoot::new(f.root.public), NOW),
            Err(CertError::LeafKeyMismatch)
        );
        // Expired / not yet valid.
        assert!(matches!(
            VerifiedServer::verify(
                &chain,
                &f.leaf.public,
                &TrustRoot::new(f.root.public),
                NOW + 11
            ),
            Err(CertError::Expired {
                which: "intermediate",
                ..
            })
        ));
        assert!(matches!(
            VerifiedServer::verify(
                &chain,
                &f.leaf.public,
                &TrustRoot::new(f.root.public),
                NOW - 11
            ),
            Err(CertError::Expired { .. })
        ));
        // Leaf signed by someone else.
        let forged = tamper(&mut f, &chain, 0, |_| {}, Some(other.clone()));
        assert_eq!(verify(&f, &forged), Err(CertError::LeafSignature));
        // Intermediate details modified without re-signing.
        let mut c = CertChain::decode(chain.as_slice()).expect("decodes");
        if let Some(i) = c.intermediate.as_mut() {
            if let Some(d) = i.details.as_mut() {
                d.push(0x30);
                d.push(0x01);
            }
        }
        assert_eq!(
            verify(&f, &c.encode_to_vec()),
            Err(CertError::IntermediateSignature)
        );
        // Intermediate issuer serial not 0 (re-signed by the real root).
        let bad = tamper(&mut f, &chain, 1, |d| d.issuer_serial = Some(7), None);
        assert_eq!(verify(&f, &bad), Err(CertError::IntermediateIssuer(7)));
        // Leaf names the wrong issuer.
        let bad = tamper(&mut f, &chain, 0, |d| d.issuer_serial = Some(9), None);
        assert_eq!(
            verify(&f, &bad),
            Err(CertError::LeafIssuer {
                leaf_issuer: 9,
                intermediate: 1
            })
        );
        // Intermediate key of the wrong length.
        let bad = tamper(&mut f, &chain, 1, |d| d.key = Some(vec![1; 31]), None);
        assert_eq!(
            verify(&f, &bad),
            Err(CertError::BadLength("intermediate key"))
        );
        // Missing parts and short signatures.
        let mut c = CertChain::decode(chain.as_slice()).expect("decodes");
        c.leaf = None;
        assert_eq!(
            verify(&f, &c.encode_to_vec()),
            Err(CertError::Missing("leaf"))
        );
        let mut c = CertChain::decode(chain.as_slice()).expect("decodes");
        if let Some(l) = c.leaf.as_mut() {
            l.signature = Some(vec![0; 63]);
        }
        assert_eq!(
            verify(&f, &c.encode_to_vec()),
            Err(CertError::BadLength("leaf"))
        );
        // Not a protobuf at all.
        assert!(matches!(verify(&f, &[0xff; 5]), Err(CertError::Decode(_))));
    }
}

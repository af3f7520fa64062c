//! The QR string (`login-pairing.md` §4.2):
//! `[https://wa.me/settings/linked_devices#]REF,NOISE_B64,IDENTITY_B64,ADV_B64[,TYPE]`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::error::PairError;
use crate::signal::PublicKey;

/// The deep-link prefix current references put before the five parts.
pub const QR_PREFIX: &str = "https://wa.me/settings/linked_devices#";

/// Builds the five-part QR string with the [`QR_PREFIX`] (whatsmeow and Baileys form).
///
/// Keys and the ADV secret are standard base64 with padding (44 characters each).
/// `client_type` is the companion web client type (`'1'` Chrome … `'9'` other web client; the
/// server rejects `'0'`). `ref_` is the `<ref>` text verbatim; refs never contain a comma (a ref
/// that did would make the string unparseable).
pub fn qr_string(
    ref_: &str,
    noise_pub: &PublicKey,
    identity_pub: &PublicKey,
    adv_secret: &[u8; 32],
    client_type: char,
) -> String {
    format!(
        "{QR_PREFIX}{ref_},{},{},{},{client_type}",
        STANDARD.encode(noise_pub.as_bytes()),
        STANDARD.encode(identity_pub.as_bytes()),
        STANDARD.encode(adv_secret),
    )
}

/// What a phone reads from a companion's QR code.
#[derive(Clone, PartialEq, Eq)]
pub struct QrData {
    /// The pairing ref (first part), verbatim.
    pub pairing_ref: String,
    /// The companion's Noise static public key.
    pub noise_pub: PublicKey,
    /// The companion's Signal identity public key.
    pub identity_pub: PublicKey,
    /// The ADV secret that keys the pair-success HMAC.
    pub adv_secret: [u8; 32],
    /// The companion web client type (fifth part); `None` for the legacy four-part form.
    pub client_type: Option<char>,
}

impl core::fmt::Debug for QrData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QrData")
            .field("pairing_ref", &self.pairing_ref)
            .field("noise_pub", &self.noise_pub)
            .field("identity_pub", &self.identity_pub)
            .field("client_type", &self.client_type)
            .finish_non_exhaustive()
    }
}

impl QrData {
    /// Parses a QR string: optional [`QR_PREFIX`], then 4 (legacy) or 5 comma-separated parts.
    ///
    /// The three keys must be base64 (standard alphabet, padding optional) of exactly 32 bytes;
    /// the client type must be one ASCII alphanumeric character; the ref must be non-empty.
    pub fn parse(s: &str) -> Result<Self, PairError> {
        let s = s.trim();
        let body = s.strip_prefix(QR_PREFIX).unwrap_or(s);
        let parts: Vec<&str> = body.split(',').collect();
        let (pairing_ref, noise, identity, adv, client_type) = match parts.as_slice() {
            [r, n, i, a] => (*r, *n, *i, *a, None),
            [r, n, i, a, t] => (*r, *n, *i, *a, Some(*t)),
            _ => {
                return Err(PairError::MalformedQr(
                    "expected 4 or 5 comma-separated parts",
                ))
            }
        };
        if pairing_ref.is_empty() {
            return Err(PairError::MalformedQr("empty ref"));
        }
        let client_type = match client_type {
            None => None,
            Some(t) => {
                let mut chars = t.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if c.is_ascii_alphanumeric() => Some(c),
                    _ => return Err(PairError::MalformedQr("client type must be one character")),
                }
            }
        };
        Ok(QrData {
            pairing_ref: pairing_ref.to_owned(),
            noise_pub: PublicKey::from_bytes(b64_32(noise, "noise key is not base64 of 32 bytes")?),
            identity_pub: PublicKey::from_bytes(b64_32(
                identity,
                "identity key is not base64 of 32 bytes",
            )?),
            adv_secret: b64_32(adv, "ADV secret is not base64 of 32 bytes")?,
            client_type,
        })
    }

    /// Renders the data back as a QR string (five parts with prefix; the legacy four-part form
    /// without prefix when there is no client type).
    pub fn to_qr_string(&self) -> String {
        match self.client_type {
            Some(t) => qr_string(
                &self.pairing_ref,
                &self.noise_pub,
                &self.identity_pub,
                &self.adv_secret,
                t,
            ),
            None => format!(
                "{},{},{},{}",
                self.pairing_ref,
                STANDARD.encode(self.noise_pub.as_bytes()),
                STANDARD.encode(self.identity_pub.as_bytes()),
                STANDARD.encode(self.adv_secret),
            ),
        }
    }
}

/// Decodes standard base64 (its one padding `=` optional) that must hold exactly 32 bytes.
fn b64_32(s: &str, err: &'static str) -> Result<[u8; 32], PairError> {
    let trimmed = s.strip_suffix('=').unwrap_or(s);
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or(PairError::MalformedQr(err))
}

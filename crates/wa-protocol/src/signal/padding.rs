//! WhatsApp's own plaintext padding (`messaging.md` §2), applied to the serialized `Message`
//! before Signal encryption (`<enc v="2">`): `N` bytes of value `N`, `N` in 1..=16.
//! Independent of the PKCS#7 padding inside AES-CBC.

use rand_core::CryptoRngCore;

use super::error::{Result, SignalError};

/// Largest padding length written (Baileys and whatsapp-rust: uniform 1..=16).
pub const MAX_PADDING: u8 = 16;

/// Appends `N = (random & 0x0F) + 1` bytes of value `N`.
pub fn pad(plaintext: &[u8], rng: &mut impl CryptoRngCore) -> Vec<u8> {
    let mut byte = [0u8; 1];
    rng.fill_bytes(&mut byte);
    pad_with(plaintext, (byte[0] & 0x0f) + 1)
}

/// Appends `n` bytes of value `n`; `n` is clamped to `1..=255` (0 would be unreadable).
pub fn pad_with(plaintext: &[u8], n: u8) -> Vec<u8> {
    let n = n.max(1);
    let mut out = Vec::with_capacity(plaintext.len() + usize::from(n));
    out.extend_from_slice(plaintext);
    out.resize(plaintext.len() + usize::from(n), n);
    out
}

/// Strict unpad: the last byte `N` must be ≥ 1, at most the length, and the last `N` bytes must
/// all equal `N` (whatsmeow and whatsapp-rust; Baileys only checks the length). Accepts any
/// `N` up to 255 since senders differ in their distributions.
pub fn unpad(padded: &[u8]) -> Result<&[u8]> {
    let (&n, _) = padded.split_last().ok_or(SignalError::BadPadding)?;
    let n = usize::from(n);
    if n == 0 || n > padded.len() {
        return Err(SignalError::BadPadding);
    }
    let (body, padding) = padded.split_at(padded.len() - n);
    if padding.iter().all(|&b| usize::from(b) == n) {
        Ok(body)
    } else {
        Err(SignalError::BadPadding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn pad_unpad_round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut seen = [false; 17];
        for len in 0..200usize {
            let msg = vec![0x0au8; len];
            let padded = pad(&msg, &mut rng);
            let n = padded.len() - len;
            assert!((1..=16).contains(&n));
            seen[n] = true;
            assert_eq!(unpad(&padded).expect("unpad"), &msg[..]);
        }
        assert!(seen[1..].iter().all(|&s| s), "all lengths 1..=16 occur");
    }

    #[test]
    fn strict_unpad_rejects() {
        assert_eq!(unpad(&[]), Err(SignalError::BadPadding));
        assert_eq!(unpad(&[0]), Err(SignalError::BadPadding));
        assert_eq!(unpad(&[1, 2, 3]), Err(SignalError::BadPadding));
        assert_eq!(unpad(&[9, 2, 3, 3]), Err(SignalError::BadPadding));
        assert_eq!(unpad(&[9, 3, 3, 3]).expect("ok"), &[9]);
        assert_eq!(unpad(&[3, 3, 3]).expect("ok"), &[] as &[u8]);
        // The vector plaintext of signal_pkmsg_vector.json: "hello" message + 3 bytes of 3.
        let v = hex::decode("0a0568656c6c6f030303").expect("hex");
        assert_eq!(unpad(&v).expect("ok"), &v[..7]);
        assert_eq!(pad_with(b"ab", 0), b"ab\x01");
    }
}

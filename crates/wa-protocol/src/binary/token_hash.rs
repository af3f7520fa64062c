// Hash function of the token reverse index.
//
// This file is compiled twice: as the `binary::token_hash` module and, via `include!`, inside
// `build.rs`, which uses it to lay out the generated open-addressing table. Keep it free of
// `crate::` paths and attributes that only make sense in one of the two places.

/// Cheap hash of a candidate token: mixes the length with the first two, middle and last two
/// bytes (strings of up to five bytes are therefore hashed from all of their bytes).
#[inline]
pub(crate) fn token_hash(s: &[u8]) -> u64 {
    let n = s.len();
    let at = |i: usize| u64::from(s.get(i).copied().unwrap_or(0));
    let key = (n as u64)
        ^ (at(0) << 8)
        ^ (at(1) << 16)
        ^ (at(n / 2) << 24)
        ^ (at(n.wrapping_sub(2)) << 32)
        ^ (at(n.wrapping_sub(1)) << 40);
    key.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

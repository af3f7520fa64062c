//! Media crypto against `media.md` §5's vector (`data/vectors/media_vector.json`), byte for
//! byte, and its properties: decrypt(encrypt(x)) = x for 0 … 3 MB fed in pieces that cross
//! block and sidecar-window edges, and any flipped byte of ciphertext or MAC refused.

use std::path::PathBuf;

use proptest::prelude::*;
use rand::{rngs::StdRng, RngCore, SeedableRng};
use wa_protocol::media::{
    decrypt, encrypt, parse_upload_token, upload_token, EncryptedMedia, Expected, MediaDecryptor,
    MediaEncryptor, MediaError, MediaKey, MediaKeys, MediaType, EXPANDED_LEN,
};

fn vector() -> serde_json::Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/vectors/media_vector.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

fn hexv(v: &serde_json::Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().expect("string")).expect("hex")
}

fn arr32(v: &serde_json::Value, key: &str) -> [u8; 32] {
    hexv(v, key).try_into().expect("32 bytes")
}

fn expected(info: &EncryptedMedia) -> Expected {
    Expected {
        file_enc_sha256: Some(info.file_enc_sha256),
        file_sha256: Some(info.file_sha256),
        file_length: Some(info.file_length),
    }
}

#[test]
fn the_vector_byte_for_byte() {
    let v = vector();
    assert_eq!(v["info"], MediaType::Image.hkdf_info());
    let key = MediaKey::from_slice(&hexv(&v, "media_key")).expect("32 bytes");
    let keys = key.expand(MediaType::Image);
    let expanded: [u8; EXPANDED_LEN] = hexv(&v, "expanded112").try_into().expect("112");
    assert!(keys == MediaKeys::from_expanded(&expanded));
    assert_eq!(keys.iv.to_vec(), hexv(&v, "iv"));
    assert_eq!(keys.cipher_key, arr32(&v, "cipher_key"));
    assert_eq!(keys.mac_key, arr32(&v, "mac_key"));
    assert_eq!(keys.ref_key, arr32(&v, "ref_key"));

    let plain = hexv(&v, "plaintext");
    let (body, info) = encrypt(&key, MediaType::Image, &plain);
    assert_eq!(body, hexv(&v, "enc_file"));
    assert_eq!(body[body.len() - 10..], hexv(&v, "mac10"));
    assert_eq!(info.file_sha256, arr32(&v, "file_sha256"));
    assert_eq!(info.file_enc_sha256, arr32(&v, "file_enc_sha256"));
    assert_eq!(info.file_length, v["file_length"].as_u64().expect("n"));
    assert_eq!(info.streaming_sidecar, None);

    let token = upload_token(&info.file_enc_sha256);
    assert_eq!(token, v["upload_token_b64url_nopad"]);
    for form in ["upload_token_b64url_nopad", "upload_token_b64url_padded"] {
        let t = v[form].as_str().expect("token");
        assert_eq!(parse_upload_token(t), Ok(info.file_enc_sha256), "{form}");
    }

    let (again, verified) =
        decrypt(&key, MediaType::Image, &body, expected(&info)).expect("vector verifies");
    assert_eq!(again, plain);
    assert_eq!(verified.file_sha256, info.file_sha256);
}

#[test]
fn every_flipped_byte_of_the_vector_is_refused_by_the_mac_alone() {
    let v = vector();
    let key = MediaKey::from_slice(&hexv(&v, "media_key")).expect("key");
    let body = hexv(&v, "enc_file");
    for i in 0..body.len() {
        for bit in 0..8 {
            let mut bad = body.clone();
            bad[i] ^= 1 << bit;
            let err = decrypt(&key, MediaType::Image, &bad, Expected::default())
                .expect_err("a flipped bit is refused");
            assert_eq!(err, MediaError::BadMac, "byte {i} bit {bit}");
        }
    }
}

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut buf);
    buf
}

/// Lengths: around block edges, around the 64 KiB sidecar window, and anywhere up to 3 MB.
fn lengths() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..=48,
        (64usize * 1024 - 40)..=(64 * 1024 + 40),
        0usize..=3 * 1024 * 1024,
    ]
}

fn pieces() -> impl Strategy<Value = usize> {
    prop_oneof![1usize..=33, 1usize..=70_000, Just(usize::MAX)]
}

/// Piece sizes below len/20_000 are raised (3 MB in 1-byte pieces is 3 M calls in a debug
/// build); small files still see 1-byte pieces.
fn piece_for(len: usize, piece: usize) -> usize {
    piece.max(len / 20_000).clamp(1, len.max(1))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn decrypt_encrypt_is_identity(
        len in lengths(),
        seed: u64,
        enc_piece in pieces(),
        dec_piece in pieces(),
        video: bool,
    ) {
        let ty = if video { MediaType::Video } else { MediaType::Document };
        let plain = data(len, seed);
        let key = MediaKey::from(data(32, !seed).try_into().unwrap_or([0; 32]));
        let mut enc = MediaEncryptor::new(&key, ty);
        let mut body = Vec::new();
        for p in plain.chunks(piece_for(len, enc_piece)) {
            enc.update(p, &mut body);
        }
        let info = enc.finish(&mut body);
        prop_assert_eq!(info.enc_length, body.len() as u64);
        prop_assert_eq!(info.streaming_sidecar.is_some(), video);
        let mut dec = MediaDecryptor::new(&key, ty, expected(&info));
        let mut out = Vec::with_capacity(len);
        for p in body.chunks(piece_for(body.len(), dec_piece)) {
            dec.update(p, &mut out);
        }
        let verified = dec.finish(&mut out).expect("own output verifies");
        prop_assert_eq!(verified.file_length, len as u64);
        prop_assert!(out == plain, "plaintext differs (len {})", len);
    }

    #[test]
    fn any_flipped_byte_is_refused(
        len in 0usize..=5000,
        seed: u64,
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        piece in pieces(),
    ) {
        let key = MediaKey::from([9; 32]);
        let (mut body, info) = encrypt(&key, MediaType::Audio, &data(len, seed));
        let i = at.index(body.len());
        body[i] ^= 1 << bit;
        for exp in [Expected::default(), expected(&info)] {
            let mut dec = MediaDecryptor::new(&key, MediaType::Audio, exp);
            let mut out = Vec::new();
            for p in body.chunks(piece_for(body.len(), piece)) {
                dec.update(p, &mut out);
            }
            prop_assert_eq!(dec.finish(&mut out).expect_err("refused"), MediaError::BadMac);
        }
    }
}

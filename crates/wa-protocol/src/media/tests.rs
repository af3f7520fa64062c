//! Unit tests of the media crypto: streaming equals one-shot at every block edge, and every
//! malformed body is refused with its own error.

use super::*;

fn key() -> MediaKey {
    MediaKey::from([0x5a; 32])
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

fn expected(info: &EncryptedMedia) -> Expected {
    Expected {
        file_enc_sha256: Some(info.file_enc_sha256),
        file_sha256: Some(info.file_sha256),
        file_length: Some(info.file_length),
    }
}

#[test]
fn streaming_equals_one_shot_around_block_edges() {
    for len in [0, 1, 15, 16, 17, 31, 32, 33, 100] {
        let plain = plaintext(len);
        let (whole, info) = encrypt(&key(), MediaType::Image, &plain);
        assert_eq!(whole.len() as u64, encrypted_len(len as u64));
        assert_eq!(info.enc_length, whole.len() as u64);
        for piece in 1..=17 {
            let mut enc = MediaEncryptor::new(&key(), MediaType::Image);
            let mut body = Vec::new();
            for p in plain.chunks(piece) {
                enc.update(p, &mut body);
                assert_eq!(body.len() % 16, 0, "only whole blocks leave update");
            }
            assert_eq!(enc.finish(&mut body), info);
            assert_eq!(body, whole);
            let mut dec = MediaDecryptor::new(&key(), MediaType::Image, expected(&info));
            let mut out = Vec::new();
            for p in body.chunks(piece) {
                dec.update(p, &mut out);
            }
            let verified = dec.finish(&mut out).expect("verifies");
            assert_eq!(out, plain, "len {len} piece {piece}");
            assert_eq!(verified.file_length, len as u64);
        }
    }
}

#[test]
fn update_never_releases_the_last_block() {
    let plain = plaintext(40);
    let (body, info) = encrypt(&key(), MediaType::Audio, &plain);
    let mut dec = MediaDecryptor::new(&key(), MediaType::Audio, expected(&info));
    let mut out = Vec::new();
    dec.update(&body, &mut out);
    // 40 bytes → 48 of ciphertext; the last (padded) block waits for finish.
    assert_eq!(out, plain[..32]);
    dec.finish(&mut out).expect("verifies");
    assert_eq!(out, plain);
}

#[test]
fn short_and_misaligned_bodies_are_refused() {
    let (body, _) = encrypt(&key(), MediaType::Video, b"x");
    for cut in 0..body.len() {
        let err = decrypt(&key(), MediaType::Video, &body[..cut], Expected::default())
            .expect_err("short");
        assert!(
            matches!(
                err,
                MediaError::Truncated { .. } | MediaError::Misaligned { .. }
            ),
            "{cut}: {err:?}"
        );
    }
    let mut longer = body.clone();
    longer.insert(3, 0);
    let err = decrypt(&key(), MediaType::Video, &longer, Expected::default()).expect_err("odd");
    assert_eq!(err, MediaError::Misaligned { len: 17 });
}

#[test]
fn wrong_type_or_key_fails_the_mac() {
    let (body, _) = encrypt(&key(), MediaType::Image, b"photo");
    let other_type = decrypt(&key(), MediaType::Document, &body, Expected::default());
    assert_eq!(other_type.expect_err("type"), MediaError::BadMac);
    let other_key = decrypt(
        &MediaKey::from([1; 32]),
        MediaType::Image,
        &body,
        Expected::default(),
    );
    assert_eq!(other_key.expect_err("key"), MediaError::BadMac);
}

#[test]
fn hashes_and_length_are_checked_after_the_mac() {
    let (body, info) = encrypt(&key(), MediaType::Document, b"contract.pdf bytes");
    let mut e = expected(&info);
    e.file_enc_sha256 = Some([0; 32]);
    let err = decrypt(&key(), MediaType::Document, &body, e).expect_err("enc");
    assert_eq!(err, MediaError::EncHashMismatch);
    let mut e = expected(&info);
    e.file_sha256 = Some([0; 32]);
    let err = decrypt(&key(), MediaType::Document, &body, e).expect_err("plain");
    assert_eq!(err, MediaError::PlainHashMismatch);
    let mut e = expected(&info);
    e.file_length = Some(info.file_length + 1);
    let err = decrypt(&key(), MediaType::Document, &body, e).expect_err("len");
    assert_eq!(
        err,
        MediaError::LengthMismatch {
            expected: info.file_length + 1,
            actual: info.file_length
        }
    );
}

#[test]
fn bad_padding_under_a_valid_mac_is_refused() {
    // A sender that MACs a body whose last block does not unpad: encrypt 16 bytes ending in
    // 0x00 without padding by hand, then MAC it properly.
    use aes::cipher::{BlockEncryptMut, KeyIvInit};
    use hmac::Mac;
    let keys = key().expand(MediaType::Image);
    let mut block = [0x41u8; 16];
    block[15] = 0;
    let mut enc: cbc::Encryptor<aes::Aes256> =
        cbc::Encryptor::new(&keys.cipher_key.into(), &keys.iv.into());
    let mut ga = block.into();
    enc.encrypt_block_mut(&mut ga);
    let mut body = ga.to_vec();
    let mut mac = keys::keyed_mac(&keys.mac_key);
    mac.update(&keys.iv);
    mac.update(&body);
    body.extend_from_slice(&mac.finalize().into_bytes()[..MAC_LEN]);
    let err = decrypt(&key(), MediaType::Image, &body, Expected::default()).expect_err("pad");
    assert_eq!(err, MediaError::BadPadding);
}

#[test]
fn sidecar_only_for_audio_and_video_and_over_the_uploaded_body() {
    let plain = plaintext(200_000);
    let (body, info) = encrypt(&key(), MediaType::Video, &plain);
    let keys = key().expand(MediaType::Video);
    let sc = info.streaming_sidecar.expect("video has one");
    assert_eq!(sc, sidecar::sidecar(&keys.mac_key, &body));
    assert_eq!(sc.len(), 4 * sidecar::SIDECAR_MAC_LEN);
    let (_, doc) = encrypt(&key(), MediaType::Document, &plain);
    assert_eq!(doc.streaming_sidecar, None);
}

#[test]
fn tokens_take_both_padding_forms() {
    let hash = [0xfe; 32];
    let token = upload_token(&hash);
    assert!(!token.contains('='));
    assert_eq!(parse_upload_token(&token), Ok(hash));
    assert_eq!(parse_upload_token(&format!("{token}=")), Ok(hash));
    assert_eq!(parse_upload_token(&format!("{token}%3D")), Ok(hash));
    assert_eq!(parse_upload_token("abc"), Err(MediaError::BadToken));
    assert_eq!(
        upload_path(MediaType::Ptt, &token),
        format!("/mms/audio/{token}")
    );
    assert_eq!(
        MediaKey::from_slice(&[0; 31]),
        Err(MediaError::KeyLength { len: 31 })
    );
}

#[test]
fn the_three_parts_fed_apart_equal_the_encryptor() {
    let plain = plaintext(200_000);
    for ty in [MediaType::Video, MediaType::Document] {
        let (whole, info) = encrypt(&key(), ty, &plain);
        for piece in [1, 16, 1000, 65_536, 200_000] {
            let (mut digest, mut cipher, mut body_digest) = encrypt_parts(&key(), ty);
            let mut body = Vec::new();
            for p in plain.chunks(piece) {
                digest.update(p);
                let mut sealed = Vec::new();
                cipher.update(p, &mut sealed);
                body_digest.update(&sealed);
                body.extend_from_slice(&sealed);
            }
            let mut last = Vec::new();
            cipher.finish(&mut last);
            body_digest.update(&last);
            body.extend_from_slice(&last);
            assert_eq!(body, whole, "{ty:?} piece {piece}");
            assert_eq!(EncryptedMedia::from_digests(digest, body_digest), info);
        }
        assert_eq!(info.streaming_sidecar.is_some(), ty.has_sidecar());
    }
}

#[test]
fn the_cipher_split_into_aes_and_mac_gives_the_same_body() {
    let plain = plaintext(100_000);
    for ty in [MediaType::Audio, MediaType::Image] {
        let (whole, info) = encrypt(&key(), ty, &plain);
        for piece in [1, 17, 4096, 100_000] {
            let (mut digest, cipher, mut body_digest) = encrypt_parts(&key(), ty);
            let (mut cbc, mut mac) = cipher.split();
            let mut body = Vec::new();
            for p in plain.chunks(piece) {
                digest.update(p);
                let start = body.len();
                cbc.update(p, &mut body);
                mac.update(&body[start..]);
            }
            let start = body.len();
            cbc.finish(&mut body);
            mac.update(&body[start..]);
            body.extend_from_slice(&mac.finish());
            body_digest.update(&body);
            assert_eq!(body, whole, "{ty:?} piece {piece}");
            assert_eq!(EncryptedMedia::from_digests(digest, body_digest), info);
        }
    }
}

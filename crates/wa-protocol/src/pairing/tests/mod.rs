//! Both roles against each other: QR and pair-code linking end to end, the pair-code vector,
//! tampering, and stanza build → wire → parse round trips.

#![allow(clippy::unwrap_used)]

mod pair_code;
mod stanzas;

use hmac::{Hmac, Mac};
use prost::Message;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sha2::Sha256;

use super::adv::{AdvGrant, ACCOUNT_SIGNATURE_PREFIX, HOSTED_ACCOUNT_SIGNATURE_PREFIX};
use super::code::{self, PairCode, PairCodeRequest, PrimaryCodeHello};
use super::stanza::*;
use super::*;
use crate::binary::{decode, encode, Jid, Limits, Node, Server};
use crate::pb::adv::{
    AdvDeviceIdentity, AdvEncryptionType, AdvSignedDeviceIdentity, AdvSignedDeviceIdentityHmac,
};
use crate::signal::{KeyPair, PublicKey};

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Encodes to the binary wire form and decodes again, so parsers see what a peer would send.
fn wire(node: &Node) -> Node {
    decode(&encode(node).unwrap(), &Limits::default()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Pair-code vector (vectors/pair_code_vector.txt)
// ---------------------------------------------------------------------------------------------

#[test]
fn pair_code_vector() {
    let vector = include_str!("../../../../../data/vectors/pair_code_vector.txt");
    let field = |name: &str| {
        vector
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap()
    };
    let code = PairCode::from_entropy([1, 2, 3, 4, 5]);
    assert_eq!(code.as_str(), field("code "));
    assert_eq!(code.as_str(), "15217216");
    assert_eq!(code.to_string(), "1521-7216");

    let key = code::code_key(&code, &[1; 32]);
    assert_eq!(hex::encode(key), field("pbkdf2 key "));

    let public: [u8; 32] = h("7b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13")
        .try_into()
        .unwrap();
    let public = PublicKey::from_bytes(public);
    let wrapped = code::wrap_key(&code, &[1; 32], &[2; 16], &public);
    assert_eq!(hex::encode(wrapped), field("wrapped "));
    assert_eq!(code::unwrap_key(&code, &wrapped).unwrap(), public);

    assert_eq!(
        hex::encode(code::bundle_key(&[0x0a; 32], &[0x0d; 32])),
        field("bundle key ")
    );
    assert_eq!(
        hex::encode(code::derive_adv_secret(
            &[0x0a; 32],
            &[0x0b; 32],
            &[0x0c; 32]
        )),
        field("adv secret ")
    );
}

#[test]
fn pair_code_text_forms() {
    let code: PairCode = "1521-7216".parse().unwrap();
    assert_eq!(code, PairCode::from_entropy([1, 2, 3, 4, 5]));
    assert_eq!(" 15217216 ".parse::<PairCode>().unwrap(), code);
    let lower: PairCode = "abcd-efgh".parse().unwrap();
    assert_eq!(lower.as_str(), "ABCDEFGH");
    assert_eq!(lower.to_string(), "ABCD-EFGH");
    for bad in [
        "",
        "1521721",
        "152172166",
        "1521-721",
        "152-17216",
        "0ABCDEFG",
        "IABCDEFG",
        "OABCDEFG",
        "UABCDEFG",
        "1521–7216",
        "15217216-",
        "ABCD--EFG",
        "ÄBCDEFGH",
    ] {
        assert_eq!(
            bad.parse::<PairCode>(),
            Err(PairError::MalformedPairCode),
            "{bad:?}"
        );
    }
    let mut r = rng(1);
    for _ in 0..200 {
        let c = PairCode::generate(&mut r);
        assert_eq!(c.as_str().len(), 8);
        assert_eq!(c.to_string().parse::<PairCode>().unwrap(), c);
        assert_eq!(c.as_str().parse::<PairCode>().unwrap(), c);
    }
    // All 32 symbols are reachable and map back.
    assert_eq!(PairCode::from_entropy([0; 5]).as_str(), "11111111");
    assert_eq!(PairCode::from_entropy([0xff; 5]).as_str(), "ZZZZZZZZ");
}

// ---------------------------------------------------------------------------------------------
// QR linking
// ---------------------------------------------------------------------------------------------

#[test]
fn qr_string_round_trip_and_variants() {
    let mut r = rng(2);
    let noise = KeyPair::generate(&mut r);
    let identity = KeyPair::generate(&mut r);
    let adv = [7u8; 32];
    let s = qr_string("2@abc+/=", &noise.public, &identity.public, &adv, '1');
    assert!(s.starts_with("https://wa.me/settings/linked_devices#2@abc+/=,"));
    assert!(s.ends_with(",1"));
    let parts: Vec<&str> = s.trim_start_matches(QR_PREFIX).split(',').collect();
    assert_eq!(parts.len(), 5);
    assert!(parts[1..4]
        .iter()
        .all(|p| p.len() == 44 && p.ends_with('=')));

    let qr = QrData::parse(&s).unwrap();
    assert_eq!(qr.pairing_ref, "2@abc+/=");
    assert_eq!(qr.noise_pub, noise.public);
    assert_eq!(qr.identity_pub, identity.public);
    assert_eq!(qr.adv_secret, adv);
    assert_eq!(qr.client_type, Some('1'));
    assert_eq!(qr.to_qr_string(), s);

    // Without prefix (whatsapp-rust), legacy four parts, unpadded base64.
    let bare = s.trim_start_matches(QR_PREFIX);
    assert_eq!(QrData::parse(bare).unwrap(), qr);
    let legacy = bare.rsplit_once(',').unwrap().0;
    let old = QrData::parse(legacy).unwrap();
    assert_eq!(old.client_type, None);
    assert_eq!(old.to_qr_string(), legacy);
    assert_eq!(
        QrData::parse(&legacy.replace('=', "")).unwrap().adv_secret,
        adv
    );
    assert!(
        !format!("{qr:?}").contains("BwcH"),
        "Debug hides the ADV secret"
    );

    let p1 = parts[1];
    for bad in [
        String::new(),
        QR_PREFIX.to_owned(),
        format!("r,{p1},{p1}"),
        format!("r,{p1},{p1},{p1},1,x"),
        format!(",{p1},{p1},{p1},1"),
        format!("r,{p1},{p1},{p1},12"),
        format!("r,{p1},{p1},{p1},"),
        format!("r,{p1},{p1},{p1},-"),
        format!("r,{p1},{p1},{}", &p1[..40]),
        format!("r,{p1},{p1},{p1}=="),
        format!("r,{p1},!{},{p1}", &p1[1..]),
        format!("r,{p1},{p1},AAAA{p1}"),
    ] {
        assert!(
            matches!(QrData::parse(&bad), Err(PairError::MalformedQr(_))),
            "{bad:?}"
        );
    }
}

struct Companion {
    noise: KeyPair,
    identity: KeyPair,
    adv_secret: [u8; 32],
}

fn companion(r: &mut StdRng) -> Companion {
    let mut adv_secret = [0u8; 32];
    r.fill_bytes(&mut adv_secret);
    Companion {
        noise: KeyPair::generate(r),
        identity: KeyPair::generate(r),
        adv_secret,
    }
}

#[test]
fn qr_link_round_trip_both_roles() {
    let mut r = rng(3);
    let c = companion(&mut r);
    let account = KeyPair::generate(&mut r);

    // Server → companion: refs; companion acks and shows the QR.
    let pd = PairDevice {
        id: "pd-1".into(),
        refs: (1..=6).map(|i| format!("2@ref{i}")).collect(),
    };
    let got = PairDevice::from_node(&wire(&pd.to_node())).unwrap();
    assert_eq!(got, pd);
    let ack = IqAck { id: got.id.clone() };
    assert_eq!(IqAck::from_node(&wire(&ack.to_node())).unwrap(), ack);
    let qr = qr_string(
        &got.refs[0],
        &c.noise.public,
        &c.identity.public,
        &c.adv_secret,
        '1',
    );

    // Phone scans and signs; the server sends pair-success.
    let scanned = QrData::parse(&qr).unwrap();
    let identity_bytes = sign_companion(
        &account,
        &scanned.identity_pub,
        &scanned.adv_secret,
        0xdead_beef,
        1_700_000_000,
        5,
        &mut r,
    );
    let ps = PairSuccess {
        id: "ps-1".into(),
        t: Some(1_700_000_001),
        device_identity: identity_bytes,
        platform: Some("android".into()),
        device: Jid::device("15551234567", 5, Server::WhatsApp),
        lid: Some("123456789:5@lid".parse().unwrap()),
        business_name: Some("Shop".into()),
        client_props: Some(super::PairingProps::decode(&[8, 1]).unwrap()),
    };
    let got = PairSuccess::from_node(&wire(&ps.to_node())).unwrap();
    assert_eq!(got, ps);

    // Companion verifies and countersigns.
    let paired =
        verify_pair_success(&got.device_identity, &c.adv_secret, &c.identity, &mut r).unwrap();
    assert_eq!(paired.key_index, 5);
    assert_eq!(super::stored_key_index(&paired.account_bytes()), Some(5));
    assert_eq!(super::stored_key_index(b"not a protobuf\xff"), None);
    assert_eq!(paired.raw_id, 0xdead_beef);
    assert_eq!(paired.timestamp, 1_700_000_000);
    assert!(!paired.hosted);
    assert_eq!(paired.account_key, account.public);
    assert_eq!(
        paired.account.account_signature_key.as_deref(),
        Some(&account.public.as_bytes()[..])
    );
    assert!(paired.account.device_signature.is_some());
    let reply = AdvSignedDeviceIdentity::decode(paired.reply.as_slice()).unwrap();
    assert_eq!(reply.account_signature_key, None);
    assert_eq!(reply.device_signature, paired.account.device_signature);
    assert_eq!(
        AdvSignedDeviceIdentity::decode(paired.account_bytes().as_slice()).unwrap(),
        paired.account
    );

    let sign = PairDeviceSign {
        id: got.id.clone(),
        key_index: paired.key_index,
        device_identity: paired.reply.clone(),
    };
    let got_sign = PairDeviceSign::from_node(&wire(&sign.to_node())).unwrap();
    assert_eq!(got_sign, sign);

    // Server/phone checks the device signature (reply form and stored form both pass).
    let body = verify_pair_device_sign(
        &got_sign.device_identity,
        &c.identity.public,
        &account.public,
        got_sign.key_index,
    )
    .unwrap();
    assert_eq!(body.key_index, Some(5));
    verify_pair_device_sign(
        &paired.account_bytes(),
        &c.identity.public,
        &account.public,
        5,
    )
    .unwrap();

    // Tampering on the primary side's check.
    assert_eq!(
        verify_pair_device_sign(&paired.reply, &c.identity.public, &account.public, 6),
        Err(PairError::KeyIndexMismatch {
            expected: 6,
            got: 5
        })
    );
    let stranger = KeyPair::generate(&mut r);
    assert_eq!(
        verify_pair_device_sign(&paired.reply, &stranger.public, &account.public, 5),
        Err(PairError::DeviceSignatureMismatch)
    );
    assert_eq!(
        verify_pair_device_sign(&paired.reply, &c.identity.public, &stranger.public, 5),
        Err(PairError::DeviceSignatureMismatch)
    );
    assert_eq!(
        verify_pair_device_sign(
            &paired.account_bytes(),
            &c.identity.public,
            &stranger.public,
            5
        ),
        Err(PairError::KeyMismatch)
    );
    let mut bad = reply.clone();
    if let Some(sig) = bad.device_signature.as_mut() {
        sig[0] ^= 1;
    }
    assert_eq!(
        verify_pair_device_sign(&bad.encode_to_vec(), &c.identity.public, &account.public, 5),
        Err(PairError::DeviceSignatureMismatch)
    );
    let mut unsigned = reply.clone();
    unsigned.device_signature = None;
    assert!(matches!(
        verify_pair_device_sign(
            &unsigned.encode_to_vec(),
            &c.identity.public,
            &account.public,
            5
        ),
        Err(PairError::MissingField(_))
    ));
}

#[test]
fn tampered_hmac_is_401_hmac_mismatch() {
    let mut r = rng(4);
    let c = companion(&mut r);
    let account = KeyPair::generate(&mut r);
    let bytes = sign_companion(&account, &c.identity.public, &c.adv_secret, 1, 2, 3, &mut r);

    // Wrong secret.
    let err = verify_pair_success(&bytes, &[0u8; 32], &c.identity, &mut r).unwrap_err();
    assert_eq!(err, PairError::HmacMismatch);
    assert_eq!(err.wire_code(), (401, "hmac-mismatch"));
    let reply = PairErrorReply::new("ps-9", &err);
    assert_eq!(
        PairErrorReply::from_node(&wire(&reply.to_node())).unwrap(),
        reply
    );
    assert_eq!((reply.code, reply.text.as_str()), (401, "hmac-mismatch"));

    // Flipped HMAC byte, flipped details byte, truncated HMAC, missing HMAC.
    let container = AdvSignedDeviceIdentityHmac::decode(bytes.as_slice()).unwrap();
    let mut flipped = container.clone();
    flipped.hmac.as_mut().unwrap()[31] ^= 0x80;
    let mut details = container.clone();
    details.details.as_mut().unwrap()[3] ^= 1;
    let mut short = container.clone();
    short.hmac.as_mut().unwrap().truncate(16);
    let mut none = container.clone();
    none.hmac = None;
    // Claiming HOSTED changes the HMAC prefix.
    let mut hosted = container;
    hosted.account_type = Some(AdvEncryptionType::Hosted as i32);
    for m in [flipped, details, short, none, hosted] {
        assert_eq!(
            verify_pair_success(&m.encode_to_vec(), &c.adv_secret, &c.identity, &mut r),
            Err(PairError::HmacMismatch)
        );
    }
}

/// Builds a pair-success container by hand with a chosen account-signature prefix and signer.
fn forge(
    signer: &KeyPair,
    claimed_key: &PublicKey,
    companion: &PublicKey,
    adv_secret: &[u8; 32],
    device_type: AdvEncryptionType,
    prefix: [u8; 2],
    r: &mut StdRng,
) -> Vec<u8> {
    let body = AdvDeviceIdentity {
        raw_id: Some(1),
        timestamp: Some(2),
        key_index: Some(3),
        account_type: Some(0),
        device_type: Some(device_type as i32),
    }
    .encode_to_vec();
    let msg = [&prefix[..], &body, companion.as_bytes()].concat();
    let signed = AdvSignedDeviceIdentity {
        details: Some(body),
        account_signature_key: Some(claimed_key.as_bytes().to_vec()),
        account_signature: Some(signer.private.sign(&msg, r).to_vec()),
        device_signature: None,
    }
    .encode_to_vec();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(adv_secret).unwrap();
    mac.update(&signed);
    AdvSignedDeviceIdentityHmac {
        details: Some(signed),
        hmac: Some(mac.finalize().into_bytes().to_vec()),
        account_type: Some(0),
    }
    .encode_to_vec()
}

#[test]
fn wrong_account_signature_is_401_signature_mismatch() {
    let mut r = rng(5);
    let c = companion(&mut r);
    let account = KeyPair::generate(&mut r);
    let other = KeyPair::generate(&mut r);
    let e2ee = AdvEncryptionType::E2ee;

    // Signed for another companion identity.
    let bytes = sign_companion(&account, &other.public, &c.adv_secret, 1, 2, 3, &mut r);
    let err = verify_pair_success(&bytes, &c.adv_secret, &c.identity, &mut r).unwrap_err();
    assert_eq!(err, PairError::AccountSignatureMismatch);
    assert_eq!(err.wire_code(), (401, "signature-mismatch"));

    // Sanity: the forger with honest parameters passes.
    let ok = forge(
        &account,
        &account.public,
        &c.identity.public,
        &c.adv_secret,
        e2ee,
        ACCOUNT_SIGNATURE_PREFIX,
        &mut r,
    );
    verify_pair_success(&ok, &c.adv_secret, &c.identity, &mut r).unwrap();
    // Signed by a key other than the claimed account key.
    let b = forge(
        &other,
        &account.public,
        &c.identity.public,
        &c.adv_secret,
        e2ee,
        ACCOUNT_SIGNATURE_PREFIX,
        &mut r,
    );
    // Hosted prefix on an E2EE device.
    let p = forge(
        &account,
        &account.public,
        &c.identity.public,
        &c.adv_secret,
        e2ee,
        HOSTED_ACCOUNT_SIGNATURE_PREFIX,
        &mut r,
    );
    // E2EE prefix on a HOSTED device.
    let q = forge(
        &account,
        &account.public,
        &c.identity.public,
        &c.adv_secret,
        AdvEncryptionType::Hosted,
        ACCOUNT_SIGNATURE_PREFIX,
        &mut r,
    );
    for bytes in [b, p, q] {
        assert_eq!(
            verify_pair_success(&bytes, &c.adv_secret, &c.identity, &mut r),
            Err(PairError::AccountSignatureMismatch)
        );
    }

    // Missing / wrongly sized key or signature.
    let container = AdvSignedDeviceIdentityHmac::decode(ok.as_slice()).unwrap();
    let signed = AdvSignedDeviceIdentity::decode(container.details.as_deref().unwrap()).unwrap();
    let variants = [
        AdvSignedDeviceIdentity {
            account_signature_key: None,
            ..signed.clone()
        },
        AdvSignedDeviceIdentity {
            account_signature_key: Some(account.public.to_djb().to_vec()),
            ..signed.clone()
        },
        AdvSignedDeviceIdentity {
            account_signature: None,
            ..signed.clone()
        },
        AdvSignedDeviceIdentity {
            account_signature: Some(vec![0; 63]),
            ..signed.clone()
        },
    ];
    for v in variants {
        let details = v.encode_to_vec();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&c.adv_secret).unwrap();
        mac.update(&details);
        let bytes = AdvSignedDeviceIdentityHmac {
            details: Some(details),
            hmac: Some(mac.finalize().into_bytes().to_vec()),
            account_type: None,
        }
        .encode_to_vec();
        assert_eq!(
            verify_pair_success(&bytes, &c.adv_secret, &c.identity, &mut r),
            Err(PairError::AccountSignatureMismatch)
        );
    }
}

#[test]
fn hosted_variants() {
    let mut r = rng(6);
    let c = companion(&mut r);
    let account = KeyPair::generate(&mut r);
    use AdvEncryptionType::{E2ee, Hosted};
    for (account_type, device_type) in [
        (E2ee, E2ee),
        (Hosted, E2ee),
        (E2ee, Hosted),
        (Hosted, Hosted),
    ] {
        let grant = AdvGrant {
            raw_id: 9,
            timestamp: 10,
            key_index: 11,
            account_type,
            device_type,
        };
        let bytes =
            sign_companion_with(&account, &c.identity.public, &c.adv_secret, &grant, &mut r);
        let container = AdvSignedDeviceIdentityHmac::decode(bytes.as_slice()).unwrap();
        assert_eq!(container.account_type, Some(account_type as i32));
        let paired = verify_pair_success(&bytes, &c.adv_secret, &c.identity, &mut r).unwrap();
        assert_eq!(paired.hosted, device_type == Hosted);
        assert_eq!(
            paired.device_identity.account_type,
            Some(account_type as i32)
        );
        verify_pair_device_sign(&paired.reply, &c.identity.public, &account.public, 11).unwrap();

        // The HMAC prefix follows the container's accountType: flipping it breaks the HMAC.
        let mut flipped = container.clone();
        flipped.account_type = Some(if account_type == Hosted { E2ee } else { Hosted } as i32);
        assert_eq!(
            verify_pair_success(&flipped.encode_to_vec(), &c.adv_secret, &c.identity, &mut r),
            Err(PairError::HmacMismatch)
        );
    }
}

#[test]
fn malformed_pair_success_is_500_and_never_panics() {
    let mut r = rng(7);
    let c = companion(&mut r);
    let account = KeyPair::generate(&mut r);
    for bytes in [&[0xffu8, 0xff][..], &[0x0a, 0x05, 1]] {
        let err = verify_pair_success(bytes, &c.adv_secret, &c.identity, &mut r).unwrap_err();
        assert!(matches!(err, PairError::Protobuf { .. }), "{err:?}");
        assert_eq!(err.wire_code(), (500, "internal-error"));
    }
    let err = verify_pair_success(&[], &c.adv_secret, &c.identity, &mut r).unwrap_err();
    assert!(matches!(err, PairError::MissingField(_)));
    assert_eq!(PairError::Rejected.wire_code(), (500, "internal-error"));

    // Valid HMAC over details that are not an ADVSignedDeviceIdentity.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&c.adv_secret).unwrap();
    mac.update(&[0xff]);
    let bytes = AdvSignedDeviceIdentityHmac {
        details: Some(vec![0xff]),
        hmac: Some(mac.finalize().into_bytes().to_vec()),
        account_type: None,
    }
    .encode_to_vec();
    assert!(matches!(
        verify_pair_success(&bytes, &c.adv_secret, &c.identity, &mut r),
        Err(PairError::Protobuf { .. })
    ));

    // Random and mutated inputs: errors, never panics.
    let good = sign_companion(&account, &c.identity.public, &c.adv_secret, 1, 2, 3, &mut r);
    for i in 0..2000 {
        let mut bytes = if i % 2 == 0 {
            let mut v = vec![0u8; (r.next_u32() % 200) as usize];
            r.fill_bytes(&mut v);
            v
        } else {
            good.clone()
        };
        if !bytes.is_empty() {
            let at = (r.next_u32() as usize) % bytes.len();
            bytes[at] ^= (r.next_u32() as u8) | 1;
        }
        let _ = verify_pair_success(&bytes, &c.adv_secret, &c.identity, &mut r);
        let _ = verify_pair_device_sign(&bytes, &c.identity.public, &account.public, 3);
        let _ = QrData::parse(&String::from_utf8_lossy(&bytes));
        let _ = String::from_utf8_lossy(&bytes).parse::<PairCode>();
    }
}

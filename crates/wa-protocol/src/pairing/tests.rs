//! Both roles against each other: QR and pair-code linking end to end, the pair-code vector,
//! tampering, and stanza build → wire → parse round trips.

#![allow(clippy::unwrap_used)]

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
    let vector = include_str!("../../../../data/vectors/pair_code_vector.txt");
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
        client_props: Some(vec![8, 1]),
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

// ---------------------------------------------------------------------------------------------
// Pair-code linking
// ---------------------------------------------------------------------------------------------

#[test]
fn pair_code_round_trip_both_roles() {
    let mut r = rng(8);
    let c = companion(&mut r);
    let account = KeyPair::generate(&mut r);
    let phone = Jid::user("15551234567", Server::WhatsApp);

    // Companion: code + companion_hello.
    let code = PairCode::generate(&mut r);
    let mut request = PairCodeRequest::new(code, &mut r);
    let hello = CompanionHello {
        id: "ch-1".into(),
        phone: phone.clone(),
        should_show_push_notification: true,
        wrapped_ephemeral: *request.wrapped_ephemeral(),
        noise_pub: c.noise.public,
        platform_id: "1".into(),
        platform_display: "Chrome (Linux)".into(),
    };
    let at_server = CompanionHello::from_node(&wire(&hello.to_node())).unwrap();
    assert_eq!(at_server, hello);

    // Server answers with a ref.
    let result = CompanionHelloResult {
        id: at_server.id.clone(),
        pairing_ref: b"link-ref-1".to_vec(),
    };
    let got = CompanionHelloResult::from_node(&wire(&result.to_node())).unwrap();
    assert_eq!(got, result);
    request.set_ref(got.pairing_ref.clone());
    assert_eq!(request.pairing_ref(), Some(&b"link-ref-1"[..]));

    // The user types the code shown as XXXX-XXXX on the phone.
    let typed: PairCode = request.code().to_string().to_lowercase().parse().unwrap();
    let primary = PrimaryCodeHello::new(
        &typed,
        &at_server.wrapped_ephemeral,
        result.pairing_ref.clone(),
        &mut r,
    )
    .unwrap();
    let ph = PrimaryHello {
        id: "n-1".into(),
        t: Some(1_700_000_000),
        wrapped_ephemeral: *primary.wrapped_ephemeral(),
        primary_identity: account.public,
        pairing_ref: primary.pairing_ref().to_vec(),
    };
    let got_ph = PrimaryHello::from_node(&wire(&ph.to_node())).unwrap();
    assert_eq!(got_ph, ph);
    assert!(request.matches_ref(&got_ph.pairing_ref));

    // Companion stage 2.
    let finish = request
        .primary_hello(
            &got_ph.pairing_ref,
            &got_ph.wrapped_ephemeral,
            &got_ph.primary_identity,
            &c.identity,
            &mut r,
        )
        .unwrap();
    assert_eq!(finish.primary_identity(), &account.public);
    let cf = CompanionFinish {
        id: "cf-1".into(),
        phone,
        wrapped_bundle: *finish.wrapped_bundle(),
        companion_identity: *finish.companion_identity(),
        pairing_ref: finish.pairing_ref().to_vec(),
    };
    let got_cf = CompanionFinish::from_node(&wire(&cf.to_node())).unwrap();
    assert_eq!(got_cf, cf);

    // Primary derives the same ADV secret.
    let linked = primary
        .clone()
        .companion_finish(
            &got_cf.pairing_ref,
            &got_cf.wrapped_bundle,
            &got_cf.companion_identity,
            &account,
        )
        .unwrap();
    assert_eq!(&linked.adv_secret, finish.adv_secret());
    assert_eq!(linked.companion_identity, c.identity.public);

    // ... and the pair-success made with it verifies at the companion.
    let bytes = sign_companion(
        &account,
        &linked.companion_identity,
        &linked.adv_secret,
        7,
        8,
        9,
        &mut r,
    );
    let paired = verify_pair_success(&bytes, finish.adv_secret(), &c.identity, &mut r).unwrap();
    verify_pair_device_sign(&paired.reply, &c.identity.public, &account.public, 9).unwrap();

    // Primary-side checks of companion_finish.
    let stranger = KeyPair::generate(&mut r);
    assert_eq!(
        primary.clone().companion_finish(
            b"other",
            &cf.wrapped_bundle,
            &cf.companion_identity,
            &account
        ),
        Err(PairError::RefMismatch)
    );
    assert_eq!(
        primary.clone().companion_finish(
            &cf.pairing_ref,
            &cf.wrapped_bundle,
            &stranger.public,
            &account
        ),
        Err(PairError::BundleIdentityMismatch)
    );
    assert_eq!(
        primary.clone().companion_finish(
            &cf.pairing_ref,
            &cf.wrapped_bundle,
            &cf.companion_identity,
            &stranger
        ),
        Err(PairError::BundleIdentityMismatch)
    );
    let mut tampered = cf.wrapped_bundle;
    tampered[100] ^= 1;
    assert_eq!(
        primary.clone().companion_finish(
            &cf.pairing_ref,
            &tampered,
            &cf.companion_identity,
            &account
        ),
        Err(PairError::BundleDecrypt)
    );
    assert!(matches!(
        primary.companion_finish(
            &cf.pairing_ref,
            &tampered[..155],
            &cf.companion_identity,
            &account
        ),
        Err(PairError::BadLength {
            expected: 156,
            got: 155,
            ..
        })
    ));
}

#[test]
fn wrong_code_fails() {
    let mut r = rng(9);
    let c = companion(&mut r);
    let account = KeyPair::generate(&mut r);
    let shown = PairCode::from_entropy([1, 2, 3, 4, 5]);
    let typed = PairCode::from_entropy([1, 2, 3, 4, 6]);
    assert_ne!(shown, typed);

    let mut request = PairCodeRequest::new(shown, &mut r);
    request.set_ref(b"ref".to_vec());
    // The phone cannot tell a wrong code yet: it unwraps a wrong key ...
    let primary =
        PrimaryCodeHello::new(&typed, request.wrapped_ephemeral(), b"ref".to_vec(), &mut r)
            .unwrap();
    // ... and so does the companion; the bundle then fails to authenticate at the phone.
    let finish = request
        .primary_hello(
            b"ref",
            primary.wrapped_ephemeral(),
            &account.public,
            &c.identity,
            &mut r,
        )
        .unwrap();
    assert_eq!(
        primary.companion_finish(
            b"ref",
            finish.wrapped_bundle(),
            &c.identity.public,
            &account
        ),
        Err(PairError::BundleDecrypt)
    );
}

#[test]
fn companion_stage_two_checks() {
    let mut r = rng(10);
    let c = companion(&mut r);
    let account = KeyPair::generate(&mut r);
    let code = PairCode::from_entropy([9, 9, 9, 9, 9]);
    let eph = KeyPair::generate(&mut r);
    let request = PairCodeRequest::with_ephemeral(code, eph.clone(), &[3; 32], &[4; 16]);
    assert_eq!(
        code::unwrap_key(&code, request.wrapped_ephemeral()).unwrap(),
        eph.public
    );
    let wrapped = code::wrap_key(&code, &[5; 32], &[6; 16], &KeyPair::generate(&mut r).public);

    // No ref recorded yet, or another ref.
    assert!(!request.matches_ref(b"r"));
    assert_eq!(
        request
            .clone()
            .primary_hello(b"r", &wrapped, &account.public, &c.identity, &mut r)
            .unwrap_err(),
        PairError::RefMismatch
    );
    let mut request = request;
    request.set_ref(b"r".to_vec());
    assert_eq!(
        request
            .clone()
            .primary_hello(b"s", &wrapped, &account.public, &c.identity, &mut r)
            .unwrap_err(),
        PairError::RefMismatch
    );
    assert!(matches!(
        request
            .clone()
            .primary_hello(b"r", &wrapped[..79], &account.public, &c.identity, &mut r),
        Err(PairError::BadLength {
            expected: 80,
            got: 79,
            ..
        })
    ));
    // A low-order primary identity (all zeros) is refused.
    assert_eq!(
        request
            .primary_hello(
                b"r",
                &wrapped,
                &PublicKey::from_bytes([0; 32]),
                &c.identity,
                &mut r
            )
            .unwrap_err(),
        PairError::WeakKey
    );
    assert!(matches!(
        PrimaryCodeHello::new(&code, &wrapped[1..], b"r".to_vec(), &mut r),
        Err(PairError::BadLength { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Stanzas: strict parsers
// ---------------------------------------------------------------------------------------------

/// Removes the first descendant with `tag` (depth-first).
fn without(node: &Node, tag: &str) -> Node {
    fn strip(n: &mut Node, tag: &str) -> bool {
        if let Some(crate::binary::Content::Nodes(children)) = &mut n.content {
            if let Some(pos) = children.iter().position(|c| c.tag == tag) {
                children.remove(pos);
                return true;
            }
            for c in children.iter_mut() {
                if strip(c, tag) {
                    return true;
                }
            }
        }
        false
    }
    let mut n = node.clone();
    assert!(strip(&mut n, tag), "no <{tag}> in {node}");
    n
}

/// Removes attribute `attr` from the first node (depth-first) having it.
fn without_attr(node: &Node, attr: &str) -> Node {
    fn strip(n: &mut Node, attr: &str) -> bool {
        if n.attrs.remove(attr).is_some() {
            return true;
        }
        if let Some(crate::binary::Content::Nodes(children)) = &mut n.content {
            for c in children.iter_mut() {
                if strip(c, attr) {
                    return true;
                }
            }
        }
        false
    }
    let mut n = node.clone();
    assert!(strip(&mut n, attr), "no {attr} in {node}");
    n
}

fn samples() -> (
    PairDevice,
    PairSuccess,
    PairDeviceSign,
    PairErrorReply,
    CompanionHello,
    CompanionHelloResult,
    PrimaryHello,
    CompanionFinish,
) {
    let key = PublicKey::from_bytes([4; 32]);
    let phone = Jid::user("15551234567", Server::WhatsApp);
    (
        PairDevice {
            id: "1".into(),
            refs: vec!["2@a".into(), "2@b".into()],
        },
        PairSuccess {
            id: "2".into(),
            t: None,
            device_identity: vec![1, 2, 3],
            platform: None,
            device: Jid::device("15551234567", 3, Server::WhatsApp),
            lid: None,
            business_name: None,
            client_props: None,
        },
        PairDeviceSign {
            id: "3".into(),
            key_index: 7,
            device_identity: vec![9; 100],
        },
        PairErrorReply::new("4", &PairError::Rejected),
        CompanionHello {
            id: "5".into(),
            phone: phone.clone(),
            should_show_push_notification: false,
            wrapped_ephemeral: [1; 80],
            noise_pub: key,
            platform_id: "9".into(),
            platform_display: "Firefox (Windows)".into(),
        },
        CompanionHelloResult {
            id: "6".into(),
            pairing_ref: b"R".to_vec(),
        },
        PrimaryHello {
            id: "7".into(),
            t: None,
            wrapped_ephemeral: [2; 80],
            primary_identity: key,
            pairing_ref: b"R".to_vec(),
        },
        CompanionFinish {
            id: "8".into(),
            phone,
            wrapped_bundle: [3; 156],
            companion_identity: key,
            pairing_ref: b"R".to_vec(),
        },
    )
}

#[test]
fn stanza_round_trips_minimal_forms() {
    let (a, b, c, d, e, f, g, h) = samples();
    assert_eq!(PairDevice::from_node(&wire(&a.to_node())).unwrap(), a);
    assert_eq!(PairSuccess::from_node(&wire(&b.to_node())).unwrap(), b);
    assert_eq!(PairDeviceSign::from_node(&wire(&c.to_node())).unwrap(), c);
    assert_eq!(PairErrorReply::from_node(&wire(&d.to_node())).unwrap(), d);
    assert_eq!((d.code, d.text.as_str()), (500, "internal-error"));
    assert_eq!(CompanionHello::from_node(&wire(&e.to_node())).unwrap(), e);
    assert_eq!(
        CompanionHelloResult::from_node(&wire(&f.to_node())).unwrap(),
        f
    );
    assert_eq!(PrimaryHello::from_node(&wire(&g.to_node())).unwrap(), g);
    assert_eq!(CompanionFinish::from_node(&wire(&h.to_node())).unwrap(), h);

    // Exact shapes of the documented stanzas.
    assert_eq!(
        c.to_node().to_string(),
        format!(
            "<iq to=\"s.whatsapp.net\" type=\"result\" id=\"3\"><pair-device-sign>\
             <device-identity key-index=\"7\"><100 bytes></device-identity></pair-device-sign></iq>"
        )
    );
    assert_eq!(
        d.to_node().to_string(),
        "<iq to=\"s.whatsapp.net\" type=\"error\" id=\"4\"><error code=\"500\" text=\"internal-error\"/></iq>"
    );
    assert_eq!(
        IqAck { id: "1".into() }.to_node().to_string(),
        "<iq to=\"s.whatsapp.net\" type=\"result\" id=\"1\"/>"
    );
    let hello = e.to_node();
    let reg = hello.child("link_code_companion_reg").unwrap();
    assert_eq!(reg.attr_str("should_show_push_notification"), Some("false"));
    assert_eq!(reg.attr_str("stage"), Some("companion_hello"));
    assert_eq!(
        reg.child("link_code_pairing_nonce").unwrap().content,
        Some(crate::binary::Content::Bytes(vec![0]))
    );
    assert_eq!(hello.attr_str("xmlns"), Some("md"));

    // Baileys' "0" nonce and plain-string JIDs are accepted.
    let mut bl = hello.clone();
    if let Some(crate::binary::Content::Nodes(ch)) = &mut bl.content {
        let reg = &mut ch[0];
        reg.attrs.insert("jid", "15551234567@s.whatsapp.net");
        if let Some(crate::binary::Content::Nodes(kids)) = &mut reg.content {
            kids[4] = Node::new("link_code_pairing_nonce").with_str("0");
        }
    }
    let bl = bl.with_attr("to", "@s.whatsapp.net");
    assert_eq!(CompanionHello::from_node(&wire(&bl)).unwrap(), e);
}

#[test]
fn stanza_parsers_report_missing_children() {
    let (a, b, c, d, e, f, g, h) = samples();
    fn missing(err: PairError, want: &str) {
        assert!(
            matches!(&err, PairError::MissingChild { child, .. } if *child == want),
            "{err:?} (wanted missing <{want}>)"
        );
    }
    missing(
        PairDevice::from_node(&without(&a.to_node(), "pair-device")).unwrap_err(),
        "pair-device",
    );
    let no_refs = without(&without(&a.to_node(), "ref"), "ref");
    missing(PairDevice::from_node(&no_refs).unwrap_err(), "ref");
    for child in ["pair-success", "device-identity", "device"] {
        missing(
            PairSuccess::from_node(&without(&b.to_node(), child)).unwrap_err(),
            child,
        );
    }
    for child in ["pair-device-sign", "device-identity"] {
        missing(
            PairDeviceSign::from_node(&without(&c.to_node(), child)).unwrap_err(),
            child,
        );
    }
    missing(
        PairErrorReply::from_node(&without(&d.to_node(), "error")).unwrap_err(),
        "error",
    );
    for child in [
        "link_code_companion_reg",
        "link_code_pairing_wrapped_companion_ephemeral_pub",
        "companion_server_auth_key_pub",
        "companion_platform_id",
        "companion_platform_display",
        "link_code_pairing_nonce",
    ] {
        missing(
            CompanionHello::from_node(&without(&e.to_node(), child)).unwrap_err(),
            child,
        );
    }
    for child in ["link_code_companion_reg", "link_code_pairing_ref"] {
        missing(
            CompanionHelloResult::from_node(&without(&f.to_node(), child)).unwrap_err(),
            child,
        );
    }
    for child in [
        "link_code_companion_reg",
        "link_code_pairing_wrapped_primary_ephemeral_pub",
        "primary_identity_pub",
        "link_code_pairing_ref",
    ] {
        missing(
            PrimaryHello::from_node(&without(&g.to_node(), child)).unwrap_err(),
            child,
        );
    }
    for child in [
        "link_code_companion_reg",
        "link_code_pairing_wrapped_key_bundle",
        "companion_identity_public",
        "link_code_pairing_ref",
    ] {
        missing(
            CompanionFinish::from_node(&without(&h.to_node(), child)).unwrap_err(),
            child,
        );
    }
}

#[test]
fn stanza_parsers_report_bad_attributes_and_lengths() {
    let (a, b, c, d, e, f, g, h) = samples();
    let missing_attr = |err: PairError, want: &str| {
        assert!(
            matches!(&err, PairError::MissingAttr { attr, .. } if *attr == want),
            "{err:?} (wanted missing {want})"
        );
    };
    missing_attr(
        PairDevice::from_node(&without_attr(&a.to_node(), "id")).unwrap_err(),
        "id",
    );
    missing_attr(
        PairDevice::from_node(&without_attr(&a.to_node(), "from")).unwrap_err(),
        "from",
    );
    missing_attr(
        PairSuccess::from_node(&without_attr(&b.to_node(), "jid")).unwrap_err(),
        "jid",
    );
    missing_attr(
        PairDeviceSign::from_node(&without_attr(&c.to_node(), "key-index")).unwrap_err(),
        "key-index",
    );
    missing_attr(
        PairDeviceSign::from_node(&without_attr(&c.to_node(), "to")).unwrap_err(),
        "to",
    );
    missing_attr(
        PairErrorReply::from_node(&without_attr(&d.to_node(), "text")).unwrap_err(),
        "text",
    );
    for attr in ["jid", "stage", "should_show_push_notification", "type"] {
        missing_attr(
            CompanionHello::from_node(&without_attr(&e.to_node(), attr)).unwrap_err(),
            attr,
        );
    }
    missing_attr(
        CompanionHelloResult::from_node(&without_attr(&f.to_node(), "from")).unwrap_err(),
        "from",
    );
    missing_attr(
        PrimaryHello::from_node(&without_attr(&g.to_node(), "id")).unwrap_err(),
        "id",
    );
    missing_attr(
        CompanionFinish::from_node(&without_attr(&h.to_node(), "stage")).unwrap_err(),
        "stage",
    );

    // Wrong values.
    let bad = |err: PairError| assert!(matches!(err, PairError::BadAttr { .. }), "{err:?}");
    bad(PairDevice::from_node(&a.to_node().with_attr("type", "get")).unwrap_err());
    bad(PairDevice::from_node(
        &a.to_node()
            .with_attr("from", Jid::user("1", Server::WhatsApp)),
    )
    .unwrap_err());
    bad(PairSuccess::from_node(&b.to_node().with_attr("t", "soon")).unwrap_err());
    bad(PairDeviceSign::from_node(&c.to_node().with_attr("to", "example.com")).unwrap_err());
    let mut refresh = g.to_node();
    if let Some(crate::binary::Content::Nodes(ch)) = &mut refresh.content {
        ch[0].attrs.insert("stage", "refresh_code");
    }
    bad(PrimaryHello::from_node(&refresh).unwrap_err());
    bad(CompanionHello::from_node(&h.to_node()).unwrap_err()); // stage companion_finish
    bad(CompanionFinish::from_node(&e.to_node()).unwrap_err()); // stage companion_hello
    assert!(matches!(
        PairSuccess::from_node(&Node::new("message")),
        Err(PairError::UnexpectedTag { expected: "iq", .. })
    ));
    assert!(matches!(
        PrimaryHello::from_node(&Node::new("iq")),
        Err(PairError::UnexpectedTag {
            expected: "notification",
            ..
        })
    ));

    // Wrong lengths.
    let mut short = e.to_node();
    if let Some(crate::binary::Content::Nodes(ch)) = &mut short.content {
        if let Some(crate::binary::Content::Nodes(kids)) = &mut ch[0].content {
            kids[1] = Node::new("companion_server_auth_key_pub").with_bytes(vec![0; 33]);
        }
    }
    assert!(matches!(
        CompanionHello::from_node(&short),
        Err(PairError::BadLength {
            expected: 32,
            got: 33,
            ..
        })
    ));
    let mut empty = f.to_node();
    if let Some(crate::binary::Content::Nodes(ch)) = &mut empty.content {
        if let Some(crate::binary::Content::Nodes(kids)) = &mut ch[0].content {
            kids[0] = Node::new("link_code_pairing_ref");
        }
    }
    assert_eq!(
        CompanionHelloResult::from_node(&empty),
        Err(PairError::MissingContent("link_code_pairing_ref"))
    );
}

//! Pair-code linking, both roles, and its failure modes.

use super::*;

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

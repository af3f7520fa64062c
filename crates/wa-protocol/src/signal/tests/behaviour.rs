//! Session behaviour: out of order, limits, archived states, records, no mutation on failure.

use super::*;

// --- session behaviour ----------------------------------------------------------------------

#[test]
fn pkmsg_repeats_until_answered_then_msg() {
    let mut r = rng(10);
    let mut alice = Device::new(&mut r);
    let mut bob = Device::new(&mut r);
    alice.record = session::process_bundle(
        &alice.record,
        &alice.identity,
        &bob.bundle(false),
        None,
        &mut r,
    )
    .expect("bundle");
    let m1 = alice.send(b"1");
    let m2 = alice.send(b"2");
    let m3 = alice.send(b"3");
    assert!([&m1, &m2, &m3].iter().all(|m| m.enc_type() == "pkmsg"));
    // Delivered out of order; only the first creates the session.
    assert_eq!(bob.receive(&m3, &mut r).expect("m3"), b"3");
    assert_eq!(bob.receive(&m1, &mut r).expect("m1"), b"1");
    assert_eq!(bob.previous_count(), 0);
    let answer = bob.send(b"ok");
    assert_eq!(answer.enc_type(), "msg");
    assert_eq!(alice.receive(&answer, &mut r).expect("answer"), b"ok");
    assert_eq!(alice.send(b"4").enc_type(), "msg");
    // The late pkmsg still decrypts (known base key).
    assert_eq!(bob.receive(&m2, &mut r).expect("m2"), b"2");
}

impl Device {
    fn previous_count(&self) -> usize {
        self.record.previous_states().count()
    }
}

#[test]
fn two_hundred_messages_out_of_order_with_ratchets() {
    let (mut alice, mut bob, mut r) = established(20);
    use rand::seq::SliceRandom;
    for round in 0..10 {
        let mut batch: Vec<(Vec<u8>, CiphertextMessage)> = (0..20)
            .map(|i| {
                let text = format!("a{round}-{i}").into_bytes();
                let m = alice.send(&text);
                (text, m)
            })
            .collect();
        batch.shuffle(&mut r);
        for (text, m) in &batch {
            assert_eq!(&bob.receive(m, &mut r).expect("bob"), text);
        }
        let mut back: Vec<(Vec<u8>, CiphertextMessage)> = (0..20)
            .map(|i| {
                let text = format!("b{round}-{i}").into_bytes();
                let m = bob.send(&text);
                (text, m)
            })
            .collect();
        back.shuffle(&mut r);
        for (text, m) in &back {
            assert_eq!(&alice.receive(m, &mut r).expect("alice"), text);
        }
    }
}

#[test]
fn decrypt_failures_never_change_the_record() {
    let (mut alice, mut bob, mut r) = established(30);
    let m0 = alice.send(b"zero");
    let m1 = alice.send(b"one");
    let stored = bob.record.to_bytes();

    // Tampered MAC, tampered body, truncated, garbage, wrong version.
    let mut bad_mac = m1.bytes().to_vec();
    let last = bad_mac.len() - 1;
    bad_mac[last] ^= 1;
    let mut bad_body = m1.bytes().to_vec();
    bad_body[40] ^= 1;
    let cases: Vec<Vec<u8>> = vec![
        bad_mac,
        bad_body,
        m1.bytes()[..m1.bytes().len() - 3].to_vec(),
        vec![0x33; 50],
        vec![],
        {
            let mut v = m1.bytes().to_vec();
            v[0] = 0x22;
            v
        },
    ];
    for case in &cases {
        let err = session::decrypt(&bob.record, case, &mut r).expect_err("must fail");
        assert_eq!(err.fault(), crate::Fault::Peer);
        assert_eq!(
            bob.record.to_bytes(),
            stored,
            "record unchanged after {err:?}"
        );
    }
    // A message from an unrelated session: BadMac (after a trial ratchet step on a copy).
    let (mut carol, _, _) = established(31);
    let foreign = carol.send(b"foreign");
    assert_eq!(
        session::decrypt(&bob.record, foreign.bytes(), &mut r).err(),
        Some(SignalError::BadMac)
    );
    assert_eq!(bob.record.to_bytes(), stored);

    // The untouched record still decrypts both messages, in any order, then refuses replays.
    assert_eq!(bob.receive(&m1, &mut r).expect("m1"), b"one");
    assert_eq!(bob.receive(&m0, &mut r).expect("m0"), b"zero");
    let stored = bob.record.to_bytes();
    let dup = session::decrypt(&bob.record, m1.bytes(), &mut r).expect_err("dup");
    assert!(dup.is_duplicate() && !dup.should_request_retry());
    assert_eq!(bob.record.to_bytes(), stored);
}

#[test]
fn future_limit_and_skipped_keys() {
    let (mut alice, mut bob, mut r) = established(40);
    let sent: Vec<CiphertextMessage> = (0..=MAX_FORWARD_JUMP + 1)
        .map(|i| alice.send(&i.to_be_bytes()))
        .collect();
    // Bob's chain is at 0: message 2001 is one too far, 2000 is fine.
    let too_far = sent.last().expect("last");
    let err = bob.receive(too_far, &mut r).expect_err("too far");
    assert!(matches!(err, SignalError::TooFarInFuture { .. }));
    assert!(err.should_request_retry());
    let at_limit = &sent[MAX_FORWARD_JUMP as usize];
    assert_eq!(
        bob.receive(at_limit, &mut r).expect("at limit"),
        MAX_FORWARD_JUMP.to_be_bytes()
    );
    // All skipped ones decrypt, in reverse.
    for (i, m) in sent
        .iter()
        .enumerate()
        .take(MAX_FORWARD_JUMP as usize)
        .rev()
    {
        assert_eq!(
            bob.receive(m, &mut r).expect("skipped"),
            (i as u32).to_be_bytes()
        );
    }
    assert_eq!(
        bob.receive(too_far, &mut r).expect("now in range"),
        (MAX_FORWARD_JUMP + 1).to_be_bytes()
    );
}

#[test]
fn receiving_chains_are_capped_at_five() {
    let (mut alice, mut bob, mut r) = established(50);
    // Keep one message of Alice's current chain back, then do six round trips.
    let held = alice.send(b"held");
    let mut later = Vec::new();
    for i in 0..6 {
        let a = alice.send(format!("a{i}").as_bytes());
        bob.receive(&a, &mut r).expect("a");
        later.push(alice.send(b"late"));
        let b = bob.send(b"b");
        alice.receive(&b, &mut r).expect("b");
        assert!(bob.record.current().expect("s").receiver_chains.len() <= MAX_RECEIVER_CHAINS);
    }
    // The held message's chain fell out of Bob's five receiving chains.
    let stored = bob.record.to_bytes();
    assert!(bob.receive(&held, &mut r).is_err());
    assert_eq!(bob.record.to_bytes(), stored);
    // The last chain is still there.
    let last = later.last().expect("some");
    assert_eq!(bob.receive(last, &mut r).expect("recent chain"), b"late");
}

#[test]
fn archived_states_decrypt_late_messages_and_stay_archived() {
    let (mut alice, mut bob, mut r) = established(60);
    let old = alice.send(b"old session");
    // Alice starts over from a fresh bundle (e.g. after a retry receipt).
    alice.record = session::process_bundle(
        &alice.record,
        &alice.identity,
        &bob.bundle(true),
        None,
        &mut r,
    )
    .expect("new bundle");
    assert_eq!(alice.previous_count(), 1);
    let fresh = alice.send(b"new session");
    assert_eq!(fresh.enc_type(), "pkmsg");
    assert_eq!(bob.receive(&fresh, &mut r).expect("new"), b"new session");
    assert_eq!(bob.previous_count(), 1);
    let new_base = *bob.record.current().expect("s").base_key();
    // The old session's message decrypts with the archived state, which stays archived.
    let archived_before = bob.record.previous_states().next().expect("old").clone();
    assert_eq!(bob.receive(&old, &mut r).expect("old"), b"old session");
    assert_eq!(bob.record.current().expect("s").base_key(), &new_base);
    assert_eq!(bob.previous_count(), 1);
    let archived_after = bob.record.previous_states().next().expect("old");
    assert_eq!(archived_after.base_key(), archived_before.base_key());
    assert!(bob
        .receive(&old, &mut r)
        .expect_err("replay")
        .is_duplicate());
    // Bob answers on the newest session, which is what Alice's current state is.
    let answer = bob.send(b"answer");
    assert_eq!(answer.enc_type(), "msg");
    assert_eq!(alice.receive(&answer, &mut r).expect("answer"), b"answer");
    assert_eq!(alice.send(b"msg now").enc_type(), "msg");
    // A late message on Alice's archived state still reaches Bob's archived state.
    let mut old_alice = alice.record.previous_states().next().expect("old").clone();
    let late = old_alice
        .encrypt(b"late")
        .expect("encrypt on the old state");
    assert_eq!(bob.receive(&late, &mut r).expect("late"), b"late");
    assert_eq!(bob.record.current().expect("s").base_key(), &new_base);
}

#[test]
fn archive_is_capped_at_forty() {
    let mut r = rng(70);
    let alice = Device::new(&mut r);
    let bob = Device::new(&mut r);
    let mut record = SessionRecord::new();
    for _ in 0..MAX_ARCHIVED_STATES + 5 {
        record =
            session::process_bundle(&record, &alice.identity, &bob.bundle(false), None, &mut r)
                .expect("bundle");
    }
    assert_eq!(record.previous_states().count(), MAX_ARCHIVED_STATES);
    let bytes = record.to_bytes();
    assert_eq!(
        SessionRecord::from_bytes(&bytes)
            .expect("decode")
            .to_bytes(),
        bytes
    );
}

#[test]
fn bundle_checks() {
    let mut r = rng(80);
    let alice = Device::new(&mut r);
    let bob = Device::new(&mut r);
    let mut bundle = bob.bundle(true);
    bundle.signed_pre_key_signature[5] ^= 1;
    let empty = SessionRecord::new();
    assert_eq!(
        session::process_bundle(&empty, &alice.identity, &bundle, None, &mut r).err(),
        Some(SignalError::InvalidSignature)
    );
    let other = KeyPair::generate(&mut r).public;
    let err = session::process_bundle(
        &empty,
        &alice.identity,
        &bob.bundle(true),
        Some(&other),
        &mut r,
    )
    .expect_err("untrusted");
    assert!(err.is_untrusted_identity());
    assert_eq!(
        session::encrypt(&empty, b"x").err(),
        Some(SignalError::NoSendingSession)
    );
    assert_eq!(
        session::decrypt(&empty, established(81).0.send(b"x").bytes(), &mut r).err(),
        Some(SignalError::NoSession)
    );
}

#[test]
fn responder_checks_prekeys_and_identity() {
    let mut r = rng(90);
    let mut alice = Device::new(&mut r);
    let bob = Device::new(&mut r);
    alice.record = session::process_bundle(
        &alice.record,
        &alice.identity,
        &bob.bundle(true),
        None,
        &mut r,
    )
    .expect("bundle");
    let m = alice.send(b"hello");
    let parsed = PreKeySignalMessage::parse(m.bytes()).expect("parse");
    let empty = SessionRecord::new();
    let no_opk = ResponderPreKeys {
        signed_pre_key: Some(&bob.signed),
        one_time_pre_key: None,
    };
    assert_eq!(
        session::decrypt_prekey(&empty, &bob.identity, &parsed, no_opk, None, &mut r).err(),
        Some(SignalError::MissingPreKey {
            kind: "one-time",
            id: 1
        })
    );
    let wrong_opk = ResponderPreKeys {
        signed_pre_key: Some(&bob.signed),
        one_time_pre_key: bob.one_time.get(1),
    };
    assert!(matches!(
        session::decrypt_prekey(&empty, &bob.identity, &parsed, wrong_opk, None, &mut r),
        Err(SignalError::MissingPreKey { .. })
    ));
    let no_spk = ResponderPreKeys {
        signed_pre_key: None,
        one_time_pre_key: bob.one_time.first(),
    };
    assert!(matches!(
        session::decrypt_prekey(&empty, &bob.identity, &parsed, no_spk, None, &mut r),
        Err(SignalError::MissingPreKey { kind: "signed", .. })
    ));
    let keys = ResponderPreKeys {
        signed_pre_key: Some(&bob.signed),
        one_time_pre_key: bob.one_time.first(),
    };
    let stranger = KeyPair::generate(&mut r).public;
    assert_eq!(
        session::decrypt_prekey(
            &empty,
            &bob.identity,
            &parsed,
            keys,
            Some(&stranger),
            &mut r
        )
        .err(),
        Some(SignalError::UntrustedIdentity)
    );
    // Bob with a different identity than the bundle's: X3DH disagrees, the MAC fails.
    let imposter = LocalIdentity::generate(&mut r);
    assert_eq!(
        session::decrypt_prekey(&empty, &imposter, &parsed, keys, None, &mut r).err(),
        Some(SignalError::BadMac)
    );
    let ok = session::decrypt_prekey(&empty, &bob.identity, &parsed, keys, None, &mut r)
        .expect("decrypt");
    assert_eq!(ok.plaintext, b"hello");
    assert_eq!(ok.consumed_pre_key_id, Some(1));
}

#[test]
fn session_record_round_trips_byte_exactly() {
    let (mut alice, mut bob, mut r) = established(100);
    // Build up skipped keys, several chains, an archived state and a pending prekey.
    let skipped: Vec<_> = (0..5).map(|i| alice.send(&[i])).collect();
    let last = alice.send(b"last");
    bob.receive(&last, &mut r).expect("last");
    bob.receive(&skipped[2], &mut r).expect("one skipped");
    let b = bob.send(b"b");
    alice.receive(&b, &mut r).expect("b");
    bob.record = bob.record.with_current_archived();
    bob.record = session::process_bundle(
        &bob.record,
        &bob.identity,
        &alice.bundle(true),
        None,
        &mut r,
    )
    .expect("bundle");
    for record in [&alice.record, &bob.record] {
        let bytes = record.to_bytes();
        let decoded = SessionRecord::from_bytes(&bytes).expect("decode");
        assert_eq!(decoded.to_bytes(), bytes);
    }
    // The decoded record keeps working: the archived state still has its skipped keys.
    let mut decoded = Device {
        record: SessionRecord::from_bytes(&bob.record.to_bytes()).expect("decode"),
        ..bob
    };
    assert_eq!(
        decoded.receive(&skipped[4], &mut r).expect("skipped 4"),
        [4]
    );
    assert!(
        decoded
            .record
            .current()
            .expect("s")
            .has_unacknowledged_pre_key(),
        "the late message went to the archived state; the new session is still unanswered"
    );

    assert!(
        SessionRecord::from_bytes(&[0x08, 0x02]).is_err(),
        "version 2 unknown"
    );
    assert!(SessionRecord::from_bytes(&[0xff]).is_err());
    assert_eq!(SessionRecord::new().to_bytes(), vec![0x08, 0x01]);
}

#[test]
fn sender_key_record_round_trip_and_out_of_order() {
    let mut r = rng(110);
    let (own, skdm) = sender_key::create_distribution(&SenderKeyRecord::new(), &mut r).expect("c");
    let skdm = SenderKeyDistributionMessage::parse(&skdm.to_bytes()).expect("parse");
    let mut member = sender_key::process_distribution(&SenderKeyRecord::new(), &skdm);
    let mut own = own;
    let mut sent = Vec::new();
    for i in 0..50u8 {
        let (next, m) = sender_key::encrypt(&own, &[i], &mut r).expect("e");
        own = next;
        sent.push(m);
    }
    use rand::seq::SliceRandom;
    let mut order: Vec<usize> = (0..50).collect();
    order.shuffle(&mut r);
    for (n, &i) in order.iter().enumerate() {
        let (next, pt) = sender_key::decrypt(&member, &sent[i]).expect("d");
        assert_eq!(pt, [i as u8]);
        member = next;
        if n == 25 {
            let bytes = member.to_bytes();
            let decoded = SenderKeyRecord::from_bytes(&bytes).expect("decode");
            assert_eq!(decoded.to_bytes(), bytes);
            member = decoded;
        }
    }
    let bytes = own.to_bytes();
    assert_eq!(
        SenderKeyRecord::from_bytes(&bytes).expect("own").to_bytes(),
        bytes
    );
    assert!(SenderKeyRecord::from_bytes(&bytes).expect("own").states()[0].is_own());
    // Unknown key id; too far ahead.
    assert!(matches!(
        sender_key::decrypt(&SenderKeyRecord::new(), &sent[0]),
        Err(SignalError::NoSenderKeyState { .. })
    ));
    let mut far = own.clone();
    far.states[0].chain = far.states[0]
        .chain
        .clone()
        .step()
        .map(|(_, c)| c)
        .expect("step");
    for _ in 0..MAX_FORWARD_JUMP {
        far.states[0].chain = far.states[0].chain.step().expect("s").1;
    }
    let (_, m) = sender_key::encrypt(&far, b"far", &mut r).expect("e");
    assert!(matches!(
        sender_key::decrypt(&member, &m),
        Err(SignalError::TooFarInFuture { .. })
    ));
}

#[test]
fn repeated_pkmsg_matching_an_archived_state_skips_x3dh() {
    let mut r = rng(120);
    let mut alice = Device::new(&mut r);
    let mut bob = Device::new(&mut r);
    alice.record = session::process_bundle(
        &alice.record,
        &alice.identity,
        &bob.bundle(true),
        None,
        &mut r,
    )
    .expect("bundle");
    let first_a = alice.send(b"s1 a");
    let first_b = alice.send(b"s1 b");
    assert_eq!(bob.receive(&first_a, &mut r).expect("s1 a"), b"s1 a");
    // Alice restarts; her new pkmsg archives Bob's first state.
    let mut second_bundle = bob.bundle(false);
    second_bundle.pre_key = None;
    alice.record =
        session::process_bundle(&alice.record, &alice.identity, &second_bundle, None, &mut r)
            .expect("bundle 2");
    let second = alice.send(b"s2");
    assert_eq!(bob.receive(&second, &mut r).expect("s2"), b"s2");
    assert_eq!(bob.previous_count(), 1);
    // The repeated first-session pkmsg matches the archived state: no prekeys needed.
    let parsed = PreKeySignalMessage::parse(first_b.bytes()).expect("parse");
    assert!(bob.record.has_state_with_base_key(parsed.base_key()));
    let out = session::decrypt_prekey(
        &bob.record,
        &bob.identity,
        &parsed,
        ResponderPreKeys::default(),
        Some(alice.identity.public_key()),
        &mut r,
    )
    .expect("archived state decrypts");
    assert_eq!(out.plaintext, b"s1 b");
    assert!(!out.new_session);
    assert_eq!(out.consumed_pre_key_id, None);
    let current = out.record.current().expect("s");
    assert_ne!(current.base_key(), parsed.base_key(), "stays archived");
    assert_eq!(out.record.previous_states().count(), 1);
    assert!(out.record.has_state_with_base_key(parsed.base_key()));

    // A pkmsg whose unauthenticated identity field was swapped is refused even though the
    // session (found by base key) would decrypt it.
    let mut forged = first_b.bytes().to_vec();
    let ik = alice.identity.public_key().to_djb();
    let at = forged
        .windows(33)
        .position(|w| w == ik)
        .expect("identity key in pkmsg");
    let other = KeyPair::generate(&mut r).public.to_djb();
    forged[at..at + 33].copy_from_slice(&other);
    let parsed = PreKeySignalMessage::parse(&forged).expect("parse");
    let err = session::decrypt_prekey(
        &bob.record,
        &bob.identity,
        &parsed,
        ResponderPreKeys::default(),
        None,
        &mut r,
    )
    .expect_err("forged identity");
    assert!(matches!(err, SignalError::InvalidMessage(_)));
}

mod arbitrary_input {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// No parser, record decoder or decrypt entry point panics on arbitrary bytes.
        #[test]
        fn never_panics(
            data in proptest::collection::vec(any::<u8>(), 0..300),
            seed in any::<u64>(),
        ) {
            let _ = SignalMessage::parse(&data);
            let _ = PreKeySignalMessage::parse(&data);
            let _ = SenderKeyMessage::parse(&data);
            let _ = SenderKeyDistributionMessage::parse(&data);
            let _ = SessionRecord::from_bytes(&data);
            let _ = SenderKeyRecord::from_bytes(&data);
            let _ = PreKey::from_bytes(&data);
            let _ = SignedPreKey::from_bytes(&data);
            let _ = padding::unpad(&data);
            let _ = keys::decode_pre_key_id(&data);
            let mut r = rng(seed);
            let record = SessionRecord::new();
            prop_assert!(session::decrypt(&record, &data, &mut r).is_err());
            let _ = sender_key::decrypt(&SenderKeyRecord::new(), &data);
            // With the version byte forced, the bytes reach the protobuf decoders.
            let mut versioned = data.clone();
            versioned.insert(0, 0x33);
            let _ = SignalMessage::parse(&versioned);
            if let Ok(pk) = PreKeySignalMessage::parse(&versioned) {
                let local = LocalIdentity::generate(&mut r);
                let _ = session::decrypt_prekey(
                    &record,
                    &local,
                    &pk,
                    ResponderPreKeys::default(),
                    None,
                    &mut r,
                );
            }
            let _ = SenderKeyDistributionMessage::parse(&versioned);
        }
    }
}

/// A pkmsg copy whose base key differs only in bit 255 (ignored by X25519) is the same X3DH:
/// it must be recognised as the existing session, so a replay stays a duplicate.
#[test]
fn re_encoded_base_key_does_not_replay() {
    let mut r = rng(130);
    let mut alice = Device::new(&mut r);
    let mut bob = Device::new(&mut r);
    alice.record = session::process_bundle(
        &alice.record,
        &alice.identity,
        &bob.bundle(false),
        None,
        &mut r,
    )
    .expect("bundle");
    let m = alice.send(b"once");
    assert_eq!(bob.receive(&m, &mut r).expect("first"), b"once");
    let parsed = PreKeySignalMessage::parse(m.bytes()).expect("parse");
    let base = parsed.base_key().to_djb();
    let mut tweaked = m.bytes().to_vec();
    let at = tweaked
        .windows(33)
        .position(|w| w == base)
        .expect("base key in pkmsg");
    tweaked[at + 32] ^= 0x80;
    let tweaked = PreKeySignalMessage::parse(&tweaked).expect("parse");
    assert!(!bob.record.has_state_with_base_key(tweaked.base_key()));
    let keys = ResponderPreKeys {
        signed_pre_key: Some(&bob.signed),
        one_time_pre_key: None,
    };
    let err = session::decrypt_prekey(&bob.record, &bob.identity, &tweaked, keys, None, &mut r)
        .expect_err("replay");
    assert!(err.is_duplicate(), "{err:?}");
    // A fresh message with the re-encoded base key decrypts with the existing session.
    let m2 = alice.send(b"twice");
    let mut tweaked2 = m2.bytes().to_vec();
    tweaked2[at + 32] ^= 0x80;
    let parsed2 = PreKeySignalMessage::parse(&tweaked2).expect("parse");
    let out = session::decrypt_prekey(&bob.record, &bob.identity, &parsed2, keys, None, &mut r)
        .expect("same session");
    assert!(!out.new_session);
    assert_eq!(out.plaintext, b"twice");
    assert_eq!(out.record.previous_states().count(), 0);
}

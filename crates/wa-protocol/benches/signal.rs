#![allow(missing_docs)] // criterion macros generate undocumented items
//! Signal benchmarks: encrypt and decrypt of a 100-byte message on an established session (alone
//! and with the record's storage decode/encode around it, as the gateway's driver does per
//! device), session setup from a prekey bundle, and sender-key encrypt/decrypt.
//!
//! The functions are pure, so every iteration starts from the same record.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_protocol::signal::{
    generate_pre_keys, sender_key, session, LocalIdentity, PreKeyBundle, PreKeySignalMessage,
    ResponderPreKeys, SenderKeyRecord, SessionRecord, SignedPreKey,
};

struct Established {
    alice: SessionRecord,
    bob: SessionRecord,
    bundle: PreKeyBundle,
    alice_identity: LocalIdentity,
}

/// Alice and Bob after one round trip (Alice no longer sends pkmsgs).
fn established(rng: &mut StdRng) -> Established {
    let alice_identity = LocalIdentity::generate(rng);
    let bob_identity = LocalIdentity::generate(rng);
    let spk = SignedPreKey::generate(&bob_identity.key_pair, 1, 0, rng);
    let opks = generate_pre_keys(1, 1, rng);
    let bundle = PreKeyBundle::from_local(&bob_identity, &spk, opks.first());
    let alice = session::process_bundle(&SessionRecord::new(), &alice_identity, &bundle, None, rng)
        .expect("bundle");
    let (alice, first) = session::encrypt(&alice, b"hello").expect("encrypt");
    let parsed = PreKeySignalMessage::parse(first.bytes()).expect("parse");
    let keys = ResponderPreKeys {
        signed_pre_key: Some(&spk),
        one_time_pre_key: opks.first(),
    };
    let out = session::decrypt_prekey(
        &SessionRecord::new(),
        &bob_identity,
        &parsed,
        keys,
        None,
        rng,
    )
    .expect("pkmsg");
    let (bob, reply) = session::encrypt(&out.record, b"hi").expect("reply");
    let (alice, _) = session::decrypt(&alice, reply.bytes(), rng).expect("decrypt reply");
    Established {
        alice,
        bob,
        bundle,
        alice_identity,
    }
}

fn pairwise(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let e = established(&mut rng);
    let plaintext = [0x5au8; 100];
    // Alice's messages on her current chain: Bob already knows the chain after the first one.
    let (alice_next, first) = session::encrypt(&e.alice, &plaintext).expect("encrypt");
    assert_eq!(first.enc_type(), "msg");
    let (_, in_chain) = session::encrypt(&alice_next, &plaintext).expect("encrypt");
    // Bob before `first` (its new ratchet key makes him do a DH ratchet step) and after it.
    let bob_before = e.bob.clone();
    let (bob_in_chain, _) = session::decrypt(&bob_before, first.bytes(), &mut rng).expect("d");
    let alice_bytes = e.alice.to_bytes();
    let bob_bytes = bob_in_chain.to_bytes();

    let mut group = c.benchmark_group("signal");
    group.bench_function("encrypt_100B", |b| {
        b.iter(|| session::encrypt(black_box(&e.alice), black_box(&plaintext)).expect("encrypt"))
    });
    group.bench_function("encrypt_100B_with_record_codec", |b| {
        b.iter(|| {
            let record = SessionRecord::from_bytes(black_box(&alice_bytes)).expect("record");
            let (next, msg) = session::encrypt(&record, black_box(&plaintext)).expect("encrypt");
            (next.to_bytes(), msg)
        })
    });
    group.bench_function("decrypt_100B", |b| {
        b.iter(|| {
            session::decrypt(
                black_box(&bob_in_chain),
                black_box(in_chain.bytes()),
                &mut rng,
            )
            .expect("d")
        })
    });
    group.bench_function("decrypt_100B_with_record_codec", |b| {
        b.iter(|| {
            let record = SessionRecord::from_bytes(black_box(&bob_bytes)).expect("record");
            let (next, pt) =
                session::decrypt(&record, black_box(in_chain.bytes()), &mut rng).expect("d");
            (next.to_bytes(), pt)
        })
    });
    group.bench_function("decrypt_100B_dh_ratchet_step", |b| {
        b.iter(|| {
            session::decrypt(black_box(&bob_before), black_box(first.bytes()), &mut rng).expect("d")
        })
    });
    group.bench_function("session_setup_from_bundle", |b| {
        b.iter(|| {
            session::process_bundle(
                black_box(&SessionRecord::new()),
                &e.alice_identity,
                black_box(&e.bundle),
                None,
                &mut rng,
            )
            .expect("bundle")
        })
    });
    group.finish();
}

fn sender_keys(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let (own, skdm) =
        sender_key::create_distribution(&SenderKeyRecord::new(), &mut rng).expect("c");
    let member = sender_key::process_distribution(&SenderKeyRecord::new(), &skdm);
    let plaintext = [0x5au8; 100];
    let (_, skmsg) = sender_key::encrypt(&own, &plaintext, &mut rng).expect("e");
    let mut group = c.benchmark_group("signal");
    group.bench_function("sender_key_encrypt_100B", |b| {
        b.iter(|| sender_key::encrypt(black_box(&own), black_box(&plaintext), &mut rng).expect("e"))
    });
    group.bench_function("sender_key_decrypt_100B", |b| {
        b.iter(|| sender_key::decrypt(black_box(&member), black_box(&skmsg)).expect("d"))
    });
    group.finish();
}

criterion_group!(benches, pairwise, sender_keys);
criterion_main!(benches);

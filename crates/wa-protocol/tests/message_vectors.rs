//! The public vectors of `signal.md` §10 (`data/vectors/`) through the messaging receive and
//! group paths (`wa_protocol::message::{receive, group}`).

use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::SeedableRng;

use wa_protocol::message::group;
use wa_protocol::message::receive::{decrypt_pairwise, failure_action, FailureAction, PreKeySet};
use wa_protocol::message::retry::RetryReason;
use wa_protocol::signal::{
    KeyPair, LocalIdentity, PreKey, SenderKeyRecord, SignalError, SignedPreKey,
};
use wa_protocol::stanza::EncType;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn vector(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/vectors")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

fn hexv(v: &serde_json::Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().expect("string")).expect("hex")
}

fn pair(v: &serde_json::Value, key: &str) -> KeyPair {
    KeyPair::from_private_bytes(hexv(v, key).try_into().expect("32 bytes"))
}

fn num(v: &serde_json::Value, key: &str) -> u32 {
    u32::try_from(v[key].as_u64().expect("number")).expect("u32")
}

/// Bob of the pkmsg vector: identity, signed prekey (signed here: the vector has no
/// signature) and one-time prekey 42.
fn vector_bob(v: &serde_json::Value, rng: &mut StdRng) -> (LocalIdentity, PreKeySet) {
    let bob = LocalIdentity {
        key_pair: pair(v, "bob_identity_priv"),
        registration_id: num(v, "bob_registration_id"),
    };
    let spk_pair = pair(v, "bob_signed_prekey_priv");
    let signature = bob.key_pair.private.sign(&spk_pair.public.to_djb(), rng);
    let keys = PreKeySet {
        signed: vec![SignedPreKey {
            id: num(v, "bob_signed_prekey_id"),
            key_pair: spk_pair,
            signature,
            created_at_ms: 0,
        }],
        one_time: vec![PreKey {
            id: num(v, "bob_one_time_prekey_id"),
            key_pair: pair(v, "bob_one_time_prekey_priv"),
        }],
    };
    (bob, keys)
}

/// Bob decrypts the libsignal-node-checked pkmsg through `decrypt_pairwise`: plaintext, the
/// consumed OPK 42, Alice's identity; a replay is a duplicate; without the OPK a fresh record
/// asks for a retry (invalid prekey id).
#[test]
fn pkmsg_vector_through_the_receive_path() {
    let v = vector("signal_pkmsg_vector.json");
    let mut rng = rng(6);
    let (bob, mut keys) = vector_bob(&v, &mut rng);
    let pkmsg = hexv(&v, "pkmsg");
    let out = decrypt_pairwise(EncType::PkMsg, &pkmsg, None, &bob, &keys, None, &mut rng)
        .expect("vector");
    assert_eq!(out.plaintext, hexv(&v, "plaintext_padded"));
    assert_eq!(out.consumed_pre_key_id, Some(42));
    assert!(out.new_session);
    assert_eq!(out.remote_registration_id, num(&v, "alice_registration_id"));
    assert_eq!(
        out.remote_identity.to_djb().to_vec(),
        hexv(&v, "alice_identity_pub")
    );
    keys.remove_one_time(42);
    let again = decrypt_pairwise(
        EncType::PkMsg,
        &pkmsg,
        Some(&out.record),
        &bob,
        &keys,
        None,
        &mut rng,
    );
    assert!(again.expect_err("replay").is_duplicate());
    let lost = decrypt_pairwise(EncType::PkMsg, &pkmsg, None, &bob, &keys, None, &mut rng)
        .expect_err("OPK gone");
    assert_eq!(
        failure_action(&lost),
        FailureAction::RetryReceipt(RetryReason::InvalidPreKeyId)
    );
    let wrong = decrypt_pairwise(EncType::SkMsg, &pkmsg, None, &bob, &keys, None, &mut rng);
    assert_eq!(
        failure_action(&wrong.expect_err("skmsg")),
        FailureAction::Nack(500)
    );
    // A trusted identity that differs: the driver decides about the new identity.
    let other = *LocalIdentity::generate(&mut rng).public_key();
    let untrusted = decrypt_pairwise(
        EncType::PkMsg,
        &pkmsg,
        None,
        &bob,
        &keys,
        Some(&other),
        &mut rng,
    );
    assert_eq!(
        failure_action(&untrusted.expect_err("untrusted")),
        FailureAction::TrustNewIdentity
    );
}

/// The sender-key vector through `group::process_distribution` and `group::decrypt`.
#[test]
fn sender_key_vector_through_the_group_path() {
    let v = vector("sender_key_vector.json");
    let record =
        group::process_distribution(&SenderKeyRecord::new(), &hexv(&v, "skdm")).expect("skdm");
    let (record, padded) = group::decrypt(&record, &hexv(&v, "skmsg")).expect("skmsg");
    assert_eq!(padded, hexv(&v, "plaintext_padded"));
    assert_eq!(record.states()[0].key_id(), num(&v, "key_id"));
    let err = group::decrypt(&record, &hexv(&v, "skmsg")).expect_err("replay");
    assert_eq!(failure_action(&err), FailureAction::Duplicate);
    let mut tampered = hexv(&v, "skmsg");
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let err = group::decrypt(&SenderKeyRecord::new(), &tampered).expect_err("no key");
    assert!(matches!(err, SignalError::NoSenderKeyState { .. }));
    let fresh =
        group::process_distribution(&SenderKeyRecord::new(), &hexv(&v, "skdm")).expect("skdm");
    let err = group::decrypt(&fresh, &tampered).expect_err("bad signature");
    assert_eq!(
        failure_action(&err),
        FailureAction::RetryReceipt(RetryReason::InvalidSignature)
    );
}

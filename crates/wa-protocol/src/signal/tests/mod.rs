//! Vector tests (`data/vectors/*.json`, the public vectors of `signal.md` §10) and
//! session behaviour tests: out of order, limits, archived states, records, no mutation on
//! failure.

mod behaviour;

use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::crypto::{kdf_root, x3dh_secrets, ChainKey};
use super::keys::PublicPreKey;
use super::sender_key::{self, encrypt_with_nonce};
use super::session::{self, initiate_with_keys, responder_state};
use super::*;

// --- helpers ------------------------------------------------------------------------------

/// Loads a vector from the repository's `data/vectors/`.
fn vector(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("read vector");
    serde_json::from_str(&text).expect("vector JSON")
}

fn hexv(v: &serde_json::Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("{key} missing"))).expect("hex")
}

fn h32(s: &str) -> [u8; 32] {
    hex::decode(s).expect("hex").try_into().expect("32 bytes")
}

fn hex32(v: &serde_json::Value, key: &str) -> [u8; 32] {
    hexv(v, key).try_into().expect("32 bytes")
}

fn pair(v: &serde_json::Value, key: &str) -> KeyPair {
    KeyPair::from_private_bytes(hex32(v, key))
}

fn djb(v: &serde_json::Value, key: &str) -> PublicKey {
    PublicKey::from_djb(&hexv(v, key)).expect("33-byte key")
}

fn num(v: &serde_json::Value, key: &str) -> u32 {
    v[key]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .expect("number")
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A device with its prekeys and one session record with its peer.
struct Device {
    identity: LocalIdentity,
    signed: SignedPreKey,
    one_time: Vec<PreKey>,
    record: SessionRecord,
}

impl Device {
    fn new(rng: &mut StdRng) -> Self {
        let identity = LocalIdentity::generate(rng);
        let signed = SignedPreKey::generate(&identity.key_pair, 1, 0, rng);
        let one_time = generate_pre_keys(1, 5, rng);
        Self {
            identity,
            signed,
            one_time,
            record: SessionRecord::new(),
        }
    }

    fn bundle(&self, with_one_time: bool) -> PreKeyBundle {
        PreKeyBundle::from_local(
            &self.identity,
            &self.signed,
            self.one_time.first().filter(|_| with_one_time),
        )
    }

    fn send(&mut self, text: &[u8]) -> CiphertextMessage {
        let (record, msg) = session::encrypt(&self.record, text).expect("encrypt");
        self.record = record;
        msg
    }

    fn receive(&mut self, msg: &CiphertextMessage, rng: &mut StdRng) -> super::Result<Vec<u8>> {
        match msg {
            CiphertextMessage::Signal(bytes) => {
                let (record, pt) = session::decrypt(&self.record, bytes, rng)?;
                self.record = record;
                Ok(pt)
            }
            CiphertextMessage::PreKey(bytes) => {
                let parsed = PreKeySignalMessage::parse(bytes)?;
                let opk = parsed
                    .pre_key_id()
                    .and_then(|id| self.one_time.iter().find(|k| k.id == id));
                let keys = ResponderPreKeys {
                    signed_pre_key: Some(&self.signed),
                    one_time_pre_key: opk,
                };
                let out = session::decrypt_prekey(
                    &self.record,
                    &self.identity,
                    &parsed,
                    keys,
                    None,
                    rng,
                )?;
                if let Some(id) = out.consumed_pre_key_id {
                    self.one_time.retain(|k| k.id != id);
                }
                self.record = out.record;
                Ok(out.plaintext)
            }
        }
    }
}

/// Alice and Bob with an established session (Bob has answered once).
fn established(seed: u64) -> (Device, Device, StdRng) {
    let mut r = rng(seed);
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
    let m = alice.send(b"hi bob");
    assert_eq!(m.enc_type(), "pkmsg");
    assert_eq!(bob.receive(&m, &mut r).expect("pkmsg"), b"hi bob");
    let reply = bob.send(b"hi alice");
    assert_eq!(reply.enc_type(), "msg");
    assert_eq!(alice.receive(&reply, &mut r).expect("reply"), b"hi alice");
    (alice, bob, r)
}

// --- signal_pkmsg_vector.json ---------------------------------------------------------------

fn vector_parties(v: &serde_json::Value) -> (LocalIdentity, LocalIdentity, SignedPreKey, PreKey) {
    let alice = LocalIdentity {
        key_pair: pair(v, "alice_identity_priv"),
        registration_id: num(v, "alice_registration_id"),
    };
    let bob = LocalIdentity {
        key_pair: pair(v, "bob_identity_priv"),
        registration_id: num(v, "bob_registration_id"),
    };
    assert_eq!(alice.key_pair.public, djb(v, "alice_identity_pub"));
    assert_eq!(bob.key_pair.public, djb(v, "bob_identity_pub"));
    // The vector has no signature: sign Bob's signed prekey with Bob's identity key.
    let spk_pair = pair(v, "bob_signed_prekey_priv");
    assert_eq!(spk_pair.public, djb(v, "bob_signed_prekey_pub"));
    let signature = bob
        .key_pair
        .private
        .sign(&spk_pair.public.to_djb(), &mut rng(1));
    let spk = SignedPreKey {
        id: num(v, "bob_signed_prekey_id"),
        key_pair: spk_pair,
        signature,
        created_at_ms: 0,
    };
    let opk = PreKey {
        id: num(v, "bob_one_time_prekey_id"),
        key_pair: pair(v, "bob_one_time_prekey_priv"),
    };
    assert_eq!(opk.key_pair.public, djb(v, "bob_one_time_prekey_pub"));
    (alice, bob, spk, opk)
}

/// Alice's side reproduces the vector's pkmsg byte for byte, with every checkpoint.
#[test]
fn pkmsg_vector_initiator_is_byte_exact() {
    let v = vector("signal_pkmsg_vector.json");
    let (alice, bob, spk, opk) = vector_parties(&v);
    let bundle = PreKeyBundle::from_local(&bob, &spk, Some(&opk));
    let base = pair(&v, "alice_base_priv");
    let ratchet = pair(&v, "alice_ratchet_priv");
    assert_eq!(base.public, djb(&v, "alice_base_pub"));
    assert_eq!(ratchet.public, djb(&v, "alice_ratchet_pub"));

    // X3DH checkpoints.
    let dhs = [
        alice.key_pair.private.agree(&spk.key_pair.public),
        base.private.agree(&bob.key_pair.public),
        base.private.agree(&spk.key_pair.public),
        base.private.agree(&opk.key_pair.public),
    ];
    let (root0, chain0) = x3dh_secrets(&dhs);
    assert_eq!(root0, hex32(&v, "x3dh_root_key"));
    assert_eq!(chain0, hex32(&v, "x3dh_chain_key"));

    let record = initiate_with_keys(&SessionRecord::new(), &alice, &bundle, None, base, ratchet)
        .expect("initiate");
    let state = record.current().expect("current");
    assert_eq!(state.root_key, hex32(&v, "alice_root_after_first_ratchet"));
    assert_eq!(
        state.sender_chain.chain.key,
        hex32(&v, "alice_sending_chain_key")
    );
    let (seed, _) = state.sender_chain.chain.step().expect("step");
    let keys = super::crypto::MessageKeys::derive(&seed);
    assert_eq!(keys.cipher_key, hex32(&v, "msg0_cipher_key"));
    assert_eq!(keys.mac_key, hex32(&v, "msg0_mac_key"));
    assert_eq!(keys.iv.to_vec(), hexv(&v, "msg0_iv"));

    let (_, msg) = session::encrypt(&record, &hexv(&v, "plaintext_padded")).expect("encrypt");
    assert_eq!(msg.enc_type(), "pkmsg");
    assert_eq!(
        hex::encode(msg.bytes()),
        v["pkmsg"].as_str().expect("pkmsg")
    );
    let parsed = PreKeySignalMessage::parse(msg.bytes()).expect("parse");
    assert_eq!(
        hex::encode(parsed.message().serialized()),
        v["signal_message"].as_str().expect("signal_message")
    );
}

/// Bob decrypts the vector pkmsg; Alice decrypts the libsignal-node reply of the vector; then
/// Bob's own reply goes back to Alice and the conversation continues.
#[test]
fn pkmsg_vector_responder_and_reply() {
    let v = vector("signal_pkmsg_vector.json");
    let (alice, bob, spk, opk) = vector_parties(&v);
    let mut r = rng(2);

    // Bob, responder.
    let pkmsg = PreKeySignalMessage::parse(&hexv(&v, "pkmsg")).expect("parse");
    assert_eq!(pkmsg.registration_id(), 2748);
    assert_eq!(pkmsg.pre_key_id(), Some(42));
    assert_eq!(pkmsg.signed_pre_key_id(), 1);
    let keys = ResponderPreKeys {
        signed_pre_key: Some(&spk),
        one_time_pre_key: Some(&opk),
    };
    let out = session::decrypt_prekey(
        &SessionRecord::new(),
        &bob,
        &pkmsg,
        keys,
        Some(&alice.key_pair.public),
        &mut r,
    )
    .expect("Bob decrypts the pkmsg");
    assert_eq!(out.plaintext, hexv(&v, "plaintext_padded"));
    assert_eq!(
        padding::unpad(&out.plaintext).expect("unpad"),
        b"\x0a\x05hello"
    );
    assert_eq!(out.consumed_pre_key_id, Some(42));
    assert!(out.new_session);
    assert_eq!(out.remote_identity, alice.key_pair.public);
    assert_eq!(out.remote_registration_id, 2748);
    let bob_record = out.record;

    // The same pkmsg again: known base key, no X3DH, the message key is spent.
    let again = session::decrypt_prekey(
        &bob_record,
        &bob,
        &pkmsg,
        ResponderPreKeys::default(),
        None,
        &mut r,
    );
    assert!(again.expect_err("replay").is_duplicate());

    // Alice, from the vector's keys, decrypts the reply libsignal-node produced.
    let bundle = PreKeyBundle::from_local(&bob, &spk, Some(&opk));
    let alice_record = initiate_with_keys(
        &SessionRecord::new(),
        &alice,
        &bundle,
        None,
        pair(&v, "alice_base_priv"),
        pair(&v, "alice_ratchet_priv"),
    )
    .expect("initiate");
    let (alice_record, _) =
        session::encrypt(&alice_record, &hexv(&v, "plaintext_padded")).expect("encrypt");
    let before = alice_record.current().expect("state").clone();
    let reply_ratchet = djb(&v, "bob_reply_ratchet_pub");
    let (root2, chain_r) = kdf_root(
        &before.root_key,
        &before.sender_chain.ratchet.private.agree(&reply_ratchet),
    );
    assert_eq!(root2, hex32(&v, "alice_root_after_receiving_reply"));
    assert_eq!(chain_r, hex32(&v, "alice_receiving_chain_key_for_reply"));
    let (alice_record, reply) =
        session::decrypt(&alice_record, &hexv(&v, "bob_reply_signal_message"), &mut r)
            .expect("Alice decrypts libsignal-node's reply");
    assert_eq!(reply, hexv(&v, "reply_plaintext_padded"));
    let state = alice_record.current().expect("state");
    assert!(!state.has_unacknowledged_pre_key());
    let chain = state
        .receiver_chains
        .iter()
        .find(|c| c.ratchet_key == reply_ratchet)
        .expect("receiving chain for the reply");
    assert_eq!(
        chain.chain,
        ChainKey::new(chain_r, 0).step().expect("step").1
    );

    // Bob (Rust) replies on his own session; a fresh Alice from the vector decrypts it.
    let alice_fresh = initiate_with_keys(
        &SessionRecord::new(),
        &alice,
        &bundle,
        None,
        pair(&v, "alice_base_priv"),
        pair(&v, "alice_ratchet_priv"),
    )
    .expect("initiate");
    let (bob_record, bob_reply) = session::encrypt(&bob_record, b"\x0a\x02hi\x02\x02").expect("e");
    assert_eq!(bob_reply.enc_type(), "msg");
    let (alice_fresh, pt) =
        session::decrypt(&alice_fresh, bob_reply.bytes(), &mut r).expect("Alice decrypts Bob");
    assert_eq!(pt, b"\x0a\x02hi\x02\x02");
    let (_, next) = session::encrypt(&alice_fresh, b"after").expect("e");
    assert_eq!(next.enc_type(), "msg", "answered: no more pkmsg");
    let (_, pt) = session::decrypt(&bob_record, next.bytes(), &mut r).expect("d");
    assert_eq!(pt, b"after");
}

// --- signal.md §10.4: X3DH with the libsignal ratchet test keys ------------------------------

#[test]
fn x3dh_public_vectors() {
    let bob = LocalIdentity {
        key_pair: KeyPair::from_private_bytes(h32(
            "4875cc69ddf8ea0719ec947d61081135868d5fd801f02c0225e516df2156605e",
        )),
        registration_id: 1,
    };
    let spk = KeyPair::from_private_bytes(h32(
        "583900131fb727998b7803fe6ac22cc591f342e4e42a8c8d5d78194209b8d253",
    ));
    let alice_identity = PublicKey::from_djb(
        &hex::decode("05b4a8455660ada65b401007f615e654041746432e3339c6875149bceefcb42b4a")
            .expect("hex"),
    )
    .expect("key");
    let alice_base = PublicKey::from_djb(
        &hex::decode("05472d1fb1a9862c3af6beaca8920277e2b26f4a79213ec7c906aeb35e03cf8950")
            .expect("hex"),
    )
    .expect("key");
    // Bob: test_ratcheting_session_as_bob. His sending chain is the X3DH chain key.
    let spk_base = spk.private.agree(&alice_base);
    let state = responder_state(
        &bob,
        &alice_identity,
        &alice_base,
        1,
        (&spk, spk_base),
        None,
    );
    assert_eq!(
        hex::encode(state.sender_chain.chain.key),
        "9797caca53c989bbe229a40ca7727010eb2604fc14945d77958a0aeda088b44d"
    );
    assert_eq!(
        hex::encode(state.root_key),
        "3e6130d0a8c8e5b8ad65eb8b7d95fa3ab84710d48d92f34dcda43f9909261bca"
    );

    // Alice: test_ratcheting_session_as_alice (base private key as given upstream). Her
    // receiving chain for Bob's signed prekey is the X3DH chain key.
    let alice = LocalIdentity {
        key_pair: KeyPair::from_private_bytes(h32(
            "9040f0d4e09cf38f6dc7c13779c908c015a1da4fa78737a080eb0a6f4f5f8f58",
        )),
        registration_id: 2,
    };
    let signature = bob.key_pair.private.sign(&spk.public.to_djb(), &mut rng(3));
    let bundle = PreKeyBundle {
        registration_id: 1,
        identity_key: bob.key_pair.public,
        signed_pre_key: PublicPreKey {
            id: 1,
            key: spk.public,
        },
        signed_pre_key_signature: signature,
        pre_key: None,
    };
    let base = KeyPair::from_private_bytes(h32(
        "11ae7c64d1e61cd596b76a0db5012673391cae66edbfcf073b4da80516a47449",
    ));
    let record = initiate_with_keys(
        &SessionRecord::new(),
        &alice,
        &bundle,
        None,
        base,
        KeyPair::generate(&mut rng(4)),
    )
    .expect("initiate");
    let state = record.current().expect("state");
    let chain = state
        .receiver_chains
        .iter()
        .find(|c| c.ratchet_key == spk.public)
        .expect("chain for Bob's signed prekey");
    assert_eq!(
        hex::encode(chain.chain.key),
        "ab9be50e5cb22a925446ab90ee5670545f4fd32902459ec274b6ad0ae5d6031a"
    );
    let pkmsg_no_opk = session::encrypt(&record, b"x").expect("e").1;
    let parsed = PreKeySignalMessage::parse(pkmsg_no_opk.bytes()).expect("parse");
    assert_eq!(
        parsed.pre_key_id(),
        None,
        "field omitted without one-time prekey"
    );
}

// --- sender_key_vector.json -----------------------------------------------------------------

#[test]
fn sender_key_vector() {
    let v = vector("sender_key_vector.json");
    let chain0 = ChainKey::new(hex32(&v, "sender_chain_key_iter0"), 0);
    let signing = pair(&v, "sender_signing_priv");
    assert_eq!(signing.public, djb(&v, "sender_signing_pub"));
    let key_id = num(&v, "key_id");

    let (seed0, chain1) = chain0.step().expect("step");
    assert_eq!(seed0, hex32(&v, "iter0_message_seed"));
    let k0 = super::crypto::SenderMessageKeys::derive(&seed0);
    assert_eq!(k0.iv.to_vec(), hexv(&v, "iter0_iv"));
    assert_eq!(k0.cipher_key, hex32(&v, "iter0_cipher_key"));
    assert_eq!(chain1.key, hex32(&v, "chain_key_iter1"));
    let (seed1, _) = chain1.step().expect("step");
    let k1 = super::crypto::SenderMessageKeys::derive(&seed1);
    assert_eq!(k1.iv.to_vec(), hexv(&v, "iter1_iv"));
    assert_eq!(k1.cipher_key, hex32(&v, "iter1_cipher_key"));

    // SKDM bytes.
    let skdm = SenderKeyDistributionMessage::new(key_id, 0, chain0.key, signing.public);
    assert_eq!(skdm.to_bytes(), hexv(&v, "skdm"));
    let parsed = SenderKeyDistributionMessage::parse(&hexv(&v, "skdm")).expect("parse skdm");
    assert_eq!(parsed, skdm);

    // The sender reproduces the skmsg byte for byte (Z = 64 zero bytes in the vector).
    let own = SenderKeyRecord {
        states: vec![SenderKeyState {
            key_id,
            chain: chain0,
            signing_public: signing.public,
            signing_private: Some(signing),
            skipped: Default::default(),
        }],
    };
    let z = [0u8; 64];
    let (own, skmsg) =
        encrypt_with_nonce(&own, &hexv(&v, "plaintext_padded"), &z).expect("encrypt");
    assert_eq!(hex::encode(&skmsg), v["skmsg"].as_str().expect("skmsg"));
    assert_eq!(own.states()[0].iteration(), 1);

    // A member decrypts it from the SKDM.
    let member = sender_key::process_distribution(&SenderKeyRecord::new(), &parsed);
    let (member, pt) = sender_key::decrypt(&member, &hexv(&v, "skmsg")).expect("decrypt");
    assert_eq!(pt, hexv(&v, "plaintext_padded"));
    assert!(sender_key::decrypt(&member, &skmsg)
        .expect_err("duplicate")
        .is_duplicate());
    let mut forged = skmsg.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    let fresh = sender_key::process_distribution(&SenderKeyRecord::new(), &parsed);
    assert_eq!(
        sender_key::decrypt(&fresh, &forged).err(),
        Some(SignalError::InvalidSignature)
    );
}

//! The Signal side of messaging (`wa_protocol::message::{fanout, receive, group, retry}`) with
//! several parties in memory: Alice (phone + this companion), Bob (phone + companion), Carol.
//! Stores and the server are plain maps here; the functions under test are pure.
//! The vectors of `signal.md` §10 go through the same paths in `message_vectors.rs`.

use std::collections::{BTreeSet, HashMap, VecDeque};

use rand::rngs::StdRng;
use rand::SeedableRng;

use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::fanout::{
    encrypt_fanout, encrypt_for_device, DeviceTarget, Fanout, FanoutGroup,
};
use wa_protocol::message::group;
use wa_protocol::message::receive::{
    decrypt_pairwise, failure_action, FailureAction, PreKeySet, NACK_OLD_COUNTER,
};
use wa_protocol::message::retry::{
    next_retry_count, retry_includes_keys, RetryDecision, RetryKeys, RetryReason, RetryRequest,
    SenderRetryState, SessionSource,
};
use wa_protocol::signal::padding::{pad_with, unpad};
use wa_protocol::signal::{
    generate_pre_keys, LocalIdentity, PreKeyBundle, PublicKey, SenderKeyRecord, SessionRecord,
    SignalError, SignedPreKey,
};
use wa_protocol::stanza::EncType;
use wa_protocol::Millis;

// --- parties --------------------------------------------------------------------------------

/// One device with its own store (keys, sessions, trusted identities, sender keys).
struct Device {
    jid: Jid,
    identity: LocalIdentity,
    pre_keys: PreKeySet,
    sessions: HashMap<Jid, SessionRecord>,
    identities: HashMap<Jid, PublicKey>,
    sender_keys: HashMap<(Jid, Jid), SenderKeyRecord>,
}

impl Device {
    fn new(user: &str, device: u16, directory: &mut Directory, rng: &mut StdRng) -> Device {
        let identity = LocalIdentity::generate(rng);
        let signed = SignedPreKey::generate(&identity.key_pair, 1, 0, rng);
        let one_time = generate_pre_keys(1, 5, rng);
        let jid = Jid::device(user, device, Server::WhatsApp);
        // Upload: the server hands out one bundle per one-time prekey (`messaging.md` §5/§14).
        let bundles = one_time
            .iter()
            .map(|k| PreKeyBundle::from_local(&identity, &signed, Some(k)))
            .collect();
        directory.insert(jid.clone(), bundles);
        Device {
            jid,
            identity,
            pre_keys: PreKeySet {
                signed: vec![signed],
                one_time,
            },
            sessions: HashMap::new(),
            identities: HashMap::new(),
            sender_keys: HashMap::new(),
        }
    }

    /// What the store gives the fan-out for `peer`: the session, or a fetched bundle.
    fn target(&self, peer: &Jid, directory: &mut Directory) -> DeviceTarget {
        match self.sessions.get(peer) {
            Some(record) => DeviceTarget::with_session(peer.clone(), record.clone()),
            None => {
                let bundle = directory
                    .get_mut(peer)
                    .and_then(VecDeque::pop_front)
                    .expect("bundle left");
                DeviceTarget::with_bundle(peer.clone(), bundle)
            }
        }
    }

    /// Encrypts each (devices, padded plaintext) group and persists the new records.
    fn send(
        &mut self,
        groups: &[(&[&Jid], &[u8])],
        dir: &mut Directory,
        rng: &mut StdRng,
    ) -> Fanout {
        let targets: Vec<Vec<DeviceTarget>> = groups
            .iter()
            .map(|(jids, _)| jids.iter().map(|j| self.target(j, dir)).collect())
            .collect();
        let plan: Vec<FanoutGroup<'_>> = targets
            .iter()
            .zip(groups)
            .map(|(devices, (_, plaintext))| FanoutGroup { devices, plaintext })
            .collect();
        let out = encrypt_fanout(&self.identity, &plan, rng);
        assert!(out.failed.is_empty(), "{:?}", out.failed);
        for done in &out.encrypted {
            self.sessions.insert(done.jid.clone(), done.record.clone());
            self.identities
                .insert(done.jid.clone(), done.remote_identity);
        }
        out
    }

    /// Decrypts a pairwise `<enc>` from `from`; on success persists the record, deletes the
    /// consumed one-time prekey and stores the identity (one commit), returns the unpadded body.
    fn receive(
        &mut self,
        from: &Jid,
        enc_type: EncType,
        ciphertext: &[u8],
        rng: &mut StdRng,
    ) -> Result<Vec<u8>, SignalError> {
        let out = decrypt_pairwise(
            enc_type,
            ciphertext,
            self.sessions.get(from),
            &self.identity,
            &self.pre_keys,
            self.identities.get(from),
            rng,
        )?;
        self.sessions.insert(from.clone(), out.record);
        if let Some(id) = out.consumed_pre_key_id {
            self.pre_keys.remove_one_time(id);
        }
        self.identities.insert(from.clone(), out.remote_identity);
        Ok(unpad(&out.plaintext)?.to_vec())
    }
}

/// The server's bundle directory: per device, the bundles not yet handed out.
type Directory = HashMap<Jid, VecDeque<PreKeyBundle>>;

/// The ciphertext `fanout` produced for `jid`.
fn enc_for<'a>(fanout: &'a Fanout, jid: &Jid) -> (EncType, &'a [u8]) {
    let d = fanout
        .encrypted
        .iter()
        .find(|d| &d.jid == jid)
        .expect("device encrypted");
    (d.enc_type, &d.ciphertext)
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

struct World {
    dir: Directory,
    rng: StdRng,
    alice0: Device,
    alice1: Device,
    bob0: Device,
    bob1: Device,
}

fn world(seed: u64) -> World {
    let mut rng = rng(seed);
    let mut dir = Directory::new();
    let alice0 = Device::new("15550001111", 0, &mut dir, &mut rng);
    let alice1 = Device::new("15550001111", 1, &mut dir, &mut rng);
    let bob0 = Device::new("15550002222", 0, &mut dir, &mut rng);
    let bob1 = Device::new("15550002222", 7, &mut dir, &mut rng);
    World {
        dir,
        rng,
        alice0,
        alice1,
        bob0,
        bob1,
    }
}

/// Alice's companion sends `text` to Bob's devices and the DSM copy to her phone.
fn alice_sends(w: &mut World, text: &[u8], dsm: &[u8]) -> Fanout {
    let (b0, b1, a0) = (w.bob0.jid.clone(), w.bob1.jid.clone(), w.alice0.jid.clone());
    let to_bob = pad_with(text, 5);
    let to_self = pad_with(dsm, 16);
    w.alice1.send(
        &[(&[&b0, &b1], &to_bob), (&[&a0], &to_self)],
        &mut w.dir,
        &mut w.rng,
    )
}

// --- 1:1 fan-out ----------------------------------------------------------------------------

#[test]
fn fanout_to_peer_and_own_device_pkmsg_then_msg() {
    let mut w = world(1);
    let a1 = w.alice1.jid.clone();
    let out = alice_sends(&mut w, b"hello bob", b"dsm:hello bob");
    assert_eq!(out.encrypted.len(), 3);
    assert!(
        out.needs_device_identity(),
        "first send is pkmsg everywhere"
    );
    assert!(out.encrypted.iter().all(|d| d.enc_type == EncType::PkMsg));
    assert!(out.encrypted.iter().all(|d| d.new_session));
    for (device, want) in [
        (&mut w.bob0, &b"hello bob"[..]),
        (&mut w.bob1, b"hello bob"),
        (&mut w.alice0, b"dsm:hello bob"),
    ] {
        let before = device.pre_keys.one_time.len();
        let (t, ct) = enc_for(&out, &device.jid);
        let got = device.receive(&a1, t, ct, &mut w.rng).expect("decrypt");
        assert_eq!(got, want);
        assert_eq!(device.pre_keys.one_time.len(), before - 1, "OPK consumed");
    }

    // No answer yet: the session still sends pkmsg (`signal.md` §8), on the same session.
    let out = alice_sends(&mut w, b"second", b"dsm:second");
    assert!(out
        .encrypted
        .iter()
        .all(|d| d.enc_type == EncType::PkMsg && !d.new_session));
    let (t, ct) = enc_for(&out, &w.bob0.jid);
    assert_eq!(
        w.bob0.receive(&a1, t, ct, &mut w.rng).expect("2nd"),
        b"second"
    );

    // Bob's phone answers (a msg: the responder never sends pkmsg).
    let reply = pad_with(b"hi alice", 3);
    let back = w.bob0.send(&[(&[&a1], &reply)], &mut w.dir, &mut w.rng);
    let (t, ct) = enc_for(&back, &a1);
    assert_eq!(t, EncType::Msg);
    assert!(!back.needs_device_identity());
    let b0 = w.bob0.jid.clone();
    assert_eq!(
        w.alice1.receive(&b0, t, ct, &mut w.rng).expect("reply"),
        b"hi alice"
    );

    // Next send: msg to the device that answered, pkmsg still to the others.
    let out = alice_sends(&mut w, b"third", b"dsm:third");
    assert_eq!(enc_for(&out, &w.bob0.jid).0, EncType::Msg);
    assert_eq!(enc_for(&out, &w.bob1.jid).0, EncType::PkMsg);
    assert!(out.needs_device_identity());
    for device in [&mut w.bob0, &mut w.bob1] {
        let (t, ct) = enc_for(&out, &device.jid);
        assert_eq!(
            device.receive(&a1, t, ct, &mut w.rng).expect("3rd"),
            b"third"
        );
    }
    let (t, ct) = enc_for(&out, &w.alice0.jid);
    // The phone missed "second": the skipped key is used, nothing is lost.
    assert_eq!(
        w.alice0.receive(&a1, t, ct, &mut w.rng).expect("dsm"),
        b"dsm:third"
    );
    let (t, ct) = enc_for(&out, &w.bob0.jid);
    replay_is_duplicate(&mut w.bob0, &a1, t, ct, &mut w.rng);
}

/// A replayed ciphertext is refused as a duplicate, and the record is untouched.
fn replay_is_duplicate(dev: &mut Device, from: &Jid, t: EncType, ct: &[u8], rng: &mut StdRng) {
    let before = dev.sessions.get(from).map(SessionRecord::to_bytes);
    let err = dev.receive(from, t, ct, rng).expect_err("replay");
    assert!(err.is_duplicate(), "{err:?}");
    assert_eq!(failure_action(&err), FailureAction::Duplicate);
    assert_eq!(NACK_OLD_COUNTER, 496);
    assert_eq!(dev.sessions.get(from).map(SessionRecord::to_bytes), before);
}

#[test]
fn replayed_pkmsg_is_a_duplicate() {
    let mut w = world(2);
    let a1 = w.alice1.jid.clone();
    let out = alice_sends(&mut w, b"once", b"dsm:once");
    let (t, ct) = enc_for(&out, &w.bob1.jid);
    assert_eq!(
        w.bob1.receive(&a1, t, ct, &mut w.rng).expect("first"),
        b"once"
    );
    replay_is_duplicate(&mut w.bob1, &a1, t, ct, &mut w.rng);
}

#[test]
fn devices_without_keys_or_with_bad_bundles_are_reported() {
    let mut w = world(3);
    let nobody = Jid::device("15550009999", 2, Server::WhatsApp);
    let mut forged = w.dir[&w.bob1.jid][0].clone();
    forged.signed_pre_key_signature[5] ^= 0x40;
    let mut wrong_identity =
        DeviceTarget::with_bundle(w.bob0.jid.clone(), w.dir[&w.bob0.jid][0].clone());
    wrong_identity.trusted_identity = Some(*w.alice0.identity.public_key());
    let devices = [
        DeviceTarget {
            jid: nobody.clone(),
            record: None,
            bundle: None,
            trusted_identity: None,
        },
        DeviceTarget::with_bundle(w.bob1.jid.clone(), forged),
        wrong_identity,
        DeviceTarget::with_bundle(w.alice0.jid.clone(), w.dir[&w.alice0.jid][0].clone()),
    ];
    let groups = [FanoutGroup {
        devices: &devices,
        plaintext: &pad_with(b"x", 1),
    }];
    let out = encrypt_fanout(&w.alice1.identity, &groups, &mut w.rng);
    assert_eq!(out.encrypted.len(), 1, "the good device still gets it");
    assert_eq!(out.encrypted[0].jid, w.alice0.jid);
    let failed: Vec<(Jid, SignalError)> =
        out.failed.into_iter().map(|f| (f.jid, f.error)).collect();
    assert_eq!(
        failed,
        vec![
            (nobody, SignalError::NoSendingSession),
            (w.bob1.jid.clone(), SignalError::InvalidSignature),
            (w.bob0.jid.clone(), SignalError::UntrustedIdentity),
        ]
    );
}

// --- retry ----------------------------------------------------------------------------------

/// Alice's companion and Bob's phone exchange one message each way (Alice then sends `msg`).
fn establish(w: &mut World) {
    let (a1, b0) = (w.alice1.jid.clone(), w.bob0.jid.clone());
    let out = w
        .alice1
        .send(&[(&[&b0], &pad_with(b"hi", 2))], &mut w.dir, &mut w.rng);
    let (t, ct) = enc_for(&out, &b0);
    w.bob0.receive(&a1, t, ct, &mut w.rng).expect("hi");
    let back = w
        .bob0
        .send(&[(&[&a1], &pad_with(b"yo", 2))], &mut w.dir, &mut w.rng);
    let (t, ct) = enc_for(&back, &a1);
    w.alice1.receive(&b0, t, ct, &mut w.rng).expect("yo");
}

/// Alice answers a retry receipt from Bob's phone: the decision picks the session, the resend
/// goes to that device only; returns what Bob's phone makes of it.
fn alice_answers_retry(
    w: &mut World,
    state: SenderRetryState,
    request: RetryRequest,
    keys: Option<&RetryKeys>,
    original: &[u8],
) -> (
    SenderRetryState,
    SessionSource,
    Result<Vec<u8>, SignalError>,
) {
    let (a1, b0) = (w.alice1.jid.clone(), w.bob0.jid.clone());
    let has_session = w.alice1.sessions.contains_key(&b0);
    let (state, decision) = state.decide(request, has_session, Millis(1_000));
    let RetryDecision::Resend { session } = decision else {
        panic!("dropped")
    };
    let bundle = match session {
        SessionSource::Existing => None,
        SessionSource::Keys => Some(keys.expect("keys").to_bundle()),
        SessionSource::FetchBundle => w.dir.get_mut(&b0).and_then(VecDeque::pop_front),
    };
    let target = DeviceTarget {
        jid: b0.clone(),
        record: w.alice1.sessions.get(&b0).cloned(),
        bundle,
        trusted_identity: w.alice1.identities.get(&b0).copied(),
    };
    let resend = encrypt_for_device(&w.alice1.identity, &target, original, &mut w.rng);
    let resend = resend.expect("resend");
    assert_eq!(resend.new_session, session != SessionSource::Existing);
    w.alice1.sessions.insert(b0, resend.record.clone());
    let got = w
        .bob0
        .receive(&a1, resend.enc_type, &resend.ciphertext, &mut w.rng);
    (state, session, got)
}

/// Bob's phone loses its session with Alice's companion; a msg fails with "no session"; the
/// first retry (no keys) does not help, the second carries keys and the resend decrypts.
#[test]
fn lost_session_is_recovered_through_retry_keys() {
    let mut w = world(4);
    let (a1, b0) = (w.alice1.jid.clone(), w.bob0.jid.clone());
    establish(&mut w);
    w.bob0.sessions.remove(&a1);
    let original = pad_with(b"are you there?", 4);
    let out = w
        .alice1
        .send(&[(&[&b0], &original)], &mut w.dir, &mut w.rng);
    let (t, ct) = enc_for(&out, &b0);
    assert_eq!(t, EncType::Msg);
    let err = w.bob0.receive(&a1, t, ct, &mut w.rng).expect_err("lost");
    assert_eq!(
        failure_action(&err),
        FailureAction::RetryReceipt(RetryReason::NoSession)
    );
    let count = next_retry_count(None, None).expect("count 1");
    assert!(!retry_includes_keys(count, false));

    // Retry 1 without keys → the same session; Bob still cannot decrypt.
    let request = RetryRequest {
        count,
        has_keys: false,
    };
    let (state, source, got) = alice_answers_retry(
        &mut w,
        SenderRetryState::default(),
        request,
        None,
        &original,
    );
    assert_eq!(source, SessionSource::Existing);
    assert_eq!(got.expect_err("still lost"), SignalError::NoSession);

    // Retry 2 with keys (a fresh one-time prekey, stored before the receipt leaves).
    let count = next_retry_count(Some(count), None).expect("count 2");
    assert!(retry_includes_keys(count, false));
    let spk = w.bob0.pre_keys.signed[0].clone();
    let (opk, keys) = RetryKeys::generate(&w.bob0.identity, &spk, 100, None, &mut w.rng);
    w.bob0.pre_keys.one_time.push(opk);
    let request = RetryRequest {
        count,
        has_keys: true,
    };
    let (_, source, got) = alice_answers_retry(&mut w, state, request, Some(&keys), &original);
    assert_eq!(source, SessionSource::Keys);
    assert_eq!(got.expect("recovered"), b"are you there?");
    assert!(
        w.bob0.pre_keys.one_time.iter().all(|k| k.id != 100),
        "retry OPK consumed"
    );

    // And the conversation goes on both ways.
    let back = w
        .bob0
        .send(&[(&[&a1], &pad_with(b"yes", 1))], &mut w.dir, &mut w.rng);
    let (t, ct) = enc_for(&back, &a1);
    assert_eq!(
        w.alice1.receive(&b0, t, ct, &mut w.rng).expect("yes"),
        b"yes"
    );
}

/// Without keys, a second retry makes Alice start over from a freshly fetched bundle.
#[test]
fn keyless_second_retry_fetches_a_bundle() {
    let mut w = world(8);
    let (a1, b0) = (w.alice1.jid.clone(), w.bob0.jid.clone());
    establish(&mut w);
    w.bob0.sessions.remove(&a1);
    let original = pad_with(b"again", 3);
    let request = RetryRequest {
        count: 2,
        has_keys: false,
    };
    let (state, source, got) = alice_answers_retry(
        &mut w,
        SenderRetryState::default(),
        request,
        None,
        &original,
    );
    assert_eq!(source, SessionSource::FetchBundle);
    assert_eq!(got.expect("recovered"), b"again");
    assert_eq!(state.requests_handled, 1);
    assert!(w.bob0.sessions.contains_key(&a1) && w.alice1.sessions.contains_key(&b0));
}

// --- groups ---------------------------------------------------------------------------------

/// `member` sends its SKDM pairwise to `to` (as the fan-out of a group send would) and each
/// recipient stores it for (group, member).
fn distribute(
    members: &mut [Device],
    from: usize,
    to: &[usize],
    gid: &Jid,
    rotate: bool,
    dir: &mut Directory,
    rng: &mut StdRng,
) {
    let sender = members[from].jid.clone();
    let own_key = (gid.clone(), sender.clone());
    let (record, skdm) = if rotate {
        group::rotate_sender_key(rng).expect("rotate")
    } else {
        let own = members[from]
            .sender_keys
            .get(&own_key)
            .cloned()
            .unwrap_or_default();
        group::distribution(&own, rng).expect("skdm")
    };
    members[from].sender_keys.insert(own_key.clone(), record);
    let jids: Vec<Jid> = to.iter().map(|&i| members[i].jid.clone()).collect();
    let refs: Vec<&Jid> = jids.iter().collect();
    // Stand-in for pad(Message{senderKeyDistributionMessage}) (the content layer's job).
    let padded = pad_with(&skdm, 9);
    let out = members[from].send(&[(&refs, &padded)], dir, rng);
    for &i in to {
        let (t, ct) = enc_for(&out, &members[i].jid);
        let body = members[i]
            .receive(&sender, t, ct, rng)
            .expect("pairwise SKDM");
        let theirs = members[i]
            .sender_keys
            .get(&own_key)
            .cloned()
            .unwrap_or_default();
        let stored = group::process_distribution(&theirs, &body).expect("SKDM");
        members[i].sender_keys.insert(own_key.clone(), stored);
    }
}

/// `from` encrypts one skmsg; returns it.
fn group_send(member: &mut Device, gid: &Jid, text: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let key = (gid.clone(), member.jid.clone());
    let own = member.sender_keys[&key].clone();
    let (own, skmsg) = group::encrypt(&own, &pad_with(text, 2), rng).expect("skmsg");
    member.sender_keys.insert(key, own);
    skmsg
}

fn group_receive(
    member: &mut Device,
    gid: &Jid,
    sender: &Jid,
    skmsg: &[u8],
) -> Result<Vec<u8>, SignalError> {
    let key = (gid.clone(), sender.clone());
    let record = member.sender_keys.get(&key).cloned().unwrap_or_default();
    let (record, padded) = group::decrypt(&record, skmsg)?;
    member.sender_keys.insert(key, record);
    Ok(unpad(&padded)?.to_vec())
}

#[test]
fn group_of_three_everyone_decrypts_everyone_then_rotation_excludes_the_removed() {
    let mut rng = rng(5);
    let mut dir = Directory::new();
    let gid = Jid::group("120363000000000001");
    let mut m = vec![
        Device::new("15550001111", 1, &mut dir, &mut rng),
        Device::new("15550002222", 0, &mut dir, &mut rng),
        Device::new("15550003333", 0, &mut dir, &mut rng),
    ];
    for from in 0..3 {
        let to: Vec<usize> = (0..3).filter(|&i| i != from).collect();
        distribute(&mut m, from, &to, &gid, false, &mut dir, &mut rng);
    }
    for from in 0..3 {
        let text = format!("hello from {from}");
        let skmsg = group_send(&mut m[from], &gid, text.as_bytes(), &mut rng);
        let sender = m[from].jid.clone();
        for to in (0..3).filter(|&i| i != from) {
            assert_eq!(
                group_receive(&mut m[to], &gid, &sender, &skmsg).expect("dec"),
                text.as_bytes()
            );
        }
    }
    let devices: Vec<Jid> = m.iter().map(|d| d.jid.clone()).collect();
    assert!(group::phash(&devices).starts_with("2:"));

    // Carol (index 2) is removed: Alice's plan says rotate, and only Bob gets the new key.
    let had: BTreeSet<Jid> = [m[1].jid.clone(), m[2].jid.clone()].into();
    let plan = group::plan_distribution(&had, &[m[1].jid.clone()]);
    assert!(plan.rotate);
    assert_eq!(plan.send_to, vec![m[1].jid.clone()]);
    distribute(&mut m, 0, &[1], &gid, true, &mut dir, &mut rng);
    let alice = m[0].jid.clone();
    let skmsg = group_send(&mut m[0], &gid, b"carol is gone", &mut rng);
    assert_eq!(
        group_receive(&mut m[1], &gid, &alice, &skmsg).expect("bob"),
        b"carol is gone"
    );
    let err = group_receive(&mut m[2], &gid, &alice, &skmsg).expect_err("carol cannot read");
    assert!(
        matches!(err, SignalError::NoSenderKeyState { .. }),
        "{err:?}"
    );
    assert_eq!(
        failure_action(&err),
        FailureAction::RetryReceipt(RetryReason::NoSession)
    );
    let replay = group_receive(&mut m[1], &gid, &alice, &skmsg).expect_err("replay");
    assert!(replay.is_duplicate());
}

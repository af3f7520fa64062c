//! Fuzz entry points for the Signal module, shared by cargo-fuzz targets and the proptest /
//! corpus-replay tests.
//!
//! [`two_party_simulation`] drives Alice and Bob through a session chosen by the input bytes:
//! sends in both directions, deliveries in any order, drops, duplicates, corrupted copies and
//! session restarts from fresh bundles. It checks that nothing panics, every delivered message
//! decrypts to exactly what was sent (unless the model says the receiver may legitimately have
//! forgotten its key), nothing decrypts twice, failures leave records byte-for-byte unchanged,
//! and records survive a storage round trip.
//! [`sender_key_simulation`] does the same for a group sender key.

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::signal::{
    padding, sender_key, session, CiphertextMessage, LocalIdentity, PreKey, PreKeyBundle,
    PreKeySignalMessage, PublicKey, ResponderPreKeys, SenderKeyDistributionMessage,
    SenderKeyRecord, SessionRecord, SignalError, SignalMessage, SignedPreKey, MAX_RECEIVER_CHAINS,
};

/// The names of the cargo-fuzz targets (directories under `fuzz/corpus/`).
pub const TARGETS: &[&str] = &["signal_two_party", "signal_sender_key"];

/// Runs the target called `name` on `data`; `false` if there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "signal_two_party" => signal_two_party(data),
        "signal_sender_key" => signal_sender_key(data),
        _ => return false,
    }
    true
}

/// Fuzz target `signal_two_party`: panics (what the fuzzer reports) when
/// [`two_party_simulation`] finds a broken invariant.
pub fn signal_two_party(data: &[u8]) {
    if let Err(e) = two_party_simulation(data) {
        panic!("signal_two_party: {e}");
    }
}

/// Fuzz target `signal_sender_key`: panics when [`sender_key_simulation`] finds a broken
/// invariant.
pub fn signal_sender_key(data: &[u8]) {
    if let Err(e) = sender_key_simulation(data) {
        panic!("signal_sender_key: {e}");
    }
}

/// Most actions one input runs (keeps every chain far below the 2000-message limits).
pub const MAX_ACTIONS: usize = 1024;
/// Most session restarts one input runs (keeps archives far below 40 states).
const MAX_RESTARTS: usize = 8;

/// A deterministic random generator for simulations (SHA-256 in counter mode over a seed).
///
/// It is marked `CryptoRng` so the Signal functions accept it, but its seed comes from the
/// fuzz input: never use it outside tests and fuzzing.
#[derive(Clone, Debug)]
pub struct SimRng {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SimRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: &[u8]) -> Self {
        Self {
            seed: Sha256::digest(seed).into(),
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn refill(&mut self) {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.counter.to_le_bytes());
        self.block = h.finalize().into();
        self.counter = self.counter.wrapping_add(1);
        self.used = 0;
    }
}

impl RngCore for SimRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            if self.used >= self.block.len() {
                self.refill();
            }
            *byte = self.block.get(self.used).copied().unwrap_or(0);
            self.used += 1;
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for SimRng {}

/// Reads action bytes; yields zeros once the input is exhausted.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}

struct Party {
    name: &'static str,
    identity: LocalIdentity,
    signed: SignedPreKey,
    /// Private one-time prekeys not yet consumed.
    one_time: Vec<PreKey>,
    /// One-time prekeys the "server" can still hand out.
    server_one_time: Vec<u32>,
    record: SessionRecord,
    trusted: Option<PublicKey>,
    /// The peer's ratchet keys in the order this party first decrypted with them (plus the
    /// peer's signed prekey when a bundle created a receiving chain for it).
    seen_ratchets: Vec<PublicKey>,
}

impl Party {
    fn new(name: &'static str, rng: &mut SimRng) -> Self {
        let identity = LocalIdentity::generate(rng);
        let signed = SignedPreKey::generate(&identity.key_pair, 1, 0, rng);
        let one_time = crate::signal::generate_pre_keys(1, MAX_RESTARTS + 1, rng);
        let server_one_time = one_time.iter().map(|k| k.id).collect();
        Self {
            name,
            identity,
            signed,
            one_time,
            server_one_time,
            record: SessionRecord::new(),
            trusted: None,
            seen_ratchets: Vec::new(),
        }
    }

    /// The bundle the server hands out (each one-time prekey at most once).
    fn bundle(&mut self, with_one_time: bool) -> PreKeyBundle {
        let opk_id = if with_one_time && !self.server_one_time.is_empty() {
            Some(self.server_one_time.remove(0))
        } else {
            None
        };
        let opk = opk_id.and_then(|id| self.one_time.iter().find(|k| k.id == id));
        PreKeyBundle::from_local(&self.identity, &self.signed, opk)
    }

    fn newer_chains_than(&self, ratchet: &PublicKey) -> Option<usize> {
        let pos = self.seen_ratchets.iter().position(|k| k == ratchet)?;
        Some(self.seen_ratchets.len() - 1 - pos)
    }

    /// Decrypts like a driver would; on success the party keeps the new record.
    fn receive(
        &mut self,
        msg: &CiphertextMessage,
        rng: &mut SimRng,
    ) -> Result<Vec<u8>, SignalError> {
        let (record, plaintext, identity) = match msg {
            CiphertextMessage::Signal(bytes) => {
                let (record, pt) = session::decrypt(&self.record, bytes, rng)?;
                (record, pt, None)
            }
            CiphertextMessage::PreKey(bytes) => {
                let parsed = PreKeySignalMessage::parse(bytes)?;
                let opk = parsed
                    .pre_key_id()
                    .and_then(|id| self.one_time.iter().find(|k| k.id == id));
                let keys = ResponderPreKeys {
                    signed_pre_key: Some(&self.signed)
                        .filter(|k| k.id == parsed.signed_pre_key_id()),
                    one_time_pre_key: opk,
                };
                let out = session::decrypt_prekey(
                    &self.record,
                    &self.identity,
                    &parsed,
                    keys,
                    self.trusted.as_ref(),
                    rng,
                )?;
                if let Some(id) = out.consumed_pre_key_id {
                    self.one_time.retain(|k| k.id != id);
                }
                (out.record, out.plaintext, Some(out.remote_identity))
            }
        };
        let unpadded = padding::unpad(&plaintext)?.to_vec();
        self.record = record;
        if let Some(identity) = identity {
            self.trusted = Some(identity);
        }
        Ok(unpadded)
    }
}

struct Sent {
    from_alice: bool,
    message: CiphertextMessage,
    plaintext: Vec<u8>,
    ratchet: PublicKey,
    delivered: bool,
}

fn ratchet_of(message: &CiphertextMessage) -> Result<PublicKey, String> {
    let parsed = match message {
        CiphertextMessage::Signal(b) => SignalMessage::parse(b),
        CiphertextMessage::PreKey(b) => PreKeySignalMessage::parse(b).map(|p| p.message().clone()),
    };
    parsed
        .map(|m| *m.ratchet_key())
        .map_err(|e| format!("own message does not parse: {e}"))
}

fn check_round_trip(record: &SessionRecord) -> Result<SessionRecord, String> {
    let bytes = record.to_bytes();
    let back = SessionRecord::from_bytes(&bytes).map_err(|e| format!("record decode: {e}"))?;
    if back.to_bytes() != bytes {
        return Err("record round trip is not byte-exact".into());
    }
    Ok(back)
}

/// Two parties driven by `data`: the first 8 bytes seed the keys, every following byte pair is
/// an action (send, deliver, drop, duplicate, corrupt, restart). `Err` describes a broken
/// invariant; any input may be given and nothing may panic.
pub fn two_party_simulation(data: &[u8]) -> Result<(), String> {
    let (seed, actions) = data.split_at(data.len().min(8));
    let mut rng = SimRng::new(seed);
    let mut alice = Party::new("alice", &mut rng);
    let mut bob = Party::new("bob", &mut rng);
    let first = bob.bundle(seed.first().is_none_or(|b| b & 1 == 0));
    alice.record = session::process_bundle(&alice.record, &alice.identity, &first, None, &mut rng)
        .map_err(|e| format!("process_bundle: {e}"))?;
    alice.trusted = Some(first.identity_key);
    alice.seen_ratchets.push(first.signed_pre_key.key);

    let mut sent: Vec<Sent> = Vec::new();
    let mut in_flight: [Vec<usize>; 2] = [Vec::new(), Vec::new()]; // [to bob, to alice]
    let mut restarts = 0;
    let mut input = Input {
        data: actions,
        pos: 0,
    };
    let mut steps = 0;
    while !input.done() && steps < MAX_ACTIONS {
        steps += 1;
        let op = input.byte();
        let arg = input.byte();
        match op % 8 {
            // Send.
            0 | 1 => {
                let from_alice = op.is_multiple_of(8);
                let sender = if from_alice { &mut alice } else { &mut bob };
                let mut text = (sent.len() as u32).to_be_bytes().to_vec();
                text.extend(std::iter::repeat_n(arg, usize::from(arg % 40)));
                let padded = padding::pad(&text, &mut rng);
                match session::encrypt(&sender.record, &padded) {
                    Ok((record, message)) => {
                        sender.record = record;
                        let ratchet = ratchet_of(&message)?;
                        in_flight[usize::from(!from_alice)].push(sent.len());
                        sent.push(Sent {
                            from_alice,
                            message,
                            plaintext: text,
                            ratchet,
                            delivered: false,
                        });
                    }
                    Err(SignalError::NoSendingSession) if !from_alice => {}
                    Err(e) => return Err(format!("{} cannot encrypt: {e}", sender.name)),
                }
            }
            // Deliver (any in-flight message: reordering).
            2 | 3 => {
                let lane = usize::from(op % 8 == 3);
                if in_flight[lane].is_empty() {
                    continue;
                }
                let idx = in_flight[lane].remove(usize::from(arg) % in_flight[lane].len());
                deliver(&mut alice, &mut bob, &mut sent, idx, None, &mut rng)?;
            }
            // Drop.
            4 => {
                let lane = usize::from(arg & 1);
                if !in_flight[lane].is_empty() {
                    let at = usize::from(arg >> 1) % in_flight[lane].len();
                    in_flight[lane].remove(at);
                }
            }
            // Duplicate an already delivered message.
            5 => {
                let delivered: Vec<usize> = (0..sent.len())
                    .filter(|&i| sent.get(i).is_some_and(|s| s.delivered))
                    .collect();
                if delivered.is_empty() {
                    continue;
                }
                let idx = delivered[usize::from(arg) % delivered.len()];
                deliver(&mut alice, &mut bob, &mut sent, idx, None, &mut rng)?;
            }
            // Deliver a corrupted copy of any sent message (one bit flipped).
            6 => {
                if sent.is_empty() {
                    continue;
                }
                let idx = usize::from(arg) % sent.len();
                let position = usize::from(input.byte()) | (usize::from(input.byte()) << 8);
                let bit = input.byte() % 8;
                let original = sent[idx].message.clone();
                let mut bytes = original.bytes().to_vec();
                let at = position % bytes.len().max(1);
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << bit;
                }
                let corrupted = match original {
                    CiphertextMessage::Signal(_) => CiphertextMessage::Signal(bytes),
                    CiphertextMessage::PreKey(_) => CiphertextMessage::PreKey(bytes),
                };
                if deliver(
                    &mut alice,
                    &mut bob,
                    &mut sent,
                    idx,
                    Some(corrupted),
                    &mut rng,
                )? {
                    for lane in &mut in_flight {
                        lane.retain(|&i| i != idx);
                    }
                }
            }
            // Alice starts a new session from a fresh bundle.
            _ => {
                if restarts >= MAX_RESTARTS {
                    continue;
                }
                restarts += 1;
                let bundle = bob.bundle(arg & 1 == 0);
                alice.record = session::process_bundle(
                    &alice.record,
                    &alice.identity,
                    &bundle,
                    alice.trusted.as_ref(),
                    &mut rng,
                )
                .map_err(|e| format!("restart: {e}"))?;
                alice.seen_ratchets.push(bundle.signed_pre_key.key);
            }
        }
        if steps % 64 == 0 {
            alice.record = check_round_trip(&alice.record)?;
            bob.record = check_round_trip(&bob.record)?;
        }
    }
    check_round_trip(&alice.record)?;
    check_round_trip(&bob.record)?;
    Ok(())
}

/// Delivers message `idx` (or a corrupted copy of it) to its receiver and checks the outcome.
/// Returns whether it decrypted.
fn deliver(
    alice: &mut Party,
    bob: &mut Party,
    sent: &mut [Sent],
    idx: usize,
    corrupted: Option<CiphertextMessage>,
    rng: &mut SimRng,
) -> Result<bool, String> {
    let Some(entry) = sent.get(idx) else {
        return Ok(false);
    };
    let receiver = if entry.from_alice { bob } else { alice };
    let message = corrupted.as_ref().unwrap_or(&entry.message);
    let stored = receiver.record.to_bytes();
    let stale = receiver
        .newer_chains_than(&entry.ratchet)
        .is_some_and(|n| n >= MAX_RECEIVER_CHAINS);
    match receiver.receive(message, rng) {
        Ok(plaintext) => {
            if entry.delivered {
                return Err(format!(
                    "{}: message {idx} decrypted a second time",
                    receiver.name
                ));
            }
            if plaintext != entry.plaintext {
                return Err(format!(
                    "{}: message {idx} decrypted wrongly",
                    receiver.name
                ));
            }
            if !receiver.seen_ratchets.contains(&entry.ratchet) {
                receiver.seen_ratchets.push(entry.ratchet);
            }
            if let Some(e) = sent.get_mut(idx) {
                e.delivered = true;
            }
            Ok(true)
        }
        Err(e) => {
            if receiver.record.to_bytes() != stored {
                return Err(format!(
                    "{}: failed decrypt changed the record",
                    receiver.name
                ));
            }
            let expected_failure = entry.delivered || corrupted.is_some() || stale;
            if !expected_failure {
                return Err(format!(
                    "{}: message {idx} (first delivery, intact) failed: {e}",
                    receiver.name
                ));
            }
            if entry.delivered && corrupted.is_none() && !stale && !e.is_duplicate() {
                return Err(format!(
                    "{}: replay of message {idx} not reported as duplicate: {e}",
                    receiver.name
                ));
            }
            Ok(false)
        }
    }
}

/// A sender-key group of one sender and one member driven by `data`: sends, deliveries in any
/// order, drops, duplicates, corrupted copies and key rotations (a new SKDM). Same invariants
/// as [`two_party_simulation`].
pub fn sender_key_simulation(data: &[u8]) -> Result<(), String> {
    let (seed, actions) = data.split_at(data.len().min(8));
    let mut rng = SimRng::new(seed);
    let mut own = SenderKeyRecord::new();
    let mut member = SenderKeyRecord::new();
    // (bytes, plaintext, key id, delivered)
    let mut sent: Vec<(Vec<u8>, Vec<u8>, u32, bool)> = Vec::new();
    let mut key_ids: Vec<u32> = Vec::new();
    let mut input = Input {
        data: actions,
        pos: 0,
    };
    let mut steps = 0;
    while !input.done() && steps < MAX_ACTIONS {
        steps += 1;
        let op = input.byte();
        let arg = input.byte();
        match op % 5 {
            0 | 1 => {
                if own.is_empty() || op % 5 == 1 && arg < 8 {
                    // (Re)distribute; occasionally rotate to a fresh key first.
                    if !own.is_empty() && arg < 4 {
                        own = SenderKeyRecord::new();
                    }
                    let (next, skdm) = sender_key::create_distribution(&own, &mut rng)
                        .map_err(|e| format!("create: {e}"))?;
                    own = next;
                    let skdm = SenderKeyDistributionMessage::parse(&skdm.to_bytes())
                        .map_err(|e| format!("skdm: {e}"))?;
                    member = sender_key::process_distribution(&member, &skdm);
                    if !key_ids.contains(&skdm.key_id()) {
                        key_ids.push(skdm.key_id());
                    }
                }
                let mut text = (sent.len() as u32).to_be_bytes().to_vec();
                text.extend(std::iter::repeat_n(arg, usize::from(arg % 40)));
                let (next, bytes) = sender_key::encrypt(&own, &text, &mut rng)
                    .map_err(|e| format!("group encrypt: {e}"))?;
                own = next;
                let key_id = own.states().first().map_or(0, |s| s.key_id());
                sent.push((bytes, text, key_id, false));
            }
            op => {
                if sent.is_empty() {
                    continue;
                }
                let idx = usize::from(arg) % sent.len();
                let (mut bytes, text, key_id, delivered) = sent[idx].clone();
                let corrupt = op == 4;
                if corrupt {
                    let at = usize::from(input.byte()) % bytes.len().max(1);
                    let bit = input.byte() % 8;
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= 1 << bit;
                    }
                }
                if op == 3 && !delivered {
                    continue; // "duplicate" needs a delivered message
                }
                let stored = member.to_bytes();
                // Keys older than the five newest ids may be gone.
                let evicted = key_ids
                    .iter()
                    .position(|&k| k == key_id)
                    .is_some_and(|p| key_ids.len() - p > crate::signal::MAX_SENDER_KEY_STATES);
                match sender_key::decrypt(&member, &bytes) {
                    Ok((next, pt)) => {
                        if delivered {
                            return Err(format!("group message {idx} decrypted twice"));
                        }
                        if pt != text {
                            return Err(format!("group message {idx} decrypted wrongly"));
                        }
                        member = next;
                        if let Some(e) = sent.get_mut(idx) {
                            e.3 = true;
                        }
                    }
                    Err(e) => {
                        if member.to_bytes() != stored {
                            return Err("failed group decrypt changed the record".into());
                        }
                        if !(delivered || corrupt || evicted) {
                            return Err(format!("group message {idx} failed: {e}"));
                        }
                        if delivered && !corrupt && !evicted && !e.is_duplicate() {
                            return Err(format!("group replay {idx} not a duplicate: {e}"));
                        }
                    }
                }
            }
        }
    }
    let bytes = member.to_bytes();
    let back = SenderKeyRecord::from_bytes(&bytes).map_err(|e| format!("decode: {e}"))?;
    if back.to_bytes() != bytes {
        return Err("sender key record round trip is not byte-exact".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_core::RngCore;
    use std::path::PathBuf;

    /// Files of a cargo-fuzz corpus directory, looked up from the crate upwards
    /// (`fuzz/corpus/<target>` of the workspace or of the scratch crate).
    fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = manifest
            .ancestors()
            .map(|d| d.join("fuzz/corpus").join(target))
            .find(|p| p.is_dir())
            .unwrap_or_else(|| panic!("corpus {target} not found above {}", manifest.display()));
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("read corpus")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let data = std::fs::read(&p).expect("read corpus file");
                (p, data)
            })
            .collect()
    }

    #[test]
    fn two_party_corpus_replays() {
        let files = corpus("signal_two_party");
        assert!(!files.is_empty());
        for (path, data) in files {
            assert_eq!(two_party_simulation(&data), Ok(()), "{}", path.display());
        }
    }

    #[test]
    fn sender_key_corpus_replays() {
        let files = corpus("signal_sender_key");
        assert!(!files.is_empty());
        for (path, data) in files {
            assert_eq!(sender_key_simulation(&data), Ok(()), "{}", path.display());
        }
    }

    #[test]
    fn long_deterministic_runs() {
        for seed in 0..1u8 {
            let mut rng = SimRng::new(&[seed, 0xa5]);
            let mut data = vec![0u8; 2 * MAX_ACTIONS + 8];
            rng.fill_bytes(&mut data);
            assert_eq!(two_party_simulation(&data), Ok(()), "seed {seed}");
            assert_eq!(sender_key_simulation(&data), Ok(()), "seed {seed}");
        }
    }

    #[test]
    fn sim_rng_is_deterministic() {
        let mut a = SimRng::new(b"x");
        let mut b = SimRng::new(b"x");
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(a.next_u64(), SimRng::new(b"y").next_u64());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn two_party_random_inputs(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            prop_assert_eq!(two_party_simulation(&data), Ok(()));
        }

        #[test]
        fn sender_key_random_inputs(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            prop_assert_eq!(sender_key_simulation(&data), Ok(()));
        }
    }
}

//! Live interop of `wa_protocol::signal` with the JavaScript Signal stack Baileys ships:
//! libsignal-node 6.0.0 (pairwise sessions), Baileys' group cipher (sender keys) and
//! `@signalapp/libsignal-client` (XEdDSA cross-check), driven through `node/signal_peer.mjs`.
//!
//! The test installs the pinned npm packages itself (`npm ci`, once per run) when
//! `node/node_modules` is missing. Replies are awaited with deadlines; nothing sleeps.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use wa_protocol::signal::{
    padding, sender_key, session, KeyPair, LocalIdentity, PreKey, PreKeyBundle,
    PreKeySignalMessage, PublicKey, PublicPreKey, ResponderPreKeys, SenderKeyDistributionMessage,
    SenderKeyRecord, SessionRecord, SignedPreKey,
};

/// How long one request may take (npm install is separate).
const REPLY_DEADLINE: Duration = Duration::from_secs(60);

fn node_dir() -> PathBuf {
    wagate_tests::node_dir()
}

/// Installs the pinned npm packages (shared with the other interop tests).
fn ensure_npm_packages() {
    wagate_tests::ensure_npm_packages(&node_dir());
}

/// The Node peer process and its reply channel.
struct NodePeer {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<String>,
    next_id: u64,
}

impl NodePeer {
    fn start() -> Self {
        ensure_npm_packages();
        let mut child = Command::new("node")
            .arg("signal_peer.mjs")
            .current_dir(node_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node must be installed to run the interop test");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut peer = Self {
            child,
            stdin,
            replies,
            next_id: 1,
        };
        let ready = peer.read_reply(0);
        assert_eq!(ready["ready"], true);
        peer
    }

    fn read_reply(&mut self, id: u64) -> Value {
        loop {
            let line = self
                .replies
                .recv_timeout(REPLY_DEADLINE)
                .unwrap_or_else(|e| panic!("no reply from node for request {id}: {e}"));
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("node printed a non-JSON line {line:?}: {e}"));
            if v["id"] == id {
                return v;
            }
        }
    }

    /// Sends a command; `Err` carries the JavaScript error.
    fn try_call(&mut self, cmd: &str, mut args: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        args["id"] = json!(id);
        args["cmd"] = json!(cmd);
        writeln!(self.stdin, "{args}").expect("write to node");
        self.stdin.flush().expect("flush");
        let reply = self.read_reply(id);
        if reply["ok"] == true {
            Ok(reply)
        } else {
            Err(reply["error"].as_str().unwrap_or("?").to_string())
        }
    }

    fn call(&mut self, cmd: &str, args: Value) -> Value {
        self.try_call(cmd, args)
            .unwrap_or_else(|e| panic!("node {cmd} failed: {e}"))
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hx(b: &[u8]) -> String {
    hex::encode(b)
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

fn djb(v: &Value) -> PublicKey {
    PublicKey::from_djb(&unhex(v)).expect("33-byte key")
}

/// The Rust device: identity, prekeys and its session record with the Node peer.
struct RustDevice {
    identity: LocalIdentity,
    signed: SignedPreKey,
    one_time: Vec<PreKey>,
    record: SessionRecord,
    rng: StdRng,
}

impl RustDevice {
    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let identity = LocalIdentity::generate(&mut rng);
        let signed = SignedPreKey::generate(&identity.key_pair, 1, 1_700_000_000_000, &mut rng);
        let one_time = wa_protocol::signal::generate_pre_keys(1, 4, &mut rng);
        Self {
            identity,
            signed,
            one_time,
            record: SessionRecord::new(),
            rng,
        }
    }

    fn bundle_json(&self, with_pre_key: bool) -> Value {
        let mut b = json!({
            "registrationId": self.identity.registration_id,
            "identityKey": hx(&self.identity.key_pair.public.to_djb()),
            "signedPreKey": {
                "keyId": self.signed.id,
                "publicKey": hx(&self.signed.key_pair.public.to_djb()),
                "signature": hx(&self.signed.signature),
            },
        });
        if with_pre_key {
            let pk = &self.one_time[0];
            b["preKey"] = json!({ "keyId": pk.id, "publicKey": hx(&pk.key_pair.public.to_djb()) });
        }
        b
    }

    fn process_node_bundle(&mut self, b: &Value) {
        let bundle = PreKeyBundle::new(
            u32::try_from(b["registrationId"].as_u64().expect("reg id")).expect("u32"),
            djb(&b["identityKey"]),
            PublicPreKey {
                id: u32::try_from(b["signedPreKey"]["keyId"].as_u64().expect("id")).expect("u32"),
                key: djb(&b["signedPreKey"]["publicKey"]),
            },
            &unhex(&b["signedPreKey"]["signature"]),
            b.get("preKey").map(|pk| PublicPreKey {
                id: u32::try_from(pk["keyId"].as_u64().expect("id")).expect("u32"),
                key: djb(&pk["publicKey"]),
            }),
        )
        .expect("bundle");
        assert!(
            bundle.verify_signature(),
            "libsignal-node's signed prekey verifies in Rust"
        );
        self.record =
            session::process_bundle(&self.record, &self.identity, &bundle, None, &mut self.rng)
                .expect("process bundle");
    }

    /// Pads and encrypts; returns (enc type, bytes, unpadded plaintext).
    fn encrypt(&mut self, text: &[u8]) -> (String, Vec<u8>) {
        let padded = padding::pad(text, &mut self.rng);
        let (record, msg) = session::encrypt(&self.record, &padded).expect("encrypt");
        self.record = record;
        (msg.enc_type().to_string(), msg.into_bytes())
    }

    fn decrypt(&mut self, enc_type: &str, body: &[u8]) -> Vec<u8> {
        if enc_type == "pkmsg" {
            let msg = PreKeySignalMessage::parse(body).expect("parse pkmsg");
            let opk = msg
                .pre_key_id()
                .and_then(|id| self.one_time.iter().find(|k| k.id == id));
            let keys = ResponderPreKeys {
                signed_pre_key: Some(&self.signed),
                one_time_pre_key: opk,
            };
            let out = session::decrypt_prekey(
                &self.record,
                &self.identity,
                &msg,
                keys,
                None,
                &mut self.rng,
            )
            .expect("decrypt pkmsg from node");
            if let Some(id) = out.consumed_pre_key_id {
                self.one_time.retain(|k| k.id != id);
            }
            // Persist through the storage encoding, as the gateway does.
            let bytes = out.record.to_bytes();
            self.record = SessionRecord::from_bytes(&bytes).expect("record decodes");
            out.plaintext
        } else {
            let (record, pt) =
                session::decrypt(&self.record, body, &mut self.rng).expect("decrypt msg from node");
            self.record = SessionRecord::from_bytes(&record.to_bytes()).expect("record decodes");
            pt
        }
    }
}

fn node_encrypt(node: &mut NodePeer, party: &str, peer: &str, text: &[u8]) -> (String, Vec<u8>) {
    let r = node.call(
        "encrypt",
        json!({ "party": party, "peer": peer, "plaintext": hx(text) }),
    );
    (
        r["type"].as_str().expect("type").to_string(),
        unhex(&r["body"]),
    )
}

fn node_decrypt(node: &mut NodePeer, party: &str, peer: &str, enc: &(String, Vec<u8>)) -> Vec<u8> {
    let r = node.call(
        "decrypt",
        json!({ "party": party, "peer": peer, "type": enc.0, "body": hx(&enc.1) }),
    );
    unhex(&r["plaintext"])
}

#[test]
fn rust_builds_from_node_bundle_and_node_decrypts() {
    let mut node = NodePeer::start();
    let versions = node.call("versions", json!({}));
    assert_eq!(versions["libsignal"], "6.0.0");
    for with_pre_key in [true, false] {
        let party = if with_pre_key { "bob" } else { "bob-no-opk" };
        node.call("new_party", json!({ "party": party }));
        let bundle = node.call(
            "bundle",
            json!({ "party": party, "withPreKey": with_pre_key }),
        );
        let mut rust = RustDevice::new(1 + u64::from(with_pre_key));
        rust.process_node_bundle(&bundle);

        // Three pkmsgs before Node answers; delivered out of order.
        let sent: Vec<_> = (0..3)
            .map(|i| {
                let text = format!("rust pkmsg {i}").into_bytes();
                let enc = rust.encrypt(&text);
                assert_eq!(enc.0, "pkmsg");
                (text, enc)
            })
            .collect();
        for i in [1, 0, 2] {
            let (text, enc) = &sent[i];
            let pt = node_decrypt(&mut node, party, "rust", enc);
            assert_eq!(padding::unpad(&pt).expect("padding"), &text[..]);
        }
        let reply = node_encrypt(&mut node, party, "rust", b"node reply");
        assert_eq!(reply.0, "msg");
        assert_eq!(rust.decrypt(&reply.0, &reply.1), b"node reply");
        let after = rust.encrypt(b"after the answer");
        assert_eq!(after.0, "msg", "no more pkmsg once Node answered");
        let pt = node_decrypt(&mut node, party, "rust", &after);
        assert_eq!(padding::unpad(&pt).expect("padding"), b"after the answer");
    }
}

#[test]
fn node_builds_from_rust_bundle_and_rust_decrypts() {
    let mut node = NodePeer::start();
    for with_pre_key in [true, false] {
        let party = if with_pre_key {
            "alice"
        } else {
            "alice-no-opk"
        };
        node.call("new_party", json!({ "party": party }));
        let mut rust = RustDevice::new(10 + u64::from(with_pre_key));
        node.call(
            "process_bundle",
            json!({ "party": party, "peer": "rust", "bundle": rust.bundle_json(with_pre_key) }),
        );
        let first = node_encrypt(&mut node, party, "rust", b"hello from node");
        let second = node_encrypt(&mut node, party, "rust", b"second pkmsg");
        assert_eq!(first.0, "pkmsg");
        assert_eq!(second.0, "pkmsg");
        // The second arrives first; the first then reuses the session (known base key).
        assert_eq!(rust.decrypt(&second.0, &second.1), b"second pkmsg");
        let opks_left = rust.one_time.len();
        assert_eq!(rust.decrypt(&first.0, &first.1), b"hello from node");
        assert_eq!(rust.one_time.len(), opks_left, "no second X3DH");
        assert_eq!(rust.one_time.len(), if with_pre_key { 3 } else { 4 });

        let reply = rust.encrypt(b"rust reply");
        assert_eq!(reply.0, "msg");
        let pt = node_decrypt(&mut node, party, "rust", &reply);
        assert_eq!(padding::unpad(&pt).expect("padding"), b"rust reply");
        let next = node_encrypt(&mut node, party, "rust", b"node again");
        assert_eq!(next.0, "msg");
        assert_eq!(rust.decrypt(&next.0, &next.1), b"node again");
    }
}

/// 200 messages each way, in rounds of varying size so both sides ratchet many times, with
/// deliveries shuffled and some messages held back into later rounds (across ratchet steps).
#[test]
fn two_hundred_messages_each_way_out_of_order() {
    let mut node = NodePeer::start();
    node.call("new_party", json!({ "party": "carol" }));
    let bundle = node.call("bundle", json!({ "party": "carol", "withPreKey": true }));
    let mut rust = RustDevice::new(20);
    rust.process_node_bundle(&bundle);
    let mut rng = StdRng::seed_from_u64(21);

    // Queued messages: (round sent, plaintext, (enc type, bytes)).
    type Queue = Vec<(u32, Vec<u8>, (String, Vec<u8>))>;
    /// Shuffles the queue and returns what to deliver now: everything from earlier rounds
    /// plus all but up to three of this round's (held back across the next ratchet step).
    fn due(queue: &mut Queue, round: u32, last: bool, rng: &mut StdRng) -> Queue {
        queue.shuffle(rng);
        let mut keep = if last { 0 } else { rng.gen_range(0..=3usize) };
        let mut now = Vec::new();
        for item in std::mem::take(queue) {
            if item.0 == round && keep > 0 {
                keep -= 1;
                queue.push(item);
            } else {
                now.push(item);
            }
        }
        now
    }
    let mut to_node: Queue = Vec::new();
    let mut to_rust: Queue = Vec::new();
    let (mut sent_rust, mut sent_node) = (0usize, 0usize);
    let (mut got_rust, mut got_node) = (0usize, 0usize);
    let mut round = 0u32;
    while got_rust < 200 || got_node < 200 {
        round += 1;
        // Rust sends a batch (pkmsgs until Node's first answer arrives).
        let n = rng.gen_range(1..=25).min(200 - sent_rust);
        for _ in 0..n {
            let text = format!("r{sent_rust}").into_bytes();
            let enc = rust.encrypt(&text);
            to_node.push((round, text, enc));
            sent_rust += 1;
        }
        for (_, text, enc) in due(&mut to_node, round, sent_rust == 200, &mut rng) {
            let pt = node_decrypt(&mut node, "carol", "rust", &enc);
            assert_eq!(
                padding::unpad(&pt).expect("padding"),
                &text[..],
                "round {round}"
            );
            got_node += 1;
        }
        // Node answers once it has a session.
        if got_node > 0 {
            let m = rng.gen_range(1..=25).min(200 - sent_node);
            for _ in 0..m {
                let text = format!("n{sent_node}").into_bytes();
                let enc = node_encrypt(&mut node, "carol", "rust", &text);
                to_rust.push((round, text, enc));
                sent_node += 1;
            }
        }
        for (_, text, enc) in due(&mut to_rust, round, sent_node == 200, &mut rng) {
            assert_eq!(rust.decrypt(&enc.0, &enc.1), text, "round {round}");
            got_rust += 1;
        }
        assert!(round < 500, "no progress");
    }
    assert_eq!((sent_rust, sent_node), (200, 200));
    assert!(round > 10, "many ratchet rounds ({round})");
}

#[test]
fn sender_key_group_both_ways() {
    let mut node = NodePeer::start();
    node.call("new_party", json!({ "party": "dave" }));
    let mut rng = StdRng::seed_from_u64(30);
    let group = "120363000000000000@g.us";

    // Rust → Node: our SKDM, then messages delivered out of order.
    let (mut own, skdm) =
        sender_key::create_distribution(&SenderKeyRecord::new(), &mut rng).expect("create");
    node.call(
        "sk_process",
        json!({ "party": "dave", "group": group, "sender": "rust", "skdm": hx(&skdm.to_bytes()) }),
    );
    let mut sent = Vec::new();
    for i in 0..30 {
        let text = padding::pad(format!("rust group {i}").as_bytes(), &mut rng);
        let (next, ct) = sender_key::encrypt(&own, &text, &mut rng).expect("encrypt");
        own = next;
        sent.push((text, ct));
    }
    sent.shuffle(&mut rng);
    for (text, ct) in &sent {
        let r = node.call(
            "sk_decrypt",
            json!({ "party": "dave", "group": group, "sender": "rust", "ciphertext": hx(ct) }),
        );
        assert_eq!(&unhex(&r["plaintext"]), text);
    }

    // Node → Rust: Baileys' SKDM and messages (it uses iterations 0, 2, 4, …).
    let r = node.call("sk_create", json!({ "party": "dave", "group": group }));
    let skdm = SenderKeyDistributionMessage::parse(&unhex(&r["skdm"])).expect("parse skdm");
    let mut member = sender_key::process_distribution(&SenderKeyRecord::new(), &skdm);
    let mut received = Vec::new();
    for i in 0..30 {
        let text = format!("node group {i}").into_bytes();
        let r = node.call(
            "sk_encrypt",
            json!({ "party": "dave", "group": group, "plaintext": hx(&text) }),
        );
        received.push((text, unhex(&r["ciphertext"])));
    }
    received.shuffle(&mut rng);
    for (text, ct) in &received {
        let (next, pt) = sender_key::decrypt(&member, ct).expect("decrypt Baileys skmsg");
        assert_eq!(&pt, text);
        member = SenderKeyRecord::from_bytes(&next.to_bytes()).expect("record");
    }
    // A replay is refused.
    assert!(sender_key::decrypt(&member, &received[0].1)
        .expect_err("replay")
        .is_duplicate());

    // The SKDM also travels inside a pairwise message, as in a real group send.
    node.call("new_party", json!({ "party": "erin" }));
    let bundle = node.call("bundle", json!({ "party": "erin", "withPreKey": true }));
    let mut rust = RustDevice::new(31);
    rust.process_node_bundle(&bundle);
    let (_, skdm) = sender_key::create_distribution(&own, &mut rng).expect("skdm again");
    let enc = rust.encrypt(&skdm.to_bytes());
    let pt = node_decrypt(&mut node, "erin", "rust", &enc);
    let skdm_bytes = padding::unpad(&pt).expect("padding").to_vec();
    node.call(
        "sk_process",
        json!({ "party": "erin", "group": group, "sender": "rust", "skdm": hx(&skdm_bytes) }),
    );
    let (_, ct) = sender_key::encrypt(&own, b"to erin", &mut rng).expect("encrypt");
    let r = node.call(
        "sk_decrypt",
        json!({ "party": "erin", "group": group, "sender": "rust", "ciphertext": hx(&ct) }),
    );
    assert_eq!(unhex(&r["plaintext"]), b"to erin");
}

#[test]
fn xeddsa_cross_checked_with_libsignal_client() {
    let mut node = NodePeer::start();
    let mut rng = StdRng::seed_from_u64(40);
    let mut sign_bits = [0usize; 2];
    for i in 0..24u32 {
        let message = format!("message {i}").into_bytes();
        // Rust signs, libsignal-client and libsignal-node verify.
        let kp = KeyPair::generate(&mut rng);
        let sig = kp.private.sign(&message, &mut rng);
        sign_bits[usize::from(sig[63] >> 7)] += 1;
        let r = node.call(
            "xeddsa_verify",
            json!({
                "public": hx(&kp.public.to_djb()),
                "message": hx(&message),
                "signature": hx(&sig),
            }),
        );
        assert_eq!(
            (r["client"].clone(), r["node"].clone()),
            (json!(true), json!(true))
        );
        let mut other = message.clone();
        other.push(0);
        let r = node.call(
            "xeddsa_verify",
            json!({
                "public": hx(kp.public.as_bytes()),
                "message": hx(&other),
                "signature": hx(&sig),
            }),
        );
        assert_eq!(
            (r["client"].clone(), r["node"].clone()),
            (json!(false), json!(false))
        );

        // libsignal-client signs, Rust verifies.
        let k = node.call("xeddsa_keypair", json!({}));
        let public = djb(&k["public"]);
        let r = node.call(
            "xeddsa_sign",
            json!({ "private": k["private"], "message": hx(&message) }),
        );
        let sig = unhex(&r["signature"]);
        sign_bits[usize::from(sig[63] >> 7)] += 1;
        assert!(
            public.verify(&message, &sig),
            "libsignal-client signature verifies in Rust"
        );
        assert!(!public.verify(&other, &sig));
        // The private key from libsignal-client gives the same public key in Rust.
        let private: [u8; 32] = unhex(&k["private"]).try_into().expect("32 bytes");
        assert_eq!(KeyPair::from_private_bytes(private).public, public);
    }
    assert!(
        sign_bits[0] > 0 && sign_bits[1] > 0,
        "both sign-bit values exercised"
    );
}

/// Retry-receipt style recovery: each side starts a new session from a fresh bundle while
/// messages of the old one are still in flight; the archived states still decrypt them.
#[test]
fn session_restarts_both_ways_keep_late_messages() {
    let mut node = NodePeer::start();
    node.call("new_party", json!({ "party": "frank" }));
    let bundle = node.call("bundle", json!({ "party": "frank", "withPreKey": true }));
    let mut rust = RustDevice::new(50);
    rust.process_node_bundle(&bundle);
    let hello = rust.encrypt(b"hello");
    node_decrypt(&mut node, "frank", "rust", &hello);
    let answer = node_encrypt(&mut node, "frank", "rust", b"answer");
    assert_eq!(rust.decrypt(&answer.0, &answer.1), b"answer");

    // Node restarts from a new Rust bundle; one old-session message is still in flight.
    let late_from_node = node_encrypt(&mut node, "frank", "rust", b"late old session");
    node.call(
        "process_bundle",
        json!({ "party": "frank", "peer": "rust", "bundle": rust.bundle_json(true) }),
    );
    let fresh = node_encrypt(&mut node, "frank", "rust", b"new session");
    assert_eq!(fresh.0, "pkmsg");
    assert_eq!(rust.decrypt(&fresh.0, &fresh.1), b"new session");
    assert_eq!(rust.record.previous_states().count(), 1);
    assert_eq!(
        rust.decrypt(&late_from_node.0, &late_from_node.1),
        b"late old session"
    );
    // Rust answers on its current state, the newest session, which is Node's open session.
    let node_base = *PreKeySignalMessage::parse(&fresh.1)
        .expect("parse")
        .base_key();
    assert_eq!(rust.record.current().expect("state").base_key(), &node_base);
    let reply = rust.encrypt(b"reply");
    assert_eq!(reply.0, "msg");
    let pt = node_decrypt(&mut node, "frank", "rust", &reply);
    assert_eq!(padding::unpad(&pt).expect("padding"), b"reply");

    // Rust restarts from a new Node bundle right after a message of the old session. Node gets
    // them in order: libsignal-node cannot take them the other way round, because a failed
    // trial decrypt with its newest session keeps the ratchet step it started, which breaks
    // that session (libsignal-node 6.0.0 `decryptWithSessions`/`maybeStepRatchet`).
    let last_old = rust.encrypt(b"last of the old session");
    let bundle = node.call("bundle", json!({ "party": "frank", "withPreKey": true }));
    rust.process_node_bundle(&bundle);
    let fresh = rust.encrypt(b"rust new session");
    assert_eq!(fresh.0, "pkmsg");
    let pt = node_decrypt(&mut node, "frank", "rust", &last_old);
    assert_eq!(
        padding::unpad(&pt).expect("padding"),
        b"last of the old session"
    );
    let pt = node_decrypt(&mut node, "frank", "rust", &fresh);
    assert_eq!(padding::unpad(&pt).expect("padding"), b"rust new session");
    let answer = node_encrypt(&mut node, "frank", "rust", b"ok");
    assert_eq!(rust.decrypt(&answer.0, &answer.1), b"ok");
    let after = rust.encrypt(b"after");
    assert_eq!(after.0, "msg");
    let pt = node_decrypt(&mut node, "frank", "rust", &after);
    assert_eq!(padding::unpad(&pt).expect("padding"), b"after");
}

//! SledStore on disk: permissions, reopening, corrupt values, newer schemas, foreign files.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{account_id, device, rng, test_dir, CHAT};
use prost::Message;
use wa_protocol::signal::KeyPair;
use wa_store::{
    pb, Account, CorruptReason, DeviceIdentity, Durability, Error, Fault, NewOutbound, ReceivedKey,
    ReceivedMessage, SledStore, Store, StoreConfig, DEFAULT_DATA_DIR, SCHEMA_VERSION,
};

const D: Durability = Durability::Durable;

fn open(p: &Path) -> Result<SledStore, Error> {
    SledStore::open(&StoreConfig::at(p))
}

fn modes(dir: &Path, out: &mut Vec<(String, u32, bool)>) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let e = e.expect("entry");
        let m = e.metadata().expect("metadata");
        out.push((
            e.path().display().to_string(),
            m.permissions().mode() & 0o777,
            m.is_dir(),
        ));
        if m.is_dir() {
            modes(&e.path(), out);
        }
    }
}

#[test]
fn default_directory_is_wa_sessions() {
    assert_eq!(StoreConfig::default().path, Path::new(DEFAULT_DATA_DIR));
    assert_eq!(DEFAULT_DATA_DIR, "wa_sessions");
}

#[test]
fn files_are_private() {
    let t = test_dir("perm");
    let p = t.path().join("nested/wa_sessions");
    let s = open(&p).expect("open");
    s.save_session(&account_id(1), "a.0", b"x", D)
        .expect("save");
    s.restrict_permissions().expect("restrict");
    let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let mut all = Vec::new();
    modes(&p, &mut all);
    assert!(all.iter().any(|(n, _, _)| n.ends_with("/db")), "{all:?}");
    for (name, mode, is_dir) in &all {
        assert_eq!(*mode, if *is_dir { 0o700 } else { 0o600 }, "{name}");
    }
    let backup = t.path().join("b.wabk");
    s.export(None, &backup).expect("export");
    assert_eq!(
        std::fs::metadata(&backup)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn reopen_keeps_everything() {
    let t = test_dir("reopen");
    let p = t.path().join("s");
    let a = account_id(1);
    {
        let s = open(&p).expect("open");
        s.create_account(&Account::new(a, "n", "tok", 1), D)
            .expect("create");
        s.save_device(&a, &device(1), D).expect("device");
        s.add_prekeys(&a, 812, &mut rng(1), D).expect("prekeys");
        s.enqueue(
            &a,
            &NewOutbound {
                message_id: "m",
                chat: &CHAT,
                payload: b"p",
                now_ms: 1,
            },
            D,
        )
        .expect("enqueue");
    }
    let s = open(&p).expect("reopen");
    assert_eq!(s.device(&a).expect("device"), Some(device(1)));
    assert_eq!(
        s.account_by_token("tok").expect("token").map(|x| x.id),
        Some(a)
    );
    assert_eq!(s.prekey_counts(&a).expect("counts").total, 812);
    assert_eq!(s.outbox_due(&a, 1, 10).expect("due").len(), 1);
    let report = s.check().expect("check");
    assert!(report.is_ok());
    assert_eq!(report.records(), 1 + 1 + 1 + 1 + 812 + 1 + 1 + 1);
}

#[test]
fn second_open_is_locked_not_corrupt() {
    let t = test_dir("lock");
    let _s = open(&t.path().join("s")).expect("open");
    let err = open(&t.path().join("s")).expect_err("second open");
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(err.is_transient());
    assert_eq!(err.fault(), Fault::Storage);
}

/// Writes raw bytes into a tree, bypassing the store (as disk damage or a foreign tool would).
fn poke(p: &Path, tree: &str, key: &[u8], value: &[u8]) {
    let db = sled::open(p).expect("raw open");
    db.open_tree(tree)
        .expect("tree")
        .insert(key, value)
        .expect("insert");
    db.flush().expect("flush");
}

#[test]
fn corrupt_values_name_tree_and_key() {
    let t = test_dir("corrupt");
    let p = t.path().join("s");
    let (a, b) = (account_id(1), account_id(2));
    {
        let s = open(&p).expect("open");
        s.save_session(&a, "peer.0", b"good", D).expect("save");
        s.save_session(&b, "peer.0", b"good", D).expect("save");
        s.save_device(&a, &device(1), D).expect("device");
    }
    let mut key = a.as_bytes().to_vec();
    key.extend_from_slice(b"peer.0");
    type Expect = fn(&CorruptReason) -> bool;
    let cases: [(&[u8], Expect); 4] = [
        (b"", |r| *r == CorruptReason::Empty),
        (&[9, 1, 2], |r| *r == CorruptReason::UnknownVersion(9)),
        (&[1, 0x0a, 0x20, 1], |r| {
            matches!(r, CorruptReason::Protobuf(_))
        }),
        (&[1, 0xff, 0xff, 0xff], |r| {
            matches!(r, CorruptReason::Protobuf(_))
        }),
    ];
    for (value, expect) in cases {
        poke(&p, "sessions", &key, value);
        let s = open(&p).expect("open with a corrupt value");
        match s.load_session(&a, "peer.0") {
            Err(Error::Corrupt {
                tree,
                key: k,
                reason,
            }) => {
                assert_eq!(tree, "sessions");
                assert_eq!(k, hex::encode(&key));
                assert!(expect(&reason), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        // Other records are unaffected and check() lists exactly the bad one.
        assert_eq!(
            s.load_session(&b, "peer.0").expect("other"),
            Some(b"good".to_vec())
        );
        let report = s.check().expect("check");
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        let msg = report.problems[0].to_string();
        assert!(
            msg.contains("sessions") && msg.contains(&hex::encode(&key)),
            "{msg}"
        );
        assert_eq!(report.problems[0].fault(), Fault::Data);
    }
    // A truncated device identity (key material cut short) is caught by field checks.
    let raw = {
        let db = sled::open(&p).expect("raw");
        let v = db
            .open_tree("devices")
            .expect("tree")
            .get(a.as_bytes())
            .expect("get")
            .expect("present");
        v.to_vec()
    };
    for cut in [1, 10, raw.len() / 2, raw.len() - 1] {
        poke(&p, "devices", a.as_bytes(), &raw[..cut]);
        let s = open(&p).expect("open");
        let err = s.device(&a).expect_err("truncated device");
        assert!(
            matches!(
                err,
                Error::Corrupt {
                    tree: "devices",
                    ..
                }
            ),
            "{err}"
        );
    }
    // A flipped public key no longer matches its private key.
    let mut flipped = raw.clone();
    let pos = raw.len() / 3;
    flipped[pos] ^= 0x01;
    poke(&p, "devices", a.as_bytes(), &flipped);
    let s = open(&p).expect("open");
    assert!(s.device(&a).is_err() || s.device(&a).expect("d") != Some(device(1)));
    // Garbage keys are reported too.
    drop(s);
    poke(&p, "prekeys", b"short", &[1]);
    let s = open(&p).expect("open");
    let report = s.check().expect("check");
    assert!(report.problems.iter().any(|e| matches!(
        e,
        Error::Corrupt {
            tree: "prekeys",
            reason: CorruptReason::BadKey,
            ..
        }
    )));
}

#[test]
fn newer_schema_is_refused() {
    let t = test_dir("newer");
    let p = t.path().join("s");
    drop(open(&p).expect("create"));
    // SchemaInfo { schema_version: 99 }
    poke(&p, "meta", b"schema", &[1, 0x08, 99]);
    let err = open(&p).expect_err("newer schema");
    match &err {
        Error::NewerSchema {
            found: 99,
            supported,
            ..
        } if *supported == SCHEMA_VERSION => {}
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    assert!(err.to_string().contains("upgrade"), "{err}");
    assert_eq!(err.fault(), Fault::Data);
    // A garbage schema record is corrupt, not silently rewritten.
    poke(&p, "meta", b"schema", &[7]);
    assert!(matches!(open(&p), Err(Error::Corrupt { tree: "meta", .. })));
}

fn key_pair_pb(k: &KeyPair) -> Option<pb::KeyPair> {
    Some(pb::KeyPair {
        private_key: k.private.to_bytes().to_vec(),
        public_key: k.public.as_bytes().to_vec(),
    })
}

/// A device identity record as schema-1 builds wrote it: version byte 1, one name for both the
/// push name and the business name, JIDs as text.
fn device_record_v1(d: &DeviceIdentity, jid: &str, lid: &str, name: &str) -> Vec<u8> {
    let m = pb::DeviceIdentity {
        noise_key: key_pair_pb(&d.noise_key),
        identity_key: key_pair_pb(&d.identity_key),
        registration_id: d.registration_id,
        signed_prekey: Some(pb::SignedPreKey {
            id: d.signed_prekey.id,
            key_pair: key_pair_pb(&d.signed_prekey.key_pair),
            signature: d.signed_prekey.signature.to_vec(),
            timestamp_ms: d.signed_prekey.timestamp_ms,
        }),
        adv_secret: d.adv_secret.expose().to_vec(),
        jid: jid.into(),
        lid: lid.into(),
        platform: d.platform.clone(),
        push_name: name.into(),
        adv_signed_identity: d.adv_signed_identity.clone().unwrap_or_default(),
        client_version: Some(pb::ClientVersion {
            primary: d.client_version.primary,
            secondary: d.client_version.secondary,
            tertiary: d.client_version.tertiary,
        }),
        business_name: None,
        lid_migrated: false,
    };
    let mut v = vec![1];
    v.extend(m.encode_to_vec());
    v
}

#[test]
fn schema_1_device_records_still_load() {
    let t = test_dir("schema1");
    let p = t.path().join("s");
    let (paired, unpaired) = (account_id(1), account_id(2));
    drop(open(&p).expect("create"));
    let d = device(1);
    // SchemaInfo { schema_version: 1 }
    poke(&p, "meta", b"schema", &[1, 0x08, 1]);
    let jid = "15550001111:3@s.whatsapp.net";
    let lid = "123456789:3@lid";
    poke(
        &p,
        "devices",
        paired.as_bytes(),
        &device_record_v1(&d, jid, lid, "Shop"),
    );
    poke(
        &p,
        "devices",
        unpaired.as_bytes(),
        &device_record_v1(&d, "", "", "Me"),
    );
    let s = open(&p).expect("open a schema-1 store");
    // Paired: the one name was what the protocol got as the business name.
    let mut want = device(1);
    want.push_name = String::new();
    want.business_name = Some("Shop".into());
    // Written before the LID-migration flag existed: not migrated.
    want.lid_migrated = false;
    assert_eq!(s.device(&paired).expect("paired"), Some(want.clone()));
    // Unpaired: it could only be our push name.
    let mut want_unpaired = device(1);
    want_unpaired.jid = None;
    want_unpaired.lid = None;
    want_unpaired.push_name = "Me".into();
    want_unpaired.business_name = None;
    want_unpaired.lid_migrated = false;
    assert_eq!(s.device(&unpaired).expect("unpaired"), Some(want_unpaired));
    assert!(s.check().expect("check").is_ok());
    // Saved again, the record takes the current format and reads back the same.
    s.save_device(&paired, &want, D).expect("save");
    assert_eq!(s.device(&paired).expect("paired"), Some(want));
    drop(s);
    // The store is marked with the current schema, so older builds refuse it.
    let db = sled::open(&p).expect("raw open");
    let raw = db
        .open_tree("meta")
        .expect("meta")
        .get(b"schema")
        .expect("get")
        .expect("schema record");
    let info = pb::SchemaInfo::decode(&raw[1..]).expect("schema info");
    assert_eq!(info.schema_version, SCHEMA_VERSION);
    let raw = db
        .open_tree("devices")
        .expect("devices")
        .get(paired.as_bytes())
        .expect("get")
        .expect("device record");
    assert_eq!(raw[0], 2, "device records are written in format 2");
}

#[test]
fn foreign_directories_are_refused() {
    let t = test_dir("foreign");
    // A plain file.
    std::fs::write(t.path().join("file"), b"hello").expect("write");
    assert!(matches!(
        open(&t.path().join("file")),
        Err(Error::Foreign { .. })
    ));
    // A directory with other files in it.
    std::fs::create_dir(t.path().join("photos")).expect("mkdir");
    std::fs::write(t.path().join("photos/cat.jpg"), b"jpg").expect("write");
    assert!(matches!(
        open(&t.path().join("photos")),
        Err(Error::Foreign { .. })
    ));
    assert!(!t.path().join("photos/db").exists(), "nothing was created");
    // Someone else's sled database.
    {
        let db = sled::open(t.path().join("other")).expect("sled");
        db.open_tree("users")
            .expect("tree")
            .insert(b"k", b"v")
            .expect("insert");
        db.flush().expect("flush");
    }
    assert!(matches!(
        open(&t.path().join("other")),
        Err(Error::Foreign { .. })
    ));
    // A store with records but no schema record.
    let p = t.path().join("noschema");
    drop(open(&p).expect("create"));
    poke(&p, "sessions", &[0u8; 20], &[1]);
    {
        let db = sled::open(&p).expect("raw");
        db.open_tree("meta")
            .expect("meta")
            .remove(b"schema")
            .expect("remove");
        db.flush().expect("flush");
    }
    assert!(matches!(open(&p), Err(Error::Foreign { .. })));
}

#[test]
fn garbage_engine_files_give_errors_not_panics() {
    let t = test_dir("garbage");
    for (name, conf, db) in [
        ("a", &b"garbage config"[..], &b"\x00\x01garbage"[..]),
        ("b", &b""[..], &[0xffu8; 4096][..]),
    ] {
        let p = t.path().join(name);
        std::fs::create_dir(&p).expect("mkdir");
        std::fs::write(p.join("conf"), conf).expect("conf");
        std::fs::write(p.join("db"), db).expect("db");
        let r = std::panic::catch_unwind(|| open(&p).map(|_| ()));
        match r {
            Ok(Err(e)) => assert_ne!(e.fault(), Fault::Caller, "{e}"),
            Ok(Ok(())) => panic!("garbage {name} opened as a store"),
            Err(_) => panic!("sled panicked on garbage {name}"),
        }
    }
}

/// Size of the newest write-ahead log segment in `dir`.
fn newest_segment_len(dir: &Path) -> u64 {
    let mut segs: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("wal."))
        })
        .collect();
    segs.sort();
    std::fs::metadata(segs.last().expect("a segment"))
        .expect("metadata")
        .len()
}

#[test]
fn a_session_advanced_by_one_step_is_logged_as_a_patch() {
    let dir = test_dir("patch");
    let path = dir.path().join("wa_sessions");
    let a = account_id(1);
    let base: Vec<u8> = (0..1200u32).map(|i| (i * 13 % 256) as u8).collect();
    let mut next = base.clone();
    next[600..640].copy_from_slice(&[0xEE; 40]);
    {
        let config = StoreConfig {
            flush_every_ms: None,
            ..StoreConfig::at(&path)
        };
        let s = SledStore::open(&config).expect("open");
        s.save_session(&a, "15550001111.0", &base, D).expect("save");
        let before = newest_segment_len(&path);
        s.save_session(&a, "15550001111.0", &next, D).expect("save");
        let grew = newest_segment_len(&path) - before;
        assert!(
            grew < 150,
            "second save logged {grew} bytes for a 40-byte change"
        );
    }
    let s = open(&path).expect("reopen");
    assert_eq!(
        s.load_session(&a, "15550001111.0").expect("load"),
        Some(next)
    );
}

#[test]
fn removing_an_entry_that_reached_sled_survives_reopen() {
    let dir = test_dir("rmreopen");
    let path = dir.path().join("wa_sessions");
    let a = account_id(2);
    let m = NewOutbound {
        message_id: "3EB0DDDD",
        chat: &CHAT,
        payload: b"x",
        now_ms: 5,
    };
    {
        let s = open(&path).expect("open");
        s.enqueue(&a, &m, D).expect("enqueue");
    } // closing checkpoints the entry into sled
    {
        let s = open(&path).expect("reopen");
        assert!(s.outbox_entry(&a, "3EB0DDDD").expect("read").is_some());
        assert!(s.remove_outbox(&a, "3EB0DDDD", D).expect("remove"));
    }
    let s = open(&path).expect("reopen");
    assert_eq!(s.outbox_entry(&a, "3EB0DDDD").expect("read"), None);
    assert!(s.outbox_due(&a, u64::MAX, 10).expect("due").is_empty());
    assert!(s.check().expect("check").is_ok());
}

#[test]
fn a_log_of_cancelled_writes_still_rotates() {
    // Entries created and removed within one interval never reach the overlay's checkpoint,
    // but their records fill the log segment: the segment must still be cut and dropped.
    let dir = test_dir("cancelled");
    let path = dir.path().join("wa_sessions");
    let config = StoreConfig {
        flush_every_ms: Some(2),
        ..StoreConfig::at(&path)
    };
    let s = SledStore::open(&config).expect("open");
    let a = account_id(3);
    for i in 0..300u32 {
        let id = format!("3EB0{i:08X}");
        let m = NewOutbound {
            message_id: &id,
            chat: &CHAT,
            payload: &[7; 200],
            now_ms: 1,
        };
        s.enqueue(&a, &m, Durability::Buffered).expect("enqueue");
        assert!(s.remove_outbox(&a, &id, D).expect("remove"));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while newest_segment_len(&path) > 64 {
        assert!(
            std::time::Instant::now() < deadline,
            "the log segment was never rotated"
        );
        std::thread::park_timeout(std::time::Duration::from_millis(2));
    }
    assert!(s.outbox_entries(&a).expect("entries").is_empty());
    let segments = std::fs::read_dir(&path)
        .expect("read_dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("wal."))
        })
        .count();
    assert!(segments <= 2, "{segments} log segments kept");
}

#[test]
fn a_failing_log_refuses_writes_and_loses_nothing_acknowledged() {
    // The next log segment is made a symlink to /dev/full: when the checkpointer rotates, the
    // segment cannot be created (ENOSPC), the log is poisoned, and every later write and
    // durable wait fails with the cause. What was acknowledged before stays.
    assert!(
        Path::new("/dev/full").exists(),
        "this test needs /dev/full (writes fail with ENOSPC)"
    );
    let dir = test_dir("logfail");
    let path = dir.path().join("wa_sessions");
    let config = StoreConfig {
        flush_every_ms: Some(2000),
        ..StoreConfig::at(&path)
    };
    let s = SledStore::open(&config).expect("open");
    let current = std::fs::read_dir(&path)
        .expect("read_dir")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_string_lossy()
                .strip_prefix("wal.")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .expect("a segment");
    let next = path.join(format!("wal.{:020}", current + 1));
    std::os::unix::fs::symlink("/dev/full", &next).expect("symlink");
    let a = account_id(4);
    s.save_session(&a, "acked.0", b"acknowledged", D)
        .expect("durable before the failure");
    s.save_session(&a, "pending.0", b"pending", Durability::Buffered)
        .expect("buffered before the failure");
    let pending = s.durable();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let err = loop {
        match s.save_session(&a, "probe.0", b"probe", Durability::Buffered) {
            Err(e) => break e,
            Ok(()) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the failed rotation never poisoned the log"
                );
                std::thread::park_timeout(std::time::Duration::from_millis(5));
            }
        }
    };
    assert!(
        matches!(&err, Error::FlushFailed { cause } if cause.to_string().contains("wal.")),
        "{err:?}"
    );
    assert_eq!(err.fault(), Fault::Storage);
    // Not acknowledged: the waiter hears of the failure instead.
    assert!(matches!(pending.wait(), Err(Error::FlushFailed { .. })));
    assert!(matches!(
        s.save_session(&a, "after.0", b"x", D),
        Err(Error::FlushFailed { .. })
    ));
    drop(s);

    std::fs::remove_file(&next).expect("remove symlink");
    let s = open(&path).expect("reopen after the failure");
    assert_eq!(
        s.load_session(&a, "acked.0").expect("load").as_deref(),
        Some(b"acknowledged".as_slice())
    );
    assert_eq!(s.load_session(&a, "after.0").expect("load"), None);
    assert!(s.check().expect("check").is_ok());
}

/// Every entry of a raw sled tree.
fn raw_entries(p: &Path, tree: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = sled::open(p).expect("raw open");
    let t = db.open_tree(tree).expect("tree");
    t.iter()
        .map(|e| {
            let (k, v) = e.expect("entry");
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

fn remove_raw(p: &Path, tree: &str, key: &[u8]) {
    let db = sled::open(p).expect("raw open");
    db.open_tree(tree)
        .expect("tree")
        .remove(key)
        .expect("remove");
    db.flush().expect("flush");
}

/// The schema-3 trees refuse damaged records loudly (reads and `check` name tree and key), and
/// `check` finds records that disagree with their paired tree.
#[test]
fn messaging_records_refuse_corruption() {
    let t = test_dir("corrupt-msg");
    let p = t.path().join("s");
    let a = account_id(1);
    {
        let s = open(&p).expect("open");
        let m = NewOutbound {
            message_id: "M",
            chat: &CHAT,
            payload: b"m",
            now_ms: 1,
        };
        s.enqueue(&a, &m, D).expect("enqueue");
        common::populate_messaging(&s, 1);
        s.flush().expect("flush");
        assert!(s.check().expect("check").is_ok());
    }
    let (pn, lid) = common::contact();
    let in1 = ReceivedKey {
        chat: &lid,
        sender: &lid,
        id: "IN1",
    };
    let other = ReceivedMessage {
        key: ReceivedKey { id: "IN2", ..in1 },
        t: 1,
        sessions: &[],
        prekey_id: None,
        identity: None,
        sender_keys: &[],
        report: None,
        now_ms: 1,
    };
    let trees = [
        "device_lists",
        "lid_by_pn",
        "pn_by_lid",
        "privacy_tokens",
        "tokens_issued",
        "received",
        "received_order",
        "received_meta",
        "pending_reports",
    ];
    for tree in trees {
        let entries = raw_entries(&p, tree);
        assert_eq!(entries.len(), 1, "{tree}");
        let (key, good) = entries[0].clone();
        poke(&p, tree, &key, &[1, 0xff, 0xff, 0xff]);
        let s = open(&p).expect("open with a corrupt value");
        let read = match tree {
            "device_lists" => s.device_list(&a, &lid).map(|_| ()),
            "lid_by_pn" => s.lid_for_pn(&a, &pn).map(|_| ()),
            "pn_by_lid" => s.pn_for_lid(&a, &lid).map(|_| ()),
            "privacy_tokens" => s.privacy_token(&a, &lid).map(|_| ()),
            "tokens_issued" => s.token_issued(&a, &lid).map(|_| ()),
            "received" => s.is_received(&a, &in1).map(|_| ()),
            "received_order" => s.expire_received(&a, u64::MAX, D).map(|_| ()),
            "pending_reports" => s.pending_reports(&a, 10).map(|_| ()),
            _ => s.commit_received(&a, &other, D).map(|_| ()),
        };
        assert!(
            matches!(read, Err(Error::Corrupt { .. })),
            "{tree}: {read:?}"
        );
        let report = s.check().expect("check");
        assert!(
            report.problems.iter().any(|e| matches!(
                e,
                Error::Corrupt { tree: t, key: k, .. } if *t == tree && *k == hex::encode(&key)
            )),
            "{tree}: {:?}",
            report.problems
        );
        drop(s);
        poke(&p, tree, &key, &good);
    }
    // A mapping whose reverse entry is gone, and a dedup entry without its order entry.
    for tree in ["pn_by_lid", "received_order"] {
        let (key, _) = raw_entries(&p, tree).remove(0);
        remove_raw(&p, tree, &key);
    }
    // A delivered outbox entry without its receipt time.
    let (okey, oval) = raw_entries(&p, "outbox").remove(0);
    let mut e = pb::OutboxEntry::decode(&oval[1..]).expect("outbox record");
    e.status = pb::OutboxStatus::Delivered as i32;
    e.delivered_t = None;
    let mut bad = vec![1];
    bad.extend_from_slice(&e.encode_to_vec());
    poke(&p, "outbox", &okey, &bad);
    let s = open(&p).expect("open");
    let report = s.check().expect("check");
    let has = |tree: &str, want: fn(&CorruptReason) -> bool| {
        report.problems.iter().any(
            |e| matches!(e, Error::Corrupt { tree: t, reason, .. } if *t == tree && want(reason)),
        )
    };
    assert!(has("lid_by_pn", |r| matches!(
        r,
        CorruptReason::Inconsistent(_)
    )));
    assert!(has("received", |r| matches!(
        r,
        CorruptReason::Inconsistent(_)
    )));
    assert!(has("outbox", |r| *r == CorruptReason::BadField("status time")));
    assert_eq!(report.problems.len(), 3, "{:?}", report.problems);
    assert!(matches!(
        s.message_status(&a, "M"),
        Err(Error::Corrupt { tree: "outbox", .. })
    ));
}

/// A schema-2 store (outbox entries without status times, no schema-3 trees) opens, reads its
/// outbox with the new statuses, takes messaging records, and is marked schema 3.
#[test]
fn schema_2_stores_open_and_are_marked_3() {
    let t = test_dir("schema2");
    let p = t.path().join("s");
    let a = account_id(1);
    // An outbox entry exactly as schema 2 wrote it: version 1, fields 1..=8 only.
    let entry = pb::OutboxEntry {
        message_id: "OLD".into(),
        chat: CHAT.to_string(),
        payload: b"p".to_vec(),
        status: pb::OutboxStatus::Acked as i32,
        attempts: 1,
        next_attempt_ms: 5,
        created_ms: 5,
        updated_ms: 6,
        server_t: None,
        delivered_t: None,
        read_t: None,
        fail_code: None,
    };
    let mut value = vec![1];
    value.extend_from_slice(&entry.encode_to_vec());
    {
        let s = open(&p).expect("open");
        s.flush().expect("flush");
    }
    let mut key = a.as_bytes().to_vec();
    key.extend_from_slice(b"OLD");
    poke(&p, "outbox", &key, &value);
    // SchemaInfo { schema_version: 2 }
    poke(&p, "meta", b"schema", &[1, 0x08, 2]);
    let s = open(&p).expect("open a schema-2 store");
    assert_eq!(
        s.message_status(&a, "OLD").expect("status"),
        Some(wa_store::MessageStatus::Sent { server_t: None })
    );
    let ev = wa_store::StatusEvent::Read { t: 9 };
    s.record_status(&a, "OLD", ev, 7, D).expect("read");
    assert!(s.check().expect("check").is_ok());
    drop(s);
    let db = sled::open(&p).expect("raw open");
    let raw = db
        .open_tree("meta")
        .expect("meta")
        .get(b"schema")
        .expect("get")
        .expect("schema record");
    let info = pb::SchemaInfo::decode(&raw[1..]).expect("schema info");
    assert_eq!((info.schema_version, SCHEMA_VERSION), (3, 3));
}

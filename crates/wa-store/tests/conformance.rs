//! The conformance suite: every test is a generic function over `Store`, run against both
//! backends by the `conformance!` macro at the bottom.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::{account_id, device, jid, mem, rng, sled, test_dir, CHAT};
use proptest::prelude::*;
use wa_protocol::signal::KeyPair;
use wa_store::{
    Account, BackupProblem, Durability, Enqueued, Error, IdentityChange, IncomingSession,
    MediaDelivery, MemStore, NewOutbound, OutboxStatus, OutboxUpdate, Secret, SendStep,
    SenderKeyUpdate, SessionUpdate, Store,
};

const B: Durability = Durability::Buffered;
const D: Durability = Durability::Durable;

fn account(n: u8, token: &str) -> Account {
    let mut a = Account::new(account_id(n), format!("acct{n}"), token, 1000);
    a.webhook = "https://example.invalid/hook".into();
    a.events = vec!["Message".into(), "ReadReceipt".into()];
    a.proxy.enabled = true;
    a.proxy.url = "socks5://127.0.0.1:1080".into();
    a.s3.enabled = true;
    a.s3.bucket = "media".into();
    a.s3.secret_key = Secret::new("s3-secret-value".into());
    a.s3.media_delivery = MediaDelivery::Both;
    a.hmac_key = Some(Secret::new(b"0123456789abcdef0123456789abcdef".to_vec()));
    a.history = 50;
    a.autostart = true;
    a.expiration = 42;
    a.jid = Some(jid("15550001111:3@s.whatsapp.net"));
    a.os_name = "Mac OS 10".into();
    a
}

fn msg<'a>(id: &'a str, payload: &'a [u8], now: u64) -> NewOutbound<'a> {
    NewOutbound {
        message_id: id,
        chat: &CHAT,
        payload,
        now_ms: now,
    }
}

// ----- round trips -----

fn device_roundtrip(s: &dyn Store) {
    let a = account_id(1);
    assert!(s.device(&a).expect("device").is_none());
    let d = device(1);
    s.save_device(&a, &d, D).expect("save");
    assert_eq!(s.device(&a).expect("device"), Some(d.clone()));
    let mut d2 = device(2);
    d2.jid = None;
    d2.lid = None;
    d2.adv_signed_identity = None;
    s.save_device(&a, &d2, B).expect("replace");
    assert_eq!(s.device(&a).expect("device"), Some(d2.clone()));
    // A second read (the decoded record is remembered by its bytes) gives the same, and a
    // replaced record is read anew.
    assert_eq!(s.device(&a).expect("device"), Some(d2));
    s.save_device(&a, &d, B).expect("replace again");
    assert_eq!(s.device(&a).expect("device"), Some(d));
}

fn identity_tofu(s: &dyn Store) {
    let a = account_id(1);
    let k1 = KeyPair::generate(&mut rng(1)).public;
    let k2 = KeyPair::generate(&mut rng(2)).public;
    let addr = "15550002222.0";
    assert_eq!(s.identity(&a, addr).expect("get"), None);
    assert_eq!(
        s.save_identity(&a, addr, &k1, B).expect("save"),
        IdentityChange::New
    );
    assert_eq!(
        s.save_identity(&a, addr, &k1, B).expect("save"),
        IdentityChange::Unchanged
    );
    assert_eq!(
        s.save_identity(&a, addr, &k2, D).expect("save"),
        IdentityChange::Changed { previous: k1 }
    );
    assert_eq!(s.identity(&a, addr).expect("get"), Some(k2));
    assert_eq!(s.identity(&account_id(2), addr).expect("get"), None);
}

fn sessions_byte_exact(s: &dyn Store) {
    let a = account_id(1);
    let records: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        (0..=255u8).collect(),
        (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect(),
    ];
    for (i, r) in records.iter().enumerate() {
        let addr = format!("1555000{i}.1");
        s.save_session(&a, &addr, r, B).expect("save");
    }
    for (i, r) in records.iter().enumerate() {
        let addr = format!("1555000{i}.1");
        assert_eq!(s.load_session(&a, &addr).expect("load").as_ref(), Some(r));
    }
    assert_eq!(s.session_addresses(&a).expect("list").len(), records.len());
    s.delete_session(&a, "15550000.1", D).expect("delete");
    assert_eq!(s.load_session(&a, "15550000.1").expect("load"), None);
    assert_eq!(
        s.load_session(&account_id(2), "15550001.1").expect("load"),
        None
    );
    assert!(matches!(
        s.save_session(&a, "", b"x", B),
        Err(Error::InvalidInput { .. })
    ));
}

fn sender_keys(s: &dyn Store) {
    let a = account_id(1);
    // (group, sender) pairs whose concatenations collide must stay distinct.
    s.save_sender_key(&a, "ab", "c", b"one", B).expect("save");
    s.save_sender_key(&a, "a", "bc", b"two", B).expect("save");
    assert_eq!(
        s.load_sender_key(&a, "ab", "c").expect("load"),
        Some(b"one".to_vec())
    );
    assert_eq!(
        s.load_sender_key(&a, "a", "bc").expect("load"),
        Some(b"two".to_vec())
    );
    s.delete_sender_key(&a, "ab", "c", D).expect("delete");
    assert_eq!(s.load_sender_key(&a, "ab", "c").expect("load"), None);
    assert_eq!(
        s.load_sender_key(&a, "a", "bc").expect("load"),
        Some(b"two".to_vec())
    );
}

fn prekeys_lifecycle(s: &dyn Store) {
    let a = account_id(1);
    let first = s.add_prekeys(&a, 812, &mut rng(5), D).expect("add");
    assert_eq!(first.len(), 812);
    let ids: Vec<u32> = first.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (1..=812).collect::<Vec<_>>());
    let more = s.add_prekeys(&a, 10, &mut rng(6), B).expect("add");
    assert_eq!(more[0].0, 813);
    let c = s.prekey_counts(&a).expect("counts");
    assert_eq!((c.total, c.uploaded), (822, 0));
    let up = s.prekeys_to_upload(&a, 30).expect("to upload");
    assert_eq!(up.len(), 30);
    let p = &up[0];
    assert_eq!(p.key_pair.private.public_key(), p.key_pair.public);
    assert_eq!(p.key_pair.public, first[0].1);
    let up_ids: Vec<u32> = up.iter().map(|p| p.id).collect();
    s.mark_prekeys_uploaded(&a, &up_ids, D).expect("mark");
    let c = s.prekey_counts(&a).expect("counts");
    assert_eq!((c.total, c.uploaded), (822, 30));
    assert_eq!(s.prekeys_to_upload(&a, 1).expect("next")[0].id, 31);
    assert!(
        s.load_prekey(&a, 1)
            .expect("load")
            .expect("present")
            .uploaded
    );
    s.remove_prekey(&a, 1, B).expect("remove");
    assert!(s.load_prekey(&a, 1).expect("load").is_none());
    assert_eq!(s.prekey_counts(&account_id(2)).expect("counts").total, 0);
}

fn signed_prekeys(s: &dyn Store) {
    let a = account_id(1);
    let spk = device(3).signed_prekey;
    s.save_signed_prekey(&a, &spk, D).expect("save");
    assert_eq!(
        s.load_signed_prekey(&a, spk.id).expect("load"),
        Some(spk.clone())
    );
    s.remove_signed_prekey(&a, spk.id, B).expect("remove");
    assert_eq!(s.load_signed_prekey(&a, spk.id).expect("load"), None);
}

fn incoming_commit_is_atomic(s: &dyn Store) {
    let a = account_id(1);
    s.add_prekeys(&a, 3, &mut rng(1), B).expect("add");
    let ik = KeyPair::generate(&mut rng(9)).public;
    let inc = IncomingSession {
        session: SessionUpdate {
            address: "15550003333.0",
            record: b"session-1",
        },
        prekey_id: Some(2),
        identity: Some(ik),
    };
    assert_eq!(
        s.commit_incoming(&a, &inc, D).expect("commit"),
        Some(IdentityChange::New)
    );
    assert!(s.load_prekey(&a, 2).expect("load").is_none());
    assert_eq!(
        s.load_session(&a, "15550003333.0").expect("load"),
        Some(b"session-1".to_vec())
    );
    assert_eq!(s.identity(&a, "15550003333.0").expect("identity"), Some(ik));
    // The same prekey again: refused, and nothing of the failed commit is written.
    let again = IncomingSession {
        session: SessionUpdate {
            address: "15550004444.0",
            record: b"session-2",
        },
        prekey_id: Some(2),
        identity: Some(ik),
    };
    assert!(matches!(
        s.commit_incoming(&a, &again, D),
        Err(Error::PreKeyNotFound { id: 2, .. })
    ));
    assert_eq!(s.load_session(&a, "15550004444.0").expect("load"), None);
    assert_eq!(s.identity(&a, "15550004444.0").expect("identity"), None);
    // Without a one-time prekey (signed-prekey-only pkmsg).
    let no_otk = IncomingSession {
        session: SessionUpdate {
            address: "15550004444.0",
            record: b"session-3",
        },
        prekey_id: None,
        identity: None,
    };
    assert_eq!(s.commit_incoming(&a, &no_otk, B).expect("commit"), None);
    assert_eq!(s.prekey_counts(&a).expect("counts").total, 2);
}

fn send_commit_is_atomic(s: &dyn Store) {
    let a = account_id(1);
    assert_eq!(
        s.enqueue(&a, &msg("M1", b"hello", 10), D).expect("enqueue"),
        Enqueued::Inserted
    );
    let sessions = [
        SessionUpdate {
            address: "15550002222.0",
            record: b"ratchet-a1",
        },
        SessionUpdate {
            address: "15550002222.1",
            record: b"ratchet-b1",
        },
    ];
    let step = SendStep {
        message_id: "M1",
        sessions: &sessions,
        sender_key: Some(SenderKeyUpdate {
            group: "120363000000000000@g.us",
            sender: "15550001111.3",
            record: b"skey-1",
        }),
        now_ms: 20,
    };
    s.commit_send(&a, &step, D).expect("commit");
    let e = s.outbox_entry(&a, "M1").expect("get").expect("present");
    assert_eq!(
        (e.status, e.attempts, e.updated_ms),
        (OutboxStatus::Sent, 1, 20)
    );
    assert_eq!(
        s.load_session(&a, "15550002222.1").expect("load"),
        Some(b"ratchet-b1".to_vec())
    );
    assert_eq!(
        s.load_sender_key(&a, "120363000000000000@g.us", "15550001111.3")
            .expect("load"),
        Some(b"skey-1".to_vec())
    );
    // Sending the same message twice is refused and changes nothing.
    let sessions2 = [SessionUpdate {
        address: "15550002222.0",
        record: b"ratchet-a2",
    }];
    let step2 = SendStep {
        message_id: "M1",
        sessions: &sessions2,
        sender_key: None,
        now_ms: 30,
    };
    assert!(matches!(
        s.commit_send(&a, &step2, D),
        Err(Error::InvalidTransition {
            from: OutboxStatus::Sent,
            to: OutboxStatus::Sent,
            ..
        })
    ));
    assert_eq!(
        s.load_session(&a, "15550002222.0").expect("load"),
        Some(b"ratchet-a1".to_vec())
    );
    assert!(matches!(
        s.commit_send(
            &a,
            &SendStep {
                message_id: "nope",
                ..step2
            },
            B
        ),
        Err(Error::OutboxNotFound { .. })
    ));
}

fn accounts_crud(s: &dyn Store) {
    let acc = account(1, "tok-1");
    s.create_account(&acc, D).expect("create");
    assert_eq!(s.account(&acc.id).expect("get"), Some(acc.clone()));
    assert_eq!(
        s.account_by_token("tok-1").expect("by token"),
        Some(acc.clone())
    );
    assert_eq!(s.account_by_token("tok-x").expect("by token"), None);
    assert_eq!(s.account_by_token("").expect("by token"), None);
    assert!(matches!(
        s.create_account(&acc, B),
        Err(Error::AccountExists(_))
    ));
    assert!(matches!(
        s.create_account(&account(2, "tok-1"), B),
        Err(Error::TokenTaken)
    ));
    s.create_account(&account(2, "tok-2"), B).expect("create 2");
    let mut changed = acc.clone();
    changed.token = Secret::new("tok-1b".into());
    changed.webhook = String::new();
    changed.events.clear();
    changed.hmac_key = None;
    changed.updated_ms = 2000;
    s.update_account(&changed, D).expect("update");
    assert_eq!(s.account_by_token("tok-1").expect("old token"), None);
    assert_eq!(
        s.account_by_token("tok-1b").expect("new token"),
        Some(changed.clone())
    );
    let mut steal = changed.clone();
    steal.token = Secret::new("tok-2".into());
    assert!(matches!(
        s.update_account(&steal, B),
        Err(Error::TokenTaken)
    ));
    assert!(matches!(
        s.update_account(&account(9, "tok-9"), B),
        Err(Error::AccountNotFound(_))
    ));
    let all = s.accounts().expect("list");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].id, acc.id);
    // Secrets stay out of Debug output.
    let dbg = format!("{:?} {:?}", acc, device(1));
    for secret in ["tok-1", "s3-secret-value", "0123456789abcdef", "0707070707"] {
        assert!(!dbg.contains(secret), "{secret} leaked in {dbg}");
    }
    let d = device(1);
    let private_hex = hex::encode(d.identity_key.private.to_bytes());
    assert!(!format!("{d:?}").contains(&private_hex));
}

fn outbox_lifecycle(s: &dyn Store) {
    let a = account_id(1);
    assert_eq!(
        s.enqueue(&a, &msg("B", b"b", 200), B).expect("enqueue"),
        Enqueued::Inserted
    );
    assert_eq!(
        s.enqueue(&a, &msg("A", b"a", 100), B).expect("enqueue"),
        Enqueued::Inserted
    );
    assert_eq!(
        s.enqueue(&a, &msg("C", b"c", 300), B).expect("enqueue"),
        Enqueued::Inserted
    );
    match s.enqueue(&a, &msg("A", b"a", 999), D).expect("again") {
        Enqueued::AlreadyPresent(e) => {
            assert_eq!((e.status, e.created_ms), (OutboxStatus::Queued, 100))
        }
        other => panic!("expected AlreadyPresent, got {other:?}"),
    }
    assert!(matches!(
        s.enqueue(&a, &msg("A", b"different", 999), B),
        Err(Error::OutboxConflict { .. })
    ));
    let due: Vec<String> = s
        .outbox_due(&a, 250, 10)
        .expect("due")
        .into_iter()
        .map(|e| e.message_id)
        .collect();
    assert_eq!(due, ["A", "B"]);
    assert_eq!(s.outbox_due(&a, 1000, 1).expect("due").len(), 1);
    let e = s
        .update_outbox(&a, "A", OutboxUpdate::Retry { at_ms: 500 }, 110, B)
        .expect("retry");
    assert_eq!((e.status, e.next_attempt_ms), (OutboxStatus::Queued, 500));
    let due: Vec<String> = s
        .outbox_due(&a, 400, 10)
        .expect("due")
        .into_iter()
        .map(|e| e.message_id)
        .collect();
    assert_eq!(due, ["B", "C"]);
    assert!(matches!(
        s.update_outbox(&a, "B", OutboxUpdate::Acked, 1, B),
        Err(Error::InvalidTransition {
            from: OutboxStatus::Queued,
            to: OutboxStatus::Acked,
            ..
        })
    ));
    s.commit_send(
        &a,
        &SendStep {
            message_id: "B",
            sessions: &[],
            sender_key: None,
            now_ms: 210,
        },
        D,
    )
    .expect("send");
    assert_eq!(
        s.update_outbox(&a, "B", OutboxUpdate::Acked, 220, D)
            .expect("ack")
            .status,
        OutboxStatus::Acked
    );
    assert!(matches!(
        s.update_outbox(&a, "B", OutboxUpdate::Failed, 1, B),
        Err(Error::InvalidTransition {
            from: OutboxStatus::Acked,
            ..
        })
    ));
    assert_eq!(
        s.update_outbox(&a, "C", OutboxUpdate::Failed, 310, B)
            .expect("fail")
            .status,
        OutboxStatus::Failed
    );
    let due: Vec<String> = s
        .outbox_due(&a, u64::MAX, 10)
        .expect("due")
        .into_iter()
        .map(|e| e.message_id)
        .collect();
    assert_eq!(due, ["A"]);
    assert_eq!(s.outbox_entries(&a).expect("all").len(), 3);
    assert!(s.remove_outbox(&a, "A", D).expect("remove"));
    assert!(!s.remove_outbox(&a, "A", D).expect("remove again"));
    assert!(s.outbox_due(&a, u64::MAX, 10).expect("due").is_empty());
    assert!(matches!(
        s.update_outbox(&a, "zzz", OutboxUpdate::Acked, 1, B),
        Err(Error::OutboxNotFound { .. })
    ));
    assert!(s.check().expect("check").is_ok());
}

/// Fills an account with one record of every kind; returns a fingerprint of everything readable.
fn populate(s: &dyn Store, n: u8) -> String {
    let a = account_id(n);
    s.create_account(&account(n, &format!("tok-{n}")), B)
        .expect("create");
    s.save_device(&a, &device(u64::from(n)), B).expect("device");
    s.save_identity(
        &a,
        "1555.0",
        &KeyPair::generate(&mut rng(u64::from(n))).public,
        B,
    )
    .expect("identity");
    s.save_session(&a, "1555.0", &[n; 40], B).expect("session");
    s.save_sender_key(&a, "g@g.us", "1555.0", &[n; 20], B)
        .expect("sender key");
    s.add_prekeys(&a, 5, &mut rng(u64::from(n)), B)
        .expect("prekeys");
    s.save_signed_prekey(&a, &device(u64::from(n) + 100).signed_prekey, B)
        .expect("spk");
    s.enqueue(&a, &msg("M", &[n], 5), B).expect("enqueue");
    common::populate_messaging(s, n);
    fingerprint(s, n)
}

fn fingerprint(s: &dyn Store, n: u8) -> String {
    let a = account_id(n);
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        s.account(&a)
            .expect("a")
            .map(|a| (a.name, a.token.expose().clone())),
        s.device(&a)
            .expect("d")
            .map(|d| d.identity_key.private.to_bytes()),
        s.identity(&a, "1555.0").expect("i"),
        s.load_session(&a, "1555.0").expect("s"),
        s.load_sender_key(&a, "g@g.us", "1555.0").expect("sk"),
        s.prekey_counts(&a).expect("p"),
        s.prekeys_to_upload(&a, 100)
            .expect("p")
            .iter()
            .map(|p| p.key_pair.private.to_bytes())
            .collect::<Vec<_>>(),
        s.load_signed_prekey(&a, 1)
            .expect("spk")
            .map(|k| k.signature),
        s.outbox_entries(&a).expect("o"),
    ) + &common::messaging_fingerprint(s, n)
}

fn logout_wipes_only_device_state(s: &dyn Store) {
    let before1 = populate(s, 1);
    let before2 = populate(s, 2);
    s.logout(&account_id(1), D).expect("logout");
    let a = account_id(1);
    assert!(s.device(&a).expect("d").is_none());
    assert!(s.identity(&a, "1555.0").expect("i").is_none());
    assert!(s.load_session(&a, "1555.0").expect("s").is_none());
    assert!(s
        .load_sender_key(&a, "g@g.us", "1555.0")
        .expect("sk")
        .is_none());
    assert_eq!(s.prekey_counts(&a).expect("p").total, 0);
    assert!(s.load_signed_prekey(&a, 1).expect("spk").is_none());
    // The account itself and its outbox remain; the other account is untouched.
    assert!(s.account_by_token("tok-1").expect("by token").is_some());
    assert_eq!(s.outbox_entries(&a).expect("o").len(), 1);
    assert_ne!(fingerprint(s, 1), before1);
    assert_eq!(fingerprint(s, 2), before2);
    // Prekey ids start over after logout (a new device registers fresh).
    assert_eq!(s.add_prekeys(&a, 1, &mut rng(1), B).expect("add")[0].0, 1);
    assert!(s.check().expect("check").is_ok());
}

fn delete_account_removes_everything(s: &dyn Store) {
    populate(s, 1);
    let before2 = populate(s, 2);
    s.delete_account(&account_id(1), D).expect("delete");
    assert!(s.account(&account_id(1)).expect("a").is_none());
    assert!(s.account_by_token("tok-1").expect("t").is_none());
    assert!(s.outbox_entries(&account_id(1)).expect("o").is_empty());
    assert!(s.device(&account_id(1)).expect("d").is_none());
    assert_eq!(fingerprint(s, 2), before2);
    assert!(matches!(
        s.delete_account(&account_id(1), B),
        Err(Error::AccountNotFound(_))
    ));
    // The token is free again.
    s.create_account(&account(3, "tok-1"), B)
        .expect("reuse token");
    let report = s.check().expect("check");
    assert!(report.is_ok(), "{:?}", report.problems);
}

fn backup_roundtrip(s: &dyn Store) {
    let dir = test_dir("backup");
    let f1 = populate(s, 1);
    let f2 = populate(s, 2);
    let file = dir.path().join("acct1.wabk");
    let sum = s.export(Some(&account_id(1)), &file).expect("export");
    assert_eq!(sum.accounts, vec![account_id(1)]);
    assert!(matches!(
        s.import(&file, D),
        Err(Error::Backup {
            problem: BackupProblem::AccountExists(_),
            ..
        })
    ));
    s.delete_account(&account_id(1), D).expect("delete");
    let imported = s.import(&file, D).expect("import");
    assert_eq!(imported, sum);
    assert_eq!(fingerprint(s, 1), f1);
    assert_eq!(fingerprint(s, 2), f2);
    assert!(s.check().expect("check").is_ok());

    // Whole store into the other backend kind.
    let all = dir.path().join("all.wabk");
    let sum = s.export(None, &all).expect("export all");
    assert_eq!(sum.accounts.len(), 2);
    let other = MemStore::new();
    other.import(&all, D).expect("import all");
    assert_eq!(fingerprint(&other, 1), f1);
    assert_eq!(fingerprint(&other, 2), f2);

    // Damaged backups are refused before anything is written.
    let bytes = std::fs::read(&all).expect("read");
    let damaged = dir.path().join("damaged.wabk");
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    std::fs::write(&damaged, &flipped).expect("write");
    let fresh = MemStore::new();
    assert!(matches!(
        fresh.import(&damaged, D),
        Err(Error::Backup { .. })
    ));
    std::fs::write(&damaged, &bytes[..bytes.len() - 10]).expect("write");
    assert!(matches!(
        fresh.import(&damaged, D),
        Err(Error::Backup { .. })
    ));
    std::fs::write(&damaged, b"garbage").expect("write");
    assert!(matches!(
        fresh.import(&damaged, D),
        Err(Error::Backup {
            problem: BackupProblem::NotABackup,
            ..
        })
    ));
    assert!(fresh.accounts().expect("accounts").is_empty());
}

// ----- concurrency -----

/// Many threads race to consume the same prekeys: each prekey is consumed exactly once, and
/// every session saved belongs to a winning commit.
fn concurrent_prekey_consumption(s: Arc<dyn Store>, threads: usize, prekeys: u32, durable: bool) {
    let a = account_id(7);
    s.add_prekeys(&a, prekeys, &mut rng(1), B).expect("add");
    let wins = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let s = s.clone();
            let wins = wins.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for id in 1..=prekeys {
                    let addr = format!("peer{t}.{id}");
                    let inc = IncomingSession {
                        session: SessionUpdate {
                            address: &addr,
                            record: addr.as_bytes(),
                        },
                        prekey_id: Some(id),
                        identity: None,
                    };
                    let d = if durable && id % 4 == 0 { D } else { B };
                    match s.commit_incoming(&a, &inc, d) {
                        Ok(_) => {
                            wins.fetch_add(1, Ordering::Relaxed);
                            mine.push(id);
                        }
                        Err(Error::PreKeyNotFound { .. }) => {}
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
                (t, mine)
            })
        })
        .collect();
    let mut consumed = HashSet::new();
    for h in handles {
        let (t, mine) = h.join().expect("thread");
        for id in mine {
            assert!(consumed.insert(id), "prekey {id} consumed twice");
            let addr = format!("peer{t}.{id}");
            assert_eq!(
                s.load_session(&a, &addr).expect("load"),
                Some(addr.into_bytes())
            );
        }
    }
    assert_eq!(consumed.len() as u32, prekeys);
    assert_eq!(wins.load(Ordering::Relaxed), prekeys);
    assert_eq!(s.prekey_counts(&a).expect("counts").total, 0);
    assert_eq!(
        s.session_addresses(&a).expect("sessions").len() as u32,
        prekeys
    );
}

/// Many threads race to send the same messages: each is committed exactly once.
fn concurrent_send(s: Arc<dyn Store>, threads: usize, messages: u32) {
    let a = account_id(8);
    for m in 0..messages {
        s.enqueue(&a, &msg(&format!("m{m}"), b"x", 1), B)
            .expect("enqueue");
    }
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut won = Vec::new();
                for m in 0..messages {
                    let id = format!("m{m}");
                    let rec = format!("{t}:{m}");
                    let sessions = [SessionUpdate {
                        address: "peer.0",
                        record: rec.as_bytes(),
                    }];
                    let step = SendStep {
                        message_id: &id,
                        sessions: &sessions,
                        sender_key: None,
                        now_ms: 2,
                    };
                    let d = if m % 8 == 0 { D } else { B };
                    match s.commit_send(&a, &step, d) {
                        Ok(()) => won.push(m),
                        Err(Error::InvalidTransition { .. }) => {}
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
                won
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().expect("thread"));
    }
    all.sort_unstable();
    assert_eq!(all, (0..messages).collect::<Vec<_>>());
    for e in s.outbox_entries(&a).expect("entries") {
        assert_eq!((e.status, e.attempts), (OutboxStatus::Sent, 1));
    }
    assert!(s.outbox_due(&a, u64::MAX, 1000).expect("due").is_empty());
}

/// Many threads create accounts sharing tokens: each token ends up with exactly one owner.
fn concurrent_token_claims(s: Arc<dyn Store>, threads: usize) {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let acc = account(100 + t as u8, &format!("shared-{}", t % 3));
                match s.create_account(&acc, B) {
                    Ok(()) => 1,
                    Err(Error::TokenTaken) => 0,
                    Err(e) => panic!("unexpected {e}"),
                }
            })
        })
        .collect();
    let created: u32 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert_eq!(created, 3.min(threads as u32));
    assert!(s.check().expect("check").is_ok());
}

/// Buffered writes, then `durable()`: blocking, as a future on a 2-worker runtime with many
/// tasks sharing syncs, and already-durable waits resolve at once.
fn durable_waits(s: Arc<dyn Store>) {
    let a = account_id(9);
    s.save_session(&a, "15550007777.0", b"first", B)
        .expect("save");
    s.durable().wait().expect("blocking wait");
    let w = s.durable();
    assert!(w.is_durable(), "nothing new was written");
    w.wait().expect("no-op wait");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tasks: Vec<_> = (0..200u32)
            .map(|t| {
                let s = s.clone();
                tokio::spawn(async move {
                    for i in 0..20u32 {
                        let addr = format!("1555000{t:04}.0");
                        s.save_session(&a, &addr, &i.to_be_bytes(), B)
                            .expect("save");
                        let w = s.durable();
                        tokio::time::timeout(std::time::Duration::from_secs(30), w)
                            .await
                            .expect("durable within the deadline")
                            .expect("durable");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
    });
    for t in 0..200u32 {
        let addr = format!("1555000{t:04}.0");
        assert_eq!(
            s.load_session(&a, &addr).expect("load"),
            Some(19u32.to_be_bytes().to_vec())
        );
    }
}

/// An entry sent and removed before the store checkpoints, and one removed after: both gone,
/// their due-index keys too, and the rest of the outbox untouched.
fn outbox_transient_entries(s: &dyn Store) {
    let a = account_id(8);
    let send = |id: &str| {
        s.enqueue(&a, &msg(id, b"payload", 10), B).expect("enqueue");
        let sessions = [SessionUpdate {
            address: "15550008888.0",
            record: id.as_bytes(),
        }];
        let step = SendStep {
            message_id: id,
            sessions: &sessions,
            sender_key: None,
            now_ms: 11,
        };
        s.commit_send(&a, &step, B).expect("commit");
    };
    send("3EB0AAAA");
    assert!(s.remove_outbox(&a, "3EB0AAAA", B).expect("remove"));
    assert!(!s.remove_outbox(&a, "3EB0AAAA", B).expect("second remove"));
    send("3EB0BBBB");
    s.flush().expect("flush");
    send("3EB0CCCC");
    assert!(s.remove_outbox(&a, "3EB0BBBB", D).expect("remove"));
    assert_eq!(s.outbox_entry(&a, "3EB0AAAA").expect("read"), None);
    assert_eq!(s.outbox_entry(&a, "3EB0BBBB").expect("read"), None);
    let left: Vec<String> = s
        .outbox_entries(&a)
        .expect("entries")
        .into_iter()
        .map(|e| e.message_id)
        .collect();
    assert_eq!(left, ["3EB0CCCC"]);
    // Sent entries are not due; nothing dangles in the index.
    assert!(s.outbox_due(&a, u64::MAX, 100).expect("due").is_empty());
    assert!(s.check().expect("check").is_ok());
    // The same id may be used again once removed.
    send("3EB0AAAA");
    assert_eq!(
        s.outbox_entry(&a, "3EB0AAAA")
            .expect("read")
            .map(|e| e.status),
        Some(OutboxStatus::Sent)
    );
}

/// Backups and checks of a store that is being written to are point-in-time: a send step's
/// session and its outbox transition are both in a backup or neither, and `check` never
/// reports the half-seen state of a concurrent write as an inconsistency.
fn consistent_export_and_check_under_writes(s: Arc<dyn Store>) {
    let dir = test_dir("live-backup");
    let a = account_id(7);
    let addr = "15550007777.0";
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = Arc::new(AtomicU32::new(0));
    let writer = {
        let (s, stop, done) = (s.clone(), stop.clone(), done.clone());
        std::thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let id = format!("3EB0{i:08}");
                s.enqueue(&a, &msg(&id, b"p", u64::from(i)), B)
                    .expect("enqueue");
                let record = i.to_be_bytes();
                let sessions = [SessionUpdate {
                    address: addr,
                    record: &record,
                }];
                let step = SendStep {
                    message_id: &id,
                    sessions: &sessions,
                    sender_key: None,
                    now_ms: u64::from(i),
                };
                s.commit_send(&a, &step, B).expect("commit");
                done.store(i, Ordering::Relaxed);
            }
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while done.load(Ordering::Relaxed) < 50 {
        assert!(
            std::time::Instant::now() < deadline,
            "writer made no progress"
        );
        std::thread::yield_now();
    }
    let first = done.load(Ordering::Relaxed);
    for round in 0..12 {
        let file = dir.path().join(format!("live{round}.wabk"));
        s.export(None, &file).expect("export");
        let report = s.check().expect("check");
        assert!(report.is_ok(), "round {round}: {:?}", report.problems);
        let copy = MemStore::new();
        copy.import(&file, D).expect("import");
        let session = copy
            .load_session(&a, addr)
            .expect("load")
            .map(|r| u32::from_be_bytes(r.try_into().expect("4 bytes")));
        let last_sent = copy
            .outbox_entries(&a)
            .expect("entries")
            .into_iter()
            .filter(|e| e.status == OutboxStatus::Sent)
            .map(|e| e.message_id[4..].parse::<u32>().expect("id"))
            .max();
        assert_eq!(
            session, last_sent,
            "round {round}: backup is not point-in-time"
        );
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    assert!(
        done.load(Ordering::Relaxed) > first,
        "the writer kept writing during the exports"
    );
}

macro_rules! conformance {
    ($name:ident, $ctor:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn device_roundtrip() {
                super::device_roundtrip(&*$ctor.store)
            }
            #[test]
            fn identity_tofu() {
                super::identity_tofu(&*$ctor.store)
            }
            #[test]
            fn sessions_byte_exact() {
                super::sessions_byte_exact(&*$ctor.store)
            }
            #[test]
            fn sender_keys() {
                super::sender_keys(&*$ctor.store)
            }
            #[test]
            fn prekeys_lifecycle() {
                super::prekeys_lifecycle(&*$ctor.store)
            }
            #[test]
            fn signed_prekeys() {
                super::signed_prekeys(&*$ctor.store)
            }
            #[test]
            fn incoming_commit_is_atomic() {
                super::incoming_commit_is_atomic(&*$ctor.store)
            }
            #[test]
            fn send_commit_is_atomic() {
                super::send_commit_is_atomic(&*$ctor.store)
            }
            #[test]
            fn accounts_crud() {
                super::accounts_crud(&*$ctor.store)
            }
            #[test]
            fn outbox_lifecycle() {
                super::outbox_lifecycle(&*$ctor.store)
            }
            #[test]
            fn logout_wipes_only_device_state() {
                super::logout_wipes_only_device_state(&*$ctor.store)
            }
            #[test]
            fn delete_account_removes_everything() {
                super::delete_account_removes_everything(&*$ctor.store)
            }
            #[test]
            fn backup_roundtrip() {
                super::backup_roundtrip(&*$ctor.store)
            }
            #[test]
            fn consistent_export_and_check_under_writes() {
                let s = $ctor;
                super::consistent_export_and_check_under_writes(s.store.clone())
            }
            #[test]
            fn durable_waits() {
                let s = $ctor;
                super::durable_waits(s.store.clone())
            }
            #[test]
            fn outbox_transient_entries() {
                super::outbox_transient_entries(&*$ctor.store)
            }
            #[test]
            fn concurrent_token_claims() {
                let s = $ctor;
                super::concurrent_token_claims(s.store.clone(), 12)
            }

            proptest! {
                #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

                #[test]
                fn concurrent_prekey_consumption(threads in 2usize..16, prekeys in 1u32..120, durable: bool) {
                    let s = $ctor;
                    super::concurrent_prekey_consumption(s.store.clone(), threads, prekeys, durable);
                }

                #[test]
                fn concurrent_send(threads in 2usize..16, messages in 1u32..80) {
                    let s = $ctor;
                    super::concurrent_send(s.store.clone(), threads, messages);
                }
            }
        }
    };
}

conformance!(mem_store, mem());
conformance!(sled_store, sled());

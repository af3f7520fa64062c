//! The conformance suite, messaging part: the directory (device lists, PN ↔ LID), privacy
//! tokens, outbound message status and received-message dedup. Every test is a generic function
//! over `Store`, run against both backends by the `conformance!` macro at the bottom.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::{account_id, contact, jid, mem, rng, sled, CHAT};
use wa_protocol::binary::Jid;
use wa_protocol::ids::PhoneNumber;
use wa_protocol::signal::KeyPair;
use wa_store::{
    token_bucket, token_issue_due, DeviceList, Durability, Error, IdentityChange, LidChange,
    LidMapping, LidSource, ListedDevice, MessageStatus, NewOutbound, OutboxStatus, OutboxUpdate,
    PrivacyToken, PushName, ReceiveOutcome, ReceivedKey, ReceivedMessage, SendStep,
    SenderKeyUpdate, SessionUpdate, StatusEvent, StatusOutcome, Store, MAX_PUSH_NAME,
    MAX_RECEIVED_PER_ACCOUNT, TOKEN_BUCKETS, TOKEN_BUCKET_SECS,
};

const B: Durability = Durability::Buffered;
const D: Durability = Durability::Durable;

fn pn(s: &str) -> PhoneNumber {
    s.parse().expect("phone")
}

fn mapping(p: &str, lid: &str, source: LidSource, at: u64) -> LidMapping {
    LidMapping {
        pn: pn(p),
        lid: jid(lid),
        source,
        learnt_ms: at,
    }
}

fn dev(id: u16, key_index: Option<u32>) -> ListedDevice {
    ListedDevice {
        id,
        key_index,
        hosted: false,
    }
}

// ----- directory -----

fn device_lists(s: &dyn Store) {
    let a = account_id(1);
    let user = jid("15550002222@s.whatsapp.net");
    assert_eq!(s.device_list(&a, &user).expect("get"), None);
    let list = DeviceList {
        user: user.clone(),
        devices: vec![
            dev(0, None),
            dev(7, Some(3)),
            ListedDevice {
                id: 24,
                key_index: Some(113),
                hosted: true,
            },
        ],
        key_index_ts: Some(1_700_000_000),
        hash: Some("2:AbCdEfGh".into()),
        fetched_ms: 1000,
    };
    s.save_device_list(&a, &list, D).expect("save");
    assert_eq!(s.device_list(&a, &user).expect("get"), Some(list.clone()));
    // Looked up (and saved) by any device JID of the user: the list belongs to the user.
    let device7 = jid("15550002222:7@s.whatsapp.net");
    assert_eq!(
        s.device_list(&a, &device7).expect("get"),
        Some(list.clone())
    );
    let newer = DeviceList {
        user: device7.clone(),
        devices: vec![dev(0, None)],
        key_index_ts: None,
        hash: None,
        fetched_ms: 2000,
    };
    s.save_device_list(&a, &newer, B).expect("replace");
    let got = s.device_list(&a, &user).expect("get").expect("present");
    assert_eq!(
        (got.user, got.devices, got.fetched_ms),
        (user.clone(), vec![dev(0, None)], 2000)
    );
    // LID users have their own lists; other accounts see nothing.
    let lid = jid("987650002222@lid");
    assert_eq!(s.device_list(&a, &lid).expect("get"), None);
    assert_eq!(s.device_list(&account_id(2), &user).expect("get"), None);
    // Invalidation.
    assert!(s.invalidate_device_list(&a, &user, D).expect("invalidate"));
    assert!(!s.invalidate_device_list(&a, &user, B).expect("again"));
    assert_eq!(s.device_list(&a, &user).expect("get"), None);
    assert!(s.check().expect("check").is_ok());
}

fn lid_map(s: &dyn Store) {
    let a = account_id(1);
    let m1 = mapping("15550002222", "1001@lid", LidSource::Usync, 10);
    assert_eq!(
        s.save_lid_mapping(&a, &m1, D).expect("save"),
        LidChange::New
    );
    assert_eq!(s.lid_for_pn(&a, &m1.pn).expect("get"), Some(m1.clone()));
    assert_eq!(s.pn_for_lid(&a, &m1.lid).expect("get"), Some(m1.clone()));
    // A device-qualified LID finds the user's mapping.
    assert_eq!(
        s.pn_for_lid(&a, &jid("1001:4@lid")).expect("get"),
        Some(m1.clone())
    );
    // The same pair from another source writes nothing.
    let again = mapping("15550002222", "1001:2@lid", LidSource::SenderAttrs, 20);
    assert_eq!(
        s.save_lid_mapping(&a, &again, B).expect("save"),
        LidChange::Unchanged
    );
    assert_eq!(s.lid_for_pn(&a, &m1.pn).expect("get"), Some(m1.clone()));
    // A later mapping for the same PN replaces the earlier one, in both directions.
    let m2 = mapping("15550002222", "1002@lid", LidSource::ParticipantAttrs, 30);
    assert_eq!(
        s.save_lid_mapping(&a, &m2, B).expect("save"),
        LidChange::Replaced {
            previous_lid: Some(jid("1001@lid")),
            previous_pn: None
        }
    );
    assert_eq!(s.lid_for_pn(&a, &m2.pn).expect("get"), Some(m2.clone()));
    assert_eq!(s.pn_for_lid(&a, &jid("1001@lid")).expect("get"), None);
    assert_eq!(s.pn_for_lid(&a, &m2.lid).expect("get"), Some(m2.clone()));
    // A LID that moves to another PN leaves the old PN without a LID.
    let m3 = mapping("15550003333", "1002@lid", LidSource::HistorySync, 40);
    assert_eq!(
        s.save_lid_mapping(&a, &m3, D).expect("save"),
        LidChange::Replaced {
            previous_lid: None,
            previous_pn: Some(pn("15550002222"))
        }
    );
    assert_eq!(s.lid_for_pn(&a, &pn("15550002222")).expect("get"), None);
    assert_eq!(s.pn_for_lid(&a, &m3.lid).expect("get"), Some(m3.clone()));
    // The listing holds each pair once, without the replaced ones; other accounts see none.
    let m4 = mapping("15550001111", "1003@lid", LidSource::Usync, 50);
    s.save_lid_mapping(&a, &m4, B).expect("save");
    assert_eq!(
        s.lid_mappings(&a).expect("list"),
        vec![m4.clone(), m3.clone()]
    );
    assert!(s.lid_mappings(&account_id(2)).expect("list").is_empty());
    // Only `digits@lid` users are LIDs.
    for bad in ["15550002222@s.whatsapp.net", "123-456@g.us", "abc@lid"] {
        let m = LidMapping {
            lid: jid(bad),
            ..m3.clone()
        };
        assert!(matches!(
            s.save_lid_mapping(&a, &m, B),
            Err(Error::InvalidInput { what: "lid", .. })
        ));
        assert!(matches!(
            s.pn_for_lid(&a, &jid(bad)),
            Err(Error::InvalidInput { what: "lid", .. })
        ));
    }
    assert_eq!(s.lid_for_pn(&account_id(2), &m3.pn).expect("get"), None);
    assert!(s.check().expect("check").is_ok());
}

// ----- privacy tokens -----

fn push_names(s: &dyn Store) {
    let a = account_id(1);
    let name = |p: &str, n: &str, at: u64| PushName {
        pn: pn(p),
        name: n.to_owned(),
        learnt_ms: at,
    };
    assert_eq!(s.push_name(&a, &pn("15550002222")).expect("get"), None);
    assert!(s
        .save_push_name(&a, &name("15550002222", "Ana", 1), B)
        .expect("new"));
    assert!(!s
        .save_push_name(&a, &name("15550002222", "Ana", 2), B)
        .expect("same name"));
    assert!(s
        .save_push_name(&a, &name("15550001111", "Bia", 3), D)
        .expect("other"));
    assert!(s
        .save_push_name(&a, &name("15550002222", "Ana B.", 4), D)
        .expect("renamed"));
    assert_eq!(
        s.push_name(&a, &pn("15550002222")).expect("get"),
        Some(name("15550002222", "Ana B.", 4))
    );
    let all = s.push_names(&a).expect("list");
    assert_eq!(
        all,
        vec![
            name("15550001111", "Bia", 3),
            name("15550002222", "Ana B.", 4)
        ],
        "phone-number order"
    );
    assert!(s
        .push_names(&account_id(2))
        .expect("other account")
        .is_empty());
    for bad in [String::new(), "x".repeat(MAX_PUSH_NAME + 1)] {
        assert!(matches!(
            s.save_push_name(&a, &name("15550003333", &bad, 5), B),
            Err(Error::InvalidInput { .. })
        ));
    }
    assert!(s.check().expect("check").is_ok());
}

fn privacy_tokens(s: &dyn Store) {
    let a = account_id(1);
    let lid = jid("1001@lid");
    let tok = |b: u8, t: u64| PrivacyToken {
        token: vec![b; 20],
        t,
        received_ms: t * 1000,
    };
    assert_eq!(s.privacy_token(&a, &lid).expect("get"), None);
    assert!(s
        .save_privacy_token(&a, &lid, &tok(1, 1000), D)
        .expect("save"));
    assert_eq!(s.privacy_token(&a, &lid).expect("get"), Some(tok(1, 1000)));
    // An older token (out-of-order notification) does not replace a newer one.
    assert!(!s
        .save_privacy_token(&a, &lid, &tok(2, 999), B)
        .expect("save"));
    assert_eq!(s.privacy_token(&a, &lid).expect("get"), Some(tok(1, 1000)));
    assert!(s
        .save_privacy_token(&a, &lid, &tok(3, 2000), B)
        .expect("save"));
    assert_eq!(
        s.privacy_token(&a, &jid("1001:3@lid")).expect("get"),
        Some(tok(3, 2000))
    );
    assert!(matches!(
        s.save_privacy_token(&a, &lid, &tok(3, 3000).clone_empty(), B),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        s.save_privacy_token(&a, &jid("15550002222@s.whatsapp.net"), &tok(3, 1), B),
        Err(Error::InvalidInput { what: "lid", .. })
    ));
    // The token bytes stay out of Debug output.
    assert!(!format!("{:?}", tok(0xAB, 1)).contains("171"));
    s.delete_privacy_token(&a, &lid, D).expect("delete");
    s.delete_privacy_token(&a, &lid, B).expect("delete again");
    assert_eq!(s.privacy_token(&a, &lid).expect("get"), None);
    // Our own issued-token bookkeeping, which never moves back.
    assert_eq!(s.token_issued(&a, &lid).expect("get"), None);
    s.record_token_issued(&a, &lid, 5000, D).expect("issued");
    s.record_token_issued(&a, &lid, 4000, B).expect("older");
    assert_eq!(s.token_issued(&a, &lid).expect("get"), Some(5000));
    assert_eq!(s.token_issued(&account_id(2), &lid).expect("get"), None);
    assert!(s.check().expect("check").is_ok());
}

trait EmptyToken {
    fn clone_empty(&self) -> Self;
}

impl EmptyToken for PrivacyToken {
    fn clone_empty(&self) -> Self {
        PrivacyToken {
            token: Vec::new(),
            ..self.clone()
        }
    }
}

/// messaging.md §16: tokens age out in 7-day buckets, 4 buckets kept; ours is issued again
/// once the bucket has rolled over.
#[test]
fn token_buckets_follow_the_protocol() {
    assert_eq!(TOKEN_BUCKET_SECS, 604_800);
    assert_eq!(TOKEN_BUCKETS, 4);
    let start = 100 * TOKEN_BUCKET_SECS;
    assert_eq!(token_bucket(start), 100);
    assert_eq!(token_bucket(start - 1), 99);
    let t = PrivacyToken {
        token: vec![1],
        t: start + 10,
        received_ms: 0,
    };
    assert!(t.is_valid_at(start + 10));
    assert!(t.is_valid_at(start + 4 * TOKEN_BUCKET_SECS - 1));
    assert!(!t.is_valid_at(start + 4 * TOKEN_BUCKET_SECS));
    assert!(token_issue_due(None, start));
    assert!(!token_issue_due(Some(start), start + TOKEN_BUCKET_SECS - 1));
    assert!(token_issue_due(Some(start), start + TOKEN_BUCKET_SECS));
    assert!(!token_issue_due(Some(start + 5), start));
}

// ----- outbound status -----

fn enqueue_sent(s: &dyn Store, id: &str, now: u64) {
    let m = NewOutbound {
        message_id: id,
        chat: &CHAT,
        payload: b"p",
        now_ms: now,
    };
    s.enqueue(&contact_account(), &m, B).expect("enqueue");
    let step = SendStep {
        message_id: id,
        sessions: &[],
        sender_key: None,
        now_ms: now,
    };
    s.commit_send(&contact_account(), &step, B).expect("send");
}

fn contact_account() -> wa_store::AccountId {
    account_id(1)
}

fn advanced(o: StatusOutcome) -> (MessageStatus, MessageStatus) {
    match o {
        StatusOutcome::Advanced { from, entry } => (from, entry.message_status()),
        other => panic!("expected an advance, got {other:?}"),
    }
}

fn status_moves_only_forward(s: &dyn Store) {
    let a = contact_account();
    let ack = StatusEvent::ServerAck { server_t: 1000 };
    enqueue_sent(s, "M1", 10);
    assert_eq!(
        s.message_status(&a, "M1").expect("status"),
        Some(MessageStatus::Queued)
    );
    assert_eq!(
        advanced(s.record_status(&a, "M1", ack, 11, D).expect("ack")),
        (
            MessageStatus::Queued,
            MessageStatus::Sent {
                server_t: Some(1000)
            }
        )
    );
    // A repeated ack changes nothing.
    assert!(matches!(
        s.record_status(&a, "M1", ack, 12, B).expect("again"),
        StatusOutcome::Unchanged(e) if e.updated_ms == 11
    ));
    let delivered = StatusEvent::Delivered { t: 1001 };
    assert_eq!(
        advanced(
            s.record_status(&a, "M1", delivered, 13, B)
                .expect("delivered")
        )
        .1,
        MessageStatus::Delivered { t: 1001 }
    );
    assert_eq!(
        advanced(
            s.record_status(&a, "M1", StatusEvent::Read { t: 1005 }, 14, D)
                .expect("read")
        )
        .1,
        MessageStatus::Read { t: 1005 }
    );
    // A late delivery receipt (and a late ack) after read never moves it back.
    for late in [
        StatusEvent::Delivered { t: 1002 },
        ack,
        StatusEvent::Read { t: 1009 },
    ] {
        match s.record_status(&a, "M1", late, 15, B).expect("late") {
            StatusOutcome::Unchanged(e) => {
                assert_eq!(e.message_status(), MessageStatus::Read { t: 1005 })
            }
            other => panic!("late {late:?} moved the status: {other:?}"),
        }
    }
    // A server error after the server accepted the message is refused.
    assert!(matches!(
        s.record_status(&a, "M1", StatusEvent::Rejected { code: 479 }, 16, B),
        Err(Error::InvalidTransition {
            from: OutboxStatus::Read,
            to: OutboxStatus::Failed,
            ..
        })
    ));
    let e = s.outbox_entry(&a, "M1").expect("get").expect("present");
    assert_eq!(
        (e.status, e.server_t, e.delivered_t, e.read_t, e.fail_code),
        (OutboxStatus::Read, Some(1000), Some(1001), Some(1005), None)
    );
    // A read receipt may overtake the delivery receipt and the ack.
    enqueue_sent(s, "M2", 20);
    assert_eq!(
        advanced(
            s.record_status(&a, "M2", StatusEvent::Read { t: 7 }, 21, B)
                .expect("read")
        ),
        (MessageStatus::Queued, MessageStatus::Read { t: 7 })
    );
    assert!(matches!(
        s.record_status(&a, "M2", StatusEvent::Delivered { t: 6 }, 22, B),
        Ok(StatusOutcome::Unchanged(_))
    ));
    assert!(s.check().expect("check").is_ok());
}

fn status_failures(s: &dyn Store) {
    let a = contact_account();
    // Rejected by the server: failed with the code, never sent.
    enqueue_sent(s, "F1", 10);
    let rejected = StatusEvent::Rejected { code: 463 };
    assert_eq!(
        advanced(s.record_status(&a, "F1", rejected, 11, D).expect("nack")).1,
        MessageStatus::Failed { code: Some(463) }
    );
    assert!(matches!(
        s.record_status(&a, "F1", rejected, 12, B),
        Ok(StatusOutcome::Unchanged(_))
    ));
    for ev in [
        StatusEvent::ServerAck { server_t: 1 },
        StatusEvent::Delivered { t: 1 },
        StatusEvent::Read { t: 1 },
    ] {
        assert!(matches!(
            s.record_status(&a, "F1", ev, 13, B),
            Err(Error::InvalidTransition {
                from: OutboxStatus::Failed,
                ..
            })
        ));
    }
    assert_eq!(
        s.message_status(&a, "F1").expect("status"),
        Some(MessageStatus::Failed { code: Some(463) })
    );
    // Given up locally: failed without a code.
    enqueue_sent(s, "F2", 10);
    s.update_outbox(&a, "F2", OutboxUpdate::Failed, 11, B)
        .expect("give up");
    assert_eq!(
        s.message_status(&a, "F2").expect("status"),
        Some(MessageStatus::Failed { code: None })
    );
    // Never sent: an ack or receipt for it is refused.
    let m = NewOutbound {
        message_id: "Q1",
        chat: &CHAT,
        payload: b"q",
        now_ms: 30,
    };
    s.enqueue(&a, &m, B).expect("enqueue");
    assert!(matches!(
        s.record_status(&a, "Q1", StatusEvent::ServerAck { server_t: 1 }, 31, B),
        Err(Error::InvalidTransition {
            from: OutboxStatus::Queued,
            to: OutboxStatus::Acked,
            ..
        })
    ));
    // Queued for a retry after an attempt: the earlier attempt's ack settles it, and it
    // leaves the due index.
    enqueue_sent(s, "R1", 40);
    s.update_outbox(&a, "R1", OutboxUpdate::Retry { at_ms: 50 }, 41, B)
        .expect("retry");
    assert!(s
        .outbox_due(&a, 60, 10)
        .expect("due")
        .iter()
        .any(|e| e.message_id == "R1"));
    assert_eq!(
        advanced(
            s.record_status(&a, "R1", StatusEvent::ServerAck { server_t: 9 }, 42, B)
                .expect("ack")
        )
        .1,
        MessageStatus::Sent { server_t: Some(9) }
    );
    let due: Vec<String> = s
        .outbox_due(&a, u64::MAX, 10)
        .expect("due")
        .into_iter()
        .map(|e| e.message_id)
        .collect();
    assert_eq!(due, ["Q1"]);
    // The old ack without a time is `Sent` without one; unknown ids are refused.
    enqueue_sent(s, "L1", 50);
    s.update_outbox(&a, "L1", OutboxUpdate::Acked, 51, B)
        .expect("ack");
    assert_eq!(
        s.message_status(&a, "L1").expect("status"),
        Some(MessageStatus::Sent { server_t: None })
    );
    assert_eq!(s.message_status(&a, "nope").expect("status"), None);
    assert!(matches!(
        s.record_status(&a, "nope", StatusEvent::Read { t: 1 }, 1, B),
        Err(Error::OutboxNotFound { .. })
    ));
    assert!(s.check().expect("check").is_ok());
}

// ----- received messages -----

fn received<'a>(
    chat: &'a Jid,
    sender: &'a Jid,
    id: &'a str,
    sessions: &'a [SessionUpdate<'a>],
    now: u64,
) -> ReceivedMessage<'a> {
    ReceivedMessage {
        key: ReceivedKey { chat, sender, id },
        t: now / 1000,
        sessions,
        prekey_id: None,
        identity: None,
        sender_keys: &[],
        report: None,
        now_ms: now,
    }
}

fn received_dedup_is_atomic(s: &dyn Store) {
    let a = account_id(1);
    let peer = jid("1001@lid");
    s.add_prekeys(&a, 3, &mut rng(1), B).expect("prekeys");
    let ik = KeyPair::generate(&mut rng(9)).public;
    let sessions = [SessionUpdate {
        address: "1001_1.0",
        record: b"session-1",
    }];
    let group = jid("120363000000000000@g.us");
    let skeys = [SenderKeyUpdate {
        group: "120363000000000000@g.us",
        sender: "1001_1.0",
        record: b"skey-1",
    }];
    let first = ReceivedMessage {
        prekey_id: Some(2),
        identity: Some(("1001_1.0", ik)),
        sender_keys: &skeys,
        ..received(&group, &peer, "3EB0AA", &sessions, 5000)
    };
    let key = first.key;
    assert!(!s.is_received(&a, &key).expect("is"));
    assert_eq!(
        s.commit_received(&a, &first, D).expect("commit"),
        ReceiveOutcome::New {
            seq: 0,
            identity: Some(IdentityChange::New)
        }
    );
    assert!(s.is_received(&a, &key).expect("is"));
    assert!(s.load_prekey(&a, 2).expect("prekey").is_none());
    assert_eq!(s.identity(&a, "1001_1.0").expect("id"), Some(ik));
    assert_eq!(
        s.load_sender_key(&a, "120363000000000000@g.us", "1001_1.0")
            .expect("sk"),
        Some(b"skey-1".to_vec())
    );
    // Delivered again: reported as a duplicate, nothing written.
    let s2 = [SessionUpdate {
        address: "1001_1.0",
        record: b"session-2",
    }];
    let again = ReceivedMessage {
        prekey_id: None,
        ..received(&group, &peer, "3EB0AA", &s2, 6000)
    };
    assert_eq!(
        s.commit_received(&a, &again, D).expect("dup"),
        ReceiveOutcome::Duplicate
    );
    assert_eq!(
        s.load_session(&a, "1001_1.0").expect("s"),
        Some(b"session-1".to_vec())
    );
    // The same id from another sender or in another chat is another message.
    let other = jid("1002@lid");
    for (chat, sender) in [(&group, &other), (&peer, &peer)] {
        let m = received(chat, sender, "3EB0AA", &s2, 7000);
        assert!(matches!(
            s.commit_received(&a, &m, B).expect("commit"),
            ReceiveOutcome::New { identity: None, .. }
        ));
    }
    // A consumed prekey fails the whole commit: no dedup entry, no session.
    let s3 = [SessionUpdate {
        address: "1003_1.0",
        record: b"session-3",
    }];
    let bad = ReceivedMessage {
        prekey_id: Some(2),
        ..received(&peer, &other, "3EB0BB", &s3, 8000)
    };
    assert!(matches!(
        s.commit_received(&a, &bad, D),
        Err(Error::PreKeyNotFound { id: 2, .. })
    ));
    assert!(!s.is_received(&a, &bad.key).expect("is"));
    assert_eq!(s.load_session(&a, "1003_1.0").expect("s"), None);
    assert!(matches!(
        s.commit_received(&a, &received(&peer, &peer, "", &s3, 1), B),
        Err(Error::InvalidInput { .. })
    ));
    assert!(s.is_received(&account_id(2), &key).is_ok_and(|r| !r));
    assert!(s.check().expect("check").is_ok());
}

fn received_growth_is_bounded(s: &dyn Store) {
    let a = account_id(1);
    let peer = jid("1001@lid");
    let extra = 10u64;
    let ids: Vec<String> = (0..MAX_RECEIVED_PER_ACCOUNT + extra)
        .map(|i| format!("ID{i:06}"))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let m = received(&peer, &peer, id, &[], 1000 + i as u64);
        s.commit_received(&a, &m, B).expect("commit");
    }
    let held_one = |id: &str| {
        let k = ReceivedKey {
            chat: &peer,
            sender: &peer,
            id,
        };
        s.is_received(&a, &k).expect("is")
    };
    let held: Vec<bool> = ids.iter().map(|id| held_one(id)).collect();
    // The oldest `extra` are gone, the newest MAX kept.
    assert!(held[..extra as usize].iter().all(|h| !h));
    assert!(held[extra as usize..].iter().all(|h| *h));
    // Expiry by age: everything received before the cut, oldest first.
    let cut = 1000 + extra + 100;
    assert_eq!(s.expire_received(&a, cut, D).expect("expire"), 100);
    assert!(!held_one(&ids[extra as usize + 99]));
    assert!(held_one(&ids[extra as usize + 100]));
    assert_eq!(s.expire_received(&a, cut, B).expect("again"), 0);
    assert_eq!(
        s.expire_received(&a, u64::MAX, B).expect("all"),
        MAX_RECEIVED_PER_ACCOUNT - 100
    );
    // Sequence numbers go on after everything expired.
    let m = received(&peer, &peer, "NEW", &[], 1);
    assert!(matches!(
        s.commit_received(&a, &m, B).expect("commit"),
        ReceiveOutcome::New { .. }
    ));
    assert!(s.check().expect("check").is_ok());
}

fn pending_reports_until_marked(s: &dyn Store) {
    let a = account_id(1);
    let peer = jid("1001@lid");
    let group = jid("120363000000000000@g.us");
    let mut seqs = Vec::new();
    for (i, chat) in [&peer, &group, &peer].into_iter().enumerate() {
        let id = format!("P{i}");
        let payload = [i as u8; 3];
        let m = ReceivedMessage {
            report: Some(&payload),
            ..received(chat, &peer, &id, &[], 100 + i as u64)
        };
        match s.commit_received(&a, &m, D).expect("commit") {
            ReceiveOutcome::New { seq, .. } => seqs.push(seq),
            other => panic!("expected New, got {other:?}"),
        }
        // A redelivery adds no second report.
        assert_eq!(
            s.commit_received(&a, &m, B).expect("dup"),
            ReceiveOutcome::Duplicate
        );
    }
    // Without a report nothing is pending.
    s.commit_received(&a, &received(&peer, &peer, "NR", &[], 200), B)
        .expect("commit");
    let pending = s.pending_reports(&a, 10).expect("pending");
    assert_eq!(
        pending
            .iter()
            .map(|p| (
                p.seq,
                p.chat.clone(),
                p.id.as_str(),
                p.payload.clone(),
                p.received_ms
            ))
            .collect::<Vec<_>>(),
        vec![
            (seqs[0], peer.clone(), "P0", vec![0; 3], 100),
            (seqs[1], group.clone(), "P1", vec![1; 3], 101),
            (seqs[2], peer.clone(), "P2", vec![2; 3], 102),
        ]
    );
    assert!(pending.iter().all(|p| p.sender == peer));
    assert_eq!(s.pending_reports(&a, 1).expect("limit").len(), 1);
    assert!(s.pending_reports(&a, 0).expect("zero").is_empty());
    assert!(s.mark_reported(&a, seqs[1], D).expect("mark"));
    assert!(!s.mark_reported(&a, seqs[1], B).expect("again"));
    // Expiring the dedup entries keeps what the application has not been handed.
    s.expire_received(&a, u64::MAX, B).expect("expire");
    let left: Vec<u64> = s
        .pending_reports(&a, 10)
        .expect("pending")
        .iter()
        .map(|p| p.seq)
        .collect();
    assert_eq!(left, [seqs[0], seqs[2]]);
    assert!(s
        .pending_reports(&account_id(2), 10)
        .expect("other")
        .is_empty());
    assert!(s.check().expect("check").is_ok());
}

/// Many threads commit the same message: exactly one commit is `New`.
fn concurrent_receive(s: Arc<dyn Store>, threads: usize) {
    let a = account_id(1);
    let news = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (s, news) = (s.clone(), news.clone());
            std::thread::spawn(move || {
                let peer = jid("1001@lid");
                let rec = [t as u8; 8];
                let sessions = [SessionUpdate {
                    address: "1001_1.0",
                    record: &rec,
                }];
                for i in 0..50 {
                    let id = format!("C{i}");
                    let m = received(&peer, &peer, &id, &sessions, 1);
                    if let ReceiveOutcome::New { .. } = s.commit_received(&a, &m, B).expect("c") {
                        news.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(news.load(Ordering::Relaxed), 50);
}

// ----- removal -----

fn logout_and_delete_wipe_messaging_state(s: &dyn Store) {
    for n in [1, 2] {
        let acc = wa_store::Account::new(account_id(n), "x", format!("tok-{n}"), 1);
        s.create_account(&acc, B).expect("create");
        let m = NewOutbound {
            message_id: "M",
            chat: &CHAT,
            payload: b"m",
            now_ms: 1,
        };
        s.enqueue(&account_id(n), &m, B).expect("enqueue");
        common::populate_messaging(s, n);
    }
    let before2 = common::messaging_fingerprint(s, 2);
    let (p, lid) = contact();
    let a = account_id(1);
    s.logout(&a, D).expect("logout");
    assert_eq!(s.device_list(&a, &lid).expect("dl"), None);
    assert_eq!(s.lid_for_pn(&a, &p).expect("lid"), None);
    assert_eq!(s.pn_for_lid(&a, &lid).expect("pn"), None);
    assert_eq!(s.privacy_token(&a, &lid).expect("tok"), None);
    assert_eq!(s.token_issued(&a, &lid).expect("issued"), None);
    assert!(s.push_names(&a).expect("push names").is_empty());
    let key = ReceivedKey {
        chat: &lid,
        sender: &lid,
        id: "IN1",
    };
    assert!(!s.is_received(&a, &key).expect("rcv"));
    // The outbox (with its status) stays until the account is deleted.
    assert_eq!(
        s.message_status(&a, "M").expect("status"),
        Some(MessageStatus::Sent {
            server_t: Some(1_700_000_002)
        })
    );
    // So do the reports the application has not been handed, and a commit after the logout
    // takes the next seq instead of overwriting one still pending.
    let before = s.pending_reports(&a, 10).expect("reports");
    assert_eq!(before.len(), 1);
    let m = ReceivedMessage {
        report: Some(b"after"),
        ..received(&lid, &lid, "IN1", &[], 90)
    };
    let seq = match s.commit_received(&a, &m, B).expect("commit") {
        ReceiveOutcome::New { seq, .. } => seq,
        other => panic!("expected New, got {other:?}"),
    };
    assert!(seq > before[0].seq);
    let after = s.pending_reports(&a, 10).expect("reports");
    assert_eq!(after.len(), 2);
    assert_eq!(after[0], before[0]);
    assert!(s.check().expect("check").is_ok());
    s.delete_account(&a, D).expect("delete");
    assert_eq!(s.message_status(&a, "M").expect("status"), None);
    assert!(s.pending_reports(&a, 10).expect("reports").is_empty());
    assert_eq!(common::messaging_fingerprint(s, 2), before2);
    assert!(s.check().expect("check").is_ok());
}

fn sender_key_devices(s: &dyn Store) {
    let a = account_id(1);
    let acc = wa_store::Account::new(a, "x", "tok-1", 1);
    s.create_account(&acc, B).expect("create");
    let group = "120363025246125888@g.us";
    assert!(s.sender_key_devices(&a, group).expect("empty").is_empty());
    let (d1, d2) = (jid("15550002222:3@s.whatsapp.net"), jid("98765@lid"));
    s.save_sender_key_devices(&a, group, &[d2.clone(), d1.clone(), d1.clone()], B)
        .expect("save");
    assert_eq!(
        s.sender_key_devices(&a, group).expect("read"),
        vec![d1.clone(), d2.clone()]
    );
    // Kept per group, beside (not instead of) the group's sender keys.
    s.save_sender_key(&a, group, "15550002222:3", b"record", B)
        .expect("key");
    assert!(s
        .sender_key_devices(&a, "120363000000000001@g.us")
        .expect("other")
        .is_empty());
    s.save_sender_key_devices(&a, group, std::slice::from_ref(&d2), D)
        .expect("replace");
    assert_eq!(s.sender_key_devices(&a, group).expect("read"), vec![d2]);
    assert_eq!(
        s.load_sender_key(&a, group, "15550002222:3").expect("key"),
        Some(b"record".to_vec())
    );
    assert!(s.check().expect("check").is_ok());
    s.logout(&a, D).expect("logout");
    assert!(s.sender_key_devices(&a, group).expect("wiped").is_empty());
}

macro_rules! conformance {
    ($name:ident, $ctor:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn device_lists() {
                super::device_lists(&*$ctor.store)
            }
            #[test]
            fn lid_map() {
                super::lid_map(&*$ctor.store)
            }
            #[test]
            fn push_names() {
                super::push_names(&*$ctor.store)
            }
            #[test]
            fn privacy_tokens() {
                super::privacy_tokens(&*$ctor.store)
            }
            #[test]
            fn status_moves_only_forward() {
                super::status_moves_only_forward(&*$ctor.store)
            }
            #[test]
            fn status_failures() {
                super::status_failures(&*$ctor.store)
            }
            #[test]
            fn received_dedup_is_atomic() {
                super::received_dedup_is_atomic(&*$ctor.store)
            }
            #[test]
            fn received_growth_is_bounded() {
                super::received_growth_is_bounded(&*$ctor.store)
            }
            #[test]
            fn pending_reports_until_marked() {
                super::pending_reports_until_marked(&*$ctor.store)
            }
            #[test]
            fn concurrent_receive() {
                let s = $ctor;
                super::concurrent_receive(s.store.clone(), 8)
            }
            #[test]
            fn sender_key_devices() {
                super::sender_key_devices(&*$ctor.store)
            }
            #[test]
            fn logout_and_delete_wipe_messaging_state() {
                super::logout_and_delete_wipe_messaging_state(&*$ctor.store)
            }
        }
    };
}

conformance!(mem_store, mem());
conformance!(sled_store, sled());

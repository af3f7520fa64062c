//! Status timelines (issue 12 item 3) on both backends: every status change is logged with its
//! time, the server's `t` and error code; a message with no logged change reads as its outbox
//! entry implies; the log survives a reopen and an export/import, passes `check()`, and is
//! pruned by age.

mod common;

use common::{account_id, mem, sled, test_dir, CHAT};
use wa_store::{
    Durability, MessageStatus, NewOutbound, OutboxUpdate, SendStep, SledStore, StatusEvent,
    StatusStep, Store, StoreConfig,
};

const B: Durability = Durability::Buffered;

fn enqueue(s: &dyn Store, id: &str, now: u64) {
    let m = NewOutbound {
        message_id: id,
        chat: &CHAT,
        payload: b"p",
        now_ms: now,
    };
    s.enqueue(&account_id(1), &m, B).expect("enqueue");
}

fn send(s: &dyn Store, id: &str, now: u64) {
    let step = SendStep {
        message_id: id,
        sessions: &[],
        sender_key: None,
        now_ms: now,
    };
    s.commit_send(&account_id(1), &step, B).expect("send");
}

fn step(status: MessageStatus, at_ms: u64) -> StatusStep {
    StatusStep { status, at_ms }
}

fn timeline_of_every_change(s: &dyn Store) {
    let a = account_id(1);
    enqueue(s, "M1", 10);
    let queued = s.status_timeline(&a, "M1").expect("read").expect("one");
    assert_eq!((queued.queued_ms, queued.steps.len()), (10, 0));
    assert_eq!(queued.status(), MessageStatus::Queued);
    send(s, "M1", 11);
    for (ev, at) in [
        (StatusEvent::ServerAck { server_t: 1000 }, 12),
        (StatusEvent::ServerAck { server_t: 1000 }, 13),
        (StatusEvent::Delivered { t: 1001 }, 14),
        (StatusEvent::Read { t: 1002 }, 15),
    ] {
        s.record_status(&a, "M1", ev, at, B).expect("status");
    }
    let t = s.status_timeline(&a, "M1").expect("read").expect("one");
    assert_eq!(t.chat, *CHAT);
    assert_eq!(t.queued_ms, 10);
    // The repeated ack changed nothing, so it is not logged.
    assert_eq!(
        t.steps,
        [
            step(
                MessageStatus::Sent {
                    server_t: Some(1000)
                },
                12
            ),
            step(MessageStatus::Delivered { t: 1001 }, 14),
            step(MessageStatus::Read { t: 1002 }, 15),
        ]
    );
    assert_eq!(t.status(), MessageStatus::Read { t: 1002 });

    // A refusal carries the server's code; a local give-up none.
    enqueue(s, "M2", 20);
    send(s, "M2", 21);
    let rejected = StatusEvent::Rejected { code: 463 };
    s.record_status(&a, "M2", rejected, 22, B).expect("nack");
    let t = s.status_timeline(&a, "M2").expect("read").expect("one");
    assert_eq!(
        t.steps,
        [step(MessageStatus::Failed { code: Some(463) }, 22)]
    );
    enqueue(s, "M3", 30);
    s.update_outbox(&a, "M3", OutboxUpdate::Failed, 31, B)
        .expect("give up");
    let t = s.status_timeline(&a, "M3").expect("read").expect("one");
    assert_eq!(t.steps, [step(MessageStatus::Failed { code: None }, 31)]);

    assert_eq!(s.status_timeline(&a, "NONE").expect("read"), None);
    assert_eq!(s.status_timeline(&account_id(2), "M1").expect("read"), None);
    let report = s.check().expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

fn pruned_by_age_after_the_entry_is_gone(s: &dyn Store) {
    let a = account_id(1);
    for (id, at) in [("OLD", 100), ("NEW", 5_000)] {
        enqueue(s, id, at);
        send(s, id, at);
        let ack = StatusEvent::ServerAck { server_t: at };
        s.record_status(&a, id, ack, at + 1, B).expect("ack");
    }
    // The outbox entry goes; the timeline stays.
    assert!(s.remove_outbox(&a, "NEW", B).expect("remove"));
    let kept = s.status_timeline(&a, "NEW").expect("read").expect("kept");
    assert_eq!(
        kept.status(),
        MessageStatus::Sent {
            server_t: Some(5_000)
        }
    );
    assert_eq!(s.prune_status_log(&a, 1_000, B).expect("prune"), 1);
    assert!(s.status_timeline(&a, "NEW").expect("read").is_some());
    // OLD's outbox entry is still there: it answers from the entry again.
    let old = s.status_timeline(&a, "OLD").expect("read").expect("entry");
    assert_eq!(old.steps.len(), 1);
    assert_eq!(s.prune_status_log(&a, 1_000, B).expect("again"), 0);
}

#[test]
fn timeline_of_every_change_mem() {
    timeline_of_every_change(&*mem().store);
}

#[test]
fn timeline_of_every_change_sled() {
    timeline_of_every_change(&*sled().store);
}

#[test]
fn pruned_by_age_mem() {
    pruned_by_age_after_the_entry_is_gone(&*mem().store);
}

#[test]
fn pruned_by_age_sled() {
    pruned_by_age_after_the_entry_is_gone(&*sled().store);
}

#[test]
fn timelines_survive_a_reopen_and_a_backup() {
    let dir = test_dir("status-log");
    let config = StoreConfig::at(dir.path().join("wa_sessions"));
    let a = account_id(1);
    let before = {
        let s = SledStore::open(&config).expect("open");
        timeline_of_every_change(&s);
        s.flush().expect("flush");
        s.status_timeline(&a, "M1").expect("read").expect("one")
    };
    let s = SledStore::open(&config).expect("reopen");
    assert_eq!(
        s.status_timeline(&a, "M1").expect("read"),
        Some(before.clone())
    );
    let backup = dir.path().join("backup.bin");
    s.export(None, &backup).expect("export");
    let fresh = mem();
    fresh.store.import(&backup, B).expect("import");
    assert_eq!(
        fresh.store.status_timeline(&a, "M1").expect("read"),
        Some(before)
    );
}

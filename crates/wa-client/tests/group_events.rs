//! `w:gp2` notifications as [`EventKind::GroupChanged`] and the group-metadata cache of the
//! group send (issue 10 item 5), against wa-sim over real sockets: a sim phone (the group's
//! admin) adds, promotes, demotes and removes members of a group the gateway is in; the gateway
//! reports each change, and a send to an unchanged group asks no `w:g2` metadata query while a
//! send after a change asks again.

mod support;

use wa_client::{EventKind, GroupMember, GroupUpdate, ParticipantAction, SendOptions};
use wa_protocol::binary::Jid;
use wa_protocol::message::Content;
use wa_protocol::PhoneNumber;
use wa_sim::SimEvent;
use wa_testkit::{wait_for, Linked, DEADLINE};

use support::group::is_metadata_query;
use support::{linked, user};

const A: &str = "15550130001";
const B: &str = "15550130002";
const C: &str = "15550130003";
const D: &str = "15550130004";

/// Sends `text` to `group` and waits until `phone` decrypted it; how many metadata queries the
/// gateway sent first (they precede the message on the one connection).
async fn send_counting_queries(linked: &Linked, group: &Jid, text: &str, phone: &str) -> usize {
    let mut events = linked.sim.subscribe();
    let sent = linked
        .gateway
        .send(
            &linked.id,
            group.clone(),
            Content::text(text),
            SendOptions::default(),
        )
        .await
        .expect("the server accepts the group message");
    let mut queries = 0;
    wait_for(&mut events, DEADLINE, "the phone decrypts it", |e| {
        match e {
            SimEvent::Stanza { node, .. } if is_metadata_query(node) => queries += 1,
            SimEvent::PhoneReceived { phone: p, id }
                if id == sent.id.as_str() && p.as_str() == phone =>
            {
                return Some(());
            }
            _ => {}
        }
        None
    })
    .await
    .expect("the phone decrypts it");
    queries
}

/// The next [`EventKind::GroupChanged`] of `group`: its change and author.
async fn next_change(linked: &mut Linked, group: &Jid) -> (GroupUpdate, Option<GroupMember>) {
    wait_for(
        &mut linked.events,
        DEADLINE,
        "a group change",
        |e| match e {
            EventKind::GroupChanged {
                group: g,
                change,
                by,
            } if g == group => Some((change.clone(), by.clone())),
            _ => None,
        },
    )
    .await
    .expect("the gateway reports the change")
}

/// Waits for the `create` notification of `group` (no GroupChanged: the group is new to us);
/// it drops the cached metadata too, so the query counts must not race it.
async fn created(linked: &mut Linked, group: &Jid) {
    wait_for(
        &mut linked.events,
        DEADLINE,
        "the create notification",
        |e| {
            matches!(e, EventKind::Stanza(n)
            if n.attr_str("type") == Some("w:gp2") && n.attr_jid("from") == Some(group))
            .then_some(())
        },
    )
    .await
    .expect("the gateway gets the create notification");
}

fn phones(members: &[GroupMember]) -> Vec<Jid> {
    members.iter().filter_map(|m| m.phone.clone()).collect()
}

#[tokio::test]
async fn a_phones_changes_are_reported_and_the_metadata_is_cached_until_one() {
    let mut linked = linked(&[A, B, C, D], 83).await;
    let group = linked
        .sim
        .create_group(B, "Climbing", &[A, C])
        .expect("B creates the group");
    created(&mut linked, &group).await;

    // First send: one metadata query; a second to the unchanged group: none.
    assert_eq!(send_counting_queries(&linked, &group, "one", C).await, 1);
    assert_eq!(send_counting_queries(&linked, &group, "two", C).await, 0);

    let change = |action, who: &[&str]| {
        let done = linked
            .sim
            .change_group(B, &group, action, who)
            .expect("B changes the group");
        assert!(done.iter().all(|(_, code)| code.is_none()), "{done:?}");
    };
    change(ParticipantAction::Add, &[D]);
    change(ParticipantAction::Promote, &[C]);
    change(ParticipantAction::Demote, &[C]);
    change(ParticipantAction::Remove, &[D]);

    let (added, by) = next_change(&mut linked, &group).await;
    let GroupUpdate::Added(members) = added else {
        panic!("an add, got {added:?}");
    };
    assert_eq!(phones(&members), vec![user(D)]);
    assert_eq!(by.and_then(|b| b.phone), Some(user(B)), "B did it");
    let (promoted, _) = next_change(&mut linked, &group).await;
    assert!(matches!(&promoted, GroupUpdate::Promoted(m) if phones(m) == vec![user(C)]));
    let (demoted, _) = next_change(&mut linked, &group).await;
    assert!(matches!(&demoted, GroupUpdate::Demoted(m) if phones(m) == vec![user(C)]));
    let (removed, _) = next_change(&mut linked, &group).await;
    assert!(matches!(&removed, GroupUpdate::Removed(m) if phones(m) == vec![user(D)]));

    // The notifications dropped the cached metadata: the next send asks again, then not.
    assert_eq!(send_counting_queries(&linked, &group, "three", C).await, 1);
    assert_eq!(send_counting_queries(&linked, &group, "four", C).await, 0);
}

#[tokio::test]
async fn our_own_participant_change_drops_the_cached_metadata() {
    let mut linked = linked(&[A, B, C], 84).await;
    let group = linked
        .gateway
        .create_group(&linked.id, "Rowing", vec![user(B), user(C)])
        .await
        .expect("group created")
        .jid;
    created(&mut linked, &group).await;
    assert_eq!(send_counting_queries(&linked, &group, "one", B).await, 1);
    assert_eq!(send_counting_queries(&linked, &group, "two", B).await, 0);
    linked
        .gateway
        .update_participants(&linked.id, &group, ParticipantAction::Remove, vec![user(C)])
        .await
        .expect("removed");
    assert_eq!(send_counting_queries(&linked, &group, "three", B).await, 1);
}

/// In a PN-addressed group the sim names a change's author by phone number only
/// (`author_pn` is for LID groups, `messaging.md` §16); the gateway completes its LID from the
/// store's PN ↔ LID map (learnt from usync when it sent to the group), so every member and
/// the author carry both.
#[tokio::test]
async fn changes_name_both_the_phone_number_and_the_lid() {
    let mut linked = linked(&[A, B, C, D], 85).await;
    let group = linked
        .sim
        .create_group(B, "Sailing", &[A, C])
        .expect("B creates the group");
    created(&mut linked, &group).await;
    send_counting_queries(&linked, &group, "one", C).await;
    let b_lid = Jid::lid(linked.sim.account(B).expect("B").lid);
    let b_pn: PhoneNumber = B.parse().expect("phone");
    let known = linked.store.lid_for_pn(&linked.id, &b_pn).expect("store");
    assert_eq!(
        known.map(|m| m.lid),
        Some(b_lid.clone()),
        "learnt from usync"
    );

    let done = linked
        .sim
        .change_group(B, &group, ParticipantAction::Add, &[D])
        .expect("B adds D");
    assert!(done.iter().all(|(_, code)| code.is_none()), "{done:?}");
    let (added, by) = next_change(&mut linked, &group).await;
    let by = by.expect("the author");
    assert_eq!(by.phone, Some(user(B)));
    assert_eq!(by.lid, Some(b_lid), "completed from the map");
    let GroupUpdate::Added(members) = added else {
        panic!("an add, got {added:?}");
    };
    let d_lid = Jid::lid(linked.sim.account(D).expect("D").lid);
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].phone, Some(user(D)));
    assert_eq!(members[0].lid, Some(d_lid));
}

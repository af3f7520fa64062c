//! Groups end to end against wa-sim (issue 10 item 5; `messaging.md` §9, §10; `signal.md` §9):
//! the gateway creates a group with two sim phones over `w:g2`, sends (each phone decrypts the
//! `skmsg` after the pairwise SKDM), receives a phone's group message (SKDM processed, `skmsg`
//! decrypted), sends again without re-distributing its key, removes a phone and sends again:
//! its key is rotated (every remaining device gets a new SKDM) and the removed phone gets
//! nothing.

mod support;

use wa_client::{EventKind, ParticipantAction, ParticipantRole};
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::group as sk;
use wa_protocol::stanza::{EncType, MessageStanza, Receipt, ReceiptType, RetryInfo};
use wa_protocol::MessageId;
use wa_sim::SimEvent;
use wa_testkit::{wait_for, DEADLINE};

use support::group::{create, from_phone, own_sender_key, send_to_group, skdm_users};
use support::{linked, user};

const A: &str = "15550120001";
const B: &str = "15550120002";
const C: &str = "15550120003";

#[tokio::test]
async fn the_gateway_creates_sends_receives_and_rotates_after_a_removal() {
    let mut linked = linked(&[A, B, C], 61).await;
    let group = create(&linked, A, "Hiking", &[B, C]).await;

    // First send: everyone (the other phones and our own primary) gets our SKDM, then the skmsg.
    let first = send_to_group(&linked, &group, "hello group", &[B, C, A]).await;
    assert_eq!(skdm_users(&first), vec![A, B, C]);
    assert!(first.phash.as_deref().is_some_and(|p| p.starts_with("2:")));
    // Second send: every device holds our key already; only the skmsg goes out.
    let second = send_to_group(&linked, &group, "second", &[B, C]).await;
    assert!(second.participants.is_empty(), "no SKDM again: {second:?}");

    // A phone writes to the group: the gateway processes its SKDM and decrypts its skmsg; our
    // own phone's group message is read like any member's.
    let message = from_phone(&mut linked, B, &group, "hi from B").await;
    assert_eq!(message.sender.phone, Some(user(B)));
    let mine = from_phone(&mut linked, A, &group, "from my phone").await;
    assert_eq!(mine.sender.phone, Some(user(A)));

    // C is removed: the next send rotates our key (B and our own devices get a new SKDM) and
    // C receives nothing.
    let results = linked
        .gateway
        .update_participants(&linked.id, &group, ParticipantAction::Remove, vec![user(C)])
        .await
        .expect("removed");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].error, None);
    let before = linked.sim.phone_messages(C).expect("inbox").len();
    let old_key = own_sender_key(&linked, &group);
    let third = send_to_group(&linked, &group, "after the removal", &[B]).await;
    assert_eq!(
        skdm_users(&third),
        vec![A, B],
        "the new key goes to every remaining member"
    );
    // A new key: the states C was given (those of the old record) do not open the new skmsg.
    let new_key = own_sender_key(&linked, &group);
    assert_eq!(new_key.states().len(), 1);
    assert_ne!(new_key.states()[0].key_id(), old_key.states()[0].key_id());
    let skmsg = third
        .encs
        .iter()
        .find(|e| e.kind == EncType::SkMsg)
        .expect("skmsg");
    assert!(sk::decrypt(&old_key, &skmsg.ciphertext).is_err());
    let c_inbox = linked.sim.phone_messages(C).expect("inbox");
    assert_eq!(c_inbox.len(), before, "the removed phone got nothing");
    assert!(c_inbox.iter().all(|m| m.id != third.id.as_str()));
}

#[tokio::test]
async fn group_management_iqs() {
    let linked = linked(&[A, B, C], 62).await;
    let gw = &linked.gateway;
    let info = gw
        .create_group(&linked.id, "Book club", vec![user(B)])
        .await
        .expect("created");
    let group = info.jid;
    gw.set_group_subject(&linked.id, &group, "Book club 2027")
        .await
        .expect("subject set");
    let added = gw
        .update_participants(&linked.id, &group, ParticipantAction::Add, vec![user(C)])
        .await
        .expect("added");
    assert_eq!(added[0].error, None);
    let promoted = gw
        .update_participants(
            &linked.id,
            &group,
            ParticipantAction::Promote,
            vec![user(C)],
        )
        .await
        .expect("promoted");
    assert_eq!(promoted[0].error, None);
    let info = gw.group_info(&linked.id, &group).await.expect("metadata");
    assert_eq!(info.subject, "Book club 2027");
    assert_eq!(
        info.participant(&user(C)).map(|p| p.role),
        Some(ParticipantRole::Admin)
    );
    let link = gw
        .group_invite_link(&linked.id, &group, false)
        .await
        .expect("link");
    assert!(link.starts_with("https://chat.whatsapp.com/"));
    let reset = gw
        .group_invite_link(&linked.id, &group, true)
        .await
        .expect("new link");
    assert_ne!(link, reset);
    let groups = gw.groups(&linked.id).await.expect("list");
    assert!(groups.iter().any(|g| g.jid == group));
    gw.leave_group(&linked.id, &group).await.expect("left");
    let groups = gw.groups(&linked.id).await.expect("list");
    assert!(groups.iter().all(|g| g.jid != group));
    // Bad input is the caller's fault, before anything is sent.
    let err = gw
        .set_group_subject(&linked.id, &group, "  ")
        .await
        .expect_err("blank subject");
    assert_eq!(err.fault(), wa_client::Fault::Caller);
    let err = gw
        .group_info(&linked.id, &user(B))
        .await
        .expect_err("not a group");
    assert_eq!(err.fault(), wa_client::Fault::Caller);
}

/// A LID-migrated account's group is LID-addressed (`messaging.md` §9 step 3, §16): the gateway
/// sends from its LID device and the phones decrypt; a phone's message names the sender's LID
/// and phone number.
#[tokio::test]
async fn a_lid_addressed_group() {
    let mut linked = linked(&[A, B, C], 63).await;
    let a: wa_protocol::PhoneNumber = A.parse().expect("phone");
    let update = wa_sim::SwitchesUpdate {
        lid_migrated: Some(true),
        require_privacy_tokens: None,
    };
    linked.sim.update_account(&a, update).expect("migrated");
    let info = linked
        .gateway
        .create_group(&linked.id, "By LID", vec![user(B), user(C)])
        .await
        .expect("created");
    assert_eq!(
        info.addressing_mode,
        Some(wa_protocol::stanza::AddressingMode::Lid)
    );
    let group = info.jid;
    let sent = send_to_group(&linked, &group, "hello by lid", &[B, C]).await;
    assert!(sent
        .participants
        .iter()
        .all(|p| p.jid.server() == &Server::Lid));
    let message = from_phone(&mut linked, B, &group, "back by lid").await;
    let b_lid = linked.sim.account(B).expect("account").lid;
    assert_eq!(message.sender.lid, Some(Jid::lid(b_lid)));
    assert_eq!(message.sender.phone, Some(user(B)));
}

/// A member's retry receipt for a group message (`messaging.md` §11, group form) is answered
/// pairwise to that device only: the same id, `to` the group, `participant` the device, one
/// `<enc count>` (the message with our SKDM added), not an `skmsg`.
#[tokio::test]
async fn a_group_retry_receipt_is_answered_pairwise() {
    let linked = linked(&[A, B, C], 64).await;
    let group = create(&linked, A, "Retry", &[B, C]).await;
    let sent = send_to_group(&linked, &group, "please retry", &[B, C]).await;
    let b_phone = user(B);
    let mut receipt = Receipt::new(sent.id.clone(), ReceiptType::Retry);
    receipt.from = Some(group.clone());
    receipt.participant = Some(b_phone.clone());
    receipt.t = Some(1_700_000_000);
    receipt.retry = Some(RetryInfo {
        count: 1,
        id: sent.id.clone(),
        t: 1_700_000_000,
        v: 1,
        error: None,
        registration_id: 1,
        keys: None,
    });
    let mut events = linked.sim.subscribe();
    assert!(linked.sim.send(linked.conn, receipt.to_node()), "delivered");
    let resend = wait_for(&mut events, DEADLINE, "the pairwise resend", |e| match e {
        SimEvent::Stanza { node, .. }
            if node.tag == "message"
                && node.attr_str("id") == Some(sent.id.as_str())
                && node.attr("participant").is_some() =>
        {
            MessageStanza::from_node(node).ok()
        }
        _ => None,
    })
    .await
    .expect("the gateway answers the retry");
    assert_eq!(resend.to, Some(group));
    assert_eq!(resend.participant, Some(b_phone));
    assert!(resend.participants.is_empty());
    assert_eq!(resend.encs.len(), 1);
    // Pairwise: still a `pkmsg` while B has not answered on the session we started.
    assert_ne!(resend.encs[0].kind, EncType::SkMsg);
    if resend.encs[0].kind == EncType::PkMsg {
        assert!(resend.device_identity.is_some());
    }
    assert_eq!(resend.encs[0].count, Some(1));
}

/// A member's read receipt in a group names the author (`participant`, `messaging.md` §10): the
/// phone reads the gateway's group message and the message's status moves to Read; an id the
/// phone never received is refused by its admin action.
#[tokio::test]
async fn a_members_read_receipt_moves_the_status_to_read() {
    let mut linked = linked(&[A, B, C], 64).await;
    let group = create(&linked, A, "Reading", &[B, C]).await;
    let sent = send_to_group(&linked, &group, "please read", &[B, C]).await;
    let id = sent.id.clone();
    let group_text = group.to_string();
    linked
        .sim
        .phone_read(B, &group_text, &[id.as_str().to_owned()])
        .expect("the phone reads it");
    wait_for(&mut linked.events, DEADLINE, "Read", |e| match e {
        EventKind::MessageStatus { id: got, status } if *got == id => {
            matches!(status, wa_store::MessageStatus::Read { .. }).then_some(())
        }
        _ => None,
    })
    .await
    .expect("the status moves to Read");
    let unknown = MessageId::generate(1, None, &mut rand::rngs::OsRng);
    assert!(linked
        .sim
        .phone_read(C, &group_text, &[unknown.as_str().to_owned()])
        .is_err());
}

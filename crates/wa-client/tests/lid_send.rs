//! A send to a LID-migrated contact (`messaging.md` §16, issue 10 item 1): the contact's phone
//! writes from its LID (`sender_pn` naming its number); the gateway reports both, and its
//! answer to the LID is addressed in the LID namespace throughout (the outer `to`, every
//! `<to jid>` of the contact's and our own devices, the DeviceSentMessage destination). The
//! contact's phone decrypts it, and our own phone decrypts the own-device copy.

mod support;

use support::{linked, send_to_phone, user};
use wa_client::EventKind;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::Content;
use wa_protocol::stanza::MessageStanza;
use wa_protocol::PhoneNumber;
use wa_sim::{SimEvent, SwitchesUpdate};
use wa_testkit::{wait_for, DEADLINE};

const A: &str = "15550111001";
const B: &str = "15550111002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_lid_migrated_contact_stays_in_the_lid_namespace() {
    let mut linked = linked(&[A, B], 111).await;
    let b: PhoneNumber = B.parse().expect("phone");
    let update = SwitchesUpdate {
        lid_migrated: Some(true),
        ..SwitchesUpdate::default()
    };
    let info = linked.sim.update_account(&b, update).expect("switch");
    let b_lid = Jid::lid(info.lid.clone());
    let a_lid = Jid::lid(linked.sim.account(A).expect("A").lid);

    linked
        .sim
        .phone_send(B, A, "hello from a LID")
        .expect("phone sends");
    let m = wait_for(
        &mut linked.events,
        DEADLINE,
        "the phone's text",
        |e| match e {
            EventKind::Message(m) => Some(m.clone()),
            _ => None,
        },
    )
    .await
    .expect("received");
    assert_eq!(
        m.sender.device.server(),
        &Server::Lid,
        "written from the LID"
    );
    assert_eq!(m.sender.phone, Some(user(B)));
    assert_eq!(m.sender.lid, Some(b_lid.clone()));
    assert_eq!(m.chat, b_lid);

    let mut events = linked.sim.subscribe();
    let (sent, node) = send_to_phone(
        &linked,
        b_lid.clone(),
        B,
        Content::text("answer by LID"),
        None,
    )
    .await;
    let stanza = MessageStanza::from_node(&node).expect("parses");
    assert_eq!(stanza.to, Some(b_lid.clone()));
    assert!(stanza.check_one_namespace().is_ok());
    let targets: Vec<&Jid> = stanza.participants.iter().map(|p| &p.jid).collect();
    assert!(
        targets.iter().all(|j| j.server() == &Server::Lid),
        "{targets:?}"
    );
    assert!(
        targets.contains(&&b_lid),
        "the contact's phone: {targets:?}"
    );
    assert!(targets.contains(&&a_lid), "our own phone: {targets:?}");
    let inbox = linked.sim.phone_messages(B).expect("inbox");
    let got = inbox
        .iter()
        .find(|x| x.id == sent.id.as_str())
        .expect("decrypted");
    assert_eq!((got.from.as_str(), got.text.as_str()), (A, "answer by LID"));
    // The own-device copy reaches our own phone, naming the LID chat.
    wait_for(&mut events, DEADLINE, "the own-device copy", |e| match e {
        SimEvent::PhoneReceived { phone, id } if phone.as_str() == A && *id == sent.id.as_str() => {
            Some(())
        }
        _ => None,
    })
    .await
    .expect("our phone decrypts its copy");
    let own = linked.sim.phone_messages(A).expect("inbox");
    let copy = own.iter().find(|x| x.id == sent.id.as_str()).expect("copy");
    assert_eq!(copy.chat, b_lid.to_string());
}

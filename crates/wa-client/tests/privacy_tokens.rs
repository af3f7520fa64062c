//! Privacy tokens over real sockets (`messaging.md` §16, issue 10 item 3): with the
//! recipient's account requiring tokens, a first-contact DM fails with 463 (status
//! `Failed{463}`) and is not sent again; the phone's first text grants a token
//! (`<notification type="privacy_token">`), which the gateway stores by the contact's LID and
//! attaches as `<tctoken>`: the same send then succeeds, and the gateway issues its own token.

mod support;

use support::{linked, next_status, send_to_phone, user};
use wa_client::{Error, EventKind};
use wa_protocol::message::Content;
use wa_protocol::stanza::{IssuePrivacyTokens, MessageStanza, Notification, NotificationBody};
use wa_protocol::PhoneNumber;
use wa_sim::{SimEvent, SwitchesUpdate};
use wa_store::MessageStatus;
use wa_testkit::{wait_for, DEADLINE};

const A: &str = "15550108001";
const B: &str = "15550108002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_contact_fails_with_463_until_the_phone_grants_a_token() {
    let mut linked = linked(&[A, B], 81).await;
    let b: PhoneNumber = B.parse().expect("phone");
    let update = SwitchesUpdate {
        require_privacy_tokens: Some(true),
        ..SwitchesUpdate::default()
    };
    linked.sim.update_account(&b, update).expect("switch");
    let mut sim_events = linked.sim.subscribe();
    let mut everything = linked.sim.subscribe();

    // First contact without a token: refused with 463, Failed{463}, not retried.
    let refused = linked
        .gateway
        .send_text(&linked.id, user(B), "first contact")
        .await;
    let Err(Error::Rejected { id, code: 463 }) = refused else {
        panic!("expected a 463 refusal, got {refused:?}");
    };
    let id = id.parse().expect("id");
    assert_eq!(
        linked
            .gateway
            .message_status(&linked.id, &id)
            .await
            .expect("status"),
        MessageStatus::Failed { code: Some(463) }
    );
    assert_eq!(
        next_status(&mut linked, &id).await,
        MessageStatus::Failed { code: Some(463) }
    );

    // The phone texts the account: the message arrives, and its token with it.
    linked
        .sim
        .phone_send(B, A, "hi from the phone")
        .expect("phone sends");
    wait_for(
        &mut linked.events,
        DEADLINE,
        "the token notification",
        |e| {
            let EventKind::Stanza(node) = e else {
                return None;
            };
            match Notification::from_node(node) {
                Ok(Notification {
                    body: NotificationBody::PrivacyToken(_),
                    ..
                }) => Some(()),
                _ => None,
            }
        },
    )
    .await
    .expect("the gateway stores the token");
    let lid = linked
        .store
        .lid_for_pn(&linked.id, &b)
        .expect("store")
        .expect("B's LID is known from usync")
        .lid;
    let token = linked
        .store
        .privacy_token(&linked.id, &lid)
        .expect("store")
        .expect("kept by B's LID");

    // The same send now carries the token and succeeds.
    let (sent, node) =
        send_to_phone(&linked, user(B), B, Content::text("first contact"), None).await;
    let stanza = MessageStanza::from_node(&node).expect("parses");
    assert_eq!(stanza.tctoken.as_deref(), Some(token.token.as_slice()));
    assert!(matches!(
        next_status(&mut linked, &sent.id).await,
        MessageStatus::Sent { server_t: Some(_) }
    ));

    // After the accepted send, our own token is issued to B (never issued before).
    let issued = wait_for(&mut sim_events, DEADLINE, "our token", |e| match e {
        SimEvent::Stanza { node, .. } if node.attr_str("xmlns") == Some("privacy") => {
            IssuePrivacyTokens::from_node(node).ok()
        }
        _ => None,
    })
    .await
    .expect("issued");
    assert_eq!(issued.tokens.len(), 1);
    assert_eq!(issued.tokens[0].0, lid);

    // The refused message reached the sim once: never sent again.
    let mut attempts = 0;
    while let Ok(e) = everything.try_recv() {
        if let SimEvent::Stanza { node, .. } = e {
            if node.tag == "message" && node.attr_str("id") == Some(id.as_str()) {
                attempts += 1;
            }
        }
    }
    assert_eq!(attempts, 1);
    let counters = linked.sim.counters();
    assert_eq!(
        counters.get("route:refused").copied(),
        Some(1),
        "{counters:?}"
    );
}

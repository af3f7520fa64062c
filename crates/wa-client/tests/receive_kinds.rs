//! Every everyday kind from a simulated phone reaches the linked account as one typed
//! `EventKind::Message` (issue 10 item 6; kinds of `messaging.md` §1): text, a quoted reply with
//! mentions, reaction, edit, revoke, location and contact. Each event names the sender's phone
//! number and LID (§16), the chat, the id, the server time and the quoted id.

use std::sync::Arc;

use wa_client::{EventKind, ReceivedText};
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::Content;
use wa_sim::{ContactBody, EditBody, LocationBody, PhoneSend, ReactionBody};
use wa_store::{MemStore, Store};
use wa_testkit::{client_config, new_account, start_sim, wait_for, Linked, DEADLINE};

const A: &str = "15550108001";
const B: &str = "15550108002";

fn user(phone: &str) -> Jid {
    Jid::user(phone, Server::WhatsApp)
}

/// The phone of B sends `request` to A; returns the event the account reported for it.
async fn phone_sends(linked: &mut Linked, request: PhoneSend) -> ReceivedText {
    let id = linked
        .sim
        .phone_send_kind(
            B,
            &PhoneSend {
                to: A.to_owned(),
                ..request
            },
        )
        .expect("the phone sends");
    let m = wait_for(
        &mut linked.events,
        DEADLINE,
        "the phone's message",
        |e| match e {
            EventKind::Message(m) if m.id == id => Some(m.clone()),
            _ => None,
        },
    )
    .await
    .expect("reported");
    assert_eq!(m.chat, user(B));
    assert_eq!(m.sender.phone, Some(user(B)));
    assert_eq!(m.sender.device.user_part(), B, "a PN-addressed phone");
    assert!(m.t > 0);
    *m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_from_a_phone_is_one_typed_event() {
    let sim = start_sim(&[A, B]).await;
    let lid_b = sim.account(B).expect("B").lid;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let a = new_account(store.as_ref(), 81);
    let config = client_config(&sim);
    let mut linked = Linked::link(sim, A, store, config, a).await;

    let first = phone_sends(&mut linked, PhoneSend::text(A, "first")).await;
    assert!(matches!(&first.content, Content::Text(t) if t.text == "first" && t.reply.is_none()));
    assert_eq!(first.quoted_id(), None);
    // The LID is named too: from the stanza's sender_lid, or the map (§16).
    assert_eq!(
        first.sender.lid.as_ref().map(Jid::user_part),
        Some(lid_b.as_str()),
        "the sender's LID"
    );

    replies(&mut linked, &first).await;
    reactions_edits_revokes(&mut linked, &first).await;
    locations_contacts_refusals(&mut linked, &first).await;
}

/// A quoted reply with a mention.
async fn replies(linked: &mut Linked, first: &ReceivedText) {
    let reply = PhoneSend {
        text: Some("a reply".into()),
        reply_to: Some(first.id.as_str().to_owned()),
        mentions: vec![A.to_owned()],
        ..PhoneSend::default()
    };
    let reply = phone_sends(linked, reply).await;
    assert_eq!(reply.quoted_id(), Some(&first.id));
    match &reply.content {
        Content::Text(t) => {
            assert_eq!(t.text, "a reply");
            assert_eq!(t.mentions, vec![user(A)]);
            assert_eq!(
                t.reply.as_ref().and_then(|r| r.sender.clone()),
                Some(user(B))
            );
        }
        other => panic!("a text, not {other:?}"),
    }
}

/// A reaction to, an edit of and a revoke of the phone's first message.
async fn reactions_edits_revokes(linked: &mut Linked, first: &ReceivedText) {
    let reaction = PhoneSend {
        reaction: Some(ReactionBody {
            id: first.id.as_str().to_owned(),
            emoji: "👍".into(),
        }),
        ..PhoneSend::default()
    };
    match phone_sends(linked, reaction).await.content {
        Content::Reaction(r) => {
            assert_eq!((r.target.id, r.emoji.as_str()), (first.id.clone(), "👍"));
            assert!(r.target.from_me, "B reacts to its own message");
        }
        other => panic!("a reaction, not {other:?}"),
    }

    let edit = PhoneSend {
        edit: Some(EditBody {
            id: first.id.as_str().to_owned(),
            text: "first, edited".into(),
        }),
        ..PhoneSend::default()
    };
    match phone_sends(linked, edit).await.content {
        Content::Edit(e) => {
            assert_eq!(e.target.id, first.id);
            assert!(matches!(*e.content, Content::Text(ref t) if t.text == "first, edited"));
        }
        other => panic!("an edit, not {other:?}"),
    }

    let revoke = PhoneSend {
        revoke: Some(first.id.as_str().to_owned()),
        ..PhoneSend::default()
    };
    assert!(matches!(
        phone_sends(linked, revoke).await.content,
        Content::Revoke(r) if r.target.id == first.id
    ));
}

/// A location and a contact; requests naming two kinds or none are refused.
async fn locations_contacts_refusals(linked: &mut Linked, first: &ReceivedText) {
    let location = PhoneSend {
        location: Some(LocationBody {
            lat: 52.37,
            lng: 4.89,
            name: Some("Dam".into()),
        }),
        ..PhoneSend::default()
    };
    match phone_sends(linked, location).await.content {
        Content::Location(l) => {
            assert_eq!(
                (l.latitude, l.longitude, l.name.as_deref()),
                (52.37, 4.89, Some("Dam"))
            );
        }
        other => panic!("a location, not {other:?}"),
    }

    let vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Test Person\nEND:VCARD";
    let contact = PhoneSend {
        contact: Some(ContactBody {
            name: "Test Person".into(),
            vcard: vcard.into(),
        }),
        ..PhoneSend::default()
    };
    match phone_sends(linked, contact).await.content {
        Content::Contact(c) => assert_eq!(
            (c.display_name.as_str(), c.vcard.as_str()),
            ("Test Person", vcard)
        ),
        other => panic!("a contact, not {other:?}"),
    }

    // A request naming two kinds, or none, is refused by the sim without sending anything.
    let two = PhoneSend {
        text: Some("x".into()),
        revoke: Some(first.id.as_str().to_owned()),
        ..PhoneSend::text(A, "x")
    };
    assert!(linked.sim.phone_send_kind(B, &two).is_err());
    let none = PhoneSend {
        to: A.into(),
        ..PhoneSend::default()
    };
    assert!(linked.sim.phone_send_kind(B, &none).is_err());
}

//! A LID-migrated account and a PN account, each with a sim phone over real sockets (issue 10
//! item 1; `messaging.md` §16, `login-pairing.md` §4.4). The sim's pair-success tells the
//! migrated account so (`<client-props>` `isChatDbLidMigrated`), which the device record keeps,
//! across a restart too. A migrated account given a phone number writes to that contact's LID:
//! the outer `to`, every `<to jid>` (the contact's phone and our own phone) and the
//! DeviceSentMessage destination in the LID namespace, the number in `peer_recipient_pn`; a PN
//! account stays in the PN namespace.
//! Either way: text, reaction, edit, revoke, location and contact both ways; the own-device copy
//! decrypts on our own phone; delivery and read receipts move the status; every received
//! message (the contact's, and our own phone's copy of what it sent) names the phone number
//! and the LID.

mod support;

use std::sync::Arc;

use support::{linked_with, next_status, send_seen_by, user};
use wa_client::{EventKind, ReceivedText, SendOptions};
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::message::{Contact, Content, Edit, Location, MessageKey, Reaction, Revoke};
use wa_protocol::stanza::MessageStanza;
use wa_protocol::MessageId;
use wa_sim::{ContactBody, EditBody, LocationBody, PhoneSend, ReactionBody};
use wa_store::{MemStore, MessageStatus, SledStore, Store, StoreConfig};
use wa_testkit::{client_config, temp_dir, wait_for, AccountEvents, Linked, DEADLINE};

const A: &str = "15550113001";
const B: &str = "15550113002";

/// The two accounts of a scenario: ours (A) and the contact (B), as the wire names them.
struct Peers {
    /// Our namespace: LID when migrated.
    server: Server,
    /// The contact's chat in that namespace.
    chat: Jid,
    /// Our own phone (device 0) in that namespace.
    own_phone: Jid,
    /// The contact's LID user.
    b_lid: Jid,
    /// Our LID user.
    a_lid: Jid,
    /// What the contact's phone writes to: our LID when migrated, else our number.
    us: String,
}

fn peers(linked: &Linked, migrated: bool) -> Peers {
    let b_lid = Jid::lid(linked.sim.account(B).expect("B").lid);
    let a_lid = Jid::lid(linked.sim.account(A).expect("A").lid);
    if migrated {
        Peers {
            server: Server::Lid,
            chat: b_lid.clone(),
            own_phone: a_lid.clone(),
            b_lid,
            us: a_lid.to_string(),
            a_lid,
        }
    } else {
        Peers {
            server: Server::WhatsApp,
            chat: user(B),
            own_phone: user(A),
            b_lid,
            us: A.to_owned(),
            a_lid,
        }
    }
}

/// The stanza is in `p`'s one namespace: outer `to` is the chat, every `<to jid>` in that
/// namespace, the contact's phone and our own phone among them.
fn assert_one_namespace(node: &Node, p: &Peers) {
    let stanza = MessageStanza::from_node(node).expect("parses");
    assert_eq!(stanza.to.as_ref(), Some(&p.chat), "the outer to");
    assert!(stanza.check_one_namespace().is_ok());
    let targets: Vec<&Jid> = stanza.participants.iter().map(|x| &x.jid).collect();
    assert!(
        targets.iter().all(|j| *j.server() == p.server),
        "{targets:?}"
    );
    assert!(
        targets.contains(&&p.chat),
        "the contact's phone: {targets:?}"
    );
    assert!(
        targets.contains(&&p.own_phone),
        "our own phone: {targets:?}"
    );
    // A LID-addressed DM names the peer's number (§0, §7).
    let pn = (p.server == Server::Lid).then(|| user(B));
    assert_eq!(stanza.alt.peer_recipient_pn, pn, "peer_recipient_pn");
}

/// Sends `content` to B's phone number; both phones decrypt it; the stanza is in one
/// namespace; returns the id and the kind and text B's phone recorded.
async fn send(linked: &Linked, p: &Peers, content: Content) -> (MessageId, String, String) {
    let (sent, node) = send_seen_by(linked, user(B), &[B, A], content, None).await;
    assert_one_namespace(&node, p);
    let entry = |phone: &str| {
        let inbox = linked.sim.phone_messages(phone).expect("inbox");
        inbox
            .into_iter()
            .find(|m| m.id == sent.id.as_str())
            .unwrap_or_else(|| panic!("{} not in {phone}'s inbox", sent.id))
    };
    let (got, copy) = (entry(B), entry(A));
    assert_eq!(got.from, A);
    // The own-device copy names the chat as it was addressed (§6 step 3).
    assert_eq!(
        copy.chat,
        p.chat.to_string(),
        "the DeviceSentMessage destination"
    );
    assert_eq!(copy.kind, got.kind);
    (sent.id, got.kind, got.text)
}

/// Every kind to the contact; the first text's status moves Sent → Delivered → Read.
async fn every_kind_out(linked: &mut Linked, p: &Peers) {
    let (first, kind, text) = send(linked, p, Content::text("hello by number")).await;
    assert_eq!((kind.as_str(), text.as_str()), ("text", "hello by number"));
    assert!(matches!(
        next_status(linked, &first).await,
        MessageStatus::Sent { server_t: Some(_) }
    ));
    assert!(matches!(
        next_status(linked, &first).await,
        MessageStatus::Delivered { .. }
    ));
    linked
        .sim
        .phone_read(B, &p.us, &[first.as_str().to_owned()])
        .expect("the phone reads it");
    assert!(matches!(
        next_status(linked, &first).await,
        MessageStatus::Read { .. }
    ));
    let key = MessageKey {
        remote_jid: p.chat.clone(),
        from_me: true,
        id: first.clone(),
        participant: None,
    };
    let kinds = [
        (
            Content::Reaction(Reaction {
                target: key.clone(),
                emoji: "👍".into(),
                sent_at: None,
            }),
            "reaction",
        ),
        (
            Content::Edit(Edit {
                target: key.clone(),
                content: Box::new(Content::text("edited")),
                edited_at: None,
            }),
            "edit",
        ),
        (
            Content::Location(Location {
                latitude: 52.37,
                longitude: 4.89,
                name: Some("Dam".into()),
                address: None,
            }),
            "location",
        ),
        (
            Content::Contact(Contact {
                display_name: "Test Contact".into(),
                vcard: "BEGIN:VCARD\nVERSION:3.0\nFN:Test Contact\nEND:VCARD".into(),
            }),
            "contact",
        ),
        (Content::Revoke(Revoke { target: key }), "revoke"),
    ];
    for (content, want) in kinds {
        let (_, kind, _) = send(linked, p, content).await;
        assert_eq!(kind, want);
    }
}

/// B's phone sends `request` to us; the event names B's number and LID, in `p`'s namespace.
async fn phone_sends(linked: &mut Linked, p: &Peers, request: PhoneSend) -> ReceivedText {
    let request = PhoneSend {
        to: p.us.clone(),
        ..request
    };
    let id = linked
        .sim
        .phone_send_kind(B, &request)
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
    assert_eq!(m.chat, p.chat);
    assert_eq!(*m.sender.device.server(), p.server);
    assert_eq!(m.sender.phone, Some(user(B)), "the phone number");
    assert_eq!(m.sender.lid, Some(p.b_lid.clone()), "the LID");
    *m
}

/// Every kind from the contact's phone, each one typed event.
async fn every_kind_in(linked: &mut Linked, p: &Peers) {
    let first = phone_sends(linked, p, PhoneSend::text(A, "hello gateway")).await;
    assert!(matches!(&first.content, Content::Text(t) if t.text == "hello gateway"));
    let target = first.id.as_str().to_owned();
    let requests = [
        PhoneSend {
            reaction: Some(ReactionBody {
                id: target.clone(),
                emoji: "👍".into(),
            }),
            ..PhoneSend::default()
        },
        PhoneSend {
            edit: Some(EditBody {
                id: target.clone(),
                text: "edited".into(),
            }),
            ..PhoneSend::default()
        },
        PhoneSend {
            location: Some(LocationBody {
                lat: 52.37,
                lng: 4.89,
                name: None,
            }),
            ..PhoneSend::default()
        },
        PhoneSend {
            contact: Some(ContactBody {
                name: "Test Person".into(),
                vcard: "BEGIN:VCARD\nVERSION:3.0\nFN:Test Person\nEND:VCARD".into(),
            }),
            ..PhoneSend::default()
        },
        PhoneSend {
            revoke: Some(target),
            ..PhoneSend::default()
        },
    ];
    let mut kinds = Vec::new();
    for request in requests {
        let m = phone_sends(linked, p, request).await;
        kinds.push(match m.content {
            Content::Reaction(_) => "reaction",
            Content::Edit(_) => "edit",
            Content::Location(_) => "location",
            Content::Contact(_) => "contact",
            Content::Revoke(_) => "revoke",
            _ => "other",
        });
    }
    assert_eq!(kinds, ["reaction", "edit", "location", "contact", "revoke"]);
}

async fn both_ways(migrated: bool, seed: u64) {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let mut linked = linked_with(&[A, B], seed, store, migrated).await;
    let device = linked
        .store
        .device(&linked.id)
        .expect("store")
        .expect("device");
    assert_eq!(device.lid_migrated, migrated, "kept from pair-success");
    let p = peers(&linked, migrated);
    every_kind_out(&mut linked, &p).await;
    every_kind_in(&mut linked, &p).await;
    own_phone_copy(&mut linked, &p).await;
    if migrated {
        // A number the server names no LID for cannot be written to by LID (§0, §16).
        let nobody = user("15550113999");
        let err = linked
            .gateway
            .send(
                &linked.id,
                nobody.clone(),
                Content::text("anyone?"),
                SendOptions::default(),
            )
            .await
            .expect_err("no LID");
        assert!(
            matches!(&err, wa_client::Error::NoLid(j) if *j == nobody),
            "{err:?}"
        );
        assert_eq!(err.fault(), wa_client::Fault::Peer);
    }
}

/// Our own phone writes to the contact: its copy reaches us as one event naming the chat in
/// our namespace and our own number and LID as the sender.
async fn own_phone_copy(linked: &mut Linked, p: &Peers) {
    let id = linked.sim.phone_send(A, B, "from my phone").expect("sent");
    let m = wait_for(
        &mut linked.events,
        DEADLINE,
        "our phone's copy",
        |e| match e {
            EventKind::Message(m) if m.id == id => Some(m.clone()),
            _ => None,
        },
    )
    .await
    .expect("reported");
    assert_eq!(m.chat, p.chat, "the DeviceSentMessage destination");
    assert_eq!(*m.sender.device.server(), p.server);
    assert_eq!(m.sender.phone, Some(user(A)), "our number");
    assert_eq!(m.sender.lid, Some(p.a_lid.clone()), "our LID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lid_migrated_account_writes_in_the_lid_namespace() {
    both_ways(true, 131).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pn_account_writes_in_the_pn_namespace() {
    both_ways(false, 132).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_flag_survives_a_restart() {
    let dir = temp_dir("lid-restart");
    let path = dir.path().join("wa_sessions");
    let open = || -> Arc<dyn Store> {
        Arc::new(SledStore::open(&StoreConfig::at(&path)).expect("store opens"))
    };
    let linked = linked_with(&[A, B], 133, open(), true).await;
    let Linked {
        sim,
        store,
        id,
        gateway,
        mut events,
        ..
    } = linked;
    gateway.shutdown(DEADLINE).await;
    wait_for(&mut events, DEADLINE, "Stopped", |e| {
        matches!(e, EventKind::Stopped).then_some(())
    })
    .await
    .expect("stopped");
    drop((gateway, store));
    // "Restart the process": a new store handle and gateway over the same directory.
    let store = open();
    assert!(
        store
            .device(&id)
            .expect("store")
            .expect("device")
            .lid_migrated
    );
    let gateway = wa_client::Gateway::new(Arc::clone(&store), client_config(&sim));
    let mut events = AccountEvents::new(gateway.subscribe(), id);
    let mut sim_events = sim.subscribe();
    assert_eq!(gateway.restore().await.expect("restore"), 1);
    let conn = wait_for(&mut sim_events, DEADLINE, "login", |e| match e {
        wa_sim::SimEvent::LoggedIn { conn, .. } => Some(*conn),
        _ => None,
    });
    let connected = wait_for(&mut events, DEADLINE, "Connected", |e| {
        matches!(e, EventKind::Connected { .. }).then_some(())
    });
    let (conn, connected) = tokio::join!(conn, connected);
    connected.expect("connected after restore");
    let relinked = Linked {
        sim,
        store,
        id,
        gateway,
        events,
        conn: conn.expect("login"),
    };
    let p = peers(&relinked, true);
    let (_, kind, text) = send(&relinked, &p, Content::text("after a restart")).await;
    assert_eq!((kind.as_str(), text.as_str()), ("text", "after a restart"));
}

//! Groups over real sockets (`messaging.md` §8–§11, §14, §16; `signal.md` §9): three simulated
//! phones in a group created through the admin API, each sending while everyone else decrypts
//! (sender keys distributed pairwise, then `skmsg`); a member removed, after which every sender
//! rotates its key and the removed phone receives nothing more; and the first phone's linked
//! companion, a raw socket decrypting with the keys of its store, which sees the rotation (the
//! old key no longer opens the new messages) and sends to the group itself.

mod common;

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::message::fanout::{encrypt_fanout, DeviceTarget, FanoutGroup};
use wa_protocol::message::group::{self as sk, phash};
use wa_protocol::message::receive::{decrypt_pairwise, PreKeySet};
use wa_protocol::message::{decode_padded, encode_padded, Content, EncVersion};
use wa_protocol::pb::e2e as pb;
use wa_protocol::signal::{LocalIdentity, SenderKeyRecord, SessionRecord};
use wa_protocol::stanza::{
    AddressingMode, BundleOutcome, BundleTarget, CreateGroup, DeviceEnc, Enc, EncType, GroupChange,
    GroupDone, GroupInfo, GroupNotification, GroupQuery, GroupResult, InviteCode, InviteCodeResult,
    IqRequest, LeaveGroup, MessageStanza, Notification, NotificationBody, ParticipantAction,
    ParticipantRole, ParticipantsResult, ParticipatingGroups, ParticipatingResult,
    PreKeyBundleRequest, PreKeyBundleResult, Receipt, ReceiptType, RetryInfo, ServerAck,
    SetSubject, StanzaAck, UpdateParticipants,
};
use wa_protocol::{MessageId, PhoneNumber};
use wa_testkit::raw::RawSocket;
use wa_testkit::Linked;

use common::{companion_keys, count, login_active, next, Admin};

const A: &str = "15550110001";
const B: &str = "15550110002";
const C: &str = "15550110003";

/// A companion's view of the group: its pairwise sessions and the sender keys it was given.
struct Reader {
    local: LocalIdentity,
    prekeys: PreKeySet,
    sessions: HashMap<String, SessionRecord>,
    sender_keys: HashMap<String, SenderKeyRecord>,
    rng: StdRng,
}

impl Reader {
    fn new(linked: &Linked) -> Self {
        let (local, prekeys) = companion_keys(linked);
        Self {
            local,
            prekeys,
            sessions: HashMap::new(),
            sender_keys: HashMap::new(),
            rng: StdRng::seed_from_u64(77),
        }
    }

    /// Opens a group delivery in document order (§10): the pairwise enc's SKDM first, then
    /// the skmsg; returns the text.
    fn open(&mut self, msg: &MessageStanza) -> Result<String, String> {
        let sender = msg
            .participant
            .as_ref()
            .ok_or("no participant")?
            .to_string();
        let group = msg.from.as_ref().ok_or("no from")?.to_string();
        let mut text = None;
        for enc in &msg.encs {
            if enc.kind == EncType::SkMsg {
                let record = self.sender_keys.get(&sender).ok_or("no sender key")?;
                let (record, padded) =
                    sk::decrypt(record, &enc.ciphertext).map_err(|e| e.to_string())?;
                self.sender_keys.insert(sender.clone(), record);
                let m = decode_padded(&padded, EncVersion::V2).map_err(|e| e.to_string())?;
                match Content::from_message(&m).map_err(|e| e.to_string())? {
                    Content::Text(t) => text = Some(t.text),
                    other => return Err(format!("{other:?}")),
                }
                continue;
            }
            let out = decrypt_pairwise(
                enc.kind,
                &enc.ciphertext,
                self.sessions.get(&sender),
                &self.local,
                &self.prekeys,
                None,
                &mut self.rng,
            )
            .map_err(|e| e.to_string())?;
            if let Some(id) = out.consumed_pre_key_id {
                self.prekeys.remove_one_time(id);
            }
            self.sessions.insert(sender.clone(), out.record);
            let m = decode_padded(&out.plaintext, EncVersion::V2).map_err(|e| e.to_string())?;
            // A retry resend carries the message itself pairwise (§11 step 4).
            if let Ok(Content::Text(t)) = Content::from_message(&m) {
                text = Some(t.text);
            }
            let skdm = m.sender_key_distribution_message.ok_or("no SKDM")?;
            assert_eq!(skdm.group_id.as_deref(), Some(group.as_str()));
            let bytes = skdm
                .axolotl_sender_key_distribution_message
                .ok_or("empty")?;
            let known = self.sender_keys.get(&sender).cloned().unwrap_or_default();
            let record = sk::process_distribution(&known, &bytes).map_err(|e| e.to_string())?;
            self.sender_keys.insert(sender.clone(), record);
        }
        text.ok_or_else(|| "no skmsg".to_owned())
    }
}

/// The next group message on the socket (acked, as a client does), skipping other stanzas.
async fn next_group_message(socket: &mut RawSocket) -> MessageStanza {
    let node = next(socket, "message").await;
    let ack = StanzaAck::for_stanza(&node).expect("ack");
    socket.send_node(&ack.to_node()).await.expect("acked");
    MessageStanza::from_node(&node).expect("parses")
}

fn texts(inbox: &Value, chat: &str) -> Vec<(String, String)> {
    inbox
        .as_array()
        .expect("array")
        .iter()
        .filter(|m| m["chat"] == json!(chat))
        .map(|m| {
            (
                m["from"].as_str().expect("from").to_owned(),
                m["text"].as_str().expect("text").to_owned(),
            )
        })
        .collect()
}

async fn send(http: &Admin, from: &str, to: &str, text: &str) -> String {
    let (status, body) = http
        .post(
            format!("/admin/phones/{from}/send"),
            json!({"to": to, "text": text}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn three_phones_talk_in_a_group_and_a_removed_member_reads_nothing_new() {
    let linked = Linked::new(A, 41).await;
    for phone in [B, C] {
        linked
            .sim
            .create_account(&phone.parse::<PhoneNumber>().expect("phone"));
    }
    linked.disconnect_gateway().await;
    let http = Admin {
        addr: linked.sim.addr(),
    };
    let mut socket = login_active(&linked, A, 7).await;
    let mut reader = Reader::new(&linked);

    let (status, created) = http
        .post(
            format!("/admin/phones/{A}/groups"),
            json!({"subject": "team", "participants": [B, C]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let jid = created["jid"].as_str().expect("jid").to_owned();
    assert!(jid.ends_with("@g.us"), "{jid}");
    let (status, meta) = http.get(format!("/admin/groups/{jid}")).await;
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["subject"], json!("team"));
    assert_eq!(meta["addressing_mode"], json!("pn"));
    let roles: Vec<(&str, &str)> = meta["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| {
            (
                p["phone"].as_str().expect("phone"),
                p["role"].as_str().expect("role"),
            )
        })
        .collect();
    assert_eq!(roles, vec![(A, "superadmin"), (B, "member"), (C, "member")]);

    // Everyone sends; every other phone decrypts, and A's companion too.
    for (from, text) in [
        (A, "one from A"),
        (B, "from B"),
        (C, "from C"),
        (A, "two from A"),
    ] {
        send(&http, from, &jid, text).await;
        let msg = next_group_message(&mut socket).await;
        assert_eq!(
            msg.from.as_ref().map(ToString::to_string),
            Some(jid.clone())
        );
        let participant = msg.participant.clone().expect("participant");
        assert_eq!(participant.user_part(), from);
        assert_eq!(msg.addressing_mode, Some(AddressingMode::Pn));
        let lid = linked.sim.account(from).expect("account").lid;
        let alt = msg.alt.participant_lid.as_ref().map(Jid::user_part);
        assert_eq!(
            alt,
            Some(lid.as_str()),
            "§16: the other namespace rides along"
        );
        // The first message from a sender carries its SKDM pairwise, before the skmsg; the
        // next ones only the skmsg.
        let kinds: Vec<EncType> = msg.encs.iter().map(|e| e.kind).collect();
        if text == "two from A" {
            assert_eq!(kinds, vec![EncType::SkMsg]);
        } else {
            assert_eq!(kinds.last(), Some(&EncType::SkMsg));
            assert_eq!(kinds.len(), 2, "{kinds:?}");
        }
        assert_eq!(reader.open(&msg).as_deref(), Ok(text));
    }
    let everyone = [
        (A.to_owned(), "one from A".to_owned()),
        (B.to_owned(), "from B".to_owned()),
        (C.to_owned(), "from C".to_owned()),
        (A.to_owned(), "two from A".to_owned()),
    ];
    for phone in [A, B, C] {
        let (_, inbox) = http.get(format!("/admin/phones/{phone}/messages")).await;
        let expected: Vec<_> = everyone
            .iter()
            .filter(|(f, _)| f != phone)
            .cloned()
            .collect();
        assert_eq!(texts(&inbox, &jid), expected, "{phone}");
    }
    // Each phone's delivery receipts reached the sender's devices (its phone and, for A's
    // messages, nothing to the companion beyond the receipts it gets).
    assert!(count(&linked.sim, "route:receipt") >= 8);

    // A removes C: its later sends rotate the key; C receives nothing more.
    let (status, changed) = http
        .post(
            format!("/admin/phones/{A}/groups/{jid}/participants"),
            json!({"action": "remove", "participants": [C]}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed, json!({"participants": [{"phone": C}]}));
    let c_before = texts(
        &http.get(format!("/admin/phones/{C}/messages")).await.1,
        &jid,
    );

    send(&http, A, &jid, "after C left").await;
    let msg = next_group_message(&mut socket).await;
    let kinds: Vec<EncType> = msg.encs.iter().map(|e| e.kind).collect();
    assert_eq!(kinds.len(), 2, "a fresh SKDM came along: {kinds:?}");
    // The key C holds (the one before) does not open it.
    let mut old_key_only = msg.clone();
    old_key_only.encs.retain(|e| e.kind == EncType::SkMsg);
    assert!(
        reader.open(&old_key_only).is_err(),
        "the old key is useless"
    );
    assert_eq!(reader.open(&msg).as_deref(), Ok("after C left"));

    send(&http, B, &jid, "B after C left").await;
    let msg = next_group_message(&mut socket).await;
    assert_eq!(msg.encs.len(), 2, "B rotated too");
    assert_eq!(reader.open(&msg).as_deref(), Ok("B after C left"));

    let c_after = texts(
        &http.get(format!("/admin/phones/{C}/messages")).await.1,
        &jid,
    );
    assert_eq!(c_after, c_before, "C reads nothing new");
    let b_inbox = texts(
        &http.get(format!("/admin/phones/{B}/messages")).await.1,
        &jid,
    );
    assert_eq!(
        b_inbox.last(),
        Some(&(A.to_owned(), "after C left".to_owned()))
    );
    let a_inbox = texts(
        &http.get(format!("/admin/phones/{A}/messages")).await.1,
        &jid,
    );
    assert_eq!(
        a_inbox.last(),
        Some(&(B.to_owned(), "B after C left".to_owned()))
    );
    let (status, _) = http
        .post(
            format!("/admin/phones/{C}/send"),
            json!({"to": jid, "text": "still here?"}),
        )
        .await;
    assert_eq!(status, 403, "C is no participant any more");

    companion_sends_to_the_group(&linked, &mut socket, &jid, &mut reader).await;

    // Through the Rust handle: C is added back and reads what follows (A's key reaches it).
    let group: Jid = jid.parse().expect("jid");
    let added = linked
        .sim
        .change_group(A, &group, ParticipantAction::Add, &[C])
        .expect("added");
    assert_eq!(added, vec![(C.parse().expect("phone"), None)]);
    assert_eq!(
        linked.sim.group(&group).map(|g| g.participants.len()),
        Some(3)
    );
    let id = linked
        .sim
        .phone_send(A, &jid, "welcome back")
        .expect("sent");
    let inbox = linked.sim.phone_messages(C).expect("inbox");
    let last = inbox.last().expect("a message");
    assert_eq!(
        (last.id.as_str(), last.text.as_str()),
        (id.as_str(), "welcome back")
    );
}

/// A's companion sends to the group itself (§9): bundles for the phones it has no session
/// with, its SKDM pairwise, one skmsg, a `phash`. The server acks with `t` and its own
/// `phash`; both phones decrypt. A wrong `phash` is still delivered, and the ack carries the
/// server's (§8: the sender's list was stale); a message without its skmsg is refused (479).
async fn companion_sends_to_the_group(
    linked: &Linked,
    socket: &mut RawSocket,
    jid: &str,
    reader: &mut Reader,
) {
    let group: Jid = jid.parse().expect("group jid");
    let mut rng = StdRng::seed_from_u64(5);
    let phones = [
        Jid::user(A, Server::WhatsApp),
        Jid::user(B, Server::WhatsApp),
    ];
    // A session with A's phone exists (A's pkmsg started it); B's phone needs its bundle. The
    // companion's list is stale: it still names C's phone, which the server leaves out.
    let b_bundle = bundle(socket, &phones[1]).await;
    let c_phone = Jid::user(C, Server::WhatsApp);
    let c_bundle = bundle(socket, &c_phone).await;
    let a_session = reader
        .sessions
        .get(&phones[0].to_string())
        .cloned()
        .expect("session");
    let targets = vec![
        DeviceTarget::with_session(phones[0].clone(), a_session),
        DeviceTarget::with_bundle(phones[1].clone(), b_bundle),
        DeviceTarget::with_bundle(c_phone, c_bundle),
    ];
    let c_before = linked.sim.phone_messages(C).expect("inbox").len();
    let (own, skdm) = sk::distribution(&SenderKeyRecord::new(), &mut rng).expect("skdm");
    let skdm_message = pb::Message {
        sender_key_distribution_message: Some(pb::SenderKeyDistributionMessage {
            group_id: Some(jid.to_owned()),
            axolotl_sender_key_distribution_message: Some(skdm),
        }),
        ..Default::default()
    };
    let plain = encode_padded(&skdm_message, &mut rng);
    let fanout = encrypt_fanout(
        &reader.local,
        &[FanoutGroup {
            devices: &targets,
            plaintext: &plain,
        }],
        &mut rng,
    );
    assert!(fanout.failed.is_empty());
    let text = encode_padded(&Content::text("from A's companion").to_message(), &mut rng);
    let (_own, skmsg) = sk::encrypt(&own, &text, &mut rng).expect("skmsg");
    let me = Jid::device(A, 1, Server::WhatsApp);
    let mut devices = phones.to_vec();
    devices.push(me);
    let id = MessageId::generate(1_700_000_000, Some(A), &mut rng);
    let mut msg = MessageStanza::new(id.clone(), Content::text("").stanza_type());
    msg.to = Some(group.clone());
    msg.phash = Some("2:AAAAAAAA".to_owned());
    msg.participants = fanout
        .encrypted
        .into_iter()
        .map(|d| DeviceEnc {
            jid: d.jid,
            enc: Enc::new(d.enc_type, d.ciphertext),
        })
        .collect();
    msg.encs = vec![Enc::new(EncType::SkMsg, skmsg)];
    socket.send_node(&msg.to_node()).await.expect("sent");
    let ack = ServerAck::from_node(&next(socket, "ack").await).expect("ack");
    assert_eq!((ack.id, ack.error), (id.clone(), None));
    assert!(ack.t.is_some());
    assert_eq!(ack.phash.as_deref(), Some(phash(&devices).as_str()));
    assert_eq!(count(&linked.sim, "route:phash-stale"), 1);
    assert_eq!(count(&linked.sim, "route:not-member"), 1);
    let c_after = linked.sim.phone_messages(C).expect("inbox").len();
    assert_eq!(c_after, c_before, "a removed member's device gets nothing");
    for phone in [A, B] {
        let inbox = linked.sim.phone_messages(phone).expect("inbox");
        let last = inbox.last().expect("a message");
        assert_eq!(
            (
                last.id.as_str(),
                last.from.as_str(),
                last.chat.as_str(),
                last.text.as_str()
            ),
            (id.as_str(), A, jid, "from A's companion"),
            "{phone}"
        );
    }

    // Refused, and delivered to nobody: no skmsg or two of them (479), `<to>` entries in both
    // namespaces (400, §16).
    let delivered = count(&linked.sim, "route:group");
    let skmsg = msg.encs[0].clone();
    let mut mixed = msg.participants.clone();
    mixed[1].jid = Jid::lid(linked.sim.account(B).expect("account").lid);
    let cases = [
        (msg.participants.clone(), vec![], 479),
        (
            msg.participants.clone(),
            vec![skmsg.clone(), skmsg.clone()],
            479,
        ),
        (mixed, vec![skmsg], 400),
    ];
    for (n, (participants, encs, code)) in cases.into_iter().enumerate() {
        let id = MessageId::generate(1_700_000_001 + n as u64, Some(A), &mut rng);
        let mut bad = MessageStanza::new(id.clone(), Content::text("").stanza_type());
        bad.to = Some(group.clone());
        bad.participants = participants;
        bad.encs = encs;
        socket.send_node(&bad.to_node()).await.expect("sent");
        let ack = ServerAck::from_node(&next(socket, "ack").await).expect("ack");
        assert_eq!((ack.id, ack.error), (id, Some(code)), "case {n}");
    }
    assert_eq!(count(&linked.sim, "route:group"), delivered);
}

/// The prekey bundle of `device`, fetched over the socket (`messaging.md` §5).
async fn bundle(socket: &mut RawSocket, device: &Jid) -> wa_protocol::signal::PreKeyBundle {
    let request = PreKeyBundleRequest {
        users: vec![BundleTarget {
            jid: device.clone(),
            reason: None,
        }],
    };
    let id = format!("bundle-{}", device.user_part());
    socket
        .send_node(&request.request().to_node(&id))
        .await
        .expect("sent");
    let node = loop {
        let node = next(socket, "iq").await;
        if node.attr_str("id") == Some(id.as_str()) {
            break node;
        }
    };
    let result = PreKeyBundleResult::from_node(&node).expect("bundles");
    match result.users.into_iter().next().map(|u| u.outcome) {
        Some(BundleOutcome::Bundle(b)) => b.bundle,
        other => panic!("no bundle: {other:?}"),
    }
}

/// Stanzas from a raw socket, taken by predicate; the others wait their turn (an IQ result and
/// the notification it caused may arrive in either order).
struct Stream {
    socket: RawSocket,
    pending: Vec<Node>,
}

impl Stream {
    async fn take(&mut self, what: &str, wanted: impl Fn(&Node) -> bool) -> Node {
        if let Some(i) = self.pending.iter().position(&wanted) {
            return self.pending.remove(i);
        }
        loop {
            let node = self
                .socket
                .recv(common::DEADLINE)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            if wanted(&node) {
                return node;
            }
            self.pending.push(node);
        }
    }

    /// Sends an IQ and returns its answer.
    async fn iq(&mut self, request: &IqRequest, id: &str) -> Node {
        self.socket
            .send_node(&request.to_node(id))
            .await
            .expect("sent");
        self.take(id, |n| n.tag == "iq" && n.attr_str("id") == Some(id))
            .await
    }

    /// The next `w:gp2` notification's body.
    async fn group_notification(&mut self) -> (Jid, GroupNotification) {
        let node = self
            .take("w:gp2", |n| {
                n.tag == "notification" && n.attr_str("type") == Some("w:gp2")
            })
            .await;
        let parsed = Notification::from_node(&node).expect("parses");
        match parsed.body {
            NotificationBody::Group(g) => (parsed.from, g),
            other => panic!("{other:?}"),
        }
    }
}

fn pn(phone: &str) -> Jid {
    Jid::user(phone, Server::WhatsApp)
}

fn error_code(node: &Node) -> Option<&str> {
    (node.attr_str("type") == Some("error"))
        .then(|| node.child("error").and_then(|e| e.attr_str("code")))
        .flatten()
}

/// Every `w:g2` IQ a companion sends is answered as `stanza::group` types it, and each change
/// reaches the members' companions as a `w:gp2` notification (`messaging.md` §9 step 1).
#[tokio::test]
async fn group_iqs_answer_with_the_typed_results_and_members_are_notified() {
    let linked = Linked::new(A, 43).await;
    for phone in [B, C] {
        linked
            .sim
            .create_account(&phone.parse::<PhoneNumber>().expect("phone"));
    }
    linked.disconnect_gateway().await;
    let http = Admin {
        addr: linked.sim.addr(),
    };
    let mut s = Stream {
        socket: login_active(&linked, A, 8).await,
        pending: Vec::new(),
    };
    let nobody = pn("15550119999");

    let create = CreateGroup {
        subject: "by iq".to_owned(),
        key: "k-1".to_owned(),
        participants: vec![pn(B), pn(C), nobody.clone()],
    };
    let created = GroupResult::from_node(&s.iq(&create.request(), "g-1").await)
        .expect("create answer")
        .group;
    let jid = created.jid.clone();
    assert_eq!(created.subject, "by iq");
    assert_eq!(created.creator, Some(pn(A)));
    assert_eq!(created.addressing_mode, Some(AddressingMode::Pn));
    let role = |g: &GroupInfo, who: &Jid| g.participant(who).map(|p| (p.role, p.error));
    assert_eq!(
        role(&created, &pn(A)),
        Some((ParticipantRole::SuperAdmin, None))
    );
    assert_eq!(
        role(&created, &pn(B)),
        Some((ParticipantRole::Member, None))
    );
    assert_eq!(
        role(&created, &nobody),
        Some((ParticipantRole::Member, Some(404)))
    );
    let b_lid = linked.sim.account(B).expect("account").lid;
    assert_eq!(
        created.participant(&pn(B)).and_then(|p| p.lid.clone()),
        Some(Jid::lid(b_lid)),
        "§16: a PN group lists each member's LID alongside"
    );
    let (from, note) = s.group_notification().await;
    assert_eq!((from, note.author.clone()), (jid.clone(), Some(pn(A))));
    match note.changes.as_slice() {
        [GroupChange::Create { key, group, .. }] => {
            assert_eq!(key.as_deref(), Some("k-1"));
            assert_eq!(group.participants.len(), 3);
        }
        other => panic!("{other:?}"),
    }

    let query = GroupQuery { group: jid.clone() };
    let queried = GroupResult::from_node(&s.iq(&query.request(), "g-2").await).expect("query");
    assert_eq!(queried.group.participants.len(), 3);

    let change = |action, who: Vec<Jid>| UpdateParticipants {
        group: jid.clone(),
        action,
        participants: who,
    };
    let promote = change(ParticipantAction::Promote, vec![pn(B)]);
    let answer = s.iq(&promote.request(), "g-3").await;
    let answer = ParticipantsResult::from_node(&answer, ParticipantAction::Promote).expect("ok");
    assert_eq!(answer.participants[0].error, None);
    let (_, note) = s.group_notification().await;
    assert!(matches!(
        note.changes.as_slice(),
        [GroupChange::Participants { action: ParticipantAction::Promote, participants, .. }]
            if participants[0].jid == pn(B)
    ));
    let add = change(ParticipantAction::Add, vec![pn(B)]);
    let answer = s.iq(&add.request(), "g-4").await;
    let answer = ParticipantsResult::from_node(&answer, ParticipantAction::Add).expect("ok");
    assert_eq!(answer.participants[0].error, Some(409), "already a member");
    let remove = change(ParticipantAction::Remove, vec![pn(C), nobody.clone()]);
    let answer = s.iq(&remove.request(), "g-5").await;
    let answer = ParticipantsResult::from_node(&answer, ParticipantAction::Remove).expect("ok");
    let errors: Vec<_> = answer.participants.iter().map(|p| p.error).collect();
    assert_eq!(errors, vec![None, Some(404)]);
    let (_, note) = s.group_notification().await;
    assert_eq!(
        note.removed().map(|p| p.jid.clone()).collect::<Vec<_>>(),
        vec![pn(C)]
    );

    let subject = SetSubject {
        group: jid.clone(),
        subject: "renamed".to_owned(),
    };
    GroupDone::from_node(&s.iq(&subject.request(), "g-6").await).expect("done");
    let (_, note) = s.group_notification().await;
    assert!(matches!(
        note.changes.as_slice(),
        [GroupChange::Subject { subject, by: Some(by), .. }] if subject == "renamed" && *by == pn(A)
    ));
    let (_, meta) = http.get(format!("/admin/groups/{jid}")).await;
    assert_eq!(meta["subject"], json!("renamed"));

    let get = InviteCode {
        group: jid.clone(),
        reset: false,
    };
    let code = InviteCodeResult::from_node(&s.iq(&get.request(), "g-7").await).expect("code");
    assert_eq!(json!(code.code), meta["invite"]);
    let reset = InviteCode {
        group: jid.clone(),
        reset: true,
    };
    let fresh = InviteCodeResult::from_node(&s.iq(&reset.request(), "g-8").await).expect("code");
    assert_ne!(fresh.code, code.code);
    let (_, note) = s.group_notification().await;
    assert_eq!(
        note.changes,
        vec![GroupChange::Invite {
            code: fresh.code.clone()
        }]
    );

    let mine = ParticipatingResult::from_node(&s.iq(&ParticipatingGroups.request(), "g-9").await)
        .expect("groups");
    assert_eq!(mine.groups.len(), 1);
    assert_eq!(mine.groups[0].subject, "renamed");

    // B (now an admin) may read it too; the sim's phones act through the admin API.
    let (status, body) = http
        .post(
            format!("/admin/phones/{B}/groups/{jid}/participants"),
            json!({"action": "demote", "participants": [A]}),
        )
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"participants": [{"phone": A, "error": 403}]}))
    );

    let leave = LeaveGroup {
        groups: vec![jid.clone()],
    };
    GroupDone::from_node(&s.iq(&leave.request(), "g-10").await).expect("left");
    let (_, note) = s.group_notification().await;
    assert_eq!(
        note.removed().map(|p| p.jid.clone()).collect::<Vec<_>>(),
        vec![pn(A)]
    );
    let again = s.iq(&query.request(), "g-11").await;
    assert_eq!(error_code(&again), Some("403"), "no longer a participant");
    let mut rng = StdRng::seed_from_u64(3);
    let id = MessageId::generate(1_700_000_100, Some(A), &mut rng);
    let mut late = MessageStanza::new(id.clone(), Content::text("").stanza_type());
    late.to = Some(jid.clone());
    late.encs = vec![Enc::new(EncType::SkMsg, vec![3; 40])];
    s.socket.send_node(&late.to_node()).await.expect("sent");
    let ack = ServerAck::from_node(&s.take("ack", |n| n.tag == "ack").await).expect("ack");
    assert_eq!(
        (ack.id, ack.error),
        (id, Some(479)),
        "a former member cannot send"
    );
    let unknown = GroupQuery {
        group: Jid::group("120363000000000001"),
    };
    assert_eq!(
        error_code(&s.iq(&unknown.request(), "g-12").await),
        Some("404")
    );
    let malformed = Node::new("iq")
        .with_attr("id", "g-13")
        .with_attr("type", "set")
        .with_attr("xmlns", "w:g2")
        .with_attr("to", "g.us")
        .with_children(vec![Node::new("frobnicate")]);
    s.socket.send_node(&malformed).await.expect("sent");
    let bad = s
        .take("g-13", |n| {
            n.tag == "iq" && n.attr_str("id") == Some("g-13")
        })
        .await;
    assert_eq!(error_code(&bad), Some("400"));
    assert_eq!(count(&linked.sim, "group:notification"), 6);
}

/// A LID-migrated creator makes a LID-addressed group (§16): members are listed and messages
/// delivered by LID, with `participant_pn` alongside; the phones still decrypt each other.
#[tokio::test]
async fn a_lid_addressed_group_delivers_by_lid_with_the_phone_number_alongside() {
    let linked = Linked::new(A, 47).await;
    linked
        .sim
        .create_account(&B.parse::<PhoneNumber>().expect("phone"));
    let a: PhoneNumber = A.parse().expect("phone");
    let update = wa_sim::SwitchesUpdate {
        lid_migrated: Some(true),
        require_privacy_tokens: None,
    };
    linked.sim.update_account(&a, update).expect("switched");
    linked.disconnect_gateway().await;
    let http = Admin {
        addr: linked.sim.addr(),
    };
    let mut reader = Reader::new(&linked);
    // A's companion is offline meanwhile: the notification and the message wait in its
    // queue and arrive, marked `offline`, after its login.
    let (status, created) = http
        .post(
            format!("/admin/phones/{A}/groups"),
            json!({"subject": "lid", "participants": [B]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let jid = created["jid"].as_str().expect("jid").to_owned();
    let (_, meta) = http.get(format!("/admin/groups/{jid}")).await;
    assert_eq!(meta["addressing_mode"], json!("lid"));
    send(&http, B, &jid, "hello by lid").await;

    let mut socket = login_active(&linked, A, 9).await;
    let note = Notification::from_node(&next(&mut socket, "notification").await).expect("parses");
    assert!(note.offline.is_some());
    let a_lid = linked.sim.account(A).expect("account").lid;
    match note.body {
        NotificationBody::Group(g) => {
            assert_eq!(g.author, Some(Jid::lid(a_lid)));
            assert_eq!(g.author_pn, Some(pn(A)));
        }
        other => panic!("{other:?}"),
    }
    let msg = next_group_message(&mut socket).await;
    assert!(msg.offline.is_some());
    let b_lid = linked.sim.account(B).expect("account").lid;
    let participant = msg.participant.clone().expect("participant");
    assert_eq!(
        (participant.user_part(), participant.server()),
        (b_lid.as_str(), &Server::Lid)
    );
    assert_eq!(msg.alt.participant_pn, Some(pn(B)));
    assert_eq!(msg.addressing_mode, Some(AddressingMode::Lid));
    assert_eq!(reader.open(&msg).as_deref(), Ok("hello by lid"));
    send(&http, A, &jid, "back by lid").await;
    let own = next_group_message(&mut socket).await;
    assert_eq!(reader.open(&own).as_deref(), Ok("back by lid"));
    let inbox = linked.sim.phone_messages(B).expect("inbox");
    let last = inbox.last().expect("a message");
    assert_eq!(
        (last.from.as_str(), last.chat.as_str(), last.text.as_str()),
        (A, jid.as_str(), "back by lid")
    );
    let inbox = linked.sim.phone_messages(A).expect("inbox");
    assert_eq!(inbox.last().map(|m| m.text.as_str()), Some("hello by lid"));
    // A's companion asks B's phone for "hello by lid" again (a retry receipt to the group
    // naming B's device): it comes back pairwise (still a pkmsg: the companion never answered
    // B's session), to the companion alone, with the retry count and B's SKDM.
    let mut receipt = Receipt::for_message(&msg, ReceiptType::Retry).expect("receipt");
    receipt.retry = Some(RetryInfo {
        count: 1,
        id: msg.id.clone(),
        t: msg.t.expect("t"),
        v: 1,
        error: None,
        registration_id: reader.local.registration_id,
        keys: None,
    });
    socket.send_node(&receipt.to_node()).await.expect("sent");
    let resent = next_group_message(&mut socket).await;
    assert_eq!(
        (resent.id.clone(), resent.participant.clone()),
        (msg.id.clone(), msg.participant.clone())
    );
    let enc = &resent.encs[..];
    assert!(
        matches!(enc, [e] if e.kind != EncType::SkMsg && e.count == Some(1)),
        "{enc:?}"
    );
    assert_eq!(reader.open(&resent).as_deref(), Ok("hello by lid"));
    assert_eq!(count(&linked.sim, "phone:retry-receipt"), 1);
    assert_eq!(
        count(&linked.sim, "route:phash-stale"),
        0,
        "the phones' phash is the server's"
    );
}

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
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::fanout::{encrypt_fanout, DeviceTarget, FanoutGroup};
use wa_protocol::message::group::{self as sk, phash};
use wa_protocol::message::receive::{decrypt_pairwise, PreKeySet};
use wa_protocol::message::{decode_padded, encode_padded, Content, EncVersion};
use wa_protocol::pb::e2e as pb;
use wa_protocol::signal::{LocalIdentity, SenderKeyRecord, SessionRecord};
use wa_protocol::stanza::{
    AddressingMode, BundleOutcome, BundleTarget, DeviceEnc, Enc, EncType, MessageStanza,
    PreKeyBundleRequest, PreKeyBundleResult, ServerAck, StanzaAck,
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
        .map(|p| (p["phone"].as_str().unwrap(), p["role"].as_str().unwrap()))
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
    // A session with A's phone exists (A's pkmsg started it); B's phone needs its bundle.
    let b_bundle = bundle(socket, &phones[1]).await;
    let a_session = reader
        .sessions
        .get(&phones[0].to_string())
        .cloned()
        .expect("session");
    let targets = vec![
        DeviceTarget::with_session(phones[0].clone(), a_session),
        DeviceTarget::with_bundle(phones[1].clone(), b_bundle),
    ];
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

    // Without the skmsg: refused with 479, delivered to nobody.
    let id = MessageId::generate(1_700_000_001, Some(A), &mut rng);
    let mut bare = MessageStanza::new(id.clone(), Content::text("").stanza_type());
    bare.to = Some(group);
    bare.participants = msg.participants.clone();
    socket.send_node(&bare.to_node()).await.expect("sent");
    let ack = ServerAck::from_node(&next(socket, "ack").await).expect("ack");
    assert_eq!((ack.id, ack.error), (id, Some(479)));
}

/// The prekey bundle of `device`, fetched over the socket (`messaging.md` §5).
async fn bundle(socket: &mut RawSocket, device: &Jid) -> wa_protocol::signal::PreKeyBundle {
    let request = PreKeyBundleRequest {
        users: vec![BundleTarget {
            jid: device.clone(),
            reason: None,
        }],
    };
    socket
        .send_node(&request.request().to_node("bundle-1"))
        .await
        .expect("sent");
    let node = loop {
        let node = next(socket, "iq").await;
        if node.attr_str("id") == Some("bundle-1") {
            break node;
        }
    };
    let result = PreKeyBundleResult::from_node(&node).expect("bundles");
    match result.users.into_iter().next().map(|u| u.outcome) {
        Some(BundleOutcome::Bundle(b)) => b.bundle,
        other => panic!("no bundle: {other:?}"),
    }
}

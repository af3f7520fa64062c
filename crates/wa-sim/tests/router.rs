//! The router over real sockets (`messaging.md` §7, §8, §10, §16; `session-lifecycle.md` §8):
//! two gateway companions of one account (linked by QR code through wa-testkit's `Linked`,
//! then logged in again on raw Noise sockets) and another account's phone. A send reaches
//! every addressed device (the phones, a live companion, an offline companion after its next
//! login with the offline count); receipts are forwarded and acked; malformed or misaddressed
//! messages get error acks without losing the connection; an ack that fails to echo
//! `recipient` closes the stream.

use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::payload::{login_payload, ClientIdentity};
use wa_protocol::stanza::{
    AckClass, DeviceEnc, Enc, EncType, MessageStanza, MessageType, PrivacyTokens, Receipt,
    ReceiptType, ServerAck,
};
use wa_protocol::{MessageId, PhoneNumber};
use wa_sim::SimServer;
use wa_store::{AccountId, MemStore, Store};
use wa_testkit::raw::{RawOptions, RawSocket};
use wa_testkit::{client_config, new_account, Linked};

const A: &str = "15550108001";
const B: &str = "15550108002";
const DEADLINE: Duration = Duration::from_secs(20);

/// A raw companion: its socket and device number.
struct Companion {
    socket: RawSocket,
    device: u8,
}

/// Disconnects a linked gateway and logs its device in again on a raw socket (passive).
async fn relogin(linked: &Linked, seed: u64) -> Companion {
    linked.disconnect_gateway().await;
    login(&linked.sim, linked.store.as_ref(), &linked.id, seed).await
}

async fn login(sim: &SimServer, store: &dyn Store, id: &AccountId, seed: u64) -> Companion {
    let device = store.device(id).expect("store").expect("linked device");
    let jid = device.jid.as_ref().expect("jid");
    let number = u8::try_from(jid.device_id()).expect("device");
    let payload = login_payload(
        &ClientIdentity::default(),
        A.parse().expect("number"),
        number,
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let mut socket = RawSocket::connect(
        &RawOptions::to_sim(sim),
        &mut rng,
        &device.noise_key,
        &payload.encode_to_vec(),
    )
    .await
    .expect("handshake");
    let success = socket.recv(DEADLINE).await.expect("login answer");
    assert_eq!(success.tag, "success", "{success}");
    Companion {
        socket,
        device: number,
    }
}

/// The next node with `tag` (IQ results and other nodes in between are skipped).
async fn next(socket: &mut RawSocket, tag: &str) -> Node {
    loop {
        let node = socket.recv(DEADLINE).await.expect("a node");
        if node.tag == tag {
            return node;
        }
    }
}

/// Sends `<iq xmlns=passive type=set><active/>`.
async fn go_active(socket: &mut RawSocket) {
    let iq = Node::new("iq")
        .with_attr("id", "active-1")
        .with_attr("type", "set")
        .with_attr("xmlns", "passive")
        .with_attr("to", "s.whatsapp.net")
        .with_children(vec![Node::new("active")]);
    socket.send_node(&iq).await.expect("sent");
}

/// Two companions of account A (both passive after login) on one sim that also has B.
async fn two_companions() -> (SimServer, Companion, Companion) {
    let first = Linked::new(A, 81).await;
    first
        .sim
        .create_account(&B.parse::<PhoneNumber>().expect("phone"));
    let one = relogin(&first, 1).await;
    let Linked { sim, .. } = first;
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), 82);
    let config = client_config(&sim);
    let second = Linked::link(sim, A, store, config, id).await;
    let two = relogin(&second, 2).await;
    let Linked { sim, .. } = second;
    (sim, one, two)
}

fn device(user: &str, device: u8) -> Jid {
    Jid::device(user.to_owned(), u16::from(device), Server::WhatsApp)
}

fn enc(kind: EncType, byte: u8) -> Enc {
    Enc::new(kind, vec![byte; 40])
}

/// A message from A to B addressed to `targets`.
fn message(id: &str, targets: &[Jid]) -> MessageStanza {
    let mut msg = MessageStanza::new(id.parse::<MessageId>().expect("id"), MessageType::Text);
    msg.to = Some(Jid::user(B, Server::WhatsApp));
    msg.participants = targets
        .iter()
        .enumerate()
        .map(|(i, jid)| DeviceEnc {
            jid: jid.clone(),
            enc: enc(EncType::PkMsg, u8::try_from(i).expect("small")),
        })
        .collect();
    msg.device_identity = Some(vec![7; 12]);
    msg
}

async fn server_ack(socket: &mut RawSocket) -> ServerAck {
    ServerAck::from_node(&next(socket, "ack").await).expect("a server ack")
}

#[tokio::test]
async fn messages_reach_every_device_now_or_after_login() {
    let (sim, mut one, mut two) = two_companions().await;
    go_active(&mut one.socket).await;
    let marker = next(&mut one.socket, "ib").await;
    assert_eq!(
        marker.child("offline").and_then(|o| o.attr_str("count")),
        Some("0")
    );

    // One is live, two is logged in but passive: its copy waits.
    let targets = [device(B, 0), device(A, 0), device(A, two.device)];
    let first = message("3EB0AA000001", &targets);
    one.socket.send_node(&first.to_node()).await.expect("sent");
    let ack = server_ack(&mut one.socket).await;
    assert_eq!(
        (ack.class, ack.id.as_str(), ack.error),
        (AckClass::Message, "3EB0AA000001", None)
    );
    assert!(ack.t.is_some());
    assert_eq!(ack.from, Some(Jid::user(B, Server::WhatsApp)));

    go_active(&mut two.socket).await;
    let got = next(&mut two.socket, "message").await;
    let copy = MessageStanza::from_node(&got).expect("parses");
    assert_eq!(copy.id.as_str(), "3EB0AA000001");
    assert_eq!(copy.from, Some(device(A, one.device)));
    assert_eq!(copy.recipient, Some(Jid::user(B, Server::WhatsApp)));
    assert_eq!(copy.encs, vec![enc(EncType::PkMsg, 2)]);
    assert_eq!(copy.device_identity, Some(vec![7; 12]));
    assert!(copy.offline.is_some() && copy.t.is_some() && copy.notify.is_some());
    let marker = next(&mut two.socket, "ib").await;
    assert_eq!(
        marker.child("offline").and_then(|o| o.attr_str("count")),
        Some("1")
    );

    // A `sender` receipt goes back to one; the sim acks it.
    let mut receipt = Receipt::for_message(&copy, ReceiptType::Sender).expect("receipt");
    receipt.recipient = copy.recipient.clone();
    two.socket
        .send_node(&receipt.to_node())
        .await
        .expect("sent");
    let ack = server_ack(&mut two.socket).await;
    assert_eq!((ack.class, ack.error), (AckClass::Receipt, None));
    let forwarded = Receipt::from_node(&next(&mut one.socket, "receipt").await).expect("parses");
    assert_eq!(forwarded.from, Some(device(A, two.device)));
    assert_eq!(forwarded.kind, ReceiptType::Sender);
    assert_eq!(forwarded.id.as_str(), "3EB0AA000001");

    bad_messages_get_error_acks(&mut one).await;

    // Live delivery: no `offline` mark this time.
    let second = message("3EB0AA000002", &targets);
    one.socket.send_node(&second.to_node()).await.expect("sent");
    assert_eq!(server_ack(&mut one.socket).await.error, None);
    let live = MessageStanza::from_node(&next(&mut two.socket, "message").await).expect("parses");
    assert_eq!((live.id.as_str(), live.offline), ("3EB0AA000002", None));

    // A retry resend (§11 step 5): one direct enc with its count, to the device itself, the
    // chat in `recipient`.
    let mut resend = MessageStanza::new("3EB0AA000001".parse().expect("id"), MessageType::Text);
    resend.to = Some(device(A, two.device));
    resend.recipient = Some(Jid::user(B, Server::WhatsApp));
    let mut retry_enc = enc(EncType::Msg, 9);
    retry_enc.count = Some(2);
    resend.encs = vec![retry_enc.clone()];
    one.socket.send_node(&resend.to_node()).await.expect("sent");
    assert_eq!(server_ack(&mut one.socket).await.error, None);
    let got = MessageStanza::from_node(&next(&mut two.socket, "message").await).expect("parses");
    assert_eq!(
        (got.id.as_str(), got.encs.clone()),
        ("3EB0AA000001", vec![retry_enc])
    );
    assert_eq!(got.recipient, Some(Jid::user(B, Server::WhatsApp)));
    assert_eq!(got.from, Some(device(A, one.device)));

    let counters = sim.counters();
    let count = |key: &str| counters.get(key).copied().unwrap_or_default();
    assert_eq!(count("route:message"), 3);
    // Two phones per message, and A's phone gets the receipt too.
    assert_eq!(count("route:phone"), 5);
    assert_eq!(count("route:queued"), 1);
    assert_eq!(count("route:live"), 3);
    assert_eq!(count("route:receipt"), 1);
    assert_eq!(count("route:refused"), 4);

    privacy_tokens(&sim, &mut one).await;

    // An ack that drops `recipient` closes the stream (§16).
    let ack = Node::new("ack")
        .with_attr("class", "message")
        .with_attr("id", "3EB0AA000002")
        .with_attr("to", device(A, one.device));
    two.socket.send_node(&ack).await.expect("sent");
    let error = next(&mut two.socket, "stream:error").await;
    assert!(error.child("ack").is_some(), "{error}");
    assert!(two.socket.recv(DEADLINE).await.is_err());
    sim.shutdown();
}

/// Malformed, mixed-namespace and misaddressed messages: error acks; the connection lives on.
async fn bad_messages_get_error_acks(one: &mut Companion) {
    let no_enc = Node::new("message")
        .with_attr("id", "3EB0BB000001")
        .with_attr("type", "text")
        .with_attr("to", Jid::user(B, Server::WhatsApp));
    one.socket.send_node(&no_enc).await.expect("sent");
    let ack = server_ack(&mut one.socket).await;
    assert_eq!((ack.id.as_str(), ack.error), ("3EB0BB000001", Some(479)));

    let lid = Jid::device("100000000000001".to_owned(), 0, Server::Lid);
    let mixed = message("3EB0BB000002", &[device(B, 0), lid]);
    one.socket.send_node(&mixed.to_node()).await.expect("sent");
    assert_eq!(server_ack(&mut one.socket).await.error, Some(400));

    let unknown = message("3EB0BB000003", &[device(B, 0), device(B, 9)]);
    one.socket
        .send_node(&unknown.to_node())
        .await
        .expect("sent");
    assert_eq!(server_ack(&mut one.socket).await.error, Some(479));

    let to_self = message("3EB0BB000004", &[device(A, one.device)]);
    one.socket
        .send_node(&to_self.to_node())
        .await
        .expect("sent");
    assert_eq!(server_ack(&mut one.socket).await.error, Some(479));
}

/// B requires privacy tokens (§16): one's DM without one is refused with 463; once B's phone
/// wrote to A (granting A a token, announced in a `privacy_token` notification), the same DM
/// with that `<tctoken>` goes through.
async fn privacy_tokens(sim: &SimServer, one: &mut Companion) {
    let update = wa_sim::SwitchesUpdate {
        lid_migrated: None,
        require_privacy_tokens: Some(true),
    };
    let b: PhoneNumber = B.parse().expect("phone");
    sim.update_account(&b, update).expect("switched");
    let mut dm = message("3EB0CC000001", &[device(B, 0)]);
    one.socket.send_node(&dm.to_node()).await.expect("sent");
    assert_eq!(server_ack(&mut one.socket).await.error, Some(463));

    sim.phone_send(B, A, "hello A").expect("the phone writes");
    let notification = next(&mut one.socket, "notification").await;
    assert_eq!(notification.attr_str("type"), Some("privacy_token"));
    let tokens = PrivacyTokens::from_notification(&notification).expect("tokens");
    assert_eq!(tokens.tokens[0].jid, Jid::user(B, Server::WhatsApp));
    dm.tctoken = Some(vec![1; 20]);
    one.socket.send_node(&dm.to_node()).await.expect("sent");
    assert_eq!(
        server_ack(&mut one.socket).await.error,
        Some(463),
        "a wrong token"
    );
    dm.tctoken = Some(tokens.tokens[0].token.clone());
    one.socket.send_node(&dm.to_node()).await.expect("sent");
    assert_eq!(server_ack(&mut one.socket).await.error, None);
}

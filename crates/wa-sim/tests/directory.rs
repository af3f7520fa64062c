//! The directory over real sockets (`messaging.md` §4, §5): a gateway account linked to the
//! sim by QR code (wa-testkit's `Linked`) logs in again through the raw Noise client and asks
//! the sim what a sender asks before a message: usync for its own user and another sim
//! account (by LID), and prekey bundles for their devices. Answers are parsed with
//! wa-protocol's typed stanzas; the key-index list and the bundles' signed prekeys verify;
//! one-time prekeys are never handed out twice.

use std::collections::HashSet;
use std::time::Duration;

use prost::Message as _;
use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::pairing::{stored_key_index, verify_pair_device_sign};
use wa_protocol::payload::{login_payload, ClientIdentity};
use wa_protocol::signal::PreKeyBundle;
use wa_protocol::stanza::{
    BundleOutcome, BundleTarget, IqResponse, KeyIndexList, KeyIndexListNode, PreKeyBundleRequest,
    PreKeyBundleResult, UsyncDevice, UsyncQuery, UsyncResult,
};
use wa_protocol::PhoneNumber;
use wa_testkit::raw::{RawOptions, RawSocket};
use wa_testkit::Linked;

const OWN: &str = "15550107001";
const OTHER: &str = "15550107002";
const UNKNOWN: &str = "15550107003";
const DEADLINE: Duration = Duration::from_secs(20);
/// One-time prekeys a simulated phone publishes.
const PHONE_PREKEYS: usize = 50;
/// One-time prekeys the linked gateway uploads.
const COMPANION_PREKEYS: usize = 812;
/// Below this many the server tells the companion (`messaging.md` §14).
const LOW_PREKEYS: usize = 5;

/// Sends an IQ and returns the answer with its id (other nodes in between are skipped).
async fn ask(socket: &mut RawSocket, node: &Node) -> Node {
    let id = node.attr_str("id").expect("an id").to_owned();
    socket.send_node(node).await.expect("sent");
    loop {
        let answer = socket.recv(DEADLINE).await.expect("an answer");
        if answer.tag == "iq" && answer.attr_str("id") == Some(id.as_str()) {
            return answer;
        }
    }
}

fn bundle(outcome: &BundleOutcome) -> PreKeyBundle {
    match outcome {
        BundleOutcome::Bundle(b) => b.bundle.clone(),
        BundleOutcome::Error { code, text } => panic!("no bundle: {code} {text}"),
    }
}

/// Logs the linked device in again on a raw socket (the gateway disconnected first).
async fn relogin(linked: &Linked) -> (RawSocket, u8) {
    linked.disconnect_gateway().await;
    let device = linked
        .store
        .device(&linked.id)
        .expect("store")
        .expect("linked device");
    let number = u8::try_from(device.jid.as_ref().expect("jid").device_id()).expect("device");
    let payload = login_payload(
        &ClientIdentity::default(),
        OWN.parse().expect("number"),
        number,
    );
    let mut rng = StdRng::seed_from_u64(7);
    let mut socket = RawSocket::connect(
        &RawOptions::to_sim(&linked.sim),
        &mut rng,
        &device.noise_key,
        &payload.encode_to_vec(),
    )
    .await
    .expect("handshake");
    let success = socket.recv(DEADLINE).await.expect("login answer");
    assert_eq!(success.tag, "success", "{success}");
    (socket, number)
}

const fn device(id: u8, key_index: Option<u32>) -> UsyncDevice {
    UsyncDevice {
        id,
        key_index,
        hosted: false,
    }
}

#[tokio::test]
async fn usync_and_bundles_for_the_own_user_and_another_account() {
    let linked = Linked::new(OWN, 71).await;
    let other = linked
        .sim
        .create_account(&OTHER.parse::<PhoneNumber>().expect("phone"));
    let (mut socket, own_device) = relogin(&linked).await;
    let other_lid = Jid::lid(other.lid.clone());
    let (key_index, list) = check_usync(&mut socket, &linked, &other_lid, own_device).await;
    let (own_phone, their_phone) =
        check_bundles(&mut socket, &linked, &other_lid, own_device).await;

    // The key-index list is signed by the phone: device 0's identity.
    let signed = KeyIndexList::verify(&list.signed, &own_phone.identity_key).expect("verifies");
    assert!(key_index.is_some_and(|k| signed.valid_indexes.contains(&k)));
    assert_eq!(signed.timestamp, list.ts);

    let other_phone = Jid::user(OTHER, Server::WhatsApp);
    exhaust_the_other_phone(&mut socket, &other_phone, &their_phone).await;
    malformed_requests_get_error_iqs(&mut socket).await;
    a_companion_running_low_is_told(&mut socket, own_device).await;

    let counters = linked.sim.counters();
    let count = |key: &str| counters.get(key).copied().unwrap_or_default();
    assert_eq!(count("directory:usync"), 1);
    assert_eq!(count("directory:usync:users"), 3);
    assert_eq!(count("directory:usync:unknown-user"), 1);
    assert_eq!(count("directory:usync:bad"), 1);
    assert_eq!(count("directory:bundles"), 4);
    assert_eq!(count("directory:bundles:bad"), 1);
    assert_eq!(count("directory:bundle:unknown-device"), 1);
    assert_eq!(count("directory:bundle:no-prekey"), 1);
    let companion_rest = COMPANION_PREKEYS - 1 - LOW_PREKEYS + 1;
    assert_eq!(
        count("directory:bundle"),
        4 + (PHONE_PREKEYS as u64 - 2) + companion_rest as u64
    );
    assert_eq!(linked.sim.account(OTHER).expect("account").phone_prekeys, 0);
    socket.close().await;
}

/// usync for our own user by phone number, the other account by LID and an unknown number.
/// Returns our companion's key index and our signed key-index list.
async fn check_usync(
    socket: &mut RawSocket,
    linked: &Linked,
    other_lid: &Jid,
    own_device: u8,
) -> (Option<u32>, KeyIndexListNode) {
    let own_user = Jid::user(OWN, Server::WhatsApp);
    let users = vec![
        own_user.clone(),
        other_lid.clone(),
        Jid::user(UNKNOWN, Server::WhatsApp),
    ];
    let query = UsyncQuery::for_message("sid-1", users);
    let answer = ask(socket, &query.request().to_node("u1")).await;
    let result = UsyncResult::from_node(&answer).expect("a usync result");
    assert_eq!(result.sid, "sid-1");
    let [own, theirs, unknown] = &result.users[..] else {
        panic!("three users: {result:?}");
    };
    assert_eq!(own.jid, own_user);
    let own_lid = linked.sim.account(OWN).expect("account").lid;
    assert_eq!(own.lid, Some(Jid::lid(own_lid)));
    let own_list = own.devices.as_ref().expect("devices");
    let identity = linked
        .store
        .device(&linked.id)
        .expect("store")
        .expect("device");
    let adv = identity
        .adv_signed_identity
        .as_deref()
        .expect("adv identity");
    let key_index = stored_key_index(adv);
    assert_eq!(
        own_list.devices,
        [device(0, None), device(own_device, key_index)]
    );
    assert_eq!(theirs.jid, *other_lid);
    assert_eq!(theirs.lid.as_ref(), Some(other_lid));
    let their_list = theirs.devices.as_ref().expect("devices");
    assert_eq!(their_list.devices, [device(0, None)]);
    assert!(
        their_list.key_index_list.is_none(),
        "no companions, no list"
    );
    assert_eq!(unknown.lid, None);
    let empty = unknown
        .devices
        .as_ref()
        .is_some_and(|d| d.devices.is_empty());
    assert!(empty, "an unknown user has no devices");
    let list = own_list.key_index_list.clone();
    (key_index, list.expect("companions come with a list"))
}

/// Bundles for our phone, our companion, the other phone (by LID and by number, so two
/// one-time prekeys) and a device the other account does not have. Returns our phone's and
/// the other phone's bundles.
async fn check_bundles(
    socket: &mut RawSocket,
    linked: &Linked,
    other_lid: &Jid,
    own_device: u8,
) -> (PreKeyBundle, [PreKeyBundle; 2]) {
    let targets = [
        Jid::user(OWN, Server::WhatsApp),
        Jid::device(OWN, u16::from(own_device), Server::WhatsApp),
        other_lid.clone(),
        Jid::user(OTHER, Server::WhatsApp),
        Jid::device(OTHER, 9, Server::WhatsApp),
    ];
    let identity = Some("identity".to_owned());
    let users = targets
        .iter()
        .map(|jid| BundleTarget {
            jid: jid.clone(),
            reason: identity.clone(),
        })
        .collect();
    let answer = ask(
        socket,
        &PreKeyBundleRequest { users }.request().to_node("b1"),
    )
    .await;
    let result = PreKeyBundleResult::from_node(&answer).expect("a bundle result");
    let jids: Vec<_> = result.users.iter().map(|u| u.jid.clone()).collect();
    assert_eq!(jids, targets, "answered per device, as asked");
    let [own_phone, own_companion, lid, pn] =
        [0, 1, 2, 3].map(|i| bundle(&result.users[i].outcome));
    for b in [&own_phone, &own_companion, &lid, &pn] {
        assert!(b.verify_signature(), "signed prekey verifies: {b:?}");
        assert!(
            b.pre_key.is_some(),
            "a one-time prekey while there are some"
        );
    }
    let device = linked
        .store
        .device(&linked.id)
        .expect("store")
        .expect("device");
    assert_eq!(own_companion.identity_key, device.identity_key.public);
    assert_eq!(own_companion.registration_id, device.registration_id);
    assert_eq!(lid.identity_key, pn.identity_key);
    assert_ne!(lid.pre_key, pn.pre_key, "never the same twice");
    assert!(matches!(
        result.users[4].outcome,
        BundleOutcome::Error { code: 406, .. }
    ));
    // The companion's bundle carries its signed device identity (§5), the phone's none.
    let signed_identity = |i: usize| match &result.users[i].outcome {
        BundleOutcome::Bundle(b) => b.device_identity.clone(),
        BundleOutcome::Error { .. } => None,
    };
    assert_eq!(signed_identity(0), None);
    let companion_identity = signed_identity(1).expect("<device-identity>");
    let adv = device.adv_signed_identity.as_deref().expect("adv identity");
    verify_pair_device_sign(
        &companion_identity,
        &device.identity_key.public,
        &own_phone.identity_key,
        stored_key_index(adv).expect("key index"),
    )
    .expect("the companion's identity verifies under its phone");
    (own_phone, [lid, pn])
}

/// Asks for the other phone until its one-time prekeys run out: every one handed out once,
/// then bundles without one.
async fn exhaust_the_other_phone(socket: &mut RawSocket, phone: &Jid, first: &[PreKeyBundle]) {
    let rest = PHONE_PREKEYS - first.len();
    let request = PreKeyBundleRequest {
        users: vec![
            BundleTarget {
                jid: phone.clone(),
                reason: None
            };
            rest
        ],
    };
    let answer = ask(socket, &request.request().to_node("b2")).await;
    let result = PreKeyBundleResult::from_node(&answer).expect("a bundle result");
    let mut seen: HashSet<u32> = first
        .iter()
        .filter_map(|b| b.pre_key.map(|k| k.id))
        .collect();
    for user in &result.users {
        let id = bundle(&user.outcome).pre_key.expect("some left").id;
        assert!(seen.insert(id), "one-time prekey {id} handed out twice");
    }
    assert_eq!(seen.len(), PHONE_PREKEYS);
    let request = PreKeyBundleRequest {
        users: vec![BundleTarget {
            jid: phone.clone(),
            reason: None,
        }],
    };
    let answer = ask(socket, &request.request().to_node("b3")).await;
    let result = PreKeyBundleResult::from_node(&answer).expect("a bundle result");
    let last = bundle(&result.users[0].outcome);
    assert!(
        last.pre_key.is_none(),
        "exhausted: a bundle without a one-time prekey"
    );
    assert!(last.verify_signature());
}

/// A usync without `sid` and a bundle request for a group get 400 error IQs; the connection
/// stays up.
async fn malformed_requests_get_error_iqs(socket: &mut RawSocket) {
    let mut usync = UsyncQuery::for_message("s", vec![Jid::user(OTHER, Server::WhatsApp)])
        .request()
        .to_node("u2");
    if let Some(wa_protocol::binary::Content::Nodes(children)) = &mut usync.content {
        children[0].attrs.remove("sid");
    }
    let bad_bundle = PreKeyBundleRequest {
        users: vec![BundleTarget {
            jid: Jid::group("123-456"),
            reason: None,
        }],
    }
    .request()
    .to_node("b4");
    for node in [usync, bad_bundle] {
        let answer = ask(socket, &node).await;
        assert_eq!(
            IqResponse::parse(&answer),
            Ok(IqResponse::Error {
                code: 400,
                text: "bad-request".to_owned()
            }),
            "{answer}"
        );
    }
}

/// Fetching our own companion's bundles until fewer than five one-time prekeys are left makes
/// the server tell it so: `<notification type="encrypt"><count value="4">` (§14).
async fn a_companion_running_low_is_told(socket: &mut RawSocket, own_device: u8) {
    let jid = Jid::device(OWN, u16::from(own_device), Server::WhatsApp);
    // One was handed out before; leave four.
    let rest = COMPANION_PREKEYS - 1 - (LOW_PREKEYS - 1);
    let request = PreKeyBundleRequest {
        users: vec![BundleTarget { jid, reason: None }; rest],
    };
    let answer = ask(socket, &request.request().to_node("b5")).await;
    let result = PreKeyBundleResult::from_node(&answer).expect("a bundle result");
    assert_eq!(result.users.len(), rest);
    let notification = socket.recv(DEADLINE).await.expect("a notification");
    assert_eq!(notification.tag, "notification", "{notification}");
    assert_eq!(notification.attr_str("type"), Some("encrypt"));
    assert_eq!(
        wa_protocol::stanza::parse_prekey_count(&notification),
        Ok(u32::try_from(LOW_PREKEYS - 1).expect("small"))
    );
}

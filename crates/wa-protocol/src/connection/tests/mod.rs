//! Virtual-time tests of the connection state machine against an in-memory server built from the
//! same wa-protocol pieces wa-sim uses (Noise responder, framed transport, stanza parsers).

mod harness;
mod messages;

use super::*;
use crate::binary::Node;
use crate::payload::CheckedPayload;
use crate::stanza::IqFailure;
use crate::stanza::{self, parse_prekey_upload, IqKind, IqResponse};
use harness::{linked_creds, logged_in, success, FakeServer, Harness, T0};
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn first_login_uploads_812_prekeys_then_connects() {
    let mut h = logged_in(0, |_| {});
    let events = h.take_events();
    assert!(
        matches!(events.as_slice(), [Event::PreKeysNeeded { count: 812 }]),
        "{events:?}"
    );
    assert!(
        h.take_iqs("encrypt").is_empty(),
        "nothing uploaded before the keys are stored"
    );
    h.provide_prekeys(1, 812);
    let uploads = h.take_iqs("encrypt");
    assert_eq!(uploads.len(), 1);
    let upload = parse_prekey_upload(&uploads[0]).expect("valid upload");
    assert_eq!(upload.prekeys.len(), 812);
    assert_eq!(upload.prekeys[0].id, 1);
    assert_eq!(upload.identity, h.conn.credentials().identity.public);
    h.answer(&uploads[0].clone(), vec![]);
    let events = h.take_events();
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::PreKeysUploaded { ids } if ids.len() == 812 && ids[0] == 1)));
    let connected = events
        .iter()
        .find_map(|e| match e {
            Event::Connected { jid, lid, .. } => Some((jid.to_string(), lid.clone())),
            _ => None,
        })
        .expect("connected");
    assert_eq!(connected.0, "15550001111:7@s.whatsapp.net");
    assert_eq!(
        connected.1.map(|l| l.to_string()).as_deref(),
        Some("99887766554433@lid")
    );
}

#[test]
fn enough_prekeys_means_no_upload_and_low_count_notification_refills() {
    let mut h = logged_in(100, |_| {});
    assert!(h
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::Connected { .. })));
    let after_login = h.take_iqs("encrypt");
    assert!(
        after_login.iter().all(|iq| iq.child("digest").is_some()),
        "only the background digest check, no upload"
    );
    assert_eq!(h.take_iqs("abt").len(), 1, "props fetched after login");
    h.server_sends(
        Node::new("notification")
            .with_attr("from", stanza::server_jid())
            .with_attr("type", "encrypt")
            .with_attr("id", "77")
            .with_children(vec![Node::new("count").with_attr("value", "2")]),
    );
    let acks: Vec<_> = h
        .server
        .received
        .iter()
        .filter(|n| n.tag == "ack")
        .cloned()
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].attr_str("id"), Some("77"));
    assert_eq!(acks[0].attr_str("class"), Some("notification"));
    assert!(matches!(
        h.take_events().as_slice(),
        [Event::PreKeysNeeded { count: 810 }]
    ));
    h.provide_prekeys(101, 810);
    let uploads = h.take_iqs("encrypt");
    let upload = parse_prekey_upload(&uploads[0]).expect("valid upload");
    assert_eq!(upload.prekeys.len(), 810, "refill to 812");
}

#[test]
fn iq_deadline_reports_a_timeout() {
    let mut h = logged_in(100, |c| c.iq_timeout_ms = 5_000);
    h.take_events();
    h.conn.handle_command(
        Command::Iq {
            token: 42,
            request: IqRequest::new("usync", IqKind::Get, vec![Node::new("usync")]),
        },
        h.now,
    );
    h.pump();
    let sent = h.take_iqs("usync");
    assert_eq!(sent.len(), 1);
    let deadline = h.conn.poll_timeout().expect("a deadline");
    assert!(deadline <= h.now.after(5_000));
    h.advance_to(h.now.after(4_999));
    assert!(h.take_events().is_empty());
    h.advance_to(h.now.after(1));
    let events = h.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::IqResponse {
                token: 42,
                response: None
            }]
        ),
        "{events:?}"
    );
    // An answer after the deadline is not routed to the old token.
    h.answer(&sent[0].clone(), vec![]);
    assert!(matches!(h.take_events().as_slice(), [Event::Stanza(_)]));
}

#[test]
fn iq_answer_is_matched_by_id() {
    let mut h = logged_in(100, |_| {});
    h.take_events();
    for token in [1, 2] {
        h.conn.handle_command(
            Command::Iq {
                token,
                request: IqRequest::new("blocklist", IqKind::Get, vec![]),
            },
            h.now,
        );
    }
    h.pump();
    let sent = h.take_iqs("blocklist");
    assert_ne!(sent[0].attr_str("id"), sent[1].attr_str("id"));
    h.answer(&sent[1].clone(), vec![Node::new("list")]);
    h.answer(&sent[0].clone(), vec![]);
    let tokens: Vec<u64> = h
        .take_events()
        .iter()
        .filter_map(|e| match e {
            Event::IqResponse {
                token,
                response: Some(IqResponse::Result(_)),
            } => Some(*token),
            _ => None,
        })
        .collect();
    assert_eq!(tokens, vec![2, 1]);
}

#[test]
fn keepalive_timeout_then_restored_then_dead() {
    let mut h = logged_in(100, |c| {
        c.ping_interval_ms = (20_000, 20_000);
        c.ping_timeout_ms = 10_000;
        c.max_ping_failures = 2;
    });
    h.take_events();
    // First ping at +20 s, unanswered until +30 s.
    let start = h.now;
    h.advance_to(start.after(20_000));
    let pings = h.take_iqs("w:p");
    assert_eq!(pings.len(), 1);
    assert!(
        pings[0].children().is_empty(),
        "whatsmeow-style childless ping"
    );
    h.advance_to(start.after(30_000));
    assert!(matches!(
        h.take_events().as_slice(),
        [Event::KeepAliveTimeout { failures: 1 }]
    ));
    // Second ping at +40 s is answered: restored.
    h.advance_to(start.after(40_000));
    let pings = h.take_iqs("w:p");
    h.answer(&pings[0].clone(), vec![]);
    assert!(matches!(
        h.take_events().as_slice(),
        [Event::KeepAliveRestored]
    ));
    // Two more unanswered pings close the connection.
    h.advance_to(start.after(60_000));
    h.advance_to(start.after(70_000));
    h.advance_to(start.after(80_000));
    h.advance_to(start.after(90_000));
    let events = h.take_events();
    assert!(matches!(
        events.last(),
        Some(Event::Disconnected {
            cause: DisconnectCause::KeepAliveTimeout
        })
    ));
    assert_eq!(
        DisconnectCause::KeepAliveTimeout.reconnect(),
        Reconnect::WithBackoff
    );
    assert!(h.conn.is_closed());
    assert_eq!(h.conn.poll_timeout(), None);
}

#[test]
fn server_ping_is_answered() {
    let mut h = logged_in(100, |_| {});
    h.take_events();
    h.server_sends(
        Node::new("iq")
            .with_attr("from", stanza::server_jid())
            .with_attr("id", "srv-1")
            .with_attr("type", "get")
            .with_attr("xmlns", "urn:xmpp:ping"),
    );
    let pong = h
        .server
        .received
        .iter()
        .find(|n| n.attr_str("id") == Some("srv-1"))
        .expect("pong");
    assert_eq!(pong.attr_str("type"), Some("result"));
}

#[test]
fn stream_errors_and_failures_map_to_causes() {
    let cases: Vec<(Node, DisconnectCause, Reconnect, bool)> = vec![
        (
            Node::new("stream:error").with_attr("code", "515"),
            DisconnectCause::RestartRequired,
            Reconnect::Immediately,
            false,
        ),
        (
            Node::new("stream:error")
                .with_children(vec![Node::new("conflict").with_attr("type", "replaced")]),
            DisconnectCause::Replaced,
            Reconnect::Never,
            false,
        ),
        (
            Node::new("stream:error")
                .with_attr("code", "401")
                .with_children(vec![
                    Node::new("conflict").with_attr("type", "device_removed")
                ]),
            DisconnectCause::LoggedOut,
            Reconnect::Never,
            true,
        ),
        (
            Node::new("stream:error").with_attr("code", "503"),
            DisconnectCause::StreamError(Some(503)),
            Reconnect::WithBackoff,
            false,
        ),
        (
            Node::new("failure").with_attr("reason", "401"),
            DisconnectCause::LoggedOut,
            Reconnect::Never,
            true,
        ),
        (
            Node::new("xmlstreamend"),
            DisconnectCause::ServerClosed,
            Reconnect::WithBackoff,
            false,
        ),
    ];
    for (node, cause, policy, logged_out) in cases {
        let mut h = Harness::new(linked_creds(), |_| {});
        h.server_sends(node.clone());
        let events = h.take_events();
        assert!(
            matches!(events.last(), Some(Event::Disconnected { cause: c }) if *c == cause),
            "{node}: {events:?}"
        );
        assert_eq!(cause.reconnect(), policy, "{node}");
        assert_eq!(
            events.iter().any(|e| matches!(e, Event::LoggedOut { .. })),
            logged_out,
            "{node}"
        );
    }
    let mut h = Harness::new(linked_creds(), |_| {});
    h.server_sends(Node::new("failure").with_attr("reason", "405"));
    assert!(h
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::ClientOutdated)));
}

#[test]
fn handshake_deadline() {
    let (_server, trust) = FakeServer::new(9);
    let mut conn = Connection::new(
        Config {
            trust,
            ..Config::default()
        },
        linked_creds(),
        StdRng::seed_from_u64(1),
        T0,
    );
    assert!(conn.poll_transmit().is_some(), "intro + ClientHello");
    assert_eq!(conn.poll_timeout(), Some(T0.after(20_000)));
    conn.handle_timeout(T0.after(19_999));
    assert!(!conn.is_closed());
    conn.handle_timeout(T0.after(20_000));
    assert!(matches!(
        conn.poll_event(),
        Some(Event::Disconnected {
            cause: DisconnectCause::HandshakeTimeout
        })
    ));
}

#[test]
fn untrusted_server_fails_the_handshake() {
    let (mut server, _) = FakeServer::new(10);
    let mut conn = Connection::new(
        Config::default(),
        linked_creds(),
        StdRng::seed_from_u64(1),
        T0,
    );
    let hello = conn.poll_transmit().expect("hello");
    server.receive(&hello);
    for out in server.take_out() {
        conn.handle_input(&out, T0);
    }
    assert!(matches!(
        conn.poll_event(),
        Some(Event::Disconnected {
            cause: DisconnectCause::HandshakeFailed(_)
        })
    ));
    assert!(
        conn.poll_transmit().is_none(),
        "no ClientFinish to an untrusted server"
    );
}

#[test]
fn qr_refs_rotate_60_then_20_seconds_then_time_out() {
    let mut h = Harness::new(Credentials::generate(&mut StdRng::seed_from_u64(4)), |_| {});
    assert!(matches!(
        h.server.payload,
        Some(CheckedPayload::Registration(_))
    ));
    let refs: Vec<Node> = (1..=6)
        .map(|i| Node::new("ref").with_bytes(format!("2@ref{i}").into_bytes()))
        .collect();
    h.server_sends(
        Node::new("iq")
            .with_attr("from", stanza::server_jid())
            .with_attr("id", "pd-1")
            .with_attr("type", "set")
            .with_attr("xmlns", "md")
            .with_children(vec![Node::new("pair-device").with_children(refs)]),
    );
    let ack = h
        .server
        .received
        .iter()
        .find(|n| n.attr_str("id") == Some("pd-1"))
        .expect("pair-device acknowledged");
    assert_eq!(ack.attr_str("type"), Some("result"));
    assert_eq!(h.conn.phase(), Phase::Unpaired);
    let mut shown = Vec::new();
    let mut t = h.now;
    loop {
        let events = h.take_events();
        let mut done = false;
        for e in events {
            match e {
                Event::Qr { code, expires_at } => {
                    shown.push((code, expires_at.0 - t.0));
                }
                Event::QrTimeout => done = true,
                Event::Disconnected { cause } => {
                    assert_eq!(cause, DisconnectCause::QrTimeout);
                    done = true;
                }
                _ => {}
            }
        }
        if done {
            break;
        }
        t = h.conn.poll_timeout().expect("rotation deadline");
        // Keepalive pings may fall in between; answer them.
        h.advance_to(t);
        for ping in h.take_iqs("w:p") {
            h.answer(&ping, vec![]);
        }
        t = h.now;
    }
    let ttls: Vec<u64> = shown.iter().map(|(_, ttl)| *ttl).collect();
    assert_eq!(ttls, vec![60_000, 20_000, 20_000, 20_000, 20_000, 20_000]);
    let creds = h.conn.credentials().clone();
    for (i, (code, _)) in shown.iter().enumerate() {
        let qr = crate::pairing::QrData::parse(code).expect("our QR parses");
        assert_eq!(qr.pairing_ref, format!("2@ref{}", i + 1));
        assert_eq!(qr.noise_pub, creds.noise_key.public);
        assert_eq!(qr.identity_pub, creds.identity.public);
        assert_eq!(qr.adv_secret, creds.adv_secret);
    }
}

/// Errors reach the application typed, with the fault the HTTP layer will map.
#[test]
fn errors_reach_the_application_typed() {
    use crate::{Error, Fault};

    // A node we cannot encode: reported, ours, and the connection goes on.
    let mut h = logged_in(100, |_| {});
    h.take_events();
    h.conn.handle_command(Command::Send(Node::new("")), h.now);
    h.pump();
    let events = h.take_events();
    let [Event::SendFailed { error }] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(*error, Error::Encode(crate::binary::EncodeError::EmptyTag));
    assert_eq!(error.fault(), Fault::Caller);
    assert!(!h.conn.is_closed());

    // A malformed first stanza: the peer's, typed as a stanza error.
    let mut h = Harness::new(linked_creds(), |_| {});
    h.server_sends(Node::new("success"));
    let Some(DisconnectCause::Protocol(error)) = h.conn.disconnect_cause().cloned() else {
        panic!("{:?}", h.conn.disconnect_cause());
    };
    assert!(matches!(error, Error::Stanza(_)), "{error}");
    assert_eq!(error.fault(), Fault::Peer);
    assert!(!error.is_transient());

    // The post-login prekey count unanswered: the peer's, transient, reconnect with backoff.
    let mut h = Harness::new(linked_creds(), |c| c.iq_timeout_ms = 1_000);
    h.server_sends(success());
    h.advance_to(h.now.after(1_000));
    let cause = h.conn.disconnect_cause().cloned().expect("closed");
    let DisconnectCause::Protocol(Error::Iq(IqFailure::TimedOut { .. })) = &cause else {
        panic!("{cause:?}");
    };
    assert_eq!(cause.reconnect(), Reconnect::WithBackoff);
    let DisconnectCause::Protocol(error) = cause else {
        unreachable!()
    };
    assert_eq!(error.fault(), Fault::Peer);
    assert!(error.is_transient());
}

/// Phone-number linking takes a `PhoneNumber` (one validation rule) and sends its JID.
#[test]
fn pair_phone_sends_the_companion_hello() {
    use crate::pairing::stanza::CompanionHello;
    use crate::PhoneNumber;

    let phone: PhoneNumber = "+1 555 010 1234".parse().expect("phone");
    let mut rng = StdRng::seed_from_u64(3);
    let mut h = Harness::new(Credentials::generate(&mut rng), |_| {});
    assert_eq!(h.conn.phase(), Phase::AwaitingServer);
    h.conn.handle_command(
        Command::PairPhone {
            phone: phone.clone(),
            show_push_notification: true,
        },
        h.now,
    );
    h.pump();
    let hellos = h.take_iqs("md");
    let [hello] = hellos.as_slice() else {
        panic!("{hellos:?}");
    };
    let hello = CompanionHello::from_node(hello).expect("a companion_hello");
    assert_eq!(hello.phone, phone.to_jid());
    assert!(hello.should_show_push_notification);

    // A linked device cannot ask for a pair code.
    let mut h = logged_in(100, |_| {});
    h.take_events();
    h.conn.handle_command(
        Command::PairPhone {
            phone,
            show_push_notification: false,
        },
        h.now,
    );
    h.pump();
    let events = h.take_events();
    assert!(
        matches!(events.as_slice(), [Event::PairError { code: 400, .. }]),
        "{events:?}"
    );
}

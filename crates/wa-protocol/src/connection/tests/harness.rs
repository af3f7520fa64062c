//! The in-memory server and the harness of the connection tests: a `noise::Accept`, a framed
//! transport and the stanza parsers, the same pieces wa-sim uses; time is virtual.

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::super::*;
use crate::binary::{Jid, Server};
use crate::noise::{build_cert_chain, Accept, FramedTransport, TrustRoot};
use crate::payload::{check_client_payload, CheckedPayload};
use crate::stanza;

pub(super) const T0: Millis = Millis(1_800_000_000_000);

#[allow(clippy::large_enum_variant)] // a test fixture, one per test
pub(super) enum ServerState {
    Handshake(Accept),
    Open(FramedTransport),
}

pub(super) struct FakeServer {
    pub(super) state: Option<ServerState>,
    pub(super) payload: Option<CheckedPayload>,
    pub(super) received: Vec<Node>,
    pub(super) pending_out: Vec<Vec<u8>>,
}

impl FakeServer {
    pub(super) fn new(seed: u64) -> (Self, TrustRoot) {
        let mut rng = StdRng::seed_from_u64(seed);
        let root = KeyPair::generate(&mut rng);
        let inter = KeyPair::generate(&mut rng);
        let static_key = KeyPair::generate(&mut rng);
        let chain = build_cert_chain(
            &root,
            &inter,
            &static_key.public,
            T0.unix_secs() - 1000,
            T0.unix_secs() + 1_000_000,
            &mut rng,
        );
        let ephemeral = KeyPair::generate(&mut rng);
        let server = Self {
            state: Some(ServerState::Handshake(Accept::new(
                static_key,
                chain,
                ephemeral,
                1 << 20,
            ))),
            payload: None,
            received: Vec::new(),
            pending_out: Vec::new(),
        };
        (server, TrustRoot::new(root.public))
    }

    pub(super) fn receive(&mut self, bytes: &[u8]) {
        let mut transport = match self.state.take() {
            Some(ServerState::Open(t)) => t,
            Some(ServerState::Handshake(mut accept)) => {
                let accepted = accept.handle_input(bytes).expect("client handshake");
                self.pending_out
                    .extend(core::iter::from_fn(|| accept.poll_transmit()));
                let Some(accepted) = accepted else {
                    self.state = Some(ServerState::Handshake(accept));
                    return;
                };
                self.payload = Some(check_client_payload(&accepted.payload).expect("payload"));
                self.state = Some(ServerState::Open(accepted.transport));
                return;
            }
            None => panic!("server state lost"),
        };
        transport.push(bytes);
        while let Some(node) = transport.next_node().expect("client sends valid nodes") {
            self.received.push(node);
        }
        self.state = Some(ServerState::Open(transport));
    }

    pub(super) fn send(&mut self, node: &Node) -> Vec<u8> {
        let Some(ServerState::Open(t)) = self.state.as_mut() else {
            panic!("not open");
        };
        let mut out = Vec::new();
        t.encode_node(node, &mut out).expect("encode");
        out
    }
}

/// Drives everything the client has to send into the server, and server bytes back.
pub(super) struct Harness {
    pub(super) conn: Connection<StdRng>,
    pub(super) server: FakeServer,
    pub(super) events: Vec<Event>,
    pub(super) now: Millis,
}

impl FakeServer {
    pub(super) fn take_out(&mut self) -> Vec<Vec<u8>> {
        core::mem::take(&mut self.pending_out)
    }
}

impl Harness {
    pub(super) fn new(creds: Credentials, config: impl FnOnce(&mut Config)) -> Self {
        let (server, trust) = FakeServer::new(1);
        let mut cfg = Config {
            trust,
            ..Config::default()
        };
        config(&mut cfg);
        let conn = Connection::new(cfg, creds, StdRng::seed_from_u64(2), T0);
        let mut h = Self {
            conn,
            server,
            events: Vec::new(),
            now: T0,
        };
        h.pump();
        h
    }

    pub(super) fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(e) = self.conn.poll_event() {
                self.events.push(e);
            }
            while let Some(bytes) = self.conn.poll_transmit() {
                self.server.receive(&bytes);
                progressed = true;
            }
            for out in self.server.take_out() {
                self.conn.handle_input(&out, self.now);
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        while let Some(e) = self.conn.poll_event() {
            self.events.push(e);
        }
    }

    pub(super) fn server_sends(&mut self, node: Node) {
        let bytes = self.server.send(&node);
        self.conn.handle_input(&bytes, self.now);
        self.pump();
    }

    pub(super) fn advance_to(&mut self, t: Millis) {
        self.now = t;
        self.conn.handle_timeout(t);
        self.pump();
    }

    /// Takes the client's IQs received so far with this xmlns.
    pub(super) fn take_iqs(&mut self, xmlns: &str) -> Vec<Node> {
        let (hit, rest): (Vec<Node>, Vec<Node>) = core::mem::take(&mut self.server.received)
            .into_iter()
            .partition(|n| n.tag == "iq" && n.attr_str("xmlns") == Some(xmlns));
        self.server.received = rest;
        hit
    }

    pub(super) fn answer(&mut self, iq: &Node, children: Vec<Node>) {
        let id = iq.attr_str("id").expect("iq id").to_owned();
        let mut result = Node::new("iq")
            .with_attr("from", stanza::server_jid())
            .with_attr("id", id)
            .with_attr("type", "result");
        if !children.is_empty() {
            result = result.with_children(children);
        }
        self.server_sends(result);
    }

    /// What the driver does on `PreKeysNeeded`: make keys (the store would persist them).
    pub(super) fn provide_prekeys(&mut self, first: u32, count: u32) {
        let mut rng = StdRng::seed_from_u64(u64::from(first));
        let keys = (first..first + count)
            .map(|id| (id, KeyPair::generate(&mut rng).public))
            .collect();
        self.conn
            .handle_command(Command::UploadPreKeys(keys), self.now);
        self.pump();
    }

    pub(super) fn take_events(&mut self) -> Vec<Event> {
        core::mem::take(&mut self.events)
    }
}

pub(super) fn linked_creds() -> Credentials {
    let mut creds = Credentials::generate(&mut StdRng::seed_from_u64(3));
    creds.device = Some(LinkedDevice {
        jid: Jid::device("15550001111", 7, Server::WhatsApp),
        lid: None,
        platform: Some("android".into()),
        business_name: None,
        account: vec![1, 2, 3],
        key_index: 1,
        lid_migrated: false,
    });
    creds
}

pub(super) fn success() -> Node {
    Node::new("success")
        .with_attr("t", "1800000000")
        .with_attr("lid", Jid::lid("99887766554433"))
}

/// Logs in and completes the post-login steps with `count` prekeys on the server.
pub(super) fn logged_in(count: u32, config: impl FnOnce(&mut Config)) -> Harness {
    let mut h = Harness::new(linked_creds(), config);
    assert_eq!(h.conn.phase(), Phase::AwaitingServer);
    match &h.server.payload {
        Some(CheckedPayload::Login(l)) => assert_eq!((l.username, l.device), (15_550_001_111, 7)),
        other => panic!("expected a login payload, got {other:?}"),
    }
    h.server_sends(success());
    assert_eq!(h.conn.phase(), Phase::LoggedIn);
    let counts = h.take_iqs("encrypt");
    assert_eq!(counts.len(), 1, "one prekey count request");
    assert!(counts[0].child("count").is_some());
    let actives = h.take_iqs("passive");
    assert_eq!(actives.len(), 1);
    h.answer(
        &counts[0].clone(),
        vec![Node::new("count").with_attr("value", count.to_string())],
    );
    h.answer(&actives[0].clone(), vec![]);
    h
}

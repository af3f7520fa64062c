//! One client connection: the front door (intro, Noise responder, ClientPayload), then the
//! pairing role (registration payloads) or the session role (login payloads).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{Message, WebSocket};
use rand::rngs::StdRng;
use rand::RngCore;
use tokio::sync::mpsc;
use wa_protocol::binary::{Jid, Limits, Node, Server};
use wa_protocol::noise::{encode_frame, FrameDecoder, FramedTransport, Intro, Responder};
use wa_protocol::pairing::stanza::{
    CompanionFinish, CompanionHello, CompanionHelloResult, PairDevice, PairDeviceSign,
    PairErrorReply,
};
use wa_protocol::payload::{check_client_payload, CheckedPayload, Login, Registration};
use wa_protocol::signal::{KeyPair, PublicKey};
use wa_protocol::stanza::{iq_error, parse_prekey_upload, server_jid};

use crate::server::{ConnId, Outgoing, Shared, SimEvent};
use crate::world::{PendingCode, PendingPair};

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnError {
    #[error("websocket: {0}")]
    Ws(#[from] axum::Error),
    #[error("protocol: {0}")]
    Protocol(#[from] wa_protocol::Error),
    #[error("handshake timed out")]
    Timeout,
    #[error("client closed during the handshake")]
    ClosedEarly,
}

impl From<wa_protocol::noise::HandshakeError> for ConnError {
    fn from(e: wa_protocol::noise::HandshakeError) -> Self {
        ConnError::Protocol(e.into())
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn next_handshake_frame(
    ws: &mut WebSocket,
    decoder: &mut FrameDecoder,
    timeout: Duration,
) -> Result<Vec<u8>, ConnError> {
    let read = async {
        loop {
            if let Some(frame) = decoder.next_frame().map_err(wa_protocol::Error::from)? {
                return Ok(frame);
            }
            match ws.recv().await {
                Some(Ok(Message::Binary(data))) => decoder.push(&data),
                Some(Ok(Message::Close(_))) | None => return Err(ConnError::ClosedEarly),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            }
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| ConnError::Timeout)?
}

/// What the role handlers ask the connection loop to do.
pub(crate) enum Action {
    Send(Node),
    Close,
}

/// The role of a connection after the handshake.
enum Role {
    Pairing {
        identity: PublicKey,
        noise_pub: PublicKey,
    },
    Session {
        phone: String,
        device: u8,
    },
    Refused,
}

pub(crate) async fn run(
    mut ws: WebSocket,
    conn: ConnId,
    shared: Arc<Shared>,
    outbox: &mut mpsc::UnboundedReceiver<Outgoing>,
) -> Result<(), ConnError> {
    let mut rng = shared.fork_rng();
    let timeout = shared.config.handshake_timeout;
    let mut decoder = FrameDecoder::for_server(shared.config.max_frame);

    let hello = next_handshake_frame(&mut ws, &mut decoder, timeout).await?;
    let responder = Responder::start(shared.static_key.clone(), shared.cert_chain.clone());
    let (await_finish, server_hello) =
        responder.read_client_hello(&hello, KeyPair::generate(&mut rng))?;
    let mut out = Vec::new();
    encode_frame(&server_hello, &mut out).map_err(wa_protocol::Error::from)?;
    ws.send(Message::Binary(out.into())).await?;

    let finish = next_handshake_frame(&mut ws, &mut decoder, timeout).await?;
    let done = await_finish.read_client_finish(&finish)?;
    let intro = decoder.intro().cloned().unwrap_or(Intro::Plain);
    let payload = check_client_payload(&done.payload);
    shared.emit(SimEvent::ClientPayload {
        conn,
        client_static: done.client_static,
        intro,
        payload: payload.clone(),
    });
    let mut transport = FramedTransport::new(done.transport, decoder, Limits::default());

    let mut initial = Vec::new();
    let role = match payload {
        Err(_) => Role::Refused,
        Ok(CheckedPayload::Registration(reg)) => {
            initial.extend(start_pairing(
                &shared,
                conn,
                &done.client_static,
                &reg,
                &mut rng,
            ));
            Role::Pairing {
                identity: reg.keys.identity_key,
                noise_pub: done.client_static,
            }
        }
        Ok(CheckedPayload::Login(login)) => {
            match start_session(&shared, conn, &done.client_static, &login) {
                Ok(actions) => {
                    initial.extend(actions);
                    Role::Session {
                        phone: login.username.to_string(),
                        device: login.device,
                    }
                }
                Err(actions) => {
                    initial.extend(actions);
                    Role::Refused
                }
            }
        }
    };
    if matches!(role, Role::Refused) && initial.is_empty() {
        close_gracefully(&mut ws).await;
        return Ok(());
    }
    if apply(&mut ws, &mut transport, &shared, initial).await? {
        return Ok(());
    }

    loop {
        while let Some(node) = transport.next_node()? {
            count_in(&shared, &node);
            shared.emit(SimEvent::Stanza {
                conn,
                node: node.clone(),
            });
            let actions = match &role {
                Role::Pairing {
                    identity,
                    noise_pub,
                } => pairing_stanza(&shared, conn, identity, noise_pub, &node, &mut rng),
                Role::Session { phone, device } => {
                    session_stanza(&shared, conn, phone, *device, &node)
                }
                Role::Refused => vec![Action::Close],
            };
            if apply(&mut ws, &mut transport, &shared, actions).await? {
                return Ok(());
            }
        }
        tokio::select! {
            msg = ws.recv() => match msg {
                Some(Ok(Message::Binary(data))) => transport.push(&data),
                Some(Ok(Message::Close(_))) | None => return Ok(()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            },
            out = outbox.recv() => {
                let actions = match out {
                    Some(Outgoing::Node(node)) => vec![Action::Send(node)],
                    Some(Outgoing::Close) | None => vec![Action::Close],
                };
                if apply(&mut ws, &mut transport, &shared, actions).await? {
                    return Ok(());
                }
            }
        }
    }
}

/// Sends a Close frame and waits (briefly) for the client's, so the TCP close does not reset
/// bytes the client has not read yet.
async fn close_gracefully(ws: &mut WebSocket) {
    if ws.send(Message::Close(None)).await.is_err() {
        return;
    }
    let drain = async {
        while let Some(Ok(msg)) = ws.recv().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// Sends what the handlers asked for; `true` if the connection is to be closed.
async fn apply(
    ws: &mut WebSocket,
    transport: &mut FramedTransport,
    shared: &Shared,
    actions: Vec<Action>,
) -> Result<bool, ConnError> {
    for action in actions {
        match action {
            Action::Send(node) => {
                shared.with_world(|w| w.count(format!("out:{}", node.tag)));
                let mut out = Vec::new();
                transport.encode_node(&node, &mut out)?;
                ws.send(Message::Binary(out.into())).await?;
            }
            Action::Close => {
                close_gracefully(ws).await;
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn count_in(shared: &Shared, node: &Node) {
    let key = match node.attr_str("xmlns") {
        Some(x) => format!("in:{}:{x}", node.tag),
        None => format!("in:{}", node.tag),
    };
    shared.with_world(|w| w.count(key));
}

fn server_iq(id: &str, kind: &str) -> Node {
    Node::new("iq")
        .with_attr("from", server_jid())
        .with_attr("id", id)
        .with_attr("type", kind)
}

fn result(id: &str, children: Vec<Node>) -> Node {
    let n = server_iq(id, "result").with_attr("t", unix_now().to_string());
    if children.is_empty() {
        n
    } else {
        n.with_children(children)
    }
}

// ---- pairing role ----

fn start_pairing(
    shared: &Shared,
    conn: ConnId,
    noise_pub: &PublicKey,
    reg: &Registration,
    rng: &mut impl RngCore,
) -> Vec<Action> {
    let refs: Vec<String> = (0..6)
        .map(|_| {
            let mut b = [0u8; 12];
            rng.fill_bytes(&mut b);
            format!("2@{}", hex::encode(b))
        })
        .collect();
    shared.with_world(|w| {
        for r in &refs {
            w.pending.insert(
                r.clone(),
                PendingPair {
                    conn,
                    noise_pub: *noise_pub,
                    identity_pub: reg.keys.identity_key,
                },
            );
        }
    });
    let id = shared.next_iq_id();
    vec![Action::Send(PairDevice { id, refs }.to_node())]
}

fn pairing_stanza(
    shared: &Shared,
    conn: ConnId,
    identity: &PublicKey,
    noise_pub: &PublicKey,
    node: &Node,
    rng: &mut StdRng,
) -> Vec<Action> {
    if node.tag != "iq" {
        return vec![];
    }
    let id = node.attr_str("id").unwrap_or_default();
    if let Some(reg) = node.child("link_code_companion_reg") {
        return match reg.attr_str("stage") {
            Some("companion_hello") => companion_hello(shared, conn, noise_pub, node, rng),
            Some("companion_finish") => {
                companion_finish(shared, conn, identity, noise_pub, node, rng)
            }
            _ => vec![Action::Send(iq_error(id, server_jid(), 400, "bad-request"))],
        };
    }
    match node.attr_str("type") {
        Some("result") if node.child("pair-device-sign").is_some() => {
            let Some(awaiting) = shared.with_world(|w| w.awaiting_sign.remove(&conn)) else {
                return vec![Action::Send(iq_error(id, server_jid(), 400, "bad-request"))];
            };
            let sign = match PairDeviceSign::from_node(node) {
                Ok(s) if s.id == awaiting.iq_id => s,
                Ok(s) => {
                    shared.emit(SimEvent::PairingFailed {
                        conn,
                        error: format!(
                            "pair-device-sign answers {} instead of {}",
                            s.id, awaiting.iq_id
                        ),
                    });
                    return vec![Action::Close];
                }
                Err(e) => {
                    shared.emit(SimEvent::PairingFailed {
                        conn,
                        error: e.to_string(),
                    });
                    return vec![Action::Close];
                }
            };
            let account_pub = shared.with_world(|w| {
                w.account(&awaiting.phone)
                    .map(|a| a.primary.identity.public)
            });
            let Some(account_pub) = account_pub else {
                return vec![Action::Close];
            };
            if let Err(e) = wa_protocol::pairing::verify_pair_device_sign(
                &sign.device_identity,
                identity,
                &account_pub,
                awaiting.companion.key_index,
            ) {
                shared.emit(SimEvent::PairingFailed {
                    conn,
                    error: e.to_string(),
                });
                return vec![Action::Close];
            }
            let device = awaiting.companion.device;
            shared.with_world(|w| {
                w.pending.retain(|_, p| p.conn != conn);
                if let Some(a) = w.account_mut(&awaiting.phone) {
                    a.companions.insert(device, awaiting.companion.clone());
                }
            });
            shared.emit(SimEvent::Paired {
                conn,
                jid: Jid::device(awaiting.phone.clone(), u16::from(device), Server::WhatsApp),
            });
            vec![
                Action::Send(Node::new("stream:error").with_attr("code", "515")),
                Action::Close,
            ]
        }
        Some("error") => {
            let reply = PairErrorReply::from_node(node);
            shared.emit(SimEvent::PairingFailed {
                conn,
                error: reply.map_or_else(|e| e.to_string(), |r| format!("{} {}", r.code, r.text)),
            });
            shared.with_world(|w| {
                w.awaiting_sign.remove(&conn);
            });
            vec![Action::Close]
        }
        Some("result") => vec![],
        Some("get") if node.attr_str("xmlns") == Some("w:p") => {
            vec![Action::Send(result(id, vec![]))]
        }
        _ => vec![Action::Send(iq_error(
            id,
            server_jid(),
            501,
            "feature-not-implemented",
        ))],
    }
}

// ---- pair-code linking (login-pairing.md §5) ----

fn companion_hello(
    shared: &Shared,
    conn: ConnId,
    noise_pub: &PublicKey,
    node: &Node,
    rng: &mut StdRng,
) -> Vec<Action> {
    let id = node.attr_str("id").unwrap_or_default();
    let hello = match CompanionHello::from_node(node) {
        Ok(h) => h,
        Err(_) => return vec![Action::Send(iq_error(id, server_jid(), 400, "bad-request"))],
    };
    if hello.noise_pub != *noise_pub {
        return vec![Action::Send(iq_error(id, server_jid(), 400, "bad-request"))];
    }
    let phone = hello.phone.user_part().to_owned();
    let mut pairing_ref = vec![0u8; 16];
    rng.fill_bytes(&mut pairing_ref);
    let pairing_ref = hex::encode(pairing_ref).into_bytes();
    let known = shared.with_world(|w| {
        if w.account(&phone).is_none() {
            return false;
        }
        w.pending_codes.insert(
            conn,
            PendingCode {
                phone: phone.clone(),
                wrapped_companion: hello.wrapped_ephemeral,
                pairing_ref: pairing_ref.clone(),
                primary: None,
            },
        );
        true
    });
    if !known {
        // WhatsApp answers an unknown number with bad-request too.
        return vec![Action::Send(iq_error(id, server_jid(), 400, "bad-request"))];
    }
    shared.emit(SimEvent::PairCodeRequested { conn, phone });
    vec![Action::Send(
        CompanionHelloResult {
            id: id.to_owned(),
            pairing_ref,
        }
        .to_node(),
    )]
}

fn companion_finish(
    shared: &Shared,
    conn: ConnId,
    identity: &PublicKey,
    noise_pub: &PublicKey,
    node: &Node,
    rng: &mut StdRng,
) -> Vec<Action> {
    let id = node.attr_str("id").unwrap_or_default();
    let Ok(finish) = CompanionFinish::from_node(node) else {
        return vec![Action::Send(iq_error(id, server_jid(), 400, "bad-request"))];
    };
    let Some(pending) = shared.with_world(|w| w.pending_codes.remove(&conn)) else {
        return vec![Action::Send(iq_error(id, server_jid(), 400, "bad-request"))];
    };
    let (Some(primary), Some(account)) = (
        pending.primary,
        shared.with_world(|w| w.account(&pending.phone).cloned()),
    ) else {
        return vec![Action::Send(iq_error(id, server_jid(), 400, "bad-request"))];
    };
    if finish.companion_identity != *identity {
        return vec![Action::Send(iq_error(id, server_jid(), 400, "bad-request"))];
    }
    let linked = match primary.companion_finish(
        &finish.pairing_ref,
        &finish.wrapped_bundle,
        &finish.companion_identity,
        &account.primary.identity,
    ) {
        Ok(l) => l,
        Err(e) => {
            shared.emit(SimEvent::PairingFailed {
                conn,
                error: e.to_string(),
            });
            return vec![Action::Send(iq_error(
                id,
                server_jid(),
                401,
                "not-authorized",
            ))];
        }
    };
    let mut actions = vec![Action::Send(result(id, vec![]))];
    match crate::server::grant_device(
        shared,
        conn,
        &pending.phone,
        noise_pub,
        &linked.companion_identity,
        &linked.adv_secret,
        rng,
    ) {
        Ok((pair_success, _)) => actions.push(Action::Send(pair_success)),
        Err(e) => shared.emit(SimEvent::PairingFailed {
            conn,
            error: e.to_string(),
        }),
    }
    actions
}

// ---- session role ----

fn start_session(
    shared: &Shared,
    conn: ConnId,
    noise_pub: &PublicKey,
    login: &Login,
) -> Result<Vec<Action>, Vec<Action>> {
    let phone = login.username.to_string();
    let verdict = shared.with_world(|w| {
        let Some(account) = w.account(&phone) else {
            return Err(401);
        };
        if let Some(code) = account.faults.refuse_login {
            return Err(code);
        }
        match account.companions.get(&login.device) {
            Some(c) if c.noise_pub == *noise_pub => {}
            _ => return Err(401),
        }
        let lid = Jid::device(account.lid.clone(), u16::from(login.device), Server::Lid);
        w.logged_in.insert(conn, (phone.clone(), login.device));
        Ok(lid)
    });
    match verdict {
        Ok(lid) => {
            shared.emit(SimEvent::LoggedIn {
                conn,
                jid: Jid::device(phone, u16::from(login.device), Server::WhatsApp),
            });
            Ok(vec![Action::Send(
                Node::new("success")
                    .with_attr("t", unix_now().to_string())
                    .with_attr("props", "27")
                    .with_attr("lid", lid),
            )])
        }
        Err(code) => Err(vec![
            Action::Send(Node::new("failure").with_attr("reason", code.to_string())),
            Action::Close,
        ]),
    }
}

fn session_stanza(
    shared: &Shared,
    conn: ConnId,
    phone: &str,
    device: u8,
    node: &Node,
) -> Vec<Action> {
    if node.tag != "iq" {
        return vec![];
    }
    let (Some(id), Some(kind)) = (node.attr_str("id"), node.attr_str("type")) else {
        return vec![
            Action::Send(Node::new("stream:error").with_children(vec![
                Node::new("bad-request").with_attr("text", "iq without id or type"),
            ])),
            Action::Close,
        ];
    };
    if kind == "result" || kind == "error" {
        return vec![];
    }
    let Some(xmlns) = node.attr_str("xmlns") else {
        return vec![Action::Send(iq_error(id, server_jid(), 400, "bad-request"))];
    };
    let bad = || vec![Action::Send(iq_error(id, server_jid(), 400, "bad-request"))];
    match (xmlns, kind) {
        ("w:p", "get") => {
            let drop = shared.with_world(|w| w.account(phone).is_some_and(|a| a.faults.drop_pings));
            if drop {
                vec![]
            } else {
                vec![Action::Send(result(id, vec![]))]
            }
        }
        ("encrypt", "get") if node.child("count").is_some() => {
            let n = shared.with_world(|w| {
                w.account(phone)
                    .and_then(|a| a.companions.get(&device))
                    .and_then(|c| c.bundle.as_ref())
                    .map_or(0, |b| b.prekeys.len())
            });
            vec![Action::Send(result(
                id,
                vec![Node::new("count").with_attr("value", n.to_string())],
            ))]
        }
        ("encrypt", "get") if node.child("digest").is_some() => {
            vec![Action::Send(result(id, vec![Node::new("digest")]))]
        }
        ("encrypt", "set") => match parse_prekey_upload(node) {
            Ok(upload) => {
                let count = upload.prekeys.len();
                shared.with_world(|w| {
                    if let Some(c) = w
                        .account_mut(phone)
                        .and_then(|a| a.companions.get_mut(&device))
                    {
                        match c.bundle.as_mut() {
                            Some(b) if b.identity == upload.identity => {
                                b.prekeys.extend(upload.prekeys.iter().copied());
                                b.signed = upload.signed;
                            }
                            _ => c.bundle = Some(upload),
                        }
                    }
                });
                shared.emit(SimEvent::PreKeysUploaded { conn, count });
                vec![Action::Send(result(id, vec![]))]
            }
            Err(_) => bad(),
        },
        ("passive", "set") => {
            if node.child("active").is_some() {
                vec![
                    Action::Send(result(id, vec![])),
                    Action::Send(
                        Node::new("ib")
                            .with_children(vec![Node::new("offline").with_attr("count", "0")]),
                    ),
                ]
            } else if node.child("passive").is_some() {
                vec![Action::Send(result(id, vec![]))]
            } else {
                bad()
            }
        }
        ("abt", "get") => vec![Action::Send(result(
            id,
            vec![Node::new("props")
                .with_attr("protocol", "1")
                .with_attr("hash", "wa-sim")],
        ))],
        ("blocklist", "get") => vec![Action::Send(result(id, vec![Node::new("list")]))],
        ("privacy", "get") => vec![Action::Send(result(
            id,
            vec![Node::new("privacy").with_children(
                [
                    "readreceipts",
                    "last",
                    "online",
                    "profile",
                    "status",
                    "groupadd",
                ]
                .iter()
                .map(|c| {
                    Node::new("category")
                        .with_attr("name", *c)
                        .with_attr("value", "all")
                })
                .collect(),
            )],
        ))],
        ("privacy", "set") | ("urn:xmpp:whatsapp:dirty", "set") => {
            vec![Action::Send(result(id, vec![]))]
        }
        ("w:sync:app:state", "set") => {
            let collections = node
                .child("sync")
                .map(|s| {
                    s.children_by_tag("collection")
                        .filter_map(|c| c.attr_str("name"))
                        .map(|name| {
                            Node::new("collection")
                                .with_attr("name", name)
                                .with_attr("version", "0")
                        })
                        .collect()
                })
                .unwrap_or_default();
            vec![Action::Send(result(
                id,
                vec![Node::new("sync").with_children(collections)],
            ))]
        }
        ("md", "set") if node.child("remove-companion-device").is_some() => {
            shared.with_world(|w| {
                if let Some(a) = w.account_mut(phone) {
                    a.companions.remove(&device);
                }
            });
            shared.emit(SimEvent::DeviceRemoved {
                conn,
                jid: Jid::device(phone.to_owned(), u16::from(device), Server::WhatsApp),
            });
            vec![
                Action::Send(result(id, vec![])),
                Action::Send(Node::new("xmlstreamend")),
                Action::Close,
            ]
        }
        _ => vec![Action::Send(iq_error(
            id,
            server_jid(),
            501,
            "feature-not-implemented",
        ))],
    }
}

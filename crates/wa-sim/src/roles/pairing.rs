//! The pairing role: a registration connection (a companion that is not linked yet).
//!
//! QR linking: the server hands out `pair-device` refs; the phone scans one
//! ([`phone::scan`](crate::phone::scan)) and sends pair-success; the companion answers with
//! `pair-device-sign`, which is verified against the phone's signature before the device is
//! recorded and the stream restarts (515). Pair-code linking (`login-pairing.md` §5):
//! `companion_hello` for a phone number, the phone types the code
//! ([`phone::enter_pair_code`](crate::phone::enter_pair_code)), `companion_finish`, then the
//! same pair-success and sign as with a QR.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::RngCore;
use wa_protocol::binary::Node;
use wa_protocol::pairing::stanza::{
    CompanionFinish, CompanionHello, CompanionHelloResult, PairDevice, PairDeviceSign,
    PairErrorReply,
};
use wa_protocol::payload::Registration;
use wa_protocol::signal::PublicKey;
use wa_protocol::stanza::DeviceChangeKind;
use wa_protocol::PhoneNumber;

use crate::device_notify;
use crate::error::SimError;
use crate::event::{device_jid, ConnId, SimEvent};
use crate::nodes;
use crate::phone::{grant_device, NewCompanion};
use crate::state::{Action, Shared};
use crate::world::{Companion, PendingCode, PendingPair};

/// How many QR refs a registration connection is given.
const REFS: usize = 6;

/// A registration connection: what its handshake and payload proved.
#[derive(Debug)]
pub(crate) struct Pairing {
    /// The companion's Signal identity (registration payload).
    identity: PublicKey,
    /// The companion's Noise static key (handshake).
    noise_pub: PublicKey,
}

/// Starts pairing on a registration connection: records the QR refs and sends `pair-device`.
pub(crate) fn start(
    shared: &Shared,
    conn: ConnId,
    noise_pub: &PublicKey,
    reg: &Registration,
    rng: &mut impl RngCore,
) -> (Pairing, Vec<Action>) {
    let refs: Vec<String> = (0..REFS)
        .map(|_| {
            let mut b = [0u8; 12];
            rng.fill_bytes(&mut b);
            format!("2@{}", hex::encode(b))
        })
        .collect();
    shared.with_world(|w| {
        for r in &refs {
            let pending = PendingPair {
                conn,
                noise_pub: *noise_pub,
                identity_pub: reg.keys.identity_key,
            };
            w.pending.insert(r.clone(), pending);
        }
    });
    let id = shared.next_iq_id();
    let pairing = Pairing {
        identity: reg.keys.identity_key,
        noise_pub: *noise_pub,
    };
    (
        pairing,
        vec![Action::Send(PairDevice { id, refs }.to_node())],
    )
}

impl Pairing {
    /// Answers an IQ from the companion.
    pub(crate) fn iq(
        &self,
        shared: &Shared,
        conn: ConnId,
        node: &Node,
        rng: &mut StdRng,
    ) -> Vec<Action> {
        let id = node.attr_str("id").unwrap_or_default();
        if let Some(reg) = node.child("link_code_companion_reg") {
            return match reg.attr_str("stage") {
                Some("companion_hello") => self.companion_hello(shared, conn, node, rng),
                Some("companion_finish") => self.companion_finish(shared, conn, node, rng),
                _ => vec![Action::Send(nodes::iq_bad_request(id))],
            };
        }
        match node.attr_str("type") {
            Some("result") if node.child("pair-device-sign").is_some() => {
                self.pair_device_sign(shared, conn, node)
            }
            Some("error") => {
                let reply = PairErrorReply::from_node(node);
                let error = Arc::new(match reply {
                    Ok(r) => SimError::PairRefused {
                        code: r.code,
                        text: r.text,
                    },
                    Err(e) => SimError::Protocol(e.into()),
                });
                shared.emit(SimEvent::PairingFailed { conn, error });
                shared.with_world(|w| w.awaiting_sign.remove(&conn));
                vec![Action::Close]
            }
            Some("result") => vec![],
            Some("get") if node.attr_str("xmlns") == Some("w:p") => {
                vec![Action::Send(nodes::iq_result(
                    id,
                    shared.now_secs(),
                    vec![],
                ))]
            }
            _ => vec![Action::Send(nodes::iq_not_implemented(id))],
        }
    }

    /// The companion's `pair-device-sign`: verified against what the phone signed, then the
    /// device is recorded and the stream restarts (515).
    fn pair_device_sign(&self, shared: &Shared, conn: ConnId, node: &Node) -> Vec<Action> {
        let id = node.attr_str("id").unwrap_or_default();
        let Some(awaiting) = shared.with_world(|w| w.awaiting_sign.remove(&conn)) else {
            return vec![Action::Send(nodes::iq_bad_request(id))];
        };
        let failed = |error: SimError| {
            let error = Arc::new(error);
            shared.emit(SimEvent::PairingFailed { conn, error });
            vec![Action::Close]
        };
        let sign = match PairDeviceSign::from_node(node) {
            Ok(s) if s.id == awaiting.iq_id => s,
            Ok(s) => {
                return failed(SimError::PairSignMismatch {
                    expected: awaiting.iq_id.clone(),
                    got: s.id,
                })
            }
            Err(e) => return failed(SimError::Protocol(e.into())),
        };
        let account_pub = shared.with_world(|w| {
            w.account(&awaiting.phone)
                .map(|a| a.primary.identity.public)
        });
        let Ok(account_pub) = account_pub else {
            return vec![Action::Close];
        };
        if let Err(e) = wa_protocol::pairing::verify_pair_device_sign(
            &sign.device_identity,
            &self.identity,
            &account_pub,
            awaiting.companion.key_index,
        ) {
            return failed(SimError::Protocol(e.into()));
        }
        let device = awaiting.companion.device;
        let companion = Companion {
            device_identity: sign.device_identity,
            ..awaiting.companion.clone()
        };
        shared.with_world(|w| {
            w.pending.retain(|_, p| p.conn != conn);
            if let Ok(a) = w.account_mut(&awaiting.phone) {
                a.companions.insert(device, companion);
            }
        });
        let jid = device_jid(&awaiting.phone, device);
        shared.emit(SimEvent::Paired { conn, jid });
        let key_index = awaiting.companion.key_index;
        device_notify::announce(
            shared,
            &awaiting.phone,
            DeviceChangeKind::Add,
            device,
            key_index,
        );
        vec![Action::Send(nodes::stream_error(515)), Action::Close]
    }

    /// `companion_hello`: a companion asks to link to a phone number by code.
    fn companion_hello(
        &self,
        shared: &Shared,
        conn: ConnId,
        node: &Node,
        rng: &mut StdRng,
    ) -> Vec<Action> {
        let id = node.attr_str("id").unwrap_or_default();
        let bad = || vec![Action::Send(nodes::iq_bad_request(id))];
        let Ok(hello) = CompanionHello::from_node(node) else {
            return bad();
        };
        // WhatsApp answers an unknown number with bad-request too.
        let Some(phone) = PhoneNumber::from_jid(&hello.phone) else {
            return bad();
        };
        if hello.noise_pub != self.noise_pub {
            return bad();
        }
        let mut pairing_ref = vec![0u8; 16];
        rng.fill_bytes(&mut pairing_ref);
        let pairing_ref = hex::encode(pairing_ref).into_bytes();
        let known = shared.with_world(|w| {
            w.account(&phone)?;
            let pending = PendingCode {
                phone: phone.clone(),
                wrapped_companion: hello.wrapped_ephemeral,
                pairing_ref: pairing_ref.clone(),
                primary: None,
            };
            w.pending_codes.insert(conn, pending);
            Ok::<_, crate::error::SimError>(())
        });
        if known.is_err() {
            return bad();
        }
        shared.emit(SimEvent::PairCodeRequested { conn, phone });
        let id = id.to_owned();
        vec![Action::Send(
            CompanionHelloResult { id, pairing_ref }.to_node(),
        )]
    }

    /// `companion_finish`: the companion's half after the phone typed the code; the phone
    /// then signs the companion as after a QR scan.
    fn companion_finish(
        &self,
        shared: &Shared,
        conn: ConnId,
        node: &Node,
        rng: &mut StdRng,
    ) -> Vec<Action> {
        let id = node.attr_str("id").unwrap_or_default();
        let bad = || vec![Action::Send(nodes::iq_bad_request(id))];
        let Ok(finish) = CompanionFinish::from_node(node) else {
            return bad();
        };
        let Some(pending) = shared.with_world(|w| w.pending_codes.remove(&conn)) else {
            return bad();
        };
        let account = shared.with_world(|w| w.account(&pending.phone).cloned());
        let (Some(primary), Ok(account)) = (pending.primary, account) else {
            return bad();
        };
        if finish.companion_identity != self.identity {
            return bad();
        }
        let linked = match primary.companion_finish(
            &finish.pairing_ref,
            &finish.wrapped_bundle,
            &finish.companion_identity,
            &account.primary.identity,
        ) {
            Ok(l) => l,
            Err(e) => {
                let error = Arc::new(SimError::Protocol(e.into()));
                shared.emit(SimEvent::PairingFailed { conn, error });
                return vec![Action::Send(nodes::iq_not_authorized(id))];
            }
        };
        let mut actions = vec![Action::Send(nodes::iq_result(
            id,
            shared.now_secs(),
            vec![],
        ))];
        let companion = NewCompanion {
            conn,
            noise_pub: &self.noise_pub,
            identity_pub: &linked.companion_identity,
            adv_secret: &linked.adv_secret,
        };
        match grant_device(shared, &pending.phone, &companion, rng) {
            Ok((pair_success, _)) => actions.push(Action::Send(pair_success)),
            Err(error) => {
                let error = Arc::new(error);
                shared.emit(SimEvent::PairingFailed { conn, error });
            }
        }
        actions
    }
}

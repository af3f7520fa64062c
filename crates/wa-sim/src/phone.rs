//! The simulated primary phone's actions: what a person does on device 0 of an account. It
//! scans a companion's QR code, types a pair code a companion shows, and unlinks companions.
//! Sending and reading messages are in `phone_send`, receiving in `phone_inbox`.
//!
//! The admin API and the [`SimServer`](crate::SimServer) handle both call these functions, and
//! the pairing role calls [`grant_device`] when a pair-code link completes.

use rand::rngs::StdRng;
use rand::RngCore;
use wa_protocol::binary::{Jid, Node};
use wa_protocol::pairing::stanza::{PairSuccess, PrimaryHello};
use wa_protocol::pairing::{PairCode, PairingProps, PrimaryCodeHello, QrData};
use wa_protocol::signal::PublicKey;
use wa_protocol::stanza::DeviceChangeKind;
use wa_protocol::PhoneNumber;

use crate::device_notify;
use crate::error::SimError;
use crate::event::{device_jid, ConnId, SimEvent};
use crate::nodes;
use crate::state::{Action, Shared};
use crate::world::{AwaitingSign, Companion};

/// The phone scans a QR code: it signs the companion and sends pair-success to the connection
/// showing that QR. Returns the companion's device JID.
pub(crate) fn scan(shared: &Shared, phone: &PhoneNumber, qr: &str) -> Result<Jid, SimError> {
    let qr = QrData::parse(qr).map_err(SimError::BadQr)?;
    shared.with_world(|w| w.account(phone).map(drop))?;
    let pending = shared
        .with_world(|w| w.pending.get(&qr.pairing_ref).cloned())
        .ok_or(SimError::UnknownQr)?;
    if pending.noise_pub != qr.noise_pub || pending.identity_pub != qr.identity_pub {
        return Err(SimError::QrMismatch);
    }
    let mut rng = shared.fork_rng();
    let companion = NewCompanion {
        conn: pending.conn,
        noise_pub: &qr.noise_pub,
        identity_pub: &qr.identity_pub,
        adv_secret: &qr.adv_secret,
    };
    let (node, jid) = grant_device(shared, phone, &companion, &mut rng)?;
    if shared.push(pending.conn, Action::Send(node)) {
        Ok(jid)
    } else {
        Err(SimError::UnknownQr)
    }
}

/// The phone types a pair code shown by a companion: primary_hello goes to the newest
/// connection that asked for a code for this phone.
pub(crate) fn enter_pair_code(
    shared: &Shared,
    phone: &PhoneNumber,
    code: &str,
) -> Result<(), SimError> {
    let code: PairCode = code.parse().map_err(SimError::BadPairCode)?;
    let mut rng = shared.fork_rng();
    let t = shared.now_secs();
    let (conn, node) = shared.with_world(|w| {
        let primary_identity = w.account(phone)?.primary.identity.public;
        let (conn, pending) = w
            .pending_codes
            .iter_mut()
            .filter(|(_, p)| p.phone == *phone && p.primary.is_none())
            .max_by_key(|(c, _)| **c)
            .ok_or_else(|| SimError::NoPairCodeRequest(phone.clone()))?;
        let hello = PrimaryCodeHello::new(
            &code,
            &pending.wrapped_companion,
            pending.pairing_ref.clone(),
            &mut rng,
        )
        .map_err(SimError::BadPairCode)?;
        let node = PrimaryHello {
            id: format!("sim-code-{}", rng.next_u32()),
            t: Some(t),
            wrapped_ephemeral: *hello.wrapped_ephemeral(),
            primary_identity,
            pairing_ref: pending.pairing_ref.clone(),
        }
        .to_node();
        pending.primary = Some(hello);
        Ok::<_, SimError>((*conn, node))
    })?;
    if shared.push(conn, Action::Send(node)) {
        Ok(())
    } else {
        Err(SimError::ConnectionGone(conn))
    }
}

/// A companion the phone is about to sign: the connection it pairs on and what it proved.
pub(crate) struct NewCompanion<'a> {
    /// The pairing connection.
    pub(crate) conn: ConnId,
    /// Its Noise static key (from the handshake).
    pub(crate) noise_pub: &'a PublicKey,
    /// Its Signal identity.
    pub(crate) identity_pub: &'a PublicKey,
    /// The ADV secret shared with the phone (from the QR or the pair-code exchange).
    pub(crate) adv_secret: &'a [u8; 32],
}

/// The phone signs a new companion: reserves a device number, builds the pair-success for the
/// companion's connection and records what the pair-device-sign must match. An account switched
/// to LID-migrated says so in `<client-props>` (`ClientPairingProps { isChatDbLidMigrated }`,
/// `login-pairing.md` §4.4).
pub(crate) fn grant_device(
    shared: &Shared,
    phone: &PhoneNumber,
    companion: &NewCompanion<'_>,
    rng: &mut StdRng,
) -> Result<(Node, Jid), SimError> {
    let t = shared.now_secs();
    shared.with_world(|w| {
        let account = w.account(phone)?;
        let (primary, lid) = (account.primary.identity.clone(), account.lid.clone());
        let client_props = account.switches.lid_migrated.then(|| PairingProps {
            chat_db_lid_migrated: true,
            ..PairingProps::default()
        });
        let raw_id = account.primary.raw_id;
        let (device, key_index) = w.reserve_device(phone)?;
        let device_identity = wa_protocol::pairing::sign_companion(
            &primary,
            companion.identity_pub,
            companion.adv_secret,
            raw_id,
            t,
            key_index,
            rng,
        );
        let id = format!("sim-pair-{}", rng.next_u32());
        let jid = device_jid(phone, device);
        let node = PairSuccess {
            id: id.clone(),
            t: Some(t),
            device_identity,
            platform: Some("android".to_owned()),
            device: jid.clone(),
            lid: Some(Jid::device(
                lid,
                u16::from(device),
                wa_protocol::binary::Server::Lid,
            )),
            business_name: Some(format!("wa-sim {phone}")),
            client_props,
        }
        .to_node();
        let awaiting = AwaitingSign {
            phone: phone.clone(),
            companion: Companion {
                device,
                key_index,
                noise_pub: *companion.noise_pub,
                identity_pub: *companion.identity_pub,
                device_identity: Vec::new(),
            },
            iq_id: id,
        };
        w.awaiting_sign.insert(companion.conn, awaiting);
        Ok((node, jid))
    })
}

/// The phone unlinks a companion: `<stream:error code=401><conflict type=device_removed>` to
/// its connections, and the device is forgotten.
pub(crate) fn remove_device(
    shared: &Shared,
    phone: &PhoneNumber,
    device: u8,
) -> Result<(), SimError> {
    let (conns, key_index): (Vec<ConnId>, u32) = shared.with_world(|w| {
        let key_index = w
            .account(phone)?
            .companions
            .get(&device)
            .map_or(0, |c| c.key_index);
        if !w.remove_companion(phone, device) {
            return Err(SimError::NoDevice {
                phone: phone.clone(),
                device,
            });
        }
        let conns = w
            .logged_in
            .iter()
            .filter(|(_, (p, d))| p == phone && *d == device)
            .map(|(c, _)| *c)
            .collect();
        Ok((conns, key_index))
    })?;
    device_notify::announce(shared, phone, DeviceChangeKind::Remove, device, key_index);
    let jid = device_jid(phone, device);
    if conns.is_empty() {
        shared.emit(SimEvent::DeviceRemoved {
            conn: 0,
            jid: jid.clone(),
        });
    }
    for conn in conns {
        shared.push(conn, Action::Send(nodes::device_removed()));
        shared.push(conn, Action::Close);
        shared.emit(SimEvent::DeviceRemoved {
            conn,
            jid: jid.clone(),
        });
    }
    Ok(())
}

//! The router's group fan-out (`messaging.md` §9, §10, §14, §16): what each member device gets
//! of a `<message to="…@g.us">`, and where receipts addressed to a group go.
//!
//! A group send carries `<participants>` (pairwise `pkmsg`/`msg` encs, each the sender's SKDM
//! for one device) and exactly one direct `<enc type="skmsg">` (either order of the two is
//! accepted, §9 step 6). Every member device other than the sending one gets
//! `<message from=<group> participant=<sender device> id t type notify addressing_mode>` with
//! its own pairwise enc first, if it has one, then the skmsg (§10, §14), plus
//! `<device-identity>` when its enc is a `pkmsg`. Members are addressed in the group's
//! namespace; the other one rides along as `participant_pn` (LID group) or `participant_lid`
//! (PN group) (§16). A `<to>` for a device that is no longer a member is not delivered (a
//! removed member reads nothing new); the ack's `phash` (§8) tells the sender its list is
//! stale.
//!
//! A retry resend to a group (§11 step 5, the Baileys form) carries `participant=<device>` and
//! one direct pairwise enc: it goes to that device alone.
//!
//! The sim's refusals (479, as for 1:1): an unknown group, a sender who is not a participant,
//! a `<to>` naming an unknown device or the sender itself, an skmsg inside `<participants>`,
//! and anything other than exactly one direct skmsg (or, on a resend, one pairwise enc).

use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::message::group::phash;
use wa_protocol::stanza::{nack, AddressingMode, Enc, EncType, MessageStanza, Receipt};

use crate::group_state::Group;
use crate::mailbox::DeviceKey;
use crate::world::{address, World};

/// What the router does with one group message.
#[derive(Debug)]
pub(crate) struct GroupRoute {
    /// The copy for each member device.
    pub(crate) deliveries: Vec<(DeviceKey, Node)>,
    /// The server's participant hash of the group's devices (§8), for the ack.
    pub(crate) phash: String,
    /// The sender's `phash` differed from the server's.
    pub(crate) stale: bool,
    /// `<to>` entries for devices that are no longer members (not delivered).
    pub(crate) not_members: usize,
}

/// Plans the delivery of `msg`, sent by `sender` to the group `to`; `Err` with the ack's
/// error code.
pub(crate) fn plan(
    w: &World,
    sender: &DeviceKey,
    msg: &MessageStanza,
    to: &Jid,
    t: u64,
) -> Result<GroupRoute, u16> {
    let group = w
        .groups
        .get(to.user_part())
        .ok_or(nack::STANZA_VALIDATION)?;
    let own = w.account(&sender.0).map_err(|_| nack::STANZA_VALIDATION)?;
    if group.rank(&sender.0).is_none() {
        return Err(nack::STANZA_VALIDATION);
    }
    let members = w.member_devices(group);
    let server_phash = phash(&members.iter().map(|(_, j)| j.clone()).collect::<Vec<_>>());
    let server = group.server();
    let mut copy = MessageStanza::new(msg.id.clone(), msg.kind);
    copy.from = Some(group.jid());
    copy.participant = Some(address(&own.phone, &own.lid, sender.1, &server));
    let other = match server {
        Server::Lid => Server::WhatsApp,
        _ => Server::Lid,
    };
    let alt = Some(address(&own.phone, &own.lid, sender.1, &other));
    match group.addressing {
        AddressingMode::Lid => copy.alt.participant_pn = alt,
        AddressingMode::Pn => copy.alt.participant_lid = alt,
    }
    copy.addressing_mode = Some(group.addressing);
    copy.t = Some(t);
    copy.edit = msg.edit;
    copy.notify = Some(format!("wa-sim {}", own.phone));
    let (pairwise, not_members) = pairwise_encs(w, group, sender, msg)?;
    let deliveries = if msg.participant.is_some() && msg.participants.is_empty() {
        resend(&copy, msg, pairwise)?
    } else {
        let skmsg = single_skmsg(msg)?;
        fan_out(&copy, msg, &members, sender, &pairwise, skmsg)
    };
    Ok(GroupRoute {
        deliveries,
        stale: msg.phash.as_ref().is_some_and(|p| *p != server_phash),
        phash: server_phash,
        not_members,
    })
}

/// The pairwise encs by member device (a resend's single direct enc for its `participant`),
/// and how many `<to>` entries named devices that are not members.
fn pairwise_encs<'m>(
    w: &World,
    group: &Group,
    sender: &DeviceKey,
    msg: &'m MessageStanza,
) -> Result<(Vec<(DeviceKey, &'m Enc)>, usize), u16> {
    let mut out = Vec::with_capacity(msg.participants.len());
    let mut not_members = 0;
    let resend = msg.participants.is_empty() && msg.participant.is_some();
    let entries: Vec<(&Jid, &Enc)> = if resend {
        match (msg.participant.as_ref(), msg.encs.as_slice()) {
            (Some(p), [enc]) => vec![(p, enc)],
            _ => return Err(nack::STANZA_VALIDATION),
        }
    } else {
        msg.participants.iter().map(|p| (&p.jid, &p.enc)).collect()
    };
    for (jid, enc) in entries {
        let device = w.device_of(jid).ok_or(nack::STANZA_VALIDATION)?;
        if device == *sender || enc.kind == EncType::SkMsg {
            return Err(nack::STANZA_VALIDATION);
        }
        if group.rank(&device.0).is_none() {
            not_members += 1;
            continue;
        }
        out.push((device, enc));
    }
    Ok((out, not_members))
}

/// The one direct `<enc type="skmsg">` of a group send.
fn single_skmsg(msg: &MessageStanza) -> Result<&Enc, u16> {
    match msg.encs.as_slice() {
        [enc] if enc.kind == EncType::SkMsg => Ok(enc),
        _ => Err(nack::STANZA_VALIDATION),
    }
}

/// Every member device but the sender's: its pairwise enc (if any), then the skmsg.
fn fan_out(
    copy: &MessageStanza,
    msg: &MessageStanza,
    members: &[(DeviceKey, Jid)],
    sender: &DeviceKey,
    pairwise: &[(DeviceKey, &Enc)],
    skmsg: &Enc,
) -> Vec<(DeviceKey, Node)> {
    members
        .iter()
        .filter(|(device, _)| device != sender)
        .map(|(device, _)| {
            let mut one = copy.clone();
            let own = pairwise.iter().find(|(d, _)| d == device).map(|(_, e)| *e);
            if let Some(enc) = own {
                one.encs.push(enc.clone());
                if enc.kind == EncType::PkMsg {
                    one.device_identity.clone_from(&msg.device_identity);
                }
            }
            one.encs.push(skmsg.clone());
            (device.clone(), one.to_node())
        })
        .collect()
}

/// A retry resend: its single pairwise enc to the member device it names.
fn resend(
    copy: &MessageStanza,
    msg: &MessageStanza,
    pairwise: Vec<(DeviceKey, &Enc)>,
) -> Result<Vec<(DeviceKey, Node)>, u16> {
    let Some((device, enc)) = pairwise.into_iter().next() else {
        // The device it names left the group: nothing to deliver.
        return Ok(Vec::new());
    };
    let mut one = copy.clone();
    one.encs = vec![enc.clone()];
    if enc.kind == EncType::PkMsg {
        one.device_identity.clone_from(&msg.device_identity);
    }
    Ok(vec![(device, one.to_node())])
}

/// Where a receipt `sender` addressed to a group goes (§8, §10): to every device of the
/// account whose message it acknowledges (its `participant`), as `<receipt from=<group>
/// participant=<receipt sender device>>`. The receipt's sender must be a member.
pub(crate) fn receipt_targets(
    w: &World,
    sender: &DeviceKey,
    mut receipt: Receipt,
    group_jid: &Jid,
    t: u64,
) -> Result<Vec<(DeviceKey, Node)>, u16> {
    let group = w
        .groups
        .get(group_jid.user_part())
        .ok_or(nack::STANZA_VALIDATION)?;
    let own = w.account(&sender.0).map_err(|_| nack::STANZA_VALIDATION)?;
    if group.rank(&sender.0).is_none() {
        return Err(nack::STANZA_VALIDATION);
    }
    let author = receipt.participant.clone().ok_or(nack::STANZA_VALIDATION)?;
    let targets = w.devices_of(&author);
    if targets.is_empty() {
        return Err(nack::STANZA_VALIDATION);
    }
    receipt.to = None;
    receipt.from = Some(group.jid());
    receipt.participant = Some(address(&own.phone, &own.lid, sender.1, &group.server()));
    receipt.t = receipt.t.or(Some(t));
    let node = receipt.to_node();
    Ok(targets
        .into_iter()
        .filter(|d| d != sender)
        .map(|d| (d, node.clone()))
        .collect())
}

//! A simulated phone (device 0) in groups, with real sender keys (`messaging.md` §9, §10;
//! `signal.md` §9), over the world's state (the routing is the caller's).
//!
//! Sending ([`encrypt`]): the member devices now (in the group's namespace) minus the phone; a
//! device that had our key and is no longer among them (a member left or was removed, or
//! unlinked a device) makes a fresh key first ([`plan_distribution`] → rotate); our SKDM goes
//! pairwise (`pkmsg`/`msg`, inside `waE2E.Message.senderKeyDistributionMessage`) to the devices
//! that lack the current key; the content is padded and encrypted once as the `skmsg`; the
//! stanza carries the `phash` of the member devices including the phone (§8).
//!
//! Receiving ([`decrypt`]): each `<enc>` in document order: a pairwise one is opened with the
//! session for the `participant` device and its SKDM (for this group) stored as that device's
//! sender key (§10 step 4); the `skmsg` is decrypted with it. The content is the skmsg's, or,
//! for a retry resend that carries the message pairwise (§11 step 4), the pairwise one's.

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use wa_protocol::binary::Jid;
use wa_protocol::message::fanout::{encrypt_fanout, FanoutGroup};
use wa_protocol::message::group::{self, phash, plan_distribution};
use wa_protocol::message::{decode_padded, encode_padded, EncVersion};
use wa_protocol::pb::e2e as pb;
use wa_protocol::signal::SenderKeyRecord;
use wa_protocol::stanza::{AddressingMode, DeviceEnc, Enc, EncType, MessageStanza};
use wa_protocol::{MessageId, PhoneNumber};

use crate::error::SimError;
use crate::mailbox::DeviceKey;
use crate::phone_media_in::{self, Received};
use crate::phone_outgoing::Outgoing;
use crate::phone_state::{OwnSenderKey, PhoneState};
use crate::world::World;

/// The `<message to=<group>>` carrying `content` from `phone`'s phone, its state (sessions,
/// sender key, who has it) already updated.
pub(crate) fn encrypt(
    w: &mut World,
    phone: &PhoneNumber,
    group_jid: &Jid,
    id: MessageId,
    content: &Outgoing,
    rng: &mut StdRng,
) -> Result<MessageStanza, SimError> {
    let gid = group_jid.user_part().to_owned();
    let group = w
        .groups
        .get(&gid)
        .ok_or_else(|| SimError::NoGroup(group_jid.to_string()))?;
    if group.rank(phone).is_none() {
        return Err(SimError::GroupForbidden(group_jid.to_string()));
    }
    let (server, addressing) = (group.server(), group.addressing);
    let members = w.member_devices(group);
    let me: DeviceKey = (phone.clone(), 0);
    let recipients: Vec<(DeviceKey, Jid)> =
        members.iter().filter(|(d, _)| *d != me).cloned().collect();
    let plan = distribution(w, phone, &gid, &recipients, rng)?;
    let devices = w.phone_targets(phone, &plan.needing, &server);
    let skdm_plain = encode_padded(&skdm_message(group_jid, plan.skdm), rng);
    let (record, mut distributed_to) = (plan.record, plan.distributed_to);
    let (record, skmsg) = group::encrypt(&record, &encode_padded(&content.to_message(), rng), rng)
        .map_err(SimError::Signal)?;
    let state = &mut w.account_mut(phone)?.phone_state;
    let fanout = encrypt_fanout(
        &state.local,
        &[FanoutGroup {
            devices: &devices,
            plaintext: &skdm_plain,
        }],
        rng,
    );
    let mut stanza = MessageStanza::new(id, content.stanza_type());
    stanza.to = Some(group_jid.clone());
    stanza.phash = Some(phash(
        &members.iter().map(|(_, j)| j.clone()).collect::<Vec<_>>(),
    ));
    stanza.addressing_mode = (addressing == AddressingMode::Lid).then_some(addressing);
    for done in fanout.encrypted {
        if let Some((key, _)) = recipients.iter().find(|(_, j)| *j == done.jid) {
            state.sessions.insert(key.clone(), done.record);
            state.identities.insert(key.clone(), done.remote_identity);
        }
        distributed_to.insert(done.jid.clone());
        stanza.participants.push(DeviceEnc {
            jid: done.jid,
            enc: Enc::new(done.enc_type, done.ciphertext),
        });
    }
    let mut enc = Enc::new(EncType::SkMsg, skmsg);
    enc.mediatype = content.media_type().map(str::to_owned);
    enc.decrypt_fail_hide = content.hides_decrypt_failure();
    stanza.encs = vec![enc];
    state.group_keys.own.insert(
        gid,
        OwnSenderKey {
            record,
            distributed_to,
        },
    );
    Ok(stanza)
}

/// Our sender key for the next send and who needs its SKDM.
struct Distribution {
    /// Our key (fresh after a rotation).
    record: SenderKeyRecord,
    /// Its SKDM bytes.
    skdm: Vec<u8>,
    /// Devices that already have it.
    distributed_to: BTreeSet<Jid>,
    /// Devices to send it to pairwise.
    needing: Vec<DeviceKey>,
}

/// Plans the SKDM fan-out (§9 step 4): rotates when a device that had our key is no longer a
/// recipient, then names the recipients that lack it.
fn distribution(
    w: &World,
    phone: &PhoneNumber,
    gid: &str,
    recipients: &[(DeviceKey, Jid)],
    rng: &mut StdRng,
) -> Result<Distribution, SimError> {
    let own = w
        .account(phone)?
        .phone_state
        .group_keys
        .own
        .get(gid)
        .cloned()
        .unwrap_or_default();
    let recipient_jids: Vec<Jid> = recipients.iter().map(|(_, j)| j.clone()).collect();
    let plan = plan_distribution(&own.distributed_to, &recipient_jids);
    let (record, skdm) = if plan.rotate {
        group::rotate_sender_key(rng)
    } else {
        group::distribution(&own.record, rng)
    }
    .map_err(SimError::Signal)?;
    let needing = recipients
        .iter()
        .filter(|(_, j)| plan.send_to.contains(j))
        .map(|(d, _)| d.clone())
        .collect();
    Ok(Distribution {
        record,
        skdm,
        distributed_to: if plan.rotate {
            BTreeSet::new()
        } else {
            own.distributed_to
        },
        needing,
    })
}

/// `waE2E.Message{senderKeyDistributionMessage{groupID, axolotlSenderKeyDistributionMessage}}`
/// (`messaging.md` §1, §9 step 4).
fn skdm_message(group_jid: &Jid, skdm: Vec<u8>) -> pb::Message {
    pb::Message {
        sender_key_distribution_message: Some(pb::SenderKeyDistributionMessage {
            group_id: Some(group_jid.to_string()),
            axolotl_sender_key_distribution_message: Some(skdm),
        }),
        ..Default::default()
    }
}

/// Our current SKDM for `group_jid` as the `waE2E` field carries it (§9 step 4), for a retry
/// resend (§11 step 4); `None` when the phone has no key in that group.
pub(crate) fn skdm(
    state: &PhoneState,
    group_jid: &Jid,
    rng: &mut StdRng,
) -> Option<pb::SenderKeyDistributionMessage> {
    let own = state.group_keys.own.get(group_jid.user_part())?;
    let (_, skdm) = group::distribution(&own.record, rng).ok()?;
    skdm_message(group_jid, skdm).sender_key_distribution_message
}

/// Decrypts a group message delivered to `phone`'s phone: the sender device, the content and
/// the chat (the group). `None` when it cannot be read (no session, no sender key, not this
/// group's SKDM, …).
pub(crate) fn decrypt(
    w: &mut World,
    phone: &PhoneNumber,
    msg: &MessageStanza,
    rng: &mut StdRng,
) -> Option<(DeviceKey, Received, Option<Jid>)> {
    let group_jid = msg.from.clone().filter(Jid::is_group)?;
    let sender = w.device_of(msg.participant.as_ref()?)?;
    let gid = group_jid.user_part().to_owned();
    let state = &mut w.account_mut(phone).ok()?.phone_state;
    let key = (gid, sender.clone());
    let mut content = None;
    for enc in &msg.encs {
        let message = if enc.kind == EncType::SkMsg {
            let record = state.group_keys.received.get(&key)?;
            let (record, padded) = group::decrypt(record, &enc.ciphertext).ok()?;
            state.group_keys.received.insert(key.clone(), record);
            let version = EncVersion::from_attr(&enc.v.to_string()).ok()?;
            decode_padded(&padded, version).ok()?
        } else {
            let message = state.open_pairwise(&sender, enc, rng)?;
            if let Some(skdm) = &message.sender_key_distribution_message {
                if skdm.group_id.as_deref() != Some(group_jid.to_string().as_str()) {
                    return None;
                }
                let bytes = skdm.axolotl_sender_key_distribution_message.as_deref()?;
                let known = state
                    .group_keys
                    .received
                    .get(&key)
                    .cloned()
                    .unwrap_or_default();
                let record = group::process_distribution(&known, bytes).ok()?;
                state.group_keys.received.insert(key.clone(), record);
            }
            message
        };
        let parsed = phone_media_in::read(&message)?;
        if enc.kind == EncType::SkMsg || content.is_none() {
            content = Some(parsed);
        }
    }
    Some((sender, content?, Some(group_jid)))
}

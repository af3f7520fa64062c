//! A simulated phone answering a retry receipt for a message it sent (`messaging.md` §11, sender
//! side): it finds the message among its recent sends, starts a new session from the receipt's
//! `<keys>` (or uses the one it has), encrypts it again for the requesting device only
//! (DeviceSentMessage-wrapped for its own companions; for a group message, with its current
//! SKDM added, §11 step 4) and resends it with one direct `<enc count>` to that device (§11
//! step 5; for a group, `to` the group and `participant` the device).
//!
//!
//! Receiver side (§11): a message the phone cannot decrypt because it has no session with the
//! sender (it lost it, see [`crate::SimServer::phone_forget_sessions`]) is answered with a
//! retry receipt carrying `<keys>` with a fresh one-time prekey, so the sender can start a new
//! session.

use rand::rngs::StdRng;
use wa_protocol::binary::Jid;
use wa_protocol::message::fanout::{encrypt_for_device, DeviceTarget};
use wa_protocol::message::retry::{next_retry_count, retry_includes_keys, RetryReason};
use wa_protocol::message::{encode_padded, wrap_device_sent};
use wa_protocol::signal::keys::PreKey;
use wa_protocol::signal::{PreKeyBundle, PublicPreKey};
use wa_protocol::stanza::{
    Enc, EncType, MessageStanza, Receipt, ReceiptType, RetryInfo, RetryKeys, UploadedPreKey,
    UploadedSignedPreKey,
};
use wa_protocol::PhoneNumber;

use crate::phone_group;
use crate::world::World;

/// The resend answering `receipt` (a `type="retry"` receipt routed to `phone`), if the phone
/// still has the message and can encrypt for the device.
pub(crate) fn resend(
    w: &mut World,
    phone: &PhoneNumber,
    receipt: &Receipt,
    rng: &mut StdRng,
) -> Option<MessageStanza> {
    let retry = receipt.retry.as_ref()?;
    let from = receipt.from.clone()?;
    // A group's retry receipt comes from the group and names the device in `participant`.
    let group = from.is_group().then(|| from.clone());
    let from = match &group {
        Some(_) => receipt.participant.clone()?,
        None => from,
    };
    let device = w.device_of(&from)?;
    let state = &mut w.account_mut(phone).ok()?.phone_state;
    let sent = state
        .sent
        .iter()
        .find(|s| s.id == receipt.id.as_str())?
        .clone();
    let target = match bundle(retry) {
        Some(b) => DeviceTarget::with_bundle(from.clone(), b),
        None => DeviceTarget::with_session(from.clone(), state.sessions.get(&device)?.clone()),
    };
    let mut message = sent.content.to_message();
    let own = device.0 == *phone && group.is_none();
    if own {
        message = wrap_device_sent(&message, &sent.chat, None);
    }
    if let Some(g) = &group {
        // §11 step 4: a group message goes pairwise with our SKDM added.
        message.sender_key_distribution_message = phone_group::skdm(state, g, rng);
    }
    let plain = encode_padded(&message, rng);
    let done = encrypt_for_device(&state.local, &target, &plain, rng).ok()?;
    state.sessions.insert(device.clone(), done.record);
    state.identities.insert(device, done.remote_identity);
    let mut stanza = MessageStanza::new(receipt.id.clone(), sent.content.stanza_type());
    stanza.edit = sent.content.edit_attr();
    let device_jid = Jid::device(
        from.user_part().to_owned(),
        from.device_id(),
        from.server().clone(),
    );
    // §11 step 5, the Baileys form for groups: `to` the group, `participant` the device.
    if let Some(g) = group {
        stanza.to = Some(g);
        stanza.participant = Some(device_jid);
    } else {
        stanza.to = Some(device_jid);
    }
    if own {
        stanza.recipient = Some(sent.chat);
    }
    let mut enc = Enc::new(done.enc_type, done.ciphertext);
    enc.count = Some(retry.count);
    enc.mediatype = sent.content.media_type().map(str::to_owned);
    enc.decrypt_fail_hide = sent.content.hides_decrypt_failure();
    stanza.encs = vec![enc];
    Some(stanza)
}

/// The bundle a retry receipt's `<registration>` and `<keys>` make (§11 step 3).
fn bundle(retry: &RetryInfo) -> Option<PreKeyBundle> {
    let keys = retry.keys.as_ref()?;
    Some(PreKeyBundle {
        registration_id: retry.registration_id,
        identity_key: keys.identity,
        signed_pre_key: PublicPreKey {
            id: keys.signed.id,
            key: keys.signed.public,
        },
        signed_pre_key_signature: keys.signed.signature,
        pre_key: keys.prekey.map(|k| PublicPreKey {
            id: k.id,
            key: k.public,
        }),
    })
}

/// The retry receipt the phone answers an undecryptable `msg` with (§11 receiver side) when it
/// has no session with the sender (it lost it): count 1, or one more than a failed resend's
/// `<enc count>`, with `<keys>` (forced: a new session is needed). `None` for any other
/// failure, and when the count limit is reached.
pub(crate) fn request(
    w: &mut World,
    phone: &PhoneNumber,
    msg: &MessageStanza,
    t: u64,
    rng: &mut StdRng,
) -> Option<Receipt> {
    let sender = w.device_of(msg.from.as_ref()?)?;
    let enc_count = msg.encs.first().and_then(|e| e.count).map(u32::from);
    let count = next_retry_count(None, enc_count)?;
    let state = &mut w.account_mut(phone).ok()?.phone_state;
    let forced = !state.sessions.contains_key(&sender);
    let on_a_session = msg.encs.first().is_some_and(|e| e.kind == EncType::Msg);
    if !forced || !on_a_session {
        // The simulated phone asks again only for a `msg` on a session it lost (other
        // failures are counted).
        return None;
    }
    let keys = if retry_includes_keys(count, forced) {
        let signed = state.prekeys.signed.last()?.clone();
        let id = state
            .prekeys
            .one_time
            .iter()
            .map(|k| k.id)
            .max()
            .unwrap_or(0)
            + 1;
        let pre_key = PreKey::generate(id, rng);
        let keys = RetryKeys {
            identity: *state.local.public_key(),
            prekey: Some(UploadedPreKey {
                id,
                public: pre_key.key_pair.public,
            }),
            signed: UploadedSignedPreKey {
                id: signed.id,
                public: signed.key_pair.public,
                signature: signed.signature,
            },
            device_identity: None,
        };
        state.prekeys.one_time.push(pre_key);
        Some(keys)
    } else {
        None
    };
    let mut receipt = Receipt::for_message(msg, ReceiptType::Retry).ok()?;
    let reason = if forced {
        RetryReason::NoSession
    } else {
        RetryReason::InvalidMessage
    };
    receipt.retry = Some(RetryInfo {
        count: u8::try_from(count).ok()?,
        id: msg.id.clone(),
        t: msg.t.unwrap_or(t),
        v: 1,
        error: Some(u16::from(reason.code())),
        registration_id: state.local.registration_id,
        keys,
    });
    Some(receipt)
}

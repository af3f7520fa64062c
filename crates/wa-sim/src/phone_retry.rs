//! A simulated phone answering a retry receipt for a text it sent (`messaging.md` §11, sender
//! side): it finds the text among its recent sends, starts a new session from the receipt's
//! `<keys>` (or uses the one it has), encrypts the text again for the requesting device only
//! (DeviceSentMessage-wrapped for its own companions) and resends it with one direct `<enc
//! count>` to that device (§11 step 5).
//!
//! Receiver side (§11): a message the phone cannot decrypt is answered with a retry receipt;
//! when it has no session with the sender (it lost it, see
//! [`crate::SimServer::phone_forget_sessions`]) the receipt carries `<keys>` with a fresh
//! one-time prekey, so the sender can start a new session.

use rand::rngs::StdRng;
use wa_protocol::binary::Jid;
use wa_protocol::message::fanout::{encrypt_for_device, DeviceTarget};
use wa_protocol::message::retry::{next_retry_count, retry_includes_keys, RetryReason};
use wa_protocol::message::{encode_padded, wrap_device_sent, Content};
use wa_protocol::signal::keys::PreKey;
use wa_protocol::signal::{PreKeyBundle, PublicPreKey};
use wa_protocol::stanza::{
    Enc, MessageStanza, Receipt, ReceiptType, RetryInfo, RetryKeys, UploadedPreKey,
    UploadedSignedPreKey,
};
use wa_protocol::PhoneNumber;

use crate::world::World;

/// The resend answering `receipt` (a `type="retry"` receipt routed to `phone`), if the phone
/// still has the text and can encrypt for the device.
pub(crate) fn resend(
    w: &mut World,
    phone: &PhoneNumber,
    receipt: &Receipt,
    rng: &mut StdRng,
) -> Option<MessageStanza> {
    let retry = receipt.retry.as_ref()?;
    let from = receipt.from.clone()?;
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
    let message = Content::text(sent.text.as_str()).to_message();
    let own = device.0 == *phone;
    let message = if own {
        wrap_device_sent(&message, &sent.chat, None)
    } else {
        message
    };
    let plain = encode_padded(&message, rng);
    let done = encrypt_for_device(&state.local, &target, &plain, rng).ok()?;
    state.sessions.insert(device.clone(), done.record);
    state.identities.insert(device, done.remote_identity);
    let mut stanza = MessageStanza::new(receipt.id.clone(), Content::text("").stanza_type());
    stanza.to = Some(Jid::device(
        from.user_part().to_owned(),
        from.device_id(),
        from.server().clone(),
    ));
    if own {
        stanza.recipient = Some(sent.chat);
    }
    let mut enc = Enc::new(done.enc_type, done.ciphertext);
    enc.count = Some(retry.count);
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

/// The retry receipt the phone answers an undecryptable `msg` with (§11 receiver side): count
/// 1, or one more than a failed resend's `<enc count>`; `<keys>` when it has no session with
/// the sender (forced) or from count 2. `None` when the count limit is reached.
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

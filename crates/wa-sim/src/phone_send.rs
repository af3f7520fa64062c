//! What a simulated phone (device 0) sends: an end-to-end encrypted message of any kind
//! ([`PhoneSend`], `messaging.md` §1) to another account (§6, §7) and read receipts (§10).
//!
//! A message is encrypted once per device of the recipient (a session it has, or one started from
//! the device's bundle, which consumes a one-time prekey from the directory, §5) plus a
//! DeviceSentMessage copy for each of its own companions (§6 step 3), and handed to the router
//! as a companion's `<message>` would be. The recipient is addressed by phone number, or by LID
//! when it is named by LID or the sending account is LID-migrated (one namespace, §16). The
//! first message to an account grants it a privacy token (§16).

use rand::rngs::StdRng;
use rand::RngCore;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::fanout::{encrypt_fanout, FanoutGroup};
use wa_protocol::message::{encode_padded, wrap_device_sent};
use wa_protocol::stanza::{
    DeviceEnc, Enc, MessageStanza, Notification, NotificationBody, PrivacyToken, PrivacyTokens,
    Receipt,
};
use wa_protocol::{MessageId, PhoneNumber};

use crate::error::SimError;
use crate::mailbox::DeviceKey;
use crate::phone_group_send;
use crate::phone_kinds::{content_of, one_kind, KindContext, PhoneSend};
use crate::phone_media;
use crate::phone_media_retry;
use crate::phone_outgoing::Outgoing;
use crate::phone_state::SentText;
use crate::roles::messages;
use crate::state::Shared;
use crate::world::{address, World};

/// A user JID, or a phone number (then in the phone-number namespace).
fn parse_user(text: &str) -> Result<Jid, SimError> {
    let bad = || SimError::BadAddress(text.chars().take(64).collect());
    if text.contains('@') {
        let jid: Jid = text.parse().map_err(|_| bad())?;
        return Ok(Jid::user(jid.user_part(), jid.server().clone()));
    }
    let phone: PhoneNumber = text.parse().map_err(|_| bad())?;
    Ok(Jid::user(phone.as_str(), Server::WhatsApp))
}

/// The phone of `phone` sends `text` to `to` (a phone number, user JID or group JID); returns
/// its id.
pub(crate) fn send_text(
    shared: &Shared,
    phone: &PhoneNumber,
    to: &str,
    text: &str,
) -> Result<MessageId, SimError> {
    send(shared, phone, &PhoneSend::text(to, text))
}

/// The phone of `phone` sends the kind `request` names to `request.to` (to a group JID:
/// through [`phone_group_send`]); returns its id.
pub(crate) fn send(
    shared: &Shared,
    phone: &PhoneNumber,
    request: &PhoneSend,
) -> Result<MessageId, SimError> {
    let to = parse_user(&request.to)?;
    let now = shared.now();
    let t = now.unix_secs();
    let content = outgoing_of(shared, phone, &to, request)?;
    if to.is_group() {
        return phone_group_send::send(shared, phone, &to, &content);
    }
    let mut rng = shared.fork_rng();
    let id = MessageId::generate(t, Some(phone.as_str()), &mut rng);
    let msg = shared.with_world(|w| encrypt(w, phone, &to, id, &content, &mut rng))?;
    // Kept before it is routed: a retry receipt for it may come back at once.
    shared.with_world(|w| {
        if let (Ok(account), Some(chat)) = (w.account_mut(phone), msg.to.clone()) {
            account.phone_state.remember_sent(SentText {
                id: msg.id.as_str().to_owned(),
                chat,
                content: content.clone(),
            });
        }
    });
    phone_media_retry::keep_sent(shared, phone, msg.id.as_str(), &content);
    messages::route_message(shared, &(phone.clone(), 0), &msg, t).map_err(SimError::Refused)?;
    shared.count(format!("phone:sent:{}", content.kind()));
    shared.count("phone:sent");
    grant_token(shared, phone, &to, t, &mut rng);
    Ok(msg.id)
}

/// What `request` sends: a media message (encrypted and stored by [`phone_media`]), or one of
/// the modelled kinds ([`content_of`]).
fn outgoing_of(
    shared: &Shared,
    phone: &PhoneNumber,
    to: &Jid,
    request: &PhoneSend,
) -> Result<Outgoing, SimError> {
    if let Some(media) = &request.media {
        one_kind(request)?;
        return phone_media::prepare(shared, media);
    }
    let now = shared.now();
    shared.with_world(|w| -> Result<Outgoing, SimError> {
        let state = &w.account(phone)?.phone_state;
        let sent_by_phone = |id: &str| state.sent.iter().any(|s| s.id == id);
        let own = Jid::user(phone.as_str(), Server::WhatsApp);
        let cx = KindContext {
            chat: to,
            own: &own,
            sent_by_phone: &sent_by_phone,
            now,
            parse_user: &parse_user,
        };
        content_of(request, &cx).map(Outgoing::Content)
    })
}

/// Writing to a contact grants it a privacy token (`messaging.md` §16), once: kept by the phone
/// and sent to the contact's companions as `<notification type="privacy_token">`.
fn grant_token(shared: &Shared, phone: &PhoneNumber, to: &Jid, t: u64, rng: &mut StdRng) {
    let mut token = vec![0u8; 20];
    rng.fill_bytes(&mut token);
    let id = shared.next_iq_id();
    let deliveries = shared.with_world(|w| {
        let holder = w.account_by_jid(to)?.phone.clone();
        let companions: Vec<DeviceKey> =
            w.devices_of(to).into_iter().filter(|d| d.1 != 0).collect();
        let own = w.account_mut(phone).ok()?;
        if own.phone_state.granted.contains_key(&holder) {
            return None;
        }
        own.phone_state.granted.insert(holder, token.clone());
        let granter = Jid::user(phone.as_str(), Server::WhatsApp);
        let tokens = PrivacyTokens {
            sender_lid: None,
            tokens: vec![PrivacyToken {
                jid: granter.clone(),
                t,
                token,
            }],
        };
        let node = Notification {
            id: id.parse().ok()?,
            from: granter,
            t: Some(t),
            offline: None,
            body: NotificationBody::PrivacyToken(tokens),
        }
        .to_node();
        Some(
            companions
                .into_iter()
                .map(|d| (d, node.clone()))
                .collect::<Vec<_>>(),
        )
    });
    if let Some(deliveries) = deliveries {
        shared.count("phone:token-granted");
        messages::dispatch(shared, deliveries);
    }
}

/// The `<message>` carrying `content` for every device of the chat and the own companions.
fn encrypt(
    w: &mut World,
    phone: &PhoneNumber,
    to: &Jid,
    id: MessageId,
    content: &Outgoing,
    rng: &mut StdRng,
) -> Result<MessageStanza, SimError> {
    let own = w.account(phone)?;
    let own_lid_migrated = own.switches.lid_migrated;
    let peer = w
        .account_by_jid(to)
        .ok_or_else(|| SimError::BadAddress(to.to_string()))?;
    if peer.phone == *phone {
        return Err(SimError::BadAddress(to.to_string()));
    }
    let server = if own_lid_migrated || *to.server() == Server::Lid {
        Server::Lid
    } else {
        Server::WhatsApp
    };
    let chat = address(&peer.phone, &peer.lid, 0, &server);
    let theirs = w.devices_of(to);
    let mine: Vec<DeviceKey> = w
        .devices_of(&Jid::user(phone.as_str(), Server::WhatsApp))
        .into_iter()
        .filter(|d| d.1 != 0)
        .collect();
    let their_targets = w.phone_targets(phone, &theirs, &server);
    let own_targets = w.phone_targets(phone, &mine, &server);
    let message = content.to_message();
    let plain = encode_padded(&message, rng);
    let dsm = encode_padded(&wrap_device_sent(&message, &chat, None), rng);
    let groups = [
        FanoutGroup {
            devices: &their_targets,
            plaintext: &plain,
        },
        FanoutGroup {
            devices: &own_targets,
            plaintext: &dsm,
        },
    ];
    let state = &mut w.account_mut(phone)?.phone_state;
    let fanout = encrypt_fanout(&state.local, &groups, rng);
    let mut stanza = MessageStanza::new(id, content.stanza_type());
    stanza.to = Some(chat);
    stanza.edit = content.edit_attr();
    let keys = theirs.iter().chain(mine.iter());
    let jids = their_targets
        .iter()
        .chain(own_targets.iter())
        .map(|t| &t.jid);
    let by_jid: Vec<(DeviceKey, Jid)> = keys.cloned().zip(jids.cloned()).collect();
    for done in fanout.encrypted {
        if let Some((key, _)) = by_jid.iter().find(|(_, j)| *j == done.jid) {
            state.sessions.insert(key.clone(), done.record);
            state.identities.insert(key.clone(), done.remote_identity);
        }
        let mut enc = Enc::new(done.enc_type, done.ciphertext);
        enc.mediatype = content.media_type().map(str::to_owned);
        enc.decrypt_fail_hide = content.hides_decrypt_failure();
        stanza.participants.push(DeviceEnc { jid: done.jid, enc });
    }
    Ok(stanza)
}

/// The phone of `phone` sends a read receipt for `ids` in `chat`.
pub(crate) fn read(
    shared: &Shared,
    phone: &PhoneNumber,
    chat: &str,
    ids: &[String],
) -> Result<(), SimError> {
    let chat = parse_user(chat)?;
    let ids = ids
        .iter()
        .map(|id| {
            id.parse()
                .map_err(|_| SimError::BadAddress(id.chars().take(64).collect()))
        })
        .collect::<Result<Vec<MessageId>, _>>()?;
    let t = shared.now_secs();
    let batches = shared.with_world(|w| read_batches(w, phone, &chat, ids))?;
    for (participant, ids) in batches {
        let receipt = Receipt::read(chat.clone(), &ids, t, participant, false)
            .ok_or_else(|| SimError::BadAddress(String::new()))?;
        messages::route_receipt(shared, &(phone.clone(), 0), receipt, t)
            .map_err(SimError::Refused)?;
    }
    shared.count("phone:read");
    Ok(())
}

/// One read receipt to send: its `participant` (a group message's author) and its ids.
type ReadBatch = (Option<Jid>, Vec<MessageId>);

/// The read receipts to send: one for a 1:1 chat; in a group, one per author (`participant`,
/// `messaging.md` §10), taken from the phone's inbox (an id it never received is refused).
fn read_batches(
    w: &World,
    phone: &PhoneNumber,
    chat: &Jid,
    ids: Vec<MessageId>,
) -> Result<Vec<ReadBatch>, SimError> {
    let inbox = &w.account(phone)?.phone_state.inbox;
    if !chat.is_group() {
        return Ok(vec![(None, ids)]);
    }
    let chat_text = chat.to_string();
    let mut batches: Vec<ReadBatch> = Vec::new();
    for id in ids {
        let author = inbox
            .iter()
            .find(|m| m.chat == chat_text && m.id == id.as_str())
            .map(|m| Jid::user(m.from.as_str(), Server::WhatsApp))
            .ok_or_else(|| SimError::BadAddress(id.as_str().to_owned()))?;
        match batches
            .iter_mut()
            .find(|(a, _)| a.as_ref() == Some(&author))
        {
            Some((_, list)) => list.push(id),
            None => batches.push((Some(author), vec![id])),
        }
    }
    Ok(batches)
}

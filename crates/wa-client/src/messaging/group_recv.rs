//! The group receive path (`messaging.md` §10; `signal.md` §9), one blocking store job of the
//! account task like the 1:1 path (`receive.rs`, which hands `from=…@g.us` stanzas here):
//!
//! ```text
//! <message from=group participant=sender device [participant_pn|participant_lid]>
//!   [<enc type="pkmsg|msg">  pairwise, with the sender's session: Message{senderKeyDistribution}
//!                            ⇒ process_distribution into the record of (group, sender device)]
//!   <enc type="skmsg">       decrypt with the record of (group, sender device) ⇒ the content
//! ─▶ one commit_received: dedup entry (group, sender, id), pairwise session, consumed prekey,
//!    identity, the sender's sender-key record, the pending report ─▶ ack, delivery receipt
//!    (to=group participant=sender), EventKind::Message with chat = the group
//! ```
//! The SKDM-carrying `<enc>` must come first (§10); one that comes after the `skmsg` is still
//! stored. An `<enc>` that does not decrypt (e.g. an `skmsg` whose sender key we lack) gets an
//! ack and a retry receipt (§11, `receive::failed`), the key material that did decrypt kept. Our own other devices' group sends arrive the same way (no DeviceSentMessage, §6).

use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::group::{decrypt as sk_decrypt, process_distribution};
use wa_protocol::message::receive::{decrypt_pairwise, failure_action, Decrypted, FailureAction};
use wa_protocol::message::{decode_padded, Content, EncVersion, Unsupported};
use wa_protocol::signal::{SenderKeyRecord, SessionRecord};
use wa_protocol::stanza::{nack, Enc, EncType, MessageStanza, Receipt, ReceiptType};
use wa_store::{
    AccountId, Durability, IncomingSession, ReceiveOutcome, ReceivedKey, ReceivedMessage,
    SenderKeyUpdate, SessionUpdate, Store,
};

use super::address::{signal_address, user_of};
use super::keys::{Keys, StorePreKeys};
use super::push_names;
use super::receive::{failed, Received};
use super::types::{ReceivedText, Sender};

/// What the `<enc>`s of one group message gave.
#[derive(Default)]
struct Decoded {
    /// The pairwise decryption (its session, prekey and identity to commit).
    pairwise: Option<Decrypted>,
    /// The sender's sender-key record after the SKDM and/or the `skmsg`.
    sender_key: Option<SenderKeyRecord>,
    /// The content: `<enc v>`, padded plaintext, parsed content.
    content: Option<(u8, Vec<u8>, Content)>,
}

/// The store context of one message.
struct Ctx<'a> {
    store: &'a dyn Store,
    account: AccountId,
    keys: &'a Keys,
    /// The group as text (the sender-key record's group).
    group: String,
    /// The sender device's Signal address.
    address: String,
}

/// Decrypts and commits a group message (`from` is the group, `participant` the sender device).
/// A store failure is returned (nothing acked: the server delivers it again).
pub(crate) fn receive_group(
    store: &dyn Store,
    account: AccountId,
    keys: &Keys,
    msg: &MessageStanza,
    now_ms: u64,
) -> wa_store::Result<Received> {
    let (Some(group), Some(sender)) = (msg.from.clone(), msg.participant.clone()) else {
        return Ok(Received::ack_only(msg, keys, Some(nack::PARSING_ERROR)));
    };
    let key = ReceivedKey {
        chat: &group,
        sender: &sender,
        id: msg.id.as_str(),
    };
    if store.is_received(&account, &key)? {
        return Ok(Received::ack_only(msg, keys, None));
    }
    let ctx = Ctx {
        store,
        account,
        keys,
        group: group.to_string(),
        address: signal_address(&sender),
    };
    let mut decoded = Decoded::default();
    let mut failure = None;
    for enc in &msg.encs {
        let step = match enc.kind {
            EncType::PkMsg | EncType::Msg => pairwise(&ctx, enc, &mut decoded)?,
            EncType::SkMsg => skmsg(&ctx, enc, &mut decoded)?,
        };
        if let Err(action) = step {
            if let FailureAction::Nack(code) = action {
                return Ok(Received::ack_only(msg, keys, Some(code)));
            }
            // The key material that did decrypt is kept; the rest is asked for again.
            failure = Some((enc, action));
            break;
        }
    }
    if decoded.content.is_none() {
        // Key material only (the skmsg failed or is missing): kept without a dedup entry, so a
        // resend of this id (§11) is still read.
        keep_keys(&ctx, &decoded)?;
        if let Some((enc, action)) = failure {
            // An ack and a retry receipt (§10 "Failure", §11): the sender answers pairwise
            // with the message and its SKDM (group_retry.rs is our own side of that).
            return failed(store, account, keys, msg, enc, action, now_ms);
        }
        let code = msg.encs.is_empty().then_some(nack::UNRECOGNIZED_STANZA);
        return Ok(Received::ack_only(msg, keys, code));
    }
    commit(&ctx, msg, key, decoded, now_ms)
}

/// Saves what a message without content advanced: the pairwise session (with its prekey and
/// identity, one transaction) and the sender's sender-key record.
fn keep_keys(ctx: &Ctx<'_>, decoded: &Decoded) -> wa_store::Result<()> {
    let b = Durability::Buffered;
    if let Some(d) = &decoded.pairwise {
        let record = d.record.to_bytes();
        let incoming = IncomingSession {
            session: SessionUpdate {
                address: &ctx.address,
                record: &record,
            },
            prekey_id: d.consumed_pre_key_id,
            identity: Some(d.remote_identity),
        };
        ctx.store.commit_incoming(&ctx.account, &incoming, b)?;
    }
    if let Some(record) = &decoded.sender_key {
        let bytes = record.to_bytes();
        let store = ctx.store;
        store.save_sender_key(&ctx.account, &ctx.group, &ctx.address, &bytes, b)?;
    }
    Ok(())
}

/// A pairwise `<enc>`: decrypt with the sender device's session; an SKDM for this group goes
/// into the sender's sender-key record; other content (a retry resend) is the message's.
fn pairwise(
    ctx: &Ctx<'_>,
    enc: &Enc,
    decoded: &mut Decoded,
) -> wa_store::Result<Result<(), FailureAction>> {
    if decoded.pairwise.is_some() {
        return Ok(Ok(()));
    }
    let d = match decrypt(ctx, enc)? {
        Ok(d) => d,
        Err(action) => return Ok(Err(action)),
    };
    let Ok(message) =
        EncVersion::from_attr(&enc.v.to_string()).and_then(|v| decode_padded(&d.plaintext, v))
    else {
        return Ok(Err(FailureAction::Nack(nack::INVALID_PROTOBUF)));
    };
    let skdm = message
        .sender_key_distribution_message
        .as_ref()
        .filter(|s| s.group_id.as_deref() == Some(ctx.group.as_str()))
        .and_then(|s| s.axolotl_sender_key_distribution_message.as_deref());
    if let Some(skdm) = skdm {
        let record = current_key(ctx, decoded)?;
        match process_distribution(&record, skdm) {
            Ok(record) => decoded.sender_key = Some(record),
            Err(error) => tracing::warn!(account = %ctx.account, %error, "bad SKDM"),
        }
    }
    match Content::from_message(&message) {
        Ok(Content::Unsupported(Unsupported::SenderKeyOnly)) => {}
        Ok(content) => decoded.content = Some((enc.v, d.plaintext.clone(), content)),
        Err(_) => return Ok(Err(FailureAction::Nack(nack::INVALID_PROTOBUF))),
    }
    decoded.pairwise = Some(d);
    Ok(Ok(()))
}

/// The `skmsg`: decrypt with the sender's sender-key record.
fn skmsg(
    ctx: &Ctx<'_>,
    enc: &Enc,
    decoded: &mut Decoded,
) -> wa_store::Result<Result<(), FailureAction>> {
    let record = current_key(ctx, decoded)?;
    let (record, plaintext) = match sk_decrypt(&record, &enc.ciphertext) {
        Ok(out) => out,
        Err(error) => {
            tracing::warn!(account = %ctx.account, %error, "undecryptable group message");
            return Ok(Err(failure_action(&error)));
        }
    };
    let content = EncVersion::from_attr(&enc.v.to_string())
        .and_then(|v| decode_padded(&plaintext, v))
        .and_then(|m| Content::from_message(&m));
    match content {
        Ok(content) => decoded.content = Some((enc.v, plaintext, content)),
        Err(_) => return Ok(Err(FailureAction::Nack(nack::INVALID_PROTOBUF))),
    }
    decoded.sender_key = Some(record);
    Ok(Ok(()))
}

/// The sender's sender-key record: as this message left it, else the stored one, else empty.
fn current_key(ctx: &Ctx<'_>, decoded: &Decoded) -> wa_store::Result<SenderKeyRecord> {
    if let Some(record) = &decoded.sender_key {
        return Ok(record.clone());
    }
    let stored = ctx
        .store
        .load_sender_key(&ctx.account, &ctx.group, &ctx.address)?;
    Ok(stored
        .and_then(|b| SenderKeyRecord::from_bytes(&b).ok())
        .unwrap_or_default())
}

/// Pairwise decryption with the stored session and identity; a `pkmsg` from a sender whose
/// identity changed is trusted (`signal.md` §13), as on the 1:1 path.
fn decrypt(ctx: &Ctx<'_>, enc: &Enc) -> wa_store::Result<Result<Decrypted, FailureAction>> {
    let record = ctx
        .store
        .load_session(&ctx.account, &ctx.address)?
        .and_then(|b| SessionRecord::from_bytes(&b).ok());
    let trusted = ctx.store.identity(&ctx.account, &ctx.address)?;
    let prekeys = StorePreKeys {
        store: ctx.store,
        account: ctx.account,
        signed: &ctx.keys.signed,
    };
    let attempt = |record: Option<&SessionRecord>, trusted| {
        decrypt_pairwise(
            enc.kind,
            &enc.ciphertext,
            record,
            &ctx.keys.local,
            &prekeys,
            trusted,
            &mut rand::rngs::OsRng,
        )
    };
    let mut out = attempt(record.as_ref(), trusted.as_ref());
    if let Err(error) = &out {
        if failure_action(error) == FailureAction::TrustNewIdentity && enc.kind == EncType::PkMsg {
            out = attempt(None, None);
        }
    }
    Ok(out.map_err(|error| {
        tracing::warn!(account = %ctx.account, %error, "undecryptable SKDM");
        failure_action(&error)
    }))
}

/// One `commit_received` for everything the message advanced; the report when it had content.
fn commit(
    ctx: &Ctx<'_>,
    msg: &MessageStanza,
    key: ReceivedKey<'_>,
    decoded: Decoded,
    now_ms: u64,
) -> wa_store::Result<Received> {
    let session = decoded.pairwise.as_ref().map(|d| d.record.to_bytes());
    let sessions: Vec<SessionUpdate<'_>> = session
        .iter()
        .map(|record| SessionUpdate {
            address: &ctx.address,
            record,
        })
        .collect();
    let sender_key = decoded.sender_key.as_ref().map(SenderKeyRecord::to_bytes);
    let sender_keys: Vec<SenderKeyUpdate<'_>> = sender_key
        .iter()
        .map(|record| SenderKeyUpdate {
            group: &ctx.group,
            sender: &ctx.address,
            record,
        })
        .collect();
    let report = decoded.content.as_ref().map(|(v, plaintext, _)| {
        let mut r = Vec::with_capacity(plaintext.len() + 1);
        r.push(*v);
        r.extend_from_slice(plaintext);
        r
    });
    let chat = key.chat.clone();
    let received = ReceivedMessage {
        key,
        t: msg.t.unwrap_or(now_ms / 1000),
        sessions: &sessions,
        prekey_id: decoded
            .pairwise
            .as_ref()
            .and_then(|d| d.consumed_pre_key_id),
        identity: decoded
            .pairwise
            .as_ref()
            .map(|d| (ctx.address.as_str(), d.remote_identity)),
        sender_keys: &sender_keys,
        report: report.as_deref(),
        now_ms,
    };
    let outcome = ctx
        .store
        .commit_received(&ctx.account, &received, Durability::Buffered)?;
    let (ReceiveOutcome::New { seq, .. }, Some((_, _, content))) = (outcome, decoded.content)
    else {
        return Ok(Received::ack_only(msg, ctx.keys, None));
    };
    let sender = sender_of(msg);
    let own = ctx.keys.is_own(&sender.device);
    let event = ReceivedText {
        id: msg.id.clone(),
        chat,
        sender,
        t: received.t,
        push_name: msg.notify.clone(),
        content,
        report: Some(seq),
    };
    if !own {
        let notify = msg.notify.as_deref();
        push_names::learn(ctx.store, ctx.account, &event.sender, notify, now_ms);
    }
    let kind = ReceiptType::for_delivery(own, msg.peer, false);
    Ok(Received {
        ack: msg.ack(ctx.keys.own_pn.clone(), None),
        receipt: Receipt::for_message(msg, kind).ok(),
        report: Some((Box::new(event), seq)),
    })
}

/// The sender device with its phone number and LID from `participant_pn`/`participant_lid`
/// (§16).
fn sender_of(msg: &MessageStanza) -> Sender {
    let device = msg
        .participant
        .clone()
        .unwrap_or_else(|| Jid::server_jid(Server::Group));
    let user = user_of(&device);
    let (phone, lid) = match device.server() {
        Server::Lid => (msg.alt.participant_pn.as_ref().map(user_of), Some(user)),
        _ => (Some(user), msg.alt.participant_lid.as_ref().map(user_of)),
    };
    Sender { device, phone, lid }
}

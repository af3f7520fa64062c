//! The 1:1 receive path (`messaging.md` §10, §16), run as one blocking store job of the account
//! task: decrypt each pairwise `<enc>` with the sender device's session and our prekeys,
//! unpad, unwrap the own-device copy, read the content, and commit it all (dedup entry,
//! session, consumed prekey, identity, pending report) in one write set. The driver then
//! acks, sends the delivery receipt, announces the message and marks it reported.

use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::receive::{decrypt_pairwise, failure_action, Decrypted, FailureAction};
use wa_protocol::message::retry::RetryReason;
use wa_protocol::message::{decode_padded, unwrap_device_sent, Content, EncVersion};
use wa_protocol::signal::PublicKey;
use wa_protocol::signal::SessionRecord;
use wa_protocol::stanza::{nack, Enc, EncType, MessageStanza, Receipt, ReceiptType, StanzaAck};
use wa_protocol::PhoneNumber;
use wa_store::{
    AccountId, Durability, LidMapping, LidSource, ReceiveOutcome, ReceivedKey, ReceivedMessage,
    SessionUpdate, Store,
};

use super::address::{signal_address, user_of};
use super::keys::{Keys, StorePreKeys};
use super::push_names;
use super::retry_request::retry_receipt;
use super::types::{ReceivedText, Sender};

/// What the driver sends and announces for one incoming message.
#[derive(Debug)]
pub(crate) struct Received {
    /// The `<ack class="message">` (a nack when `error` is set).
    pub(crate) ack: StanzaAck,
    /// The delivery receipt (only for a message decrypted and committed).
    pub(crate) receipt: Option<Receipt>,
    /// The message and its pending-report seq (only the first time).
    pub(crate) report: Option<(Box<ReceivedText>, u64)>,
}

/// Decrypts and commits `msg` (blocking). A store failure is returned (the message is then
/// neither acked nor reported: the server delivers it again).
pub(crate) fn receive(
    store: &dyn Store,
    account: AccountId,
    keys: &Keys,
    msg: &MessageStanza,
    now_ms: u64,
) -> wa_store::Result<Received> {
    let Some(from) = msg.from.clone() else {
        return Ok(Received::ack_only(msg, keys, Some(nack::PARSING_ERROR)));
    };
    learn_participant(store, account, msg, now_ms);
    let own_account = keys.is_own(&from);
    let chat = match (&msg.recipient, own_account) {
        (Some(r), true) => r.clone(),
        _ => user_of(&from),
    };
    let key = ReceivedKey {
        chat: &chat,
        sender: &from,
        id: msg.id.as_str(),
    };
    if store.is_received(&account, &key)? {
        return Ok(Received::ack_only(msg, keys, None));
    }
    let Some(enc) = msg.encs.iter().find(|e| e.kind != EncType::SkMsg) else {
        return Ok(Received::ack_only(
            msg,
            keys,
            Some(nack::UNRECOGNIZED_STANZA),
        ));
    };
    let address = signal_address(&from);
    let decrypted = match decrypt(store, account, keys, &address, enc)? {
        Ok(d) => d,
        Err(action) => return failed(store, account, keys, msg, enc, action, now_ms),
    };
    let text = match read_content(&decrypted.plaintext, &enc.v, chat.clone()) {
        Ok(parts) => parts,
        Err(()) => return Ok(Received::ack_only(msg, keys, Some(nack::INVALID_PROTOBUF))),
    };
    let record = decrypted.record.to_bytes();
    let report = report_of(enc.v, &decrypted.plaintext);
    let sessions = [SessionUpdate {
        address: &address,
        record: &record,
    }];
    let received = ReceivedMessage {
        key,
        t: msg.t.unwrap_or(now_ms / 1000),
        sessions: &sessions,
        prekey_id: decrypted.consumed_pre_key_id,
        identity: Some((&address, decrypted.remote_identity)),
        sender_keys: &[],
        report: Some(&report),
        now_ms,
    };
    let seq = match store.commit_received(&account, &received, Durability::Buffered)? {
        ReceiveOutcome::New { seq, .. } => seq,
        ReceiveOutcome::Duplicate => return Ok(Received::ack_only(msg, keys, None)),
    };
    let (chat, content) = text;
    let event = ReceivedText {
        id: msg.id.clone(),
        chat,
        sender: sender_of(store, account, msg, &from, now_ms),
        t: received.t,
        push_name: msg.notify.clone(),
        content,
        report: Some(seq),
    };
    if !own_account {
        push_names::learn(store, account, &event.sender, msg.notify.as_deref(), now_ms);
    }
    let kind = ReceiptType::for_delivery(own_account, msg.peer, false);
    Ok(Received {
        ack: msg.ack(keys.own_pn.clone(), None),
        receipt: Receipt::for_message(msg, kind).ok(),
        report: Some((Box::new(event), seq)),
    })
}

/// What an undecryptable message gets (§10 step 5, §11): a nack for our own faults, a plain
/// ack for a duplicate, else an ack and a retry receipt (none past the retry limit). The group
/// path (`group_recv.rs`) answers its undecryptable `<enc>`s the same way.
pub(crate) fn failed(
    store: &dyn Store,
    account: AccountId,
    keys: &Keys,
    msg: &MessageStanza,
    enc: &Enc,
    action: FailureAction,
    now_ms: u64,
) -> wa_store::Result<Received> {
    let reason = match action {
        FailureAction::Nack(code) => return Ok(Received::ack_only(msg, keys, Some(code))),
        FailureAction::Duplicate => return Ok(Received::ack_only(msg, keys, None)),
        FailureAction::RetryReceipt(reason) => reason,
        // Only reached when decrypting with no trusted identity failed on it: ask again.
        FailureAction::TrustNewIdentity => RetryReason::InvalidKey,
    };
    let mut received = Received::ack_only(msg, keys, None);
    received.receipt = retry_receipt(store, account, keys, msg, enc, reason, now_ms / 1000)?;
    Ok(received)
}

/// Decrypts one pairwise `<enc>` with the sender device's session (store) and our prekeys;
/// a Signal failure comes back as what to do about it. A `pkmsg` from a sender whose identity
/// key changed (a reinstall) is trusted and decrypted into a new session (`signal.md` §13);
/// the commit saves the new identity.
fn decrypt(
    store: &dyn Store,
    account: AccountId,
    keys: &Keys,
    address: &str,
    enc: &Enc,
) -> wa_store::Result<Result<Decrypted, FailureAction>> {
    let record = store
        .load_session(&account, address)?
        .and_then(|b| SessionRecord::from_bytes(&b).ok());
    let trusted = store.identity(&account, address)?;
    let prekeys = StorePreKeys {
        store,
        account,
        signed: &keys.signed,
    };
    let attempt = |record: Option<&SessionRecord>, trusted: Option<&PublicKey>| {
        decrypt_pairwise(
            enc.kind,
            &enc.ciphertext,
            record,
            &keys.local,
            &prekeys,
            trusted,
            &mut rand::rngs::OsRng,
        )
    };
    let mut out = attempt(record.as_ref(), trusted.as_ref());
    if let Err(error) = &out {
        if failure_action(error) == FailureAction::TrustNewIdentity && enc.kind == EncType::PkMsg {
            tracing::info!(account = %account, address, "the sender's identity changed");
            out = attempt(None, None);
        }
    }
    Ok(out.map_err(|error| {
        tracing::warn!(account = %account, %error, "undecryptable message");
        failure_action(&error)
    }))
}

/// The pending report of a message: the `<enc v>` then the padded plaintext (read back by
/// [`pending`]).
fn report_of(v: u8, plaintext: &[u8]) -> Vec<u8> {
    let mut report = Vec::with_capacity(plaintext.len() + 1);
    report.push(v);
    report.extend_from_slice(plaintext);
    report
}

/// What a restart must still hand over (committed, never marked reported), oldest first, as
/// the application's messages with their seqs. A report that does not decode is logged and
/// returned as `None` with its seq (to be marked so it does not block the others).
pub(crate) fn pending(
    store: &dyn Store,
    account: AccountId,
    limit: usize,
) -> wa_store::Result<Vec<(Option<ReceivedText>, u64)>> {
    let reports = store.pending_reports(&account, limit)?;
    Ok(reports
        .into_iter()
        .map(|r| {
            let decoded = r
                .payload
                .split_first()
                .and_then(|(v, plaintext)| read_content(plaintext, v, r.chat.clone()).ok());
            let text = decoded.and_then(|(chat, content)| {
                Some(ReceivedText {
                    id: r.id.parse().ok()?,
                    chat,
                    sender: known_sender(store, account, &r.sender),
                    t: r.received_ms / 1000,
                    push_name: None,
                    content,
                    report: Some(r.seq),
                })
            });
            if text.is_none() {
                tracing::warn!(account = %account, seq = r.seq, "undecodable pending report");
            }
            (text, r.seq)
        })
        .collect())
}

/// A sender's phone number and LID from its address and the PN ↔ LID map.
fn known_sender(store: &dyn Store, account: AccountId, from: &Jid) -> Sender {
    let user = user_of(from);
    let (phone, lid) = match from.server() {
        Server::Lid => {
            let pn = store.pn_for_lid(&account, &user).ok().flatten();
            (pn.map(|m| m.pn.to_jid()), Some(user))
        }
        _ => {
            let lid = PhoneNumber::from_jid(&user)
                .and_then(|pn| store.lid_for_pn(&account, &pn).ok().flatten());
            (Some(user), lid.map(|m| m.lid))
        }
    };
    Sender {
        device: from.clone(),
        phone,
        lid,
    }
}

/// Unpads, unwraps the own-device copy and reads the content; the chat is the copy's
/// destination when there is one.
fn read_content(plaintext: &[u8], v: &u8, chat: Jid) -> Result<(Jid, Content), ()> {
    let version = EncVersion::from_attr(&v.to_string()).map_err(|_| ())?;
    let message = decode_padded(plaintext, version).map_err(|_| ())?;
    let unwrapped = unwrap_device_sent(message).map_err(|_| ())?;
    let content = Content::from_message(&unwrapped.message).map_err(|_| ())?;
    Ok((unwrapped.destination.unwrap_or(chat), content))
}

/// A group stanza's `participant` with its `participant_lid`/`participant_pn` (§16): the
/// pair goes to the PN ↔ LID map.
fn learn_participant(store: &dyn Store, account: AccountId, msg: &MessageStanza, now_ms: u64) {
    let Some(participant) = msg.participant.as_ref().map(user_of) else {
        return;
    };
    let (pn, lid) = match participant.server() {
        Server::Lid => (
            msg.alt.participant_pn.as_ref().map(user_of),
            Some(participant),
        ),
        _ => (
            Some(participant),
            msg.alt.participant_lid.as_ref().map(user_of),
        ),
    };
    let (Some(pn), Some(lid)) = (pn.as_ref().and_then(PhoneNumber::from_jid), lid) else {
        return;
    };
    let m = LidMapping {
        pn,
        lid,
        source: LidSource::ParticipantAttrs,
        learnt_ms: now_ms,
    };
    if let Err(error) = store.save_lid_mapping(&account, &m, Durability::Buffered) {
        tracing::warn!(account = %account, %error, "cannot save a LID mapping");
    }
}

/// The sender with both addresses when known: from the stanza's `sender_lid`/`sender_pn`
/// (saved to the PN ↔ LID map, §16) or the map.
fn sender_of(
    store: &dyn Store,
    account: AccountId,
    msg: &MessageStanza,
    from: &Jid,
    now_ms: u64,
) -> Sender {
    let user = user_of(from);
    let (phone, lid) = match from.server() {
        Server::Lid => (msg.alt.sender_pn.as_ref().map(user_of), Some(user)),
        _ => (Some(user), msg.alt.sender_lid.as_ref().map(user_of)),
    };
    let pn = phone.as_ref().and_then(PhoneNumber::from_jid);
    match (pn, &lid) {
        (Some(pn), Some(lid)) => {
            let m = LidMapping {
                pn,
                lid: lid.clone(),
                source: LidSource::SenderAttrs,
                learnt_ms: now_ms,
            };
            if let Err(error) = store.save_lid_mapping(&account, &m, Durability::Buffered) {
                tracing::warn!(account = %account, %error, "cannot save a LID mapping");
            }
        }
        (Some(pn), None) => {
            let found = store.lid_for_pn(&account, &pn).ok().flatten();
            return Sender {
                device: from.clone(),
                phone,
                lid: found.map(|m| m.lid),
            };
        }
        (None, Some(lid)) => {
            let found = store.pn_for_lid(&account, lid).ok().flatten();
            let phone = found.map(|m| m.pn.to_jid());
            return Sender {
                device: from.clone(),
                phone,
                lid: Some(lid.clone()),
            };
        }
        (None, None) => {}
    }
    Sender {
        device: from.clone(),
        phone,
        lid,
    }
}

impl Received {
    /// Acked (or nacked with `error`), nothing to receipt or report.
    pub(crate) fn ack_only(msg: &MessageStanza, keys: &Keys, error: Option<u16>) -> Self {
        Self {
            ack: msg.ack(keys.own_pn.clone(), error),
            receipt: None,
            report: None,
        }
    }
}

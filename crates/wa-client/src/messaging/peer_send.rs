//! Peer messages: a `waE2E.Message` for our own primary phone only (`messaging.md` §7:
//! `<message to="<own user>" type="text" category="peer">` with a single `<enc>` directly under
//! `<message>`, no `<participants>`, `<device-identity>` when it is a `pkmsg`; whatsmeow
//! `preparePeerMessageNode`). Used for the on-demand history sync request. Like a retry answer
//! it encrypts under the account's send lock, with the session saved before the bytes leave.
//!
//! Not written: whatsmeow's `<meta appdata="default"/>` child and its `push_priority` /
//! `privacy_sensitive` attributes (the stanza model has no place for them; wa-sim needs none).

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::encode_padded;
use wa_protocol::message::fanout::encrypt_for_device;
use wa_protocol::pb::e2e as pb;
use wa_protocol::signal::keys::LocalIdentity;
use wa_protocol::stanza::{Enc, EncType, MessageStanza, MessageType};
use wa_protocol::time::Millis;
use wa_protocol::MessageId;
use wa_store::{DeviceIdentity, Store};

use super::retry::save_session;
use super::send::{load_sessions, own_device, with_bundles};
use super::types::SentMessage;
use crate::error::Error;
use crate::handle::AccountHandle;

/// Our primary phone (device 0) in the namespace our own-device copies use: the LID for a
/// LID-migrated account (§16), else the phone number.
fn own_primary(device: &DeviceIdentity) -> Option<Jid> {
    primary_of(
        device.jid.as_ref(),
        device.lid.as_ref(),
        device.lid_migrated,
    )
}

fn primary_of(pn: Option<&Jid>, lid: Option<&Jid>, lid_migrated: bool) -> Option<Jid> {
    let pn = pn?;
    match (lid, lid_migrated) {
        (Some(lid), true) => Some(Jid::user(lid.user_part().to_owned(), Server::Lid)),
        _ => Some(Jid::user(pn.user_part().to_owned(), Server::WhatsApp)),
    }
}

/// Sends `message` to our own primary phone as a peer message; resolves on the server's ack.
pub(crate) async fn send_peer(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    now: Millis,
    message: &pb::Message,
) -> Result<SentMessage, Error> {
    let account = *handle.id();
    let device = own_device(handle, store).await?;
    let primary = own_primary(&device).ok_or(Error::NotRunning(account))?;
    let own_user = device.jid.as_ref().map(Jid::user_part);
    let id = MessageId::generate(now.unix_secs(), own_user, &mut rand::rngs::OsRng);
    let lock = handle.send_lock();
    let guard = lock.lock().await;
    let stored = load_sessions(store, account, vec![primary.clone()]).await?;
    let target = with_bundles(handle, stored)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Error::NoDevices(primary.clone()))?;
    let local = LocalIdentity {
        key_pair: device.identity_key.clone(),
        registration_id: device.registration_id,
    };
    let mut rng = StdRng::from_entropy();
    let padded = encode_padded(message, &mut rng);
    let done =
        encrypt_for_device(&local, &target, &padded, &mut rng).map_err(wa_protocol::Error::from)?;
    save_session(store, account, &done).await?;
    let mut stanza = MessageStanza::new(id.clone(), MessageType::Text);
    stanza.to = Some(primary);
    stanza.peer = true;
    stanza.encs = vec![Enc::new(done.enc_type, done.ciphertext.clone())];
    if done.enc_type == EncType::PkMsg {
        stanza
            .device_identity
            .clone_from(&device.adv_signed_identity);
    }
    let outcome = handle.submit_message(stanza);
    drop(guard);
    let server_t = outcome.await?;
    Ok(SentMessage { id, server_t })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_primary_is_device_0_in_the_own_copies_namespace() {
        let pn = Jid::device("15550009001", 7, Server::WhatsApp);
        let lid = Jid::device("99000000009001", 7, Server::Lid);
        assert_eq!(primary_of(None, Some(&lid), true), None, "not linked");
        assert_eq!(
            primary_of(Some(&pn), Some(&lid), false),
            Some(Jid::user("15550009001", Server::WhatsApp))
        );
        assert_eq!(
            primary_of(Some(&pn), None, true),
            Some(Jid::user("15550009001", Server::WhatsApp)),
            "no LID known yet"
        );
        assert_eq!(
            primary_of(Some(&pn), Some(&lid), true),
            Some(Jid::lid("99000000009001"))
        );
    }
}

//! Local Signal addresses of device JIDs (`signal.md` §8, whatsmeow `SignalAddressUser`):
//! `user` for `s.whatsapp.net`, `user_1` for `@lid`, `user_128` for `@hosted`, `user_129` for
//! `@hosted.lid`, then `:device`. Not on the wire; the key of sessions and identities in the
//! store.

use wa_protocol::binary::{Jid, Server};
use wa_protocol::time::Millis;
use wa_protocol::PhoneNumber;
use wa_store::{AccountId, DeviceIdentity, DeviceList, Store};

use crate::error::Error;

/// The store key of a device's Signal session and identity.
pub(crate) fn signal_address(device: &Jid) -> String {
    let domain = match device.server() {
        Server::Lid => "_1",
        Server::Hosted => "_128",
        Server::HostedLid => "_129",
        _ => "",
    };
    format!("{}{domain}:{}", device.user_part(), device.device_id())
}

/// The user JID (no device) of a device JID.
pub(crate) fn user_of(jid: &Jid) -> Jid {
    Jid::user(jid.user_part().to_owned(), jid.server().clone())
}

/// The LID user a contact's tokens are kept under: the JID itself when it is a LID, else the
/// LID the PN ↔ LID map knows for its phone number.
pub(crate) fn lid_of(
    store: &dyn Store,
    account: AccountId,
    jid: &Jid,
) -> wa_store::Result<Option<Jid>> {
    match jid.server() {
        Server::Lid => Ok(Some(user_of(jid))),
        Server::WhatsApp => match PhoneNumber::from_jid(&user_of(jid)) {
            Some(pn) => Ok(store.lid_for_pn(&account, &pn)?.map(|m| m.lid)),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

/// The contact's privacy token for a 1:1 send to `to`, when one is stored and still valid at
/// `now` (`messaging.md` §16), on the calling (blocking) thread.
pub(crate) fn stored_token(
    s: &dyn Store,
    account: AccountId,
    to: &Jid,
    now: Millis,
) -> Result<Option<Vec<u8>>, Error> {
    let Some(lid) = lid_of(s, account, to)? else {
        return Ok(None);
    };
    Ok(s.privacy_token(&account, &lid)?
        .filter(|t| t.is_valid_at(now.unix_secs()))
        .map(|t| t.token))
}

/// Whether `device` addresses DMs by LID: migrated, and its own LID known (without it our own
/// devices cannot be addressed in the LID namespace, so the send stays in the PN one).
pub(crate) fn addresses_by_lid(device: &DeviceIdentity) -> bool {
    device.lid_migrated && device.lid.is_some()
}

/// `peer_recipient_pn` of a 1:1 send from `device` to `to` (`lid_route`): the peer's number when
/// the account addresses by LID, `to` is a LID and the map knows its number; on the calling
/// (blocking) thread.
pub(crate) fn peer_recipient_pn(
    store: &dyn Store,
    account: AccountId,
    device: &DeviceIdentity,
    to: &Jid,
) -> wa_store::Result<Option<Jid>> {
    if !addresses_by_lid(device) || *to.server() != Server::Lid {
        return Ok(None);
    }
    Ok(store.pn_for_lid(&account, to)?.map(|m| m.pn.to_jid()))
}

/// The addressable device JIDs of a cached list (hosted devices left out).
pub(crate) fn device_jids(list: &DeviceList) -> Vec<Jid> {
    list.devices
        .iter()
        .filter(|d| !d.hosted)
        .map(|d| {
            Jid::device(
                list.user.user_part().to_owned(),
                d.id,
                list.user.server().clone(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_the_user_domain_scheme() {
        let pn = Jid::device("15550002222", 7, Server::WhatsApp);
        assert_eq!(signal_address(&pn), "15550002222:7");
        assert_eq!(signal_address(&Jid::lid("987")), "987_1:0");
        assert_eq!(user_of(&pn), Jid::user("15550002222", Server::WhatsApp));
    }
}

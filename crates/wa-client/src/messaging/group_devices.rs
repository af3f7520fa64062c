//! The devices a group send addresses (`messaging.md` §9 steps 2–3): our sending device in
//! the group's namespace and every member device but that one. Shared by the group send, its
//! retry answers and the redistribution after a stale `phash` (a leaf: no other group file).

use std::collections::BTreeSet;
use std::sync::Arc;

use wa_protocol::binary::{Jid, Server};
use wa_protocol::stanza::{AddressingMode, GroupInfo};
use wa_protocol::time::Millis;
use wa_store::Store;

use super::address::user_of;
use super::directory::devices_of;
use crate::error::Error;
use crate::handle::AccountHandle;

/// Our device in the group's namespace: the LID one when the group is LID-addressed (§9 step 3).
pub(crate) fn own_in(
    pn: Option<&Jid>,
    lid: Option<&Jid>,
    mode: Option<AddressingMode>,
) -> Option<Jid> {
    let pn = pn?;
    match mode {
        Some(AddressingMode::Lid) => {
            let lid = lid?;
            Some(Jid::device(
                lid.user_part().to_owned(),
                pn.device_id(),
                Server::Lid,
            ))
        }
        Some(AddressingMode::Pn) | None => Some(pn.clone()),
    }
}

/// The devices of every participant and of our own user (§9 step 2), minus hosted devices and
/// `own` (the sending device).
pub(crate) async fn member_devices(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    info: &GroupInfo,
    own: &Jid,
    now: Millis,
) -> Result<Vec<Jid>, Error> {
    let own_user = user_of(own);
    let mut users: Vec<Jid> = info.participants.iter().map(|p| p.jid.clone()).collect();
    if !users.contains(&own_user) {
        users.push(own_user);
    }
    let lists = devices_of(handle, store, &users, now.0).await?;
    let devices: BTreeSet<Jid> = lists
        .into_iter()
        .flatten()
        .filter(|d| !matches!(d.server(), Server::Hosted | Server::HostedLid))
        .filter(|d| d != own)
        .collect();
    Ok(devices.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pn(user: &str, device: u16) -> Jid {
        Jid::device(user, device, Server::WhatsApp)
    }

    #[test]
    fn own_device_in_the_groups_namespace() {
        let (device, lid) = (pn("15550000001", 7), Jid::lid("98765"));
        assert_eq!(
            own_in(Some(&device), Some(&lid), None),
            Some(device.clone())
        );
        assert_eq!(
            own_in(Some(&device), Some(&lid), Some(AddressingMode::Lid)),
            Some(Jid::device("98765", 7, Server::Lid))
        );
        assert_eq!(own_in(Some(&device), None, Some(AddressingMode::Lid)), None);
        assert_eq!(own_in(None, Some(&lid), Some(AddressingMode::Pn)), None);
    }
}

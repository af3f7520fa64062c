//! The rules of the cached device lists (`messaging.md` §4, §16), apart from the IQ that fills
//! them (`directory.rs`):
//!
//! * **key-index validation**: device 0 is always addressed; a companion only when the list
//!   came with a `<key-index-list>` signed by the user's primary (its Signal identity, which
//!   we know once we have talked to device 0; on first contact the list is read unverified),
//!   and the list allows its `key-index` (listed, or newer than `currentIndex`). A list
//!   without a key-index list, or whose signature does not verify, keeps device 0 only
//!   (whatsapp-rust's rule, §4). A companion without a `key-index` is dropped (Baileys).
//! * **invalidation**: a `<notification type="devices">` (§4) or an ack with `refresh_lid`
//!   (§16) drops the cached list of the user, under its phone number and its LID, so the next
//!   send asks the server again (usync also re-learns the PN ↔ LID pair).

use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::signal::PublicKey;
use wa_protocol::stanza::{
    KeyIndexList, Notification, NotificationBody, UsyncDevice, UsyncDeviceList,
};
use wa_protocol::PhoneNumber;
use wa_store::{AccountId, Durability, Store};

use super::address::{signal_address, user_of};

/// The devices of a usync device list that may be addressed (module rules). `primary` is the
/// user's primary identity, when known.
pub(crate) fn vouched(list: &UsyncDeviceList, primary: Option<&PublicKey>) -> Vec<UsyncDevice> {
    let signed = list.key_index_list.as_ref().and_then(|k| {
        let checked = match primary {
            Some(key) => KeyIndexList::verify(&k.signed, key),
            None => KeyIndexList::decode_unverified(&k.signed),
        };
        checked
            .map_err(|error| tracing::warn!(%error, "a key-index list is refused"))
            .ok()
    });
    list.devices
        .iter()
        .filter(|d| {
            d.id == 0
                || matches!(
                    (&signed, d.key_index),
                    (Some(list), Some(index)) if list.allows(index)
                )
        })
        .cloned()
        .collect()
}

/// The primary (device 0) identity of `user` we trust, if any.
pub(crate) fn primary_identity(
    store: &dyn Store,
    account: &AccountId,
    user: &Jid,
) -> wa_store::Result<Option<PublicKey>> {
    let primary = Jid::device(user.user_part().to_owned(), 0, user.server().clone());
    store.identity(account, &signal_address(&primary))
}

/// The users whose device lists a notification changes (`type="devices"`); `None` for any
/// other stanza.
pub(crate) fn changed_users(node: &Node) -> Option<Vec<Jid>> {
    if node.tag != "notification" || node.attr_str("type") != Some("devices") {
        return None;
    }
    let notification = match Notification::from_node(node) {
        Ok(n) => n,
        Err(error) => {
            tracing::warn!(%error, "a malformed devices notification");
            return None;
        }
    };
    let NotificationBody::Devices(changes) = &notification.body else {
        return None;
    };
    let mut users: Vec<Jid> = notification.user().into_iter().collect();
    for change in changes {
        for (device, _) in &change.devices {
            let user = user_of(device);
            if !users.contains(&user) {
                users.push(user);
            }
        }
    }
    Some(users)
}

/// Drops the cached device lists of `users`, each under its phone number and its LID.
pub(crate) fn forget(store: &dyn Store, account: AccountId, users: &[Jid]) -> wa_store::Result<()> {
    let d = Durability::Buffered;
    for user in users {
        let user = user_of(user);
        store.invalidate_device_list(&account, &user, d)?;
        let other = match user.server() {
            Server::Lid => store.pn_for_lid(&account, &user)?.map(|m| m.pn.to_jid()),
            _ => PhoneNumber::from_jid(&user)
                .map(|pn| store.lid_for_pn(&account, &pn))
                .transpose()?
                .flatten()
                .map(|m| m.lid),
        };
        if let Some(other) = other {
            store.invalidate_device_list(&account, &other, d)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use wa_protocol::signal::KeyPair;
    use wa_protocol::stanza::KeyIndexListNode;

    use super::*;

    fn device(id: u8, key_index: Option<u32>) -> UsyncDevice {
        UsyncDevice {
            id,
            key_index,
            hosted: false,
        }
    }

    /// Devices 0, 3 (key index 1, listed), 4 (key index 2, unlisted: unlinked), 5 (key index
    /// 9, newer than currentIndex 3), 6 (no key index).
    fn list(signer: &KeyPair, with_list: bool) -> UsyncDeviceList {
        let mut rng = StdRng::seed_from_u64(5);
        let signed = KeyIndexList {
            raw_id: 77,
            timestamp: 1_800_000_000,
            current_index: 3,
            valid_indexes: vec![1, 3],
        }
        .sign(signer, &mut rng);
        UsyncDeviceList {
            hash: None,
            devices: vec![
                device(0, None),
                device(3, Some(1)),
                device(4, Some(2)),
                device(5, Some(9)),
                device(6, None),
            ],
            key_index_list: with_list.then_some(KeyIndexListNode {
                ts: 1_800_000_000,
                expected_ts: None,
                signed,
            }),
        }
    }

    fn ids(devices: &[UsyncDevice]) -> Vec<u8> {
        devices.iter().map(|d| d.id).collect()
    }

    #[test]
    fn a_signed_list_keeps_the_vouched_companions() {
        let primary = KeyPair::generate(&mut StdRng::seed_from_u64(1));
        let l = list(&primary, true);
        assert_eq!(ids(&vouched(&l, Some(&primary.public))), vec![0, 3, 5]);
        // First contact: the same rule, unverified.
        assert_eq!(ids(&vouched(&l, None)), vec![0, 3, 5]);
    }

    #[test]
    fn a_forged_or_missing_list_keeps_device_zero_only() {
        let primary = KeyPair::generate(&mut StdRng::seed_from_u64(1));
        let forger = KeyPair::generate(&mut StdRng::seed_from_u64(2));
        let forged = list(&forger, true);
        assert_eq!(ids(&vouched(&forged, Some(&primary.public))), vec![0]);
        assert_eq!(ids(&vouched(&list(&primary, false), None)), vec![0]);
    }

    #[test]
    fn devices_notifications_name_their_users() {
        let node = Notification {
            id: "123".parse().expect("id"),
            from: Jid::user("15550111002", Server::WhatsApp),
            t: Some(1),
            offline: None,
            body: NotificationBody::Devices(vec![wa_protocol::stanza::DeviceChange {
                kind: wa_protocol::stanza::DeviceChangeKind::Remove,
                devices: vec![(Jid::device("15550111002", 4, Server::WhatsApp), Some(2))],
                device_hash: None,
                hash: None,
                key_index_list: None,
            }]),
        }
        .to_node();
        assert_eq!(
            changed_users(&node),
            Some(vec![Jid::user("15550111002", Server::WhatsApp)])
        );
        assert_eq!(changed_users(&Node::new("notification")), None);
    }
}

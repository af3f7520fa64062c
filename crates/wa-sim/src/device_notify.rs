//! `<notification type="devices">` (`messaging.md` §4): when a companion is linked or unlinked,
//! every device that asked for the account's device list (usync, the account's own companions
//! included when they asked) is told, with `<add>`/`<remove>` naming the device and its key index and the
//! account's new signed key-index list, so they drop their cached list and ask again before
//! their next send. Delivered like messages: live, or queued for an offline device.

use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::stanza::{
    DeviceChange, DeviceChangeKind, KeyIndexList, KeyIndexListNode, Notification, NotificationBody,
};
use wa_protocol::PhoneNumber;

use crate::mailbox::DeviceKey;
use crate::roles::messages;
use crate::state::Shared;
use crate::world::World;

/// Tells the watchers of `phone`'s device list that `device` (with `key_index`) was added or
/// removed.
pub(crate) fn announce(
    shared: &Shared,
    phone: &PhoneNumber,
    kind: DeviceChangeKind,
    device: u8,
    key_index: u32,
) {
    let t = shared.now_secs();
    let Ok(id) = shared.next_iq_id().parse() else {
        return;
    };
    let mut rng = shared.fork_rng();
    let deliveries = shared.with_world(|w| {
        let (node, mut to) = notification(w, phone, kind, device, key_index, t, &mut rng)?;
        // A watcher unlinked since it asked is not told.
        to.retain(|(p, d)| w.has_companion(p, *d));
        let node = Notification {
            id,
            from: Jid::user(phone.as_str(), Server::WhatsApp),
            t: Some(t),
            offline: None,
            body: NotificationBody::Devices(vec![node]),
        }
        .to_node();
        Some(
            to.into_iter()
                .map(|d| (d, node.clone()))
                .collect::<Vec<(DeviceKey, Node)>>(),
        )
    });
    if let Some(deliveries) = deliveries {
        shared.count("devices:notified");
        messages::dispatch(shared, deliveries);
    }
}

/// The change (with the account's current signed key-index list) and who is told.
fn notification(
    w: &mut World,
    phone: &PhoneNumber,
    kind: DeviceChangeKind,
    device: u8,
    key_index: u32,
    t: u64,
    rng: &mut rand::rngs::StdRng,
) -> Option<(DeviceChange, Vec<DeviceKey>)> {
    let account = w.account_mut(phone).ok()?;
    let mut valid: Vec<u32> = account.companions.values().map(|c| c.key_index).collect();
    valid.sort_unstable();
    let list = KeyIndexList {
        raw_id: account.primary.raw_id,
        timestamp: t,
        current_index: account.current_key_index(),
        valid_indexes: valid,
    };
    let key_index_list = KeyIndexListNode {
        ts: t,
        expected_ts: None,
        signed: list.sign(&account.primary.identity, rng),
    };
    let changed = (phone.clone(), device);
    account.watchers.remove(&changed);
    let to: Vec<DeviceKey> = account
        .watchers
        .iter()
        .filter(|d| **d != changed)
        .cloned()
        .collect();
    let change = DeviceChange {
        kind,
        devices: vec![(
            Jid::device(phone.as_str(), u16::from(device), Server::WhatsApp),
            Some(key_index),
        )],
        device_hash: None,
        hash: None,
        key_index_list: Some(key_index_list),
    };
    Some((change, to))
}

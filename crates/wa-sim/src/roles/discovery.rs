//! Device discovery as the server answers it (`messaging.md` §4, §5, §14): usync (every device
//! of each asked user — the primary phone, device 0, and the linked companions with their
//! `key-index` — with the account's primary-signed key-index list and its LID) and prekey
//! bundles (from what each device published; one one-time prekey consumed per bundle).
//!
//! Requests are parsed strictly with [`UsyncQuery`] and [`PreKeyBundleRequest`]; a malformed
//! one is answered with a 400 error IQ. A user the network does not know gets an empty device
//! list and no LID (usync); a device without published keys gets `<error code="406"
//! text="not-acceptable"/>` in its place (bundles, §5), the rest of the answer unaffected.
//!
//! Counters (besides the router's `in:iq:usync` / `in:iq:encrypt`): `directory:usync`,
//! `directory:usync:users`, `directory:usync:unknown-user`, `directory:usync:bad`,
//! `directory:bundles`, `directory:bundle`, `directory:bundle:no-prekey`,
//! `directory:bundle:unknown-device`, `directory:bundles:bad`.

use rand::rngs::StdRng;
use wa_protocol::binary::{Jid, Node};
use wa_protocol::stanza::{
    BundleAnswer, BundleOutcome, DeviceBundle, KeyIndexList, KeyIndexListNode, PreKeyBundleRequest,
    PreKeyBundleResult, UsyncDevice, UsyncDeviceList, UsyncQuery, UsyncResult, UsyncUser,
    NO_BUNDLE_CODE,
};
use wa_protocol::PhoneNumber;

use crate::event::ConnId;
use crate::mailbox::DeviceKey;
use crate::nodes;
use crate::state::{Action, Shared};
use crate::world::{Account, SignedKeyIndexes, World};

/// Below this many one-time prekeys a companion is told to refill (`messaging.md` §14).
const LOW_PREKEYS: usize = 5;

/// `<iq xmlns="usync" type="get">` from `asker`: devices and/or LID of each asked user. The
/// asker of a device list is told when it changes (`devices` notifications, §4).
pub(crate) fn usync(shared: &Shared, id: &str, node: &Node, asker: &DeviceKey) -> Vec<Action> {
    let query = match UsyncQuery::from_node(node) {
        Ok(q) => q,
        Err(error) => {
            tracing::debug!(%error, "malformed usync");
            shared.count("directory:usync:bad");
            return vec![Action::Send(nodes::iq_bad_request(id))];
        }
    };
    shared.count("directory:usync");
    let t = shared.now_secs();
    let mut rng = shared.fork_rng();
    let users: Vec<(UsyncUser, bool)> = shared.with_world(|w| {
        query
            .users
            .iter()
            .map(|jid| {
                if query.devices {
                    watch(w, jid, asker);
                }
                answer_user(w, &query, jid, t, &mut rng)
            })
            .collect()
    });
    for (_, known) in &users {
        shared.count("directory:usync:users");
        if !known {
            shared.count("directory:usync:unknown-user");
        }
    }
    let result = UsyncResult {
        sid: query.sid,
        users: users.into_iter().map(|(u, _)| u).collect(),
    };
    vec![Action::Send(with_t(result.to_node(id), t))]
}

/// Remembers that `asker` holds `jid`'s device list.
fn watch(w: &mut World, jid: &Jid, asker: &DeviceKey) {
    let Some(phone) = w.account_by_jid(jid).map(|a| a.phone.clone()) else {
        return;
    };
    if let Ok(account) = w.account_mut(&phone) {
        account.watchers.insert(asker.clone());
    }
}

/// The server stamps its IQ results with `t`, as [`nodes::iq_result`] does.
fn with_t(node: Node, t: u64) -> Node {
    node.with_attr("t", t.to_string())
}

/// One user's answer, and whether the network knows the user.
fn answer_user(
    w: &mut World,
    query: &UsyncQuery,
    jid: &Jid,
    t: u64,
    rng: &mut StdRng,
) -> (UsyncUser, bool) {
    let Some(account) = w.account_by_jid(jid) else {
        let unknown = UsyncUser {
            jid: jid.clone(),
            devices: query.devices.then(UsyncDeviceList::default),
            lid: None,
        };
        return (unknown, false);
    };
    let phone = account.phone.clone();
    let lid = query.lid.then(|| Jid::lid(account.lid.clone()));
    let devices = match w.account_mut(&phone) {
        Ok(account) if query.devices => Some(device_list(account, t, rng)),
        _ => None,
    };
    let user = UsyncUser {
        jid: jid.clone(),
        devices,
        lid,
    };
    (user, true)
}

/// Device 0 and every companion with its key index, plus the signed key-index list when the
/// account has companions (§4: clients drop companions that come without one).
fn device_list(account: &mut Account, t: u64, rng: &mut StdRng) -> UsyncDeviceList {
    let mut devices = vec![UsyncDevice {
        id: 0,
        key_index: None,
        hosted: false,
    }];
    devices.extend(account.companions.values().map(|c| UsyncDevice {
        id: c.device,
        key_index: Some(c.key_index),
        hosted: false,
    }));
    let key_index_list = (!account.companions.is_empty()).then(|| {
        let signed = signed_key_indexes(account, t, rng);
        KeyIndexListNode {
            ts: signed.ts,
            expected_ts: None,
            signed: signed.signed,
        }
    });
    UsyncDeviceList {
        hash: None,
        devices,
        key_index_list,
    }
}

/// The account's key-index list, signed by its phone; re-signed (at `t`) only when the
/// companions changed since the last signature.
fn signed_key_indexes(account: &mut Account, t: u64, rng: &mut StdRng) -> SignedKeyIndexes {
    let mut valid: Vec<u32> = account.companions.values().map(|c| c.key_index).collect();
    valid.sort_unstable();
    let current = account.current_key_index();
    if let Some(cached) = &account.key_indexes {
        if cached.valid == valid && cached.current == current {
            return cached.clone();
        }
    }
    let list = KeyIndexList {
        raw_id: account.primary.raw_id,
        timestamp: t,
        current_index: current,
        valid_indexes: valid.clone(),
    };
    let signed = SignedKeyIndexes {
        signed: list.sign(&account.primary.identity, rng),
        valid,
        current,
        ts: t,
    };
    account.key_indexes = Some(signed.clone());
    signed
}

/// `<iq xmlns="encrypt" type="get"><key>`: a bundle (or an error) per asked device.
pub(crate) fn bundles(shared: &Shared, id: &str, node: &Node) -> Vec<Action> {
    let request = match PreKeyBundleRequest::from_node(node) {
        Ok(r) => r,
        Err(error) => {
            tracing::debug!(%error, "malformed prekey bundle request");
            shared.count("directory:bundles:bad");
            return vec![Action::Send(nodes::iq_bad_request(id))];
        }
    };
    shared.count("directory:bundles");
    let mut running_low = Vec::new();
    let users = shared.with_world(|w| {
        request
            .users
            .iter()
            .map(|target| {
                let (bundle, low) = take_bundle(w, &target.jid);
                running_low.extend(low);
                (target.jid.clone(), bundle)
            })
            .collect::<Vec<_>>()
    });
    let users = users
        .into_iter()
        .map(|(jid, bundle)| BundleAnswer {
            jid,
            outcome: outcome(shared, bundle),
        })
        .collect();
    let actions = vec![Action::Send(with_t(
        PreKeyBundleResult { users }.to_node(id),
        shared.now_secs(),
    ))];
    notify_low(shared, running_low);
    actions
}

fn outcome(shared: &Shared, bundle: Option<DeviceBundle>) -> BundleOutcome {
    match bundle {
        Some(bundle) => {
            let key = if bundle.bundle.pre_key.is_some() {
                "directory:bundle"
            } else {
                "directory:bundle:no-prekey"
            };
            shared.count(key.to_owned());
            BundleOutcome::Bundle(Box::new(bundle))
        }
        None => {
            shared.count("directory:bundle:unknown-device");
            BundleOutcome::Error {
                code: NO_BUNDLE_CODE,
                text: "not-acceptable".to_owned(),
            }
        }
    }
}

/// The bundle of the device `jid` names (consuming a one-time prekey; a companion's with its
/// `<device-identity>`), and the connections of a companion whose stock just fell below
/// [`LOW_PREKEYS`], with what it has left.
fn take_bundle(w: &mut World, jid: &Jid) -> (Option<DeviceBundle>, Vec<(ConnId, usize)>) {
    let Some((phone, device_identity, device)) = device_of(w, jid) else {
        return (None, Vec::new());
    };
    let bundle = w.directory.take_bundle(&phone, device);
    let left = w.directory.prekey_count(&phone, device);
    let crossed = device != 0
        && left + 1 == LOW_PREKEYS
        && bundle.as_ref().is_some_and(|b| b.pre_key.is_some());
    let conns = if crossed {
        w.logged_in
            .iter()
            .filter(|(_, (p, d))| *p == phone && *d == device)
            .map(|(c, _)| (*c, left))
            .collect()
    } else {
        Vec::new()
    };
    let bundle = bundle.map(|bundle| DeviceBundle {
        bundle,
        device_identity,
    });
    (bundle, conns)
}

/// The account a device JID names, the device's signed identity (companions) and its number,
/// if the network has that device.
fn device_of(w: &World, jid: &Jid) -> Option<(PhoneNumber, Option<Vec<u8>>, u8)> {
    if jid.agent() != 0 {
        return None;
    }
    let account = w.account_by_jid(jid)?;
    let device = u8::try_from(jid.device_id()).ok()?;
    let identity = if device == 0 {
        None
    } else {
        let companion = account.companions.get(&device)?;
        Some(companion.device_identity.clone()).filter(|d| !d.is_empty())
    };
    Some((account.phone.clone(), identity, device))
}

/// Tells companions running low how many one-time prekeys they have left (`<notification
/// type="encrypt"><count>`, §14).
fn notify_low(shared: &Shared, low: Vec<(ConnId, usize)>) {
    for (conn, left) in low {
        let count = u32::try_from(left).unwrap_or(u32::MAX);
        let node = nodes::prekey_count_notification(shared.next_iq_id(), shared.now_secs(), count);
        shared.push(conn, Action::Send(node));
    }
}

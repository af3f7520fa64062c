//! Device lists for a send (`messaging.md` §4): from the store's cache, or one usync IQ for
//! the users it lacks (saved, with the PN ↔ LID pairs the answer carries, §16). Only the
//! devices the user's signed key-index list vouches for are kept (`device_cache::vouched`).

use std::sync::Arc;

use rand::rngs::OsRng;
use rand::RngCore;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::signal::PublicKey;
use wa_protocol::stanza::{IqResponse, UsyncQuery, UsyncResult, UsyncUser};
use wa_protocol::PhoneNumber;
use wa_store::{AccountId, DeviceList, Durability, LidMapping, LidSource, ListedDevice, Store};

use super::address::device_jids;
use super::device_cache::{primary_identity, vouched};
use crate::error::Error;
use crate::handle::AccountHandle;

/// The device JIDs of each of `users` (user JIDs), in the order given; hosted devices are
/// left out (this slice encrypts for phone and companion devices only).
pub(crate) async fn devices_of(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    users: &[Jid],
    now_ms: u64,
) -> Result<Vec<Vec<Jid>>, Error> {
    let id = *handle.id();
    let mut lists = cached(store, id, users.to_vec()).await?;
    let missing: Vec<Jid> = users
        .iter()
        .zip(&lists)
        .filter(|(_, l)| l.is_none())
        .map(|(u, _)| u.clone())
        .collect();
    if !missing.is_empty() {
        let fetched = fetch(handle, store, missing, now_ms).await?;
        for (user, slot) in users.iter().zip(lists.iter_mut()) {
            if slot.is_none() {
                *slot = fetched.iter().find(|l| &l.user == user).cloned();
            }
        }
    }
    Ok(lists
        .into_iter()
        .map(|l| l.map(|l| device_jids(&l)).unwrap_or_default())
        .collect())
}

async fn cached(
    store: &Arc<dyn Store>,
    id: AccountId,
    users: Vec<Jid>,
) -> Result<Vec<Option<DeviceList>>, Error> {
    let store = Arc::clone(store);
    let lists = tokio::task::spawn_blocking(move || {
        users
            .iter()
            .map(|u| store.device_list(&id, u))
            .collect::<wa_store::Result<Vec<_>>>()
    })
    .await??;
    Ok(lists)
}

/// One usync query for `users`; each answer saved (device list, LID mapping).
pub(crate) async fn fetch(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    users: Vec<Jid>,
    now_ms: u64,
) -> Result<Vec<DeviceList>, Error> {
    let sid = format!("{:016x}", OsRng.next_u64());
    let request = UsyncQuery::for_message(sid, users).request();
    let result = match handle.iq(request).await {
        Some(IqResponse::Result(node)) => {
            UsyncResult::from_node(&node).map_err(wa_protocol::Error::from)?
        }
        Some(IqResponse::Error { code, .. }) => {
            return Err(Error::IqRefused {
                what: "usync",
                code,
            })
        }
        None => return Err(Error::Timeout("usync query")),
    };
    let mappings: Vec<LidMapping> = result
        .users
        .iter()
        .filter_map(|u| mapping_of(u, now_ms))
        .collect();
    let id = *handle.id();
    let store = Arc::clone(store);
    let lists = tokio::task::spawn_blocking(move || -> wa_store::Result<Vec<DeviceList>> {
        let mut lists = Vec::with_capacity(result.users.len());
        for user in &result.users {
            let primary = primary_identity(store.as_ref(), &id, &user.jid)?;
            let list = list_of(user, primary.as_ref(), now_ms);
            store.save_device_list(&id, &list, Durability::Buffered)?;
            lists.push(list);
        }
        for m in &mappings {
            store.save_lid_mapping(&id, m, Durability::Buffered)?;
        }
        Ok(lists)
    })
    .await??;
    Ok(lists)
}

fn list_of(user: &UsyncUser, primary: Option<&PublicKey>, now_ms: u64) -> DeviceList {
    let (devices, ts, hash) = match &user.devices {
        Some(l) => (
            vouched(l, primary)
                .iter()
                .map(|d| ListedDevice {
                    id: u16::from(d.id),
                    key_index: d.key_index,
                    hosted: d.hosted,
                })
                .collect(),
            l.key_index_list.as_ref().map(|k| k.ts),
            l.hash.clone(),
        ),
        None => (Vec::new(), None, None),
    };
    DeviceList {
        user: user.jid.clone(),
        devices,
        key_index_ts: ts,
        hash,
        fetched_ms: now_ms,
    }
}

fn mapping_of(user: &UsyncUser, now_ms: u64) -> Option<LidMapping> {
    let lid = user.lid.clone()?;
    if *user.jid.server() != Server::WhatsApp {
        return None;
    }
    let pn = PhoneNumber::from_jid(&user.jid)?;
    Some(LidMapping {
        pn,
        lid,
        source: LidSource::Usync,
        learnt_ms: now_ms,
    })
}

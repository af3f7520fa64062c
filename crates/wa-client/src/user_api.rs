//! The user-directory methods of [`Gateway`] (issue 11, CONTRACTS §A.6): whether phone numbers
//! are on WhatsApp and with which devices and LID (one usync per 1,024 users, `messaging.md`
//! §4, §16, through `messaging::directory`, whose answers are saved as a send's are), and what
//! the store has learnt (the PN ↔ LID map).

use std::sync::Arc;

use wa_protocol::binary::{Jid, Server};
use wa_protocol::stanza::MAX_USYNC_USERS;
use wa_protocol::PhoneNumber;
use wa_store::{AccountId, DeviceList, LidMapping, Store};

use crate::error::Error;
use crate::gateway::Gateway;
use crate::messaging::address::{device_jids, user_of};
use crate::messaging::directory;

/// What the server says about one user (a usync answer, `messaging.md` §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLookup {
    /// The user as asked (user JID, no device).
    pub user: Jid,
    /// Whether the server listed any device: the number is on WhatsApp.
    pub on_whatsapp: bool,
    /// Its devices (hosted ones left out), device 0 first as listed.
    pub devices: Vec<Jid>,
    /// Its phone-number JID, when known (the user itself for a phone number).
    pub phone: Option<Jid>,
    /// Its LID, when known (the user itself for a LID).
    pub lid: Option<Jid>,
}

fn is_user(jid: &Jid) -> bool {
    matches!(jid.server(), Server::WhatsApp | Server::Lid) && !jid.user_part().is_empty()
}

impl Gateway {
    /// Asks the server about `users` (phone-number or LID user JIDs) from account `id`: whether
    /// each is on WhatsApp, its devices, and its PN ↔ LID pair (saved, as a send's lookup is).
    /// Answers come in the order asked. A group or server JID is [`Error::BadRecipient`].
    pub async fn lookup_users(
        &self,
        id: &AccountId,
        users: Vec<Jid>,
    ) -> Result<Vec<UserLookup>, Error> {
        let handle = self.logged_in(id)?;
        let users: Vec<Jid> = users.iter().map(user_of).collect();
        if let Some(bad) = users.iter().find(|u| !is_user(u)) {
            return Err(Error::BadRecipient(bad.clone()));
        }
        let now_ms = self.now().0;
        let mut lists = Vec::with_capacity(users.len());
        for chunk in users.chunks(MAX_USYNC_USERS) {
            lists.extend(directory::fetch(&handle, self.store(), chunk.to_vec(), now_ms).await?);
        }
        let store = Arc::clone(self.store());
        let account = *id;
        let lookups = tokio::task::spawn_blocking(move || {
            users
                .iter()
                .map(|u| lookup_of(store.as_ref(), &account, u, &lists))
                .collect::<wa_store::Result<Vec<_>>>()
        })
        .await??;
        Ok(lookups)
    }

    /// The stored PN ↔ LID pair of `user` (a phone-number or LID JID), if the account has
    /// learnt it; no network.
    pub async fn lid_mapping(
        &self,
        id: &AccountId,
        user: &Jid,
    ) -> Result<Option<LidMapping>, Error> {
        self.account(id).await?;
        let (store, account, user) = (Arc::clone(self.store()), *id, user_of(user));
        let found =
            tokio::task::spawn_blocking(move || mapping_of(store.as_ref(), &account, &user))
                .await??;
        Ok(found)
    }

    /// Every PN ↔ LID pair account `id` has learnt (usync answers, message and group
    /// attributes), in phone-number order.
    pub async fn known_contacts(&self, id: &AccountId) -> Result<Vec<LidMapping>, Error> {
        self.account(id).await?;
        let (store, account) = (Arc::clone(self.store()), *id);
        Ok(tokio::task::spawn_blocking(move || store.lid_mappings(&account)).await??)
    }
}

fn mapping_of(
    store: &dyn Store,
    account: &AccountId,
    user: &Jid,
) -> wa_store::Result<Option<LidMapping>> {
    match user.server() {
        Server::Lid => store.pn_for_lid(account, user),
        _ => match PhoneNumber::from_jid(user) {
            Some(pn) => store.lid_for_pn(account, &pn),
            None => Ok(None),
        },
    }
}

fn lookup_of(
    store: &dyn Store,
    account: &AccountId,
    user: &Jid,
    lists: &[DeviceList],
) -> wa_store::Result<UserLookup> {
    let devices = lists
        .iter()
        .find(|l| l.user.to_non_ad() == *user)
        .map(device_jids)
        .unwrap_or_default();
    let mapping = mapping_of(store, account, user)?;
    let (phone, lid) = match user.server() {
        Server::Lid => (mapping.map(|m| m.pn.to_jid()), Some(user.clone())),
        _ => (Some(user.clone()), mapping.map(|m| m.lid)),
    };
    Ok(UserLookup {
        user: user.clone(),
        on_whatsapp: !devices.is_empty(),
        devices,
        phone,
        lid,
    })
}

//! [`Core`]: the record logic shared by both backends, written once over an `Engine`, and the
//! one implementation of [`Store`].
//!
//! The `Store` implementation below says, per call, which records change in which write set and
//! how durable the call is; the rooms hold the record logic each call needs (transaction
//! bodies, scans, index upkeep): `signal` (identities, incoming sessions), `prekeys`,
//! `accounts` (token index, logout, deletion), `outbox` (with the send step and the status
//! rules), `received` (dedup with the receive commit), `directory` (device lists, PN ↔ LID),
//! `tokens` (privacy tokens), `backup` (check, export, import) and `schema`. A new store method is the trait method plus its body here.

mod access;
mod accounts;
mod backup;
mod device_memo;
mod directory;
mod outbox;
mod pools;
mod prekeys;
mod push_names;
mod received;
pub(crate) mod schema;
mod signal;
mod status_log;
mod tokens;
mod webhooks;

use std::path::Path;

use rand_core::CryptoRngCore;
use wa_protocol::binary::Jid;
use wa_protocol::ids::PhoneNumber;
use wa_protocol::signal::PublicKey;

use crate::durable::DurableWait;
use crate::engine::Engine;
use crate::error::Result;
use crate::keys::{self, TreeId};
use crate::records::{self, decode_device};
use crate::store::Store;
use crate::types::account::Account;
use crate::types::account_id::AccountId;
use crate::types::device::{DeviceIdentity, OneTimePreKey, PreKeyCounts, SignedPreKey};
use crate::types::directory::{DeviceList, LidChange, LidMapping, PrivacyToken};
use crate::types::durability::Durability;
use crate::types::outbox::{
    Enqueued, MessageStatus, NewOutbound, OutboxEntry, OutboxUpdate, StatusEvent, StatusOutcome,
};
use crate::types::pool::Pool;
use crate::types::push_name::PushName;
use crate::types::received::{PendingReport, ReceiveOutcome, ReceivedKey, ReceivedMessage};
use crate::types::report::{BackupSummary, CheckReport};
use crate::types::signal::{IdentityChange, IncomingSession, SendStep};
use crate::types::status_log::StatusTimeline;
use crate::types::webhook::WebhookDelivery;

use self::access::{load, load_opaque, opaque};
use self::device_memo::DeviceMemo;

/// A store over one key-value engine: [`SledStore`](crate::SledStore) and
/// [`MemStore`](crate::MemStore) are this type over sled (behind the write-ahead log) and over
/// ordered maps in memory. Use it through [`Store`].
pub struct Core<E> {
    engine: E,
    /// Decoded device identities, by the bytes they came from (the send path's read).
    devices: DeviceMemo,
}

// Crate-internal helpers only; `Engine` stays private (only this crate's engines exist).
#[allow(private_bounds)]
impl<E: Engine> Core<E> {
    /// Wraps an engine; [`init_schema`](Self::init_schema) must follow before any other call.
    pub(crate) fn with_engine(engine: E) -> Self {
        Self {
            engine,
            devices: DeviceMemo::default(),
        }
    }

    pub(crate) fn engine(&self) -> &E {
        &self.engine
    }

    /// Reads the schema record; writes it into an empty store (`fresh`) or over an older one.
    pub(crate) fn init_schema(&self, fresh: bool) -> Result<()> {
        schema::init(&self.engine, fresh)
    }

    /// Returns once the writes made so far are as durable as `d` asks.
    fn done(&self, d: Durability) -> Result<()> {
        match d {
            Durability::Buffered => Ok(()),
            // The engine shares syncs between concurrent durable writers (group commit).
            Durability::Durable => self.engine.flush(),
        }
    }

    fn put(&self, tree: TreeId, key: &[u8], value: Vec<u8>, d: Durability) -> Result<()> {
        self.engine.insert(tree, key, value)?;
        self.done(d)
    }

    fn del(&self, tree: TreeId, key: &[u8], d: Durability) -> Result<()> {
        self.engine.remove(tree, key)?;
        self.done(d)
    }

    /// Runs one write and returns its result once it is as durable as `d` asks.
    fn then_done<T>(&self, r: Result<T>, d: Durability) -> Result<T> {
        let out = r?;
        self.done(d)?;
        Ok(out)
    }
}

impl<E: Engine> Store for Core<E> {
    fn save_device(&self, a: &AccountId, dev: &DeviceIdentity, d: Durability) -> Result<()> {
        let v = records::encode_device(dev);
        self.put(TreeId::Devices, &keys::account(a), v, d)
    }

    fn device(&self, a: &AccountId) -> Result<Option<DeviceIdentity>> {
        let k = keys::account(a);
        match self.engine.get(TreeId::Devices, &k)? {
            Some(v) => self
                .devices
                .get_or_decode(a, v, |v| decode_device(TreeId::Devices, &k, v))
                .map(Some),
            None => {
                self.devices.forget(a);
                Ok(None)
            }
        }
    }

    fn save_identity(
        &self,
        a: &AccountId,
        address: &str,
        identity: &PublicKey,
        d: Durability,
    ) -> Result<IdentityChange> {
        let k = keys::named(a, "address", address)?;
        let r = self
            .engine
            .transact(|tx| signal::tx_save_identity(tx, &k, identity));
        self.then_done(r, d)
    }

    fn identity(&self, a: &AccountId, address: &str) -> Result<Option<PublicKey>> {
        let k = keys::named(a, "address", address)?;
        load(
            &self.engine,
            TreeId::Identities,
            &k,
            records::identity_from_pb,
        )
    }

    fn load_session(&self, a: &AccountId, address: &str) -> Result<Option<Vec<u8>>> {
        let k = keys::named(a, "address", address)?;
        load_opaque(&self.engine, TreeId::Sessions, &k)
    }

    fn save_session(
        &self,
        a: &AccountId,
        address: &str,
        record: &[u8],
        d: Durability,
    ) -> Result<()> {
        let k = keys::named(a, "address", address)?;
        self.put(TreeId::Sessions, &k, opaque(record), d)
    }

    fn delete_session(&self, a: &AccountId, address: &str, d: Durability) -> Result<()> {
        self.del(TreeId::Sessions, &keys::named(a, "address", address)?, d)
    }

    fn session_addresses(&self, a: &AccountId) -> Result<Vec<String>> {
        signal::session_addresses(&self.engine, a)
    }

    fn add_prekeys(
        &self,
        a: &AccountId,
        count: u32,
        rng: &mut dyn CryptoRngCore,
        d: Durability,
    ) -> Result<Vec<(u32, PublicKey)>> {
        self.then_done(prekeys::add(&self.engine, a, count, rng), d)
    }

    fn load_prekey(&self, a: &AccountId, id: u32) -> Result<Option<OneTimePreKey>> {
        let k = keys::numbered(a, id);
        load(&self.engine, TreeId::PreKeys, &k, records::prekey_from_pb)
    }

    fn prekeys_to_upload(&self, a: &AccountId, limit: usize) -> Result<Vec<OneTimePreKey>> {
        prekeys::to_upload(&self.engine, a, limit)
    }

    fn mark_prekeys_uploaded(&self, a: &AccountId, ids: &[u32], d: Durability) -> Result<()> {
        self.then_done(prekeys::mark_uploaded(&self.engine, a, ids), d)
    }

    fn prekey_counts(&self, a: &AccountId) -> Result<PreKeyCounts> {
        prekeys::counts(&self.engine, a)
    }

    fn remove_prekey(&self, a: &AccountId, id: u32, d: Durability) -> Result<()> {
        self.del(TreeId::PreKeys, &keys::numbered(a, id), d)
    }

    fn save_signed_prekey(&self, a: &AccountId, key: &SignedPreKey, d: Durability) -> Result<()> {
        let v = records::encode(&records::signed_prekey_to_pb(key));
        self.put(TreeId::SignedPreKeys, &keys::numbered(a, key.id), v, d)
    }

    fn load_signed_prekey(&self, a: &AccountId, id: u32) -> Result<Option<SignedPreKey>> {
        let k = keys::numbered(a, id);
        load(
            &self.engine,
            TreeId::SignedPreKeys,
            &k,
            records::signed_prekey_from_pb,
        )
    }

    fn remove_signed_prekey(&self, a: &AccountId, id: u32, d: Durability) -> Result<()> {
        self.del(TreeId::SignedPreKeys, &keys::numbered(a, id), d)
    }

    fn load_sender_key(&self, a: &AccountId, group: &str, sender: &str) -> Result<Option<Vec<u8>>> {
        let k = keys::sender_key(a, group, sender)?;
        load_opaque(&self.engine, TreeId::SenderKeys, &k)
    }

    fn save_sender_key(
        &self,
        a: &AccountId,
        group: &str,
        sender: &str,
        record: &[u8],
        d: Durability,
    ) -> Result<()> {
        let k = keys::sender_key(a, group, sender)?;
        self.put(TreeId::SenderKeys, &k, opaque(record), d)
    }

    fn delete_sender_key(
        &self,
        a: &AccountId,
        group: &str,
        sender: &str,
        d: Durability,
    ) -> Result<()> {
        self.del(TreeId::SenderKeys, &keys::sender_key(a, group, sender)?, d)
    }

    fn commit_incoming(
        &self,
        a: &AccountId,
        incoming: &IncomingSession<'_>,
        d: Durability,
    ) -> Result<Option<IdentityChange>> {
        self.then_done(signal::commit_incoming(&self.engine, a, incoming), d)
    }

    fn commit_send(&self, a: &AccountId, step: &SendStep<'_>, d: Durability) -> Result<()> {
        self.then_done(outbox::commit_send(&self.engine, a, step), d)
    }

    fn create_account(&self, account: &Account, d: Durability) -> Result<()> {
        self.then_done(accounts::create(&self.engine, account), d)
    }

    fn update_account(&self, account: &Account, d: Durability) -> Result<()> {
        self.then_done(accounts::update(&self.engine, account), d)
    }

    fn account(&self, id: &AccountId) -> Result<Option<Account>> {
        let k = keys::account(id);
        load(&self.engine, TreeId::Accounts, &k, records::account_from_pb)
    }

    fn account_by_token(&self, token: &str) -> Result<Option<Account>> {
        accounts::by_token(&self.engine, token)
    }

    fn accounts(&self) -> Result<Vec<Account>> {
        accounts::all(&self.engine)
    }

    fn logout(&self, a: &AccountId, d: Durability) -> Result<()> {
        let r = accounts::wipe(&self.engine, a, &TreeId::DEVICE_STATE, &[]);
        self.then_done(r, d)
    }

    fn delete_account(&self, a: &AccountId, d: Durability) -> Result<()> {
        self.then_done(accounts::delete(&self.engine, a), d)
    }

    fn create_pool(&self, pool: &Pool, d: Durability) -> Result<()> {
        self.then_done(pools::save(&self.engine, pool, true), d)
    }

    fn update_pool(&self, pool: &Pool, d: Durability) -> Result<()> {
        self.then_done(pools::save(&self.engine, pool, false), d)
    }

    fn pool(&self, name: &str) -> Result<Option<Pool>> {
        pools::get(&self.engine, name)
    }

    fn pool_by_token(&self, token: &str) -> Result<Option<Pool>> {
        pools::by_token(&self.engine, token)
    }

    fn pools(&self) -> Result<Vec<Pool>> {
        pools::all(&self.engine)
    }

    fn delete_pool(&self, name: &str, d: Durability) -> Result<bool> {
        self.then_done(pools::delete(&self.engine, name), d)
    }

    fn set_default_account(&self, account: Option<&AccountId>, d: Durability) -> Result<()> {
        self.then_done(pools::set_default(&self.engine, account), d)
    }

    fn default_account(&self) -> Result<Option<AccountId>> {
        pools::default_account(&self.engine)
    }

    fn enqueue(&self, a: &AccountId, m: &NewOutbound<'_>, d: Durability) -> Result<Enqueued> {
        // Durable also when already present: the entry found may be a buffered write.
        self.then_done(outbox::enqueue(&self.engine, a, m), d)
    }

    fn outbox_entry(&self, a: &AccountId, message_id: &str) -> Result<Option<OutboxEntry>> {
        outbox::entry(&self.engine, a, message_id)
    }

    fn outbox_entries(&self, a: &AccountId) -> Result<Vec<OutboxEntry>> {
        outbox::entries(&self.engine, a)
    }

    fn outbox_due(&self, a: &AccountId, now_ms: u64, limit: usize) -> Result<Vec<OutboxEntry>> {
        outbox::due(&self.engine, a, now_ms, limit)
    }

    fn update_outbox(
        &self,
        a: &AccountId,
        message_id: &str,
        update: OutboxUpdate,
        now_ms: u64,
        d: Durability,
    ) -> Result<OutboxEntry> {
        let r = outbox::update(&self.engine, a, message_id, update, now_ms);
        self.then_done(r, d)
    }

    fn remove_outbox(&self, a: &AccountId, message_id: &str, d: Durability) -> Result<bool> {
        self.then_done(outbox::remove(&self.engine, a, message_id), d)
    }

    fn record_status(
        &self,
        a: &AccountId,
        message_id: &str,
        event: StatusEvent,
        now_ms: u64,
        d: Durability,
    ) -> Result<StatusOutcome> {
        let r = outbox::record_status(&self.engine, a, message_id, event, now_ms);
        self.then_done(r, d)
    }

    fn message_status(&self, a: &AccountId, message_id: &str) -> Result<Option<MessageStatus>> {
        Ok(outbox::entry(&self.engine, a, message_id)?.map(|e| e.message_status()))
    }

    fn status_timeline(&self, a: &AccountId, message_id: &str) -> Result<Option<StatusTimeline>> {
        if let Some(log) = status_log::logged(&self.engine, a, message_id)? {
            return Ok(Some(log));
        }
        let entry = outbox::entry(&self.engine, a, message_id)?;
        Ok(entry.as_ref().map(StatusTimeline::from_entry))
    }

    fn prune_status_log(&self, a: &AccountId, before_ms: u64, d: Durability) -> Result<usize> {
        self.then_done(status_log::prune(&self.engine, a, before_ms), d)
    }

    fn commit_received(
        &self,
        a: &AccountId,
        m: &ReceivedMessage<'_>,
        d: Durability,
    ) -> Result<ReceiveOutcome> {
        self.then_done(received::commit(&self.engine, a, m), d)
    }

    fn is_received(&self, a: &AccountId, key: &ReceivedKey<'_>) -> Result<bool> {
        received::is_received(&self.engine, a, key)
    }

    fn expire_received(&self, a: &AccountId, before_ms: u64, d: Durability) -> Result<u64> {
        self.then_done(received::expire(&self.engine, a, before_ms), d)
    }

    fn pending_reports(&self, a: &AccountId, limit: usize) -> Result<Vec<PendingReport>> {
        received::pending(&self.engine, a, limit)
    }

    fn mark_reported(&self, a: &AccountId, seq: u64, d: Durability) -> Result<bool> {
        self.then_done(received::mark_reported(&self.engine, a, seq), d)
    }

    fn save_device_list(&self, a: &AccountId, list: &DeviceList, d: Durability) -> Result<()> {
        self.then_done(directory::save_device_list(&self.engine, a, list), d)
    }

    fn device_list(&self, a: &AccountId, user: &Jid) -> Result<Option<DeviceList>> {
        directory::device_list(&self.engine, a, user)
    }

    fn invalidate_device_list(&self, a: &AccountId, user: &Jid, d: Durability) -> Result<bool> {
        self.then_done(directory::invalidate_device_list(&self.engine, a, user), d)
    }

    fn save_lid_mapping(&self, a: &AccountId, m: &LidMapping, d: Durability) -> Result<LidChange> {
        self.then_done(directory::save_lid_mapping(&self.engine, a, m), d)
    }

    fn lid_for_pn(&self, a: &AccountId, pn: &PhoneNumber) -> Result<Option<LidMapping>> {
        directory::lid_for_pn(&self.engine, a, pn)
    }

    fn pn_for_lid(&self, a: &AccountId, lid: &Jid) -> Result<Option<LidMapping>> {
        directory::pn_for_lid(&self.engine, a, lid)
    }

    fn lid_mappings(&self, a: &AccountId) -> Result<Vec<LidMapping>> {
        directory::lid_mappings(&self.engine, a)
    }

    fn save_push_name(&self, a: &AccountId, p: &PushName, d: Durability) -> Result<bool> {
        self.then_done(push_names::save(&self.engine, a, p), d)
    }

    fn push_name(&self, a: &AccountId, pn: &PhoneNumber) -> Result<Option<PushName>> {
        push_names::get(&self.engine, a, pn)
    }

    fn push_names(&self, a: &AccountId) -> Result<Vec<PushName>> {
        push_names::all(&self.engine, a)
    }

    fn save_privacy_token(
        &self,
        a: &AccountId,
        lid: &Jid,
        token: &PrivacyToken,
        d: Durability,
    ) -> Result<bool> {
        self.then_done(tokens::save(&self.engine, a, lid, token), d)
    }

    fn privacy_token(&self, a: &AccountId, lid: &Jid) -> Result<Option<PrivacyToken>> {
        tokens::get(&self.engine, a, lid)
    }

    fn delete_privacy_token(&self, a: &AccountId, lid: &Jid, d: Durability) -> Result<()> {
        self.then_done(tokens::delete(&self.engine, a, lid), d)
    }

    fn record_token_issued(
        &self,
        a: &AccountId,
        lid: &Jid,
        t_secs: u64,
        d: Durability,
    ) -> Result<()> {
        self.then_done(tokens::record_issued(&self.engine, a, lid, t_secs), d)
    }

    fn token_issued(&self, a: &AccountId, lid: &Jid) -> Result<Option<u64>> {
        tokens::issued(&self.engine, a, lid)
    }

    fn webhook_put(&self, delivery: &WebhookDelivery, d: Durability) -> Result<()> {
        self.then_done(webhooks::put(&self.engine, delivery), d)
    }

    fn webhook_remove(&self, seq: u64, d: Durability) -> Result<bool> {
        self.then_done(webhooks::remove(&self.engine, seq), d)
    }

    fn webhook_queued(&self, limit: usize) -> Result<Vec<WebhookDelivery>> {
        webhooks::queued(&self.engine, limit)
    }

    fn webhook_bury(&self, delivery: &WebhookDelivery, d: Durability) -> Result<bool> {
        self.then_done(webhooks::bury(&self.engine, delivery), d)
    }

    fn webhook_dead_letters(&self, limit: usize) -> Result<Vec<WebhookDelivery>> {
        webhooks::dead(&self.engine, limit)
    }

    fn webhook_replay(
        &self,
        seq: u64,
        new_seq: u64,
        now_ms: u64,
        d: Durability,
    ) -> Result<Option<WebhookDelivery>> {
        self.then_done(webhooks::replay(&self.engine, seq, new_seq, now_ms), d)
    }

    fn webhook_discard(&self, seq: u64, d: Durability) -> Result<bool> {
        self.then_done(webhooks::discard(&self.engine, seq), d)
    }

    fn webhook_max_seq(&self) -> Result<u64> {
        webhooks::max_seq(&self.engine)
    }

    fn flush(&self) -> Result<()> {
        self.done(Durability::Durable)
    }

    fn durable(&self) -> DurableWait {
        self.engine.durable()
    }

    fn durable_within(&self, patience: std::time::Duration) -> DurableWait {
        self.engine.durable_within(patience)
    }

    fn check(&self) -> Result<CheckReport> {
        backup::check(&self.engine)
    }

    fn export(&self, account: Option<&AccountId>, path: &Path) -> Result<BackupSummary> {
        backup::export(&self.engine, account, path)
    }

    fn import(&self, path: &Path, d: Durability) -> Result<BackupSummary> {
        self.then_done(backup::import(&self.engine, path), d)
    }
}

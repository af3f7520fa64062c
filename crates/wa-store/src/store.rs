//! The [`Store`] trait and its two backends.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand_core::CryptoRngCore;
use wa_protocol::signal::PublicKey;

use crate::core::Core;
use crate::engine::{Engine, MemEngine, SledEngine};
use crate::error::{Error, Result};
use crate::logged::DurableWait;
use crate::maintenance::{BackupSummary, CheckReport};
use crate::types::{
    Account, AccountId, DeviceIdentity, Durability, Enqueued, IdentityChange, IncomingSession,
    NewOutbound, OneTimePreKey, OutboxEntry, OutboxUpdate, PreKeyCounts, SendStep, SignedPreKey,
};

/// Everything the gateway persists, per account: device identity, Signal state, the gateway
/// account itself and its outbox; plus whole-store maintenance.
///
/// The API is synchronous and object safe (`Arc<dyn Store>` works). Buffered calls cost
/// microseconds and may be made directly from async tasks; a [`Durability::Durable`] call blocks
/// until a (shared) fsync, so async callers either write `Buffered` and `.await`
/// [`durable`](Store::durable), or run the call on a blocking thread. Every write takes a
/// [`Durability`].
///
/// Records are keyed by [`AccountId`]; Signal records by account plus the Signal address (or
/// group and sender). Session and sender-key records are opaque bytes kept byte for byte.
/// The only multi-record atomic operations are the ones correctness needs:
/// [`commit_incoming`](Store::commit_incoming) (consume a one-time prekey + save the session +
/// record the identity) and [`commit_send`](Store::commit_send) (save the advanced sessions +
/// mark the outbox entry sent).
pub trait Store: Send + Sync {
    // ----- device identity -----

    /// Saves (replaces) the account's device identity.
    fn save_device(
        &self,
        account: &AccountId,
        device: &DeviceIdentity,
        d: Durability,
    ) -> Result<()>;
    /// The account's device identity, if it has one.
    fn device(&self, account: &AccountId) -> Result<Option<DeviceIdentity>>;

    // ----- Signal: identities -----

    /// Records a peer identity key (trust on first use); reports whether it is new, unchanged or
    /// replaced a different key.
    fn save_identity(
        &self,
        account: &AccountId,
        address: &str,
        identity: &PublicKey,
        d: Durability,
    ) -> Result<IdentityChange>;
    /// The stored identity key of a peer address.
    fn identity(&self, account: &AccountId, address: &str) -> Result<Option<PublicKey>>;

    // ----- Signal: sessions -----

    /// The session record of a remote address (opaque bytes), if any.
    fn load_session(&self, account: &AccountId, address: &str) -> Result<Option<Vec<u8>>>;
    /// Saves a session record.
    fn save_session(
        &self,
        account: &AccountId,
        address: &str,
        record: &[u8],
        d: Durability,
    ) -> Result<()>;
    /// Deletes a session record (no error if absent).
    fn delete_session(&self, account: &AccountId, address: &str, d: Durability) -> Result<()>;
    /// Addresses that have a session, in key order.
    fn session_addresses(&self, account: &AccountId) -> Result<Vec<String>>;

    // ----- Signal: one-time prekeys -----

    /// Generates `count` (1..=10000) one-time prekeys with fresh ids and stores them as not yet
    /// uploaded; returns their ids and public keys. Ids are 24-bit and wrap after 0xFF_FFFF.
    fn add_prekeys(
        &self,
        account: &AccountId,
        count: u32,
        rng: &mut dyn CryptoRngCore,
        d: Durability,
    ) -> Result<Vec<(u32, PublicKey)>>;
    /// One one-time prekey, if not consumed.
    fn load_prekey(&self, account: &AccountId, id: u32) -> Result<Option<OneTimePreKey>>;
    /// Up to `limit` prekeys not yet uploaded, in id order.
    fn prekeys_to_upload(&self, account: &AccountId, limit: usize) -> Result<Vec<OneTimePreKey>>;
    /// Marks prekeys uploaded (ids consumed meanwhile are skipped).
    fn mark_prekeys_uploaded(&self, account: &AccountId, ids: &[u32], d: Durability) -> Result<()>;
    /// How many prekeys are left, and how many of them are uploaded.
    fn prekey_counts(&self, account: &AccountId) -> Result<PreKeyCounts>;
    /// Removes one prekey (no error if absent).
    fn remove_prekey(&self, account: &AccountId, id: u32, d: Durability) -> Result<()>;

    // ----- Signal: signed prekeys -----

    /// Saves a signed prekey under its id (current and rotated ones).
    fn save_signed_prekey(
        &self,
        account: &AccountId,
        key: &SignedPreKey,
        d: Durability,
    ) -> Result<()>;
    /// A signed prekey by id.
    fn load_signed_prekey(&self, account: &AccountId, id: u32) -> Result<Option<SignedPreKey>>;
    /// Removes a signed prekey (no error if absent).
    fn remove_signed_prekey(&self, account: &AccountId, id: u32, d: Durability) -> Result<()>;

    // ----- Signal: sender keys -----

    /// The sender-key record of (group, sender), if any.
    fn load_sender_key(
        &self,
        account: &AccountId,
        group: &str,
        sender: &str,
    ) -> Result<Option<Vec<u8>>>;
    /// Saves a sender-key record.
    fn save_sender_key(
        &self,
        account: &AccountId,
        group: &str,
        sender: &str,
        record: &[u8],
        d: Durability,
    ) -> Result<()>;
    /// Deletes a sender-key record (no error if absent).
    fn delete_sender_key(
        &self,
        account: &AccountId,
        group: &str,
        sender: &str,
        d: Durability,
    ) -> Result<()>;

    // ----- atomic commits -----

    /// Atomically: removes the one-time prekey the message used (failing with
    /// [`Error::PreKeyNotFound`] if it is gone, so of two concurrent consumers exactly one
    /// wins), saves the new session and records the sender identity (returning its change).
    fn commit_incoming(
        &self,
        account: &AccountId,
        incoming: &IncomingSession<'_>,
        d: Durability,
    ) -> Result<Option<IdentityChange>>;
    /// The durable send step. Atomically: the outbox entry goes `Queued → Sent` (attempts + 1),
    /// and the advanced session and sender-key records are saved. Fails with
    /// [`Error::InvalidTransition`] if the entry is not queued, so the same message key is
    /// never committed twice.
    fn commit_send(&self, account: &AccountId, step: &SendStep<'_>, d: Durability) -> Result<()>;

    // ----- gateway accounts -----

    /// Creates an account; fails if the id exists or another account has the token.
    fn create_account(&self, account: &Account, d: Durability) -> Result<()>;
    /// Replaces an existing account (a token change moves the token index atomically).
    fn update_account(&self, account: &Account, d: Durability) -> Result<()>;
    /// An account by id.
    fn account(&self, id: &AccountId) -> Result<Option<Account>>;
    /// An account by API token.
    fn account_by_token(&self, token: &str) -> Result<Option<Account>>;
    /// All accounts, in id order.
    fn accounts(&self) -> Result<Vec<Account>>;
    /// Logout: wipes the account's device identity and all its Signal state (identities,
    /// sessions, prekeys, signed prekeys, sender keys). The account record and outbox stay;
    /// other accounts are untouched. Stop the account's client first.
    fn logout(&self, account: &AccountId, d: Durability) -> Result<()>;
    /// Deletes the account: its record, token, outbox, device identity and Signal state.
    fn delete_account(&self, account: &AccountId, d: Durability) -> Result<()>;

    // ----- outbox -----

    /// Accepts an outgoing message (idempotent by message id: the same message again returns
    /// [`Enqueued::AlreadyPresent`]; a different one under the same id is refused).
    fn enqueue(
        &self,
        account: &AccountId,
        message: &NewOutbound<'_>,
        d: Durability,
    ) -> Result<Enqueued>;
    /// One outbox entry.
    fn outbox_entry(&self, account: &AccountId, message_id: &str) -> Result<Option<OutboxEntry>>;
    /// All outbox entries of the account, in message-id order.
    fn outbox_entries(&self, account: &AccountId) -> Result<Vec<OutboxEntry>>;
    /// Up to `limit` queued entries whose next attempt is due at `now_ms`, earliest first.
    fn outbox_due(
        &self,
        account: &AccountId,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>>;
    /// Acknowledged, failed, or to be retried later; returns the updated entry.
    fn update_outbox(
        &self,
        account: &AccountId,
        message_id: &str,
        update: OutboxUpdate,
        now_ms: u64,
        d: Durability,
    ) -> Result<OutboxEntry>;
    /// Removes an entry (e.g. an acknowledged one); whether it existed.
    fn remove_outbox(&self, account: &AccountId, message_id: &str, d: Durability) -> Result<bool>;

    // ----- maintenance -----

    /// Makes every write that has returned durable.
    fn flush(&self) -> Result<()>;
    /// A [`DurableWait`] on every write that has returned: the async form of [`flush`]
    /// (`.await` it; no thread is held while the shared sync runs). The send path commits with
    /// [`Durability::Buffered`] and awaits this before the message's bytes leave, so many
    /// senders share one `fdatasync` and a message key never reaches the wire un-persisted.
    ///
    /// [`flush`]: Store::flush
    fn durable(&self) -> DurableWait;
    /// Decodes every record of every tree and checks the indexes (`wagate store check`).
    fn check(&self) -> Result<CheckReport>;
    /// Writes one account (or, with `None`, every account) to a backup file (mode 0600,
    /// written to a temporary file and renamed). Not a point-in-time snapshot across trees:
    /// export an account while its client is stopped.
    fn export(&self, account: Option<&AccountId>, path: &Path) -> Result<BackupSummary>;
    /// Restores a backup: verifies the whole file (checksum, every record decodes) before
    /// writing anything, refuses accounts or tokens that already exist, then writes it in one
    /// transaction.
    fn import(&self, path: &Path, d: Durability) -> Result<BackupSummary>;
}

macro_rules! delegate_store {
    ($ty:ty) => {
        impl Store for $ty {
            fn save_device(
                &self,
                a: &AccountId,
                dev: &DeviceIdentity,
                d: Durability,
            ) -> Result<()> {
                self.core.save_device(a, dev, d)
            }
            fn device(&self, a: &AccountId) -> Result<Option<DeviceIdentity>> {
                self.core.device(a)
            }
            fn save_identity(
                &self,
                a: &AccountId,
                address: &str,
                identity: &PublicKey,
                d: Durability,
            ) -> Result<IdentityChange> {
                self.core.save_identity(a, address, identity, d)
            }
            fn identity(&self, a: &AccountId, address: &str) -> Result<Option<PublicKey>> {
                self.core.identity(a, address)
            }
            fn load_session(&self, a: &AccountId, address: &str) -> Result<Option<Vec<u8>>> {
                self.core.load_session(a, address)
            }
            fn save_session(
                &self,
                a: &AccountId,
                address: &str,
                record: &[u8],
                d: Durability,
            ) -> Result<()> {
                self.core.save_session(a, address, record, d)
            }
            fn delete_session(&self, a: &AccountId, address: &str, d: Durability) -> Result<()> {
                self.core.delete_session(a, address, d)
            }
            fn session_addresses(&self, a: &AccountId) -> Result<Vec<String>> {
                self.core.session_addresses(a)
            }
            fn add_prekeys(
                &self,
                a: &AccountId,
                count: u32,
                rng: &mut dyn CryptoRngCore,
                d: Durability,
            ) -> Result<Vec<(u32, PublicKey)>> {
                self.core.add_prekeys(a, count, rng, d)
            }
            fn load_prekey(&self, a: &AccountId, id: u32) -> Result<Option<OneTimePreKey>> {
                self.core.load_prekey(a, id)
            }
            fn prekeys_to_upload(&self, a: &AccountId, limit: usize) -> Result<Vec<OneTimePreKey>> {
                self.core.prekeys_to_upload(a, limit)
            }
            fn mark_prekeys_uploaded(
                &self,
                a: &AccountId,
                ids: &[u32],
                d: Durability,
            ) -> Result<()> {
                self.core.mark_prekeys_uploaded(a, ids, d)
            }
            fn prekey_counts(&self, a: &AccountId) -> Result<PreKeyCounts> {
                self.core.prekey_counts(a)
            }
            fn remove_prekey(&self, a: &AccountId, id: u32, d: Durability) -> Result<()> {
                self.core.remove_prekey(a, id, d)
            }
            fn save_signed_prekey(
                &self,
                a: &AccountId,
                key: &SignedPreKey,
                d: Durability,
            ) -> Result<()> {
                self.core.save_signed_prekey(a, key, d)
            }
            fn load_signed_prekey(&self, a: &AccountId, id: u32) -> Result<Option<SignedPreKey>> {
                self.core.load_signed_prekey(a, id)
            }
            fn remove_signed_prekey(&self, a: &AccountId, id: u32, d: Durability) -> Result<()> {
                self.core.remove_signed_prekey(a, id, d)
            }
            fn load_sender_key(
                &self,
                a: &AccountId,
                group: &str,
                sender: &str,
            ) -> Result<Option<Vec<u8>>> {
                self.core.load_sender_key(a, group, sender)
            }
            fn save_sender_key(
                &self,
                a: &AccountId,
                group: &str,
                sender: &str,
                record: &[u8],
                d: Durability,
            ) -> Result<()> {
                self.core.save_sender_key(a, group, sender, record, d)
            }
            fn delete_sender_key(
                &self,
                a: &AccountId,
                group: &str,
                sender: &str,
                d: Durability,
            ) -> Result<()> {
                self.core.delete_sender_key(a, group, sender, d)
            }
            fn commit_incoming(
                &self,
                a: &AccountId,
                incoming: &IncomingSession<'_>,
                d: Durability,
            ) -> Result<Option<IdentityChange>> {
                self.core.commit_incoming(a, incoming, d)
            }
            fn commit_send(&self, a: &AccountId, step: &SendStep<'_>, d: Durability) -> Result<()> {
                self.core.commit_send(a, step, d)
            }
            fn create_account(&self, account: &Account, d: Durability) -> Result<()> {
                self.core.create_account(account, d)
            }
            fn update_account(&self, account: &Account, d: Durability) -> Result<()> {
                self.core.update_account(account, d)
            }
            fn account(&self, id: &AccountId) -> Result<Option<Account>> {
                self.core.account(id)
            }
            fn account_by_token(&self, token: &str) -> Result<Option<Account>> {
                self.core.account_by_token(token)
            }
            fn accounts(&self) -> Result<Vec<Account>> {
                self.core.accounts()
            }
            fn logout(&self, a: &AccountId, d: Durability) -> Result<()> {
                self.core.logout(a, d)
            }
            fn delete_account(&self, a: &AccountId, d: Durability) -> Result<()> {
                self.core.delete_account(a, d)
            }
            fn enqueue(
                &self,
                a: &AccountId,
                m: &NewOutbound<'_>,
                d: Durability,
            ) -> Result<Enqueued> {
                self.core.enqueue(a, m, d)
            }
            fn outbox_entry(&self, a: &AccountId, id: &str) -> Result<Option<OutboxEntry>> {
                self.core.outbox_entry(a, id)
            }
            fn outbox_entries(&self, a: &AccountId) -> Result<Vec<OutboxEntry>> {
                self.core.outbox_entries(a)
            }
            fn outbox_due(
                &self,
                a: &AccountId,
                now_ms: u64,
                limit: usize,
            ) -> Result<Vec<OutboxEntry>> {
                self.core.outbox_due(a, now_ms, limit)
            }
            fn update_outbox(
                &self,
                a: &AccountId,
                id: &str,
                update: OutboxUpdate,
                now_ms: u64,
                d: Durability,
            ) -> Result<OutboxEntry> {
                self.core.update_outbox(a, id, update, now_ms, d)
            }
            fn remove_outbox(&self, a: &AccountId, id: &str, d: Durability) -> Result<bool> {
                self.core.remove_outbox(a, id, d)
            }
            fn flush(&self) -> Result<()> {
                self.core.flush()
            }
            fn durable(&self) -> DurableWait {
                self.core.engine.durable()
            }
            fn check(&self) -> Result<CheckReport> {
                self.core.check()
            }
            fn export(&self, account: Option<&AccountId>, path: &Path) -> Result<BackupSummary> {
                self.core.export(account, path)
            }
            fn import(&self, path: &Path, d: Durability) -> Result<BackupSummary> {
                self.core.import(path, d)
            }
        }
    };
}

/// Where and how [`SledStore`] keeps its data.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Data directory (default `wa_sessions`, relative to the working directory). Created with
    /// mode 0700; files inside are set to 0600.
    pub path: PathBuf,
    /// sled page-cache budget in bytes (default 32 MiB). One-time prekeys and idle accounts'
    /// records live on disk and only pass through this cache.
    pub cache_capacity: u64,
    /// Background flush interval for [`Durability::Buffered`] writes, and the interval of the
    /// checkpoint that moves the write-ahead log into sled (default 500 ms; `None`: only durable
    /// writes and [`Store::flush`] flush, and checkpoints run only when the log grows large).
    pub flush_every_ms: Option<u64>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from(crate::DEFAULT_DATA_DIR),
            cache_capacity: 32 * 1024 * 1024,
            flush_every_ms: Some(500),
        }
    }
}

impl StoreConfig {
    /// The default configuration with another data directory.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }
}

/// The durable store: one sled database, one tree per record kind.
pub struct SledStore {
    core: Core<SledEngine>,
}

delegate_store!(SledStore);

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.core.engine.path())
            .finish_non_exhaustive()
    }
}

/// Names sled gives its files and folders in a data directory, plus our log segments.
const SLED_FILES: [&str; 5] = ["conf", "db", "blobs", "snap.", crate::wal::PREFIX];

impl SledStore {
    /// Opens (or creates) the store described by `config`.
    ///
    /// Refuses with a typed error, never a panic: a path that is not a directory or holds
    /// something else ([`Error::Foreign`]), a store of a newer schema ([`Error::NewerSchema`]),
    /// a store another process has open ([`Error::Locked`]), or engine-level corruption.
    pub fn open(config: &StoreConfig) -> Result<Self> {
        let path = config.path.as_path();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        match fs::metadata(path) {
            Ok(m) if !m.is_dir() => {
                return Err(Error::Foreign {
                    path: path.to_path_buf(),
                    reason: "not a directory",
                })
            }
            Ok(_) => {
                let mut has_db = false;
                let mut other = false;
                for entry in fs::read_dir(path).map_err(io)? {
                    let name = entry.map_err(io)?.file_name();
                    let name = name.to_string_lossy();
                    if name == "db" {
                        has_db = true;
                    } else if !SLED_FILES.iter().any(|f| name.starts_with(f)) {
                        other = true;
                    }
                }
                if other && !has_db {
                    return Err(Error::Foreign {
                        path: path.to_path_buf(),
                        reason: "directory is not empty and holds no store",
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(path)
                    .map_err(io)?;
            }
            Err(e) => return Err(io(e)),
        }
        fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(io)?;
        // sled recovers an unreadable data file as an empty database; a store must not then
        // start afresh on top of it.
        let had_db = fs::metadata(path.join("db")).is_ok_and(|m| m.len() > 0);
        let sled_config = sled::Config::new()
            .path(path)
            .cache_capacity(config.cache_capacity)
            // sled is flushed by our checkpointer only: the write-ahead log is the durability
            // point, and sled must not flush half-applied state on its own schedule anyway.
            .flush_every_ms(None);
        let interval = config
            .flush_every_ms
            .map(|ms| std::time::Duration::from_millis(ms.max(1)));
        let engine = SledEngine::open(&sled_config, path, interval)?;
        let fresh = engine.data_trees_empty();
        let core = Core::new(engine);
        match core.init_schema(fresh && !had_db) {
            Err(Error::Foreign { path, .. }) if fresh && had_db => {
                return Err(Error::Foreign {
                    path,
                    reason: "its database file holds no readable store (damaged, or not ours); \
                             move it away to start afresh",
                })
            }
            r => r?,
        }
        restrict_permissions(path)?;
        Ok(Self { core })
    }

    /// Re-applies 0700/0600 to the data directory and everything in it (sled creates snapshot
    /// files later with the process umask; the 0700 directory already keeps others out).
    pub fn restrict_permissions(&self) -> Result<()> {
        restrict_permissions(self.core.engine.path())
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        self.core.engine.path()
    }
}

/// Sets 0700 on directories and 0600 on files under `dir` (inclusive), recursively.
pub fn restrict_permissions(dir: &Path) -> Result<()> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Io { path: p, source }
    };
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let p = entry.path();
        let ft = entry.file_type().map_err(io(&p))?;
        if ft.is_dir() {
            restrict_permissions(&p)?;
        } else if ft.is_file() {
            fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).map_err(io(&p))?;
        }
    }
    Ok(())
}

/// The in-memory store: the same record logic over ordered maps. For tests, benchmarks and the
/// simulator; nothing survives the process.
pub struct MemStore {
    core: Core<MemEngine>,
}

delegate_store!(MemStore);

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        let core = Core::new(MemEngine::new());
        // Writing the schema record into an empty map cannot fail.
        let _ = core.init_schema(true);
        Self { core }
    }
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemStore").finish_non_exhaustive()
    }
}

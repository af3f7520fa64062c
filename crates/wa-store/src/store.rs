//! The [`Store`] trait: everything the gateway persists. Implemented once, by `Core` (in
//! `core/`), for both backends.

use std::path::Path;

use rand_core::CryptoRngCore;
use wa_protocol::binary::Jid;
use wa_protocol::ids::PhoneNumber;
use wa_protocol::signal::PublicKey;

use crate::durable::DurableWait;
use crate::error::Result;
use crate::sender_devices::{self, SENDER_KEY_DEVICES};
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
/// record the identity), [`commit_received`](Store::commit_received) (the same plus the
/// message's dedup entry and sender keys) and [`commit_send`](Store::commit_send) (save the
/// advanced sessions + mark the outbox entry sent).
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
    /// The devices that hold our current sender key for `group` (the SKDM fan-out memory,
    /// `messaging.md` §9 step 4), sorted; empty when none is recorded. Kept with the group's
    /// sender keys (wiped with them).
    fn sender_key_devices(&self, account: &AccountId, group: &str) -> Result<Vec<Jid>> {
        match self.load_sender_key(account, group, SENDER_KEY_DEVICES)? {
            Some(record) => sender_devices::decode(group, &record),
            None => Ok(Vec::new()),
        }
    }
    /// Replaces the set of devices that hold our current sender key for `group` (after a
    /// rotation: only the devices the new key went to).
    fn save_sender_key_devices(
        &self,
        account: &AccountId,
        group: &str,
        devices: &[Jid],
        d: Durability,
    ) -> Result<()> {
        let record = sender_devices::encode(devices);
        self.save_sender_key(account, group, SENDER_KEY_DEVICES, &record, d)
    }

    // ----- atomic commits -----

    /// Atomically: removes the one-time prekey the message used (failing with
    /// [`Error::PreKeyNotFound`] if it is gone, so of two concurrent consumers exactly one
    /// wins), saves the new session and records the sender identity (returning its change).
    ///
    /// [`Error::PreKeyNotFound`]: crate::Error::PreKeyNotFound
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
    ///
    /// [`Error::InvalidTransition`]: crate::Error::InvalidTransition
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
    /// Logout: wipes the account's device identity, all its Signal state (identities,
    /// sessions, prekeys, signed prekeys, sender keys) and what the linked WhatsApp account
    /// learnt (device lists, PN ↔ LID map, privacy tokens, received-message dedup): the next
    /// link may be another WhatsApp account. The account record and outbox stay;
    /// other accounts are untouched. Stop the account's client first.
    fn logout(&self, account: &AccountId, d: Durability) -> Result<()>;
    /// Deletes the account: its record, token, outbox, device identity and Signal state.
    fn delete_account(&self, account: &AccountId, d: Durability) -> Result<()>;

    // ----- session pools and the default session (issue 12) -----

    /// Creates a pool: fails with [`Error::PoolExists`](crate::Error::PoolExists), with
    /// [`Error::TokenTaken`](crate::Error::TokenTaken) when another pool or an account holds its
    /// token, or [`Error::AccountNotFound`](crate::Error::AccountNotFound) for a member that is
    /// no account.
    fn create_pool(&self, pool: &Pool, d: Durability) -> Result<()>;
    /// Replaces an existing pool (same checks; [`Error::PoolNotFound`](crate::Error::PoolNotFound)
    /// when there is none).
    fn update_pool(&self, pool: &Pool, d: Durability) -> Result<()>;
    /// A pool by name.
    fn pool(&self, name: &str) -> Result<Option<Pool>>;
    /// The pool holding `token` (pools are few: this scans them).
    fn pool_by_token(&self, token: &str) -> Result<Option<Pool>>;
    /// All pools, in name order.
    fn pools(&self) -> Result<Vec<Pool>>;
    /// Deletes a pool; whether it existed. Its member accounts stay.
    fn delete_pool(&self, name: &str, d: Durability) -> Result<bool>;
    /// Makes `account` the default session (it must exist), or clears the default (`None`).
    /// Deleting the account clears it too.
    fn set_default_account(&self, account: Option<&AccountId>, d: Durability) -> Result<()>;
    /// The default session's account, if one is set.
    fn default_account(&self) -> Result<Option<AccountId>>;

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

    // ----- outbound status -----

    /// Feeds a server ack or a receipt to an outbound message's durable status, which only
    /// moves forward (`Queued → Sent → Delivered → Read`, or `Failed`; see [`MessageStatus`]):
    /// a late or repeated event (a delivery receipt after the read receipt, a second ack)
    /// returns [`StatusOutcome::Unchanged`] and writes nothing. Refused with
    /// [`Error::InvalidTransition`]: an event for a message never sent (queued, no attempt),
    /// anything but a repeated error after `Failed`, and a server error after the server
    /// accepted the message (`Rejected` after `Sent`/`Delivered`/`Read`), which contradicts its
    /// ack. An ack or receipt for an entry queued for a retry settles it (its earlier attempt
    /// arrived), removing it from the due index.
    ///
    /// [`Error::InvalidTransition`]: crate::Error::InvalidTransition
    fn record_status(
        &self,
        account: &AccountId,
        message_id: &str,
        event: StatusEvent,
        now_ms: u64,
        d: Durability,
    ) -> Result<StatusOutcome>;
    /// The status of an outbound message still in the outbox.
    fn message_status(
        &self,
        account: &AccountId,
        message_id: &str,
    ) -> Result<Option<MessageStatus>>;

    // ----- status timelines (issue 12 item 3) -----

    /// The durable status of an outbound message and its history: when it was accepted, and
    /// each change ([`record_status`](Store::record_status), and a give-up through
    /// [`update_outbox`](Store::update_outbox)) with its time, the server's `t` and error
    /// code, logged in the same write set as the change. Kept after the outbox entry is done,
    /// until [`prune_status_log`](Store::prune_status_log) removes it; for a message with no
    /// logged change, what its outbox entry implies. `None`: never accepted, or pruned.
    fn status_timeline(
        &self,
        account: &AccountId,
        message_id: &str,
    ) -> Result<Option<StatusTimeline>>;
    /// Removes the account's timelines last changed before `before_ms` (the retention:
    /// [`crate::STATUS_LOG_RETENTION_MS`] by default); how many.
    fn prune_status_log(&self, account: &AccountId, before_ms: u64, d: Durability)
        -> Result<usize>;

    // ----- incoming messages -----

    /// Commits a decrypted incoming message in one write set: its dedup entry (chat, sender,
    /// id), the sessions and sender keys it advanced, the one-time prekey it consumed (failing
    /// with [`Error::PreKeyNotFound`] if gone), the sender identity and its pending report.
    /// Reported exactly once: commit, ack, hand the report to the application, then
    /// [`mark_reported`](Store::mark_reported); after a crash, [`pending_reports`](
    /// Store::pending_reports) lists what was committed but not handed over. If the key was
    /// committed before, nothing is written and [`ReceiveOutcome::Duplicate`] is returned, so a
    /// message the server delivers again (after a crash before our ack) is reported once.
    /// At most [`MAX_RECEIVED_PER_ACCOUNT`] dedup entries are kept: the oldest is dropped in
    /// the same write set.
    ///
    /// [`Error::PreKeyNotFound`]: crate::Error::PreKeyNotFound
    /// [`MAX_RECEIVED_PER_ACCOUNT`]: crate::MAX_RECEIVED_PER_ACCOUNT
    fn commit_received(
        &self,
        account: &AccountId,
        message: &ReceivedMessage<'_>,
        d: Durability,
    ) -> Result<ReceiveOutcome>;
    /// Whether a message was committed (check before decrypting a redelivery).
    fn is_received(&self, account: &AccountId, key: &ReceivedKey<'_>) -> Result<bool>;
    /// Drops the dedup entries received before `before_ms` (oldest first); how many. Pending
    /// reports are kept until marked reported.
    fn expire_received(&self, account: &AccountId, before_ms: u64, d: Durability) -> Result<u64>;
    /// Up to `limit` received messages committed with a report and not yet marked reported,
    /// in receive order (after a restart: what the application has not been handed yet).
    fn pending_reports(&self, account: &AccountId, limit: usize) -> Result<Vec<PendingReport>>;
    /// The application has a pending report: drop it; whether it was pending.
    fn mark_reported(&self, account: &AccountId, seq: u64, d: Durability) -> Result<bool>;

    // ----- directory (messaging.md §0, §4, §16) -----

    /// Caches (replaces) a user's device list; the user's device part is ignored.
    fn save_device_list(&self, account: &AccountId, list: &DeviceList, d: Durability)
        -> Result<()>;
    /// A user's cached device list (PN or LID user; device part ignored).
    fn device_list(&self, account: &AccountId, user: &Jid) -> Result<Option<DeviceList>>;
    /// Drops a user's cached device list (device notification, phash mismatch); whether there
    /// was one.
    fn invalidate_device_list(
        &self,
        account: &AccountId,
        user: &Jid,
        d: Durability,
    ) -> Result<bool>;
    /// Records `pn ↔ lid` (the LID must be a `…@lid` user; device part ignored). A later
    /// mapping replaces an earlier one for the same PN (or LID): the map stays one-to-one.
    /// An identical pair writes nothing.
    fn save_lid_mapping(
        &self,
        account: &AccountId,
        mapping: &LidMapping,
        d: Durability,
    ) -> Result<LidChange>;
    /// The LID of a phone number.
    fn lid_for_pn(&self, account: &AccountId, pn: &PhoneNumber) -> Result<Option<LidMapping>>;
    /// The phone number of a LID (device part ignored).
    fn pn_for_lid(&self, account: &AccountId, lid: &Jid) -> Result<Option<LidMapping>>;
    /// Every PN ↔ LID pair of the account, in phone-number order.
    fn lid_mappings(&self, account: &AccountId) -> Result<Vec<LidMapping>>;

    // ----- push names (messaging.md §10 `notify`; tree `push_names`) -----

    /// Records a contact's push name (1 to [`MAX_PUSH_NAME`](crate::MAX_PUSH_NAME) bytes); the
    /// same name stored already writes nothing. Whether it wrote.
    fn save_push_name(&self, account: &AccountId, name: &PushName, d: Durability) -> Result<bool>;
    /// A contact's push name.
    fn push_name(&self, account: &AccountId, pn: &PhoneNumber) -> Result<Option<PushName>>;
    /// Every push name the account has learnt, in phone-number order.
    fn push_names(&self, account: &AccountId) -> Result<Vec<PushName>>;

    // ----- privacy tokens (messaging.md §16) -----

    /// Stores a contact's token (keyed by its LID) unless the stored one has a later `t`;
    /// whether it was stored.
    fn save_privacy_token(
        &self,
        account: &AccountId,
        lid: &Jid,
        token: &PrivacyToken,
        d: Durability,
    ) -> Result<bool>;
    /// A contact's token (check [`PrivacyToken::is_valid_at`] before sending it).
    fn privacy_token(&self, account: &AccountId, lid: &Jid) -> Result<Option<PrivacyToken>>;
    /// Forgets a contact's token (no error if absent).
    fn delete_privacy_token(&self, account: &AccountId, lid: &Jid, d: Durability) -> Result<()>;
    /// Records that we issued our own token to `lid` at `t_secs` (an earlier time than the
    /// stored one is ignored); see [`token_issue_due`](crate::token_issue_due).
    fn record_token_issued(
        &self,
        account: &AccountId,
        lid: &Jid,
        t_secs: u64,
        d: Durability,
    ) -> Result<()>;
    /// When we last issued our token to `lid` (unix seconds).
    fn token_issued(&self, account: &AccountId, lid: &Jid) -> Result<Option<u64>>;

    // ----- webhook queue (issue 12 item 1) -----

    /// Queues a webhook delivery, or replaces it (after a failed attempt: its attempts, next
    /// attempt and last error). The caller picks `seq` above [`webhook_max_seq`]; a receiver's
    /// deliveries go out in seq order. `Buffered` is the send path's choice: the write rides on
    /// the next shared sync.
    ///
    /// [`webhook_max_seq`]: Store::webhook_max_seq
    fn webhook_put(&self, delivery: &WebhookDelivery, d: Durability) -> Result<()>;
    /// Removes a queued delivery (its receiver answered 2xx); whether it was queued.
    fn webhook_remove(&self, seq: u64, d: Durability) -> Result<bool>;
    /// Up to `limit` queued deliveries, in seq order (drained at boot).
    fn webhook_queued(&self, limit: usize) -> Result<Vec<WebhookDelivery>>;
    /// Gives a queued delivery up after its last attempt: atomically out of the queue and into
    /// the dead-letter list, as `delivery` says (attempts, last error). Whether it was queued.
    fn webhook_bury(&self, delivery: &WebhookDelivery, d: Durability) -> Result<bool>;
    /// Up to `limit` dead letters, in seq order.
    fn webhook_dead_letters(&self, limit: usize) -> Result<Vec<WebhookDelivery>>;
    /// Moves dead letter `seq` back into the queue under `new_seq` (attempts reset, due at
    /// `now_ms`) atomically; the delivery as queued, `None` when there is no such dead letter.
    fn webhook_replay(
        &self,
        seq: u64,
        new_seq: u64,
        now_ms: u64,
        d: Durability,
    ) -> Result<Option<WebhookDelivery>>;
    /// Drops a dead letter; whether there was one.
    fn webhook_discard(&self, seq: u64, d: Durability) -> Result<bool>;
    /// The highest seq queued or dead (0 when both are empty).
    fn webhook_max_seq(&self) -> Result<u64>;

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

    // ----- durability pacing -----

    /// A patient [`durable`](Store::durable) wait, for writes whose follow-up can wait a
    /// little (a delivery receipt's status before the receipt is acknowledged): it resolves
    /// with the next sync anyone asks for, and asks for its own only after `patience`. Nothing
    /// depending on the writes may happen before it resolves, as with `durable`; it saves an
    /// `fdatasync` whenever another writer's sync comes first. Default: an ordinary wait.
    fn durable_within(&self, patience: std::time::Duration) -> DurableWait {
        let _ = patience;
        self.durable()
    }
}

//! # wa-store
//!
//! The durable session store of wagate: device keys, Signal state, gateway accounts, the
//! outbox with each message's status, what messaging learns (device lists, the PN ↔ LID map,
//! privacy tokens) and received-message dedup, kept in an embedded sled database under
//! `wa_sessions/`.
//!
//! ```text
//! wa-client ──load/save──▶ dyn Store ──▶ SledStore ─┐
//!                                   └──▶ MemStore  ─┤ Core: record logic, written once
//!                                                   ▼
//!                       Engine: get/insert/remove, prefix scan, multi-tree transaction, flush
//!       write-ahead log + overlay + checkpoint → sled (one tree   |  RwLock<BTreeMap> per tree
//!                                                per record kind)
//! ```
//!
//! ## Design
//! * **One trait, two backends.** [`Store`] is object safe and synchronous. [`SledStore`] and
//!   [`MemStore`] share all record logic (`Core` over a small private `Engine` trait), so the
//!   one conformance suite (`tests/conformance.rs`) runs the same code paths against both.
//!   [`Store`] is implemented once, for [`Core`]; the backends are `Core` over each engine.
//! * **Layout.** One sled tree per record kind (`accounts`, `tokens`, `devices`, `identities`,
//!   `sessions`, `prekeys`, `prekey_meta`, `signed_prekeys`, `sender_keys`, `outbox`,
//!   `outbox_due`, `meta`; schema 3 adds `device_lists`, `lid_by_pn`, `pn_by_lid`,
//!   `privacy_tokens`, `tokens_issued`, `received`, `received_order`, `received_meta`). Binary keys start with the 16-byte [`AccountId`], so an account is a
//!   key range (scans and wipes are range operations). Every value is a version byte followed by
//!   a protobuf message from `proto/store.proto`. The `meta` tree holds the schema version,
//!   checked at open: a newer one is refused ([`Error::NewerSchema`]).
//! * **Never panic on bad data.** Every decode checks lengths and enums and reports
//!   [`Error::Corrupt`] naming the tree and the key (keys hold ids and addresses, never key
//!   material; the token index is keyed by SHA-256 of the token).
//! * **Atomicity** where correctness needs it: [`Store::commit_incoming`] (consume one-time
//!   prekey + save session + identity), [`Store::commit_received`] (the same + sender keys +
//!   the message's dedup entry, so a redelivered message is reported once, also across a
//!   restart) and [`Store::commit_send`] (save sessions/sender key + outbox `Queued → Sent`)
//!   are single write sets, applied all or nothing, also across crashes.
//! * **Outbound status** ([`Store::record_status`]) only moves forward: `Queued → Sent{t} →
//!   Delivered{t} → Read{t}` or `Failed{code}`; late receipts leave it unchanged, a server
//!   error after the ack is refused.
//! * **Bounded growth**: at most [`MAX_RECEIVED_PER_ACCOUNT`] dedup entries per account (the
//!   oldest dropped in the commit that exceeds it) and [`Store::expire_received`] by age.
//!   Transaction closures only read and write through the transaction (randomness is drawn
//!   before), so an engine may run them more than once.
//! * **Durability: our own write-ahead log with group commit** (`wal.rs`, `logged/`).
//!   *Why:* on this 2-core box sled's `flush()` costs 30–60 ms (it calls `sync_file_range` after
//!   every `pwrite` of its segments) and a multi-tree sled transaction 20–50 µs, so durable send
//!   steps over sled topped out at ~3,800/s even with group commit over `flush()`. Now:
//!   - every write set (transaction or single insert/remove) is committed under one mutex: its
//!     reads see the newest state (staged → in-memory overlay → sled), and on success it is
//!     appended to the log buffer as **one checksummed record** (CRC-32) and merged into the
//!     overlay in the same critical section, so log order is commit order. No sled transaction
//!     runs on the write path; serializability comes from the mutex. Keys a transaction will
//!     probably find on disk (a new message id, a one-time prekey) are read from sled *before*
//!     the mutex and re-validated under it, so disk reads do not serialize writers;
//!   - a value whose key was already written in the current log segment is logged as a
//!     **patch** against that image (common prefix/suffix + the changed middle): a session
//!     advanced by one message logs ~40 bytes instead of its whole record (~0.9–1.2 KB);
//!   - **durable waits**: a [`DurableWait`] (from [`Store::durable`], or inside every
//!     `Durable` call) covers every write committed before it. A **log writer thread** takes
//!     the whole pending buffer (everyone's records), appends it to the segment, calls
//!     `fdatasync` once and wakes exactly the waiters it covered (group commit). Async callers
//!     `.await` the wait (no thread per pending send); blocking callers park on it.
//!     `Buffered` writes ride along with the next sync, and are synced at the latest by the
//!     checkpoint every [`StoreConfig::flush_every_ms`];
//!   - **write-ahead rule**: sled only ever receives writes the log already holds durably, so a
//!     crash cannot leave half a write set in sled that the log cannot complete. A background
//!     **checkpoint** (every `flush_every_ms`, or when the overlay passes 16 MiB) rotates the
//!     log segment, applies the frozen overlay (latest image per key, so repeated session saves
//!     coalesce) to sled, pays sled's slow `flush()` off every caller's path, and only then
//!     deletes the old segment. Keys created and removed within one interval (a due-index
//!     entry, an outbox entry acknowledged quickly) never reach sled. Writers stall only if a
//!     second 64 MiB piles up meanwhile;
//!   - at **open**, every segment is replayed into sled before the store is used (idempotent:
//!     records resolve to after-images, and a patch only refers to an image in its own
//!     segment), sled is flushed and the segments removed. A torn last record (short, failed
//!     checksum, out of sequence) is an append that was never acknowledged: it and everything
//!     after it are ignored, never half-applied. Damage inside an older, fully-synced segment,
//!     or a patch that does not fit its base, is reported ([`Error::Corrupt`] in tree `wal`),
//!     not skipped;
//!   - a failed log write or `fdatasync` poisons the log (every later write fails with
//!     [`Error::FlushFailed`]): after an fsync error the kernel may have dropped the pages, so
//!     a retry could lie.
//!
//!   The "a message never reaches the wire twice" rule holds across crashes: `commit_send`
//!   checks `Queued` and writes `Sent` in one serialized write set, and a durable `Sent`
//!   survives in the log, so a second `commit_send` fails with [`Error::InvalidTransition`].
//!   Log segments are `wal.<20 digits>` in the data directory (mode 0600), format in `wal.rs`.
//! * **Memory.** Nothing per account is cached by the store itself; one-time prekeys live on
//!   disk and are read by id. RAM use is sled's page cache, bounded by
//!   [`StoreConfig::cache_capacity`].
//! * **Files.** The data directory is created 0700 and its files set to 0600 at open.
//! * **Secrets** ([`Secret`], `PrivateKey`) print as `<redacted>` in `Debug`.
//! * **Removal.** [`Store::logout`] wipes the device identity, Signal state, directory, tokens
//!   and dedup entries of one account;
//!   [`Store::delete_account`] also removes the account, its token and its outbox.
//! * **Backup.** [`Store::export`] / [`Store::import`] move one account or all as one file;
//!   [`Store::check`] decodes every record (`wagate store check`). Export and check read one
//!   consistent point in time even while other tasks write: they copy the pending overlays and
//!   the checkpointer leaves sled alone until they finish (writers go on; they only wait if
//!   64 MiB pile up meanwhile).

#![forbid(unsafe_code)]

mod backends;
mod codec;
mod core;
mod durable;
mod engine;
mod error;
mod keys;
mod logged;
mod msg_records;
pub mod pb;
mod records;
mod sender_devices;
mod status_records;
mod store;
mod types;
mod wal;

pub use crate::backends::{
    restrict_permissions, MemStore, SledStore, StoreConfig, DEFAULT_DATA_DIR,
};
pub use crate::core::schema::SCHEMA_VERSION;
pub use crate::core::Core;
pub use crate::durable::DurableWait;
pub use crate::error::{BackupProblem, CorruptReason, Error, Fault, Result};
pub use crate::store::Store;
pub use crate::types::{
    token_bucket, token_issue_due, Account, AccountId, BackupSummary, CheckReport, DeviceIdentity,
    DeviceList, Durability, Enqueued, IdentityChange, IncomingSession, LidChange, LidMapping,
    LidSource, ListedDevice, MediaDelivery, MessageStatus, NewOutbound, OneTimePreKey, OutboxEntry,
    OutboxStatus, OutboxUpdate, PendingReport, PreKeyCounts, PrivacyToken, ProxyConfig,
    ReceiveOutcome, ReceivedKey, ReceivedMessage, S3Config, Secret, SendStep, SenderKeyUpdate,
    SessionUpdate, SignedPreKey, StatusEvent, StatusOutcome, StatusStep, StatusTimeline,
    MAX_RECEIVED_PER_ACCOUNT, STATUS_LOG_RETENTION_MS, TOKEN_BUCKETS, TOKEN_BUCKET_SECS,
};

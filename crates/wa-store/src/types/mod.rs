//! Domain types of the store, one file per kind: account ids, secrets, device keys, accounts,
//! Signal state changes, the outbox, durability, and maintenance reports.

pub(crate) mod account;
pub(crate) mod account_id;
pub(crate) mod device;
pub(crate) mod durability;
pub(crate) mod outbox;
pub(crate) mod report;
pub(crate) mod secret;
pub(crate) mod signal;

pub use account::{Account, MediaDelivery, ProxyConfig, S3Config};
pub use account_id::AccountId;
pub use device::{DeviceIdentity, OneTimePreKey, PreKeyCounts, SignedPreKey};
pub use durability::Durability;
pub use outbox::{Enqueued, NewOutbound, OutboxEntry, OutboxStatus, OutboxUpdate};
pub use report::{BackupSummary, CheckReport};
pub use secret::Secret;
pub use signal::{IdentityChange, IncomingSession, SendStep, SenderKeyUpdate, SessionUpdate};

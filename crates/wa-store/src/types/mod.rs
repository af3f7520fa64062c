//! Domain types of the store, one file per kind: account ids, secrets, device keys, accounts,
//! Signal state changes, the outbox, the directory and privacy tokens, received messages,
//! durability, maintenance reports, and session pools.

pub(crate) mod account;
pub(crate) mod account_id;
pub(crate) mod device;
pub(crate) mod directory;
pub(crate) mod durability;
pub(crate) mod outbox;
pub(crate) mod pool;
pub(crate) mod push_name;
pub(crate) mod received;
pub(crate) mod report;
pub(crate) mod secret;
pub(crate) mod signal;
pub(crate) mod status_log;
pub(crate) mod webhook;

pub use account::{Account, MediaDelivery, ProxyConfig, S3Config};
pub use account_id::AccountId;
pub use device::{DeviceIdentity, OneTimePreKey, PreKeyCounts, SignedPreKey};
pub use directory::{
    token_bucket, token_issue_due, DeviceList, LidChange, LidMapping, LidSource, ListedDevice,
    PrivacyToken, TOKEN_BUCKETS, TOKEN_BUCKET_SECS,
};
pub use durability::Durability;
pub use outbox::{
    Enqueued, MessageStatus, NewOutbound, OutboxEntry, OutboxStatus, OutboxUpdate, StatusEvent,
    StatusOutcome,
};
pub use pool::{pool_name_ok, Pool, MAX_POOL_NAME};
pub use push_name::{PushName, MAX_PUSH_NAME};
pub use received::{
    PendingReport, ReceiveOutcome, ReceivedKey, ReceivedMessage, MAX_RECEIVED_PER_ACCOUNT,
};
pub use report::{BackupSummary, CheckReport};
pub use secret::Secret;
pub use signal::{IdentityChange, IncomingSession, SendStep, SenderKeyUpdate, SessionUpdate};
pub use status_log::{StatusStep, StatusTimeline, STATUS_LOG_RETENTION_MS};
pub use webhook::WebhookDelivery;

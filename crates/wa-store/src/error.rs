//! The crate's one error type, grouped by who is at fault.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::types::account_id::AccountId;
use crate::types::outbox::OutboxStatus;

/// Who caused an error: decides whether to retry, report to the API caller, or page an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The caller asked for something impossible (unknown account, duplicate token, consumed prekey).
    Caller,
    /// The disk or the storage engine failed (I/O error, lock held by another process).
    Storage,
    /// Data on disk is unreadable: corrupt values, a newer schema, a foreign directory or backup.
    Data,
}

/// Why a stored value (or key) could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptReason {
    /// The value has no bytes at all (not even the version byte).
    Empty,
    /// The version byte is one this build does not know.
    UnknownVersion(u8),
    /// The protobuf body does not decode.
    Protobuf(prost::DecodeError),
    /// The body decodes but a field is out of range (wrong key length, unknown enum, …).
    BadField(&'static str),
    /// The key itself has the wrong shape for its tree.
    BadKey,
    /// Records that must agree do not (e.g. a token index pointing at another account).
    Inconsistent(&'static str),
}

impl fmt::Display for CorruptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptReason::Empty => f.write_str("empty value"),
            CorruptReason::UnknownVersion(v) => write!(f, "unknown record version {v}"),
            CorruptReason::Protobuf(e) => write!(f, "protobuf: {e}"),
            CorruptReason::BadField(field) => write!(f, "bad field `{field}`"),
            CorruptReason::BadKey => f.write_str("malformed key"),
            CorruptReason::Inconsistent(what) => write!(f, "inconsistent: {what}"),
        }
    }
}

/// What is wrong with a backup file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackupProblem {
    /// The file does not start with the backup magic line.
    NotABackup,
    /// The backup format is newer than this build understands.
    NewerFormat(u32),
    /// The backup was written by a newer store schema.
    NewerSchema(u32),
    /// The file ends before its trailer.
    Truncated,
    /// A framed message does not decode.
    Malformed,
    /// The trailer's entry count or checksum does not match the entries.
    ChecksumMismatch,
    /// An entry names a tree this build does not have.
    UnknownTree(String),
    /// An entry's value does not decode as its tree's record (the error names tree and key).
    BadEntry {
        /// Tree of the entry.
        tree: &'static str,
        /// Hex of the entry's key.
        key: String,
        /// What is wrong with it.
        reason: CorruptReason,
    },
    /// An account in the backup already exists in the store (delete it first to restore).
    AccountExists(AccountId),
    /// A token in the backup belongs to another account of the store.
    TokenTaken,
    /// A pool in the backup already exists in the store (issue 12).
    PoolExists(String),
}

impl fmt::Display for BackupProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackupProblem::NotABackup => f.write_str("not a wagate store backup"),
            BackupProblem::NewerFormat(v) => {
                write!(f, "backup format {v} is newer than this build")
            }
            BackupProblem::NewerSchema(v) => {
                write!(f, "backup schema {v} is newer than this build")
            }
            BackupProblem::Truncated => f.write_str("truncated"),
            BackupProblem::Malformed => f.write_str("malformed entry framing"),
            BackupProblem::ChecksumMismatch => f.write_str("checksum or entry count mismatch"),
            BackupProblem::UnknownTree(t) => write!(f, "unknown tree {t:?}"),
            BackupProblem::BadEntry { tree, key, reason } => {
                write!(f, "entry in tree {tree} at key {key}: {reason}")
            }
            BackupProblem::AccountExists(id) => write!(f, "account {id} already exists"),
            BackupProblem::TokenTaken => f.write_str("a token belongs to another account"),
            BackupProblem::PoolExists(name) => write!(f, "pool {name} already exists"),
        }
    }
}

/// Everything wa-store can refuse. Variants are grouped by [`Fault`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ----- the caller's fault -----
    /// An argument is out of range (empty address, oversized message id, …).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which argument.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No such gateway account.
    #[error("account {0} not found")]
    AccountNotFound(AccountId),
    /// An account with this id already exists.
    #[error("account {0} already exists")]
    AccountExists(AccountId),
    /// Another account already uses this API token.
    #[error("the token is already used by another account")]
    TokenTaken,
    /// A pool with this name exists already (issue 12).
    #[error("pool {0} already exists")]
    PoolExists(String),
    /// No pool with this name.
    #[error("pool {0} not found")]
    PoolNotFound(String),
    /// The one-time prekey does not exist: never generated, or already consumed.
    #[error("one-time prekey {id} of account {account} not found (never generated or consumed)")]
    PreKeyNotFound {
        /// Account.
        account: AccountId,
        /// Prekey id.
        id: u32,
    },
    /// No outbox entry with this message id.
    #[error("outbox entry {message_id} of account {account} not found")]
    OutboxNotFound {
        /// Account.
        account: AccountId,
        /// Message id.
        message_id: String,
    },
    /// The outbox already holds a different message under this id (idempotency violated).
    #[error("outbox of account {account} already holds a different message {message_id}")]
    OutboxConflict {
        /// Account.
        account: AccountId,
        /// Message id.
        message_id: String,
    },
    /// The outbox entry is not in a state that allows this change (e.g. sending twice).
    #[error("outbox entry {message_id} of account {account}: cannot go from {from:?} to {to:?}")]
    InvalidTransition {
        /// Account.
        account: AccountId,
        /// Message id.
        message_id: String,
        /// Current status.
        from: OutboxStatus,
        /// Requested status.
        to: OutboxStatus,
    },

    // ----- storage -----
    /// An I/O error on the data directory or a backup file.
    #[error("I/O on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another process has the store open (sled holds an exclusive lock).
    #[error("the store at {} is in use by another process", path.display())]
    Locked {
        /// The data directory.
        path: PathBuf,
    },
    /// The storage engine failed (anything sled reports that is not I/O or corruption).
    #[error("storage engine: {0}")]
    Engine(#[source] sled::Error),
    /// The write-ahead log could not be written or synced. The store refuses every later write
    /// (after a failed fsync the kernel may have dropped the pages; a retry could lie): restart
    /// the process, and the log is replayed up to its last durable record.
    #[error(
        "the write-ahead log failed ({cause}); writes are refused until the store is reopened"
    )]
    FlushFailed {
        /// The error that poisoned the log (an [`Error::Io`] naming the segment); shared by
        /// every call the log refuses afterwards.
        #[source]
        cause: Arc<Error>,
    },

    // ----- data on disk -----
    /// A stored value (or key) does not decode.
    #[error("corrupt value in tree {tree} at key {key}: {reason}")]
    Corrupt {
        /// The sled tree (record kind).
        tree: &'static str,
        /// Hex of the key (keys hold ids and addresses, never key material).
        key: String,
        /// What is wrong.
        reason: CorruptReason,
    },
    /// The storage engine found its own files corrupt.
    #[error("the storage engine reports corruption in {}: {source}", path.display())]
    EngineCorrupt {
        /// The data directory.
        path: PathBuf,
        /// sled's report.
        source: sled::Error,
    },
    /// The directory was written by a newer schema than this build supports.
    #[error(
        "the store at {} has schema version {found}, newer than the {supported} this build \
         supports; upgrade wagate (refusing to open it rather than risk data loss)",
        path.display()
    )]
    NewerSchema {
        /// The data directory.
        path: PathBuf,
        /// Version found on disk.
        found: u32,
        /// Highest version this build supports.
        supported: u32,
    },
    /// The directory holds something that is not a wagate store.
    #[error("{} is not a wagate store: {reason}", path.display())]
    Foreign {
        /// The directory.
        path: PathBuf,
        /// What gave it away.
        reason: &'static str,
    },
    /// A backup file cannot be imported.
    #[error("backup {}: {problem}", path.display())]
    Backup {
        /// The backup file.
        path: PathBuf,
        /// What is wrong.
        problem: BackupProblem,
    },
}

impl Error {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            Error::InvalidInput { .. }
            | Error::AccountNotFound(_)
            | Error::AccountExists(_)
            | Error::TokenTaken
            | Error::PoolExists(_)
            | Error::PoolNotFound(_)
            | Error::PreKeyNotFound { .. }
            | Error::OutboxNotFound { .. }
            | Error::OutboxConflict { .. }
            | Error::InvalidTransition { .. } => Fault::Caller,
            Error::Io { .. }
            | Error::Locked { .. }
            | Error::Engine(_)
            | Error::FlushFailed { .. } => Fault::Storage,
            Error::Corrupt { .. }
            | Error::EngineCorrupt { .. }
            | Error::NewerSchema { .. }
            | Error::Foreign { .. }
            | Error::Backup { .. } => Fault::Data,
        }
    }

    /// Whether the same call may succeed later: a lock held by another process, or an interrupted
    /// or timed-out I/O. A failed flush is not transient: after an fsync error the kernel may have
    /// dropped the dirty pages, so retrying could report success for lost data.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Locked { .. } => true,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
            ),
            Error::InvalidInput { .. }
            | Error::AccountNotFound(_)
            | Error::AccountExists(_)
            | Error::TokenTaken
            | Error::PoolExists(_)
            | Error::PoolNotFound(_)
            | Error::PreKeyNotFound { .. }
            | Error::OutboxNotFound { .. }
            | Error::OutboxConflict { .. }
            | Error::InvalidTransition { .. }
            | Error::Engine(_)
            | Error::FlushFailed { .. }
            | Error::Corrupt { .. }
            | Error::EngineCorrupt { .. }
            | Error::NewerSchema { .. }
            | Error::Foreign { .. }
            | Error::Backup { .. } => false,
        }
    }

    pub(crate) fn corrupt(tree: &'static str, key: &[u8], reason: CorruptReason) -> Self {
        Error::Corrupt {
            tree,
            key: hex::encode(key),
            reason,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! What maintenance calls report: [`CheckReport`] and [`BackupSummary`].

use crate::error::Error;

use super::account_id::AccountId;

/// What `check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Records per tree, in tree order.
    pub counts: Vec<(&'static str, u64)>,
    /// Every record that failed to decode or contradicts another (each names tree and key).
    pub problems: Vec<Error>,
}

impl CheckReport {
    /// Whether every record decoded and agreed with the others.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Total records checked.
    pub fn records(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }
}

/// What an export or import moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupSummary {
    /// Accounts (account records) in the backup.
    pub accounts: Vec<AccountId>,
    /// Entries (records of every kind).
    pub entries: u64,
}

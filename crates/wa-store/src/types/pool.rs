//! Session pools (issue 12): a named set of gateway accounts sharing one API token, through
//! which sends go out via a healthy member.

use super::account_id::AccountId;
use super::secret::Secret;

/// Longest pool name, in bytes.
pub const MAX_POOL_NAME: usize = 64;

/// A named set of sessions with its own token (tree `pools`, key: the name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool {
    /// Name: 1 to [`MAX_POOL_NAME`] bytes of ASCII letters, digits, `-`, `_` and `.`
    /// ([`pool_name_ok`]).
    pub name: String,
    /// The pool's API token (unique among pools, and no account's token).
    pub token: Secret<String>,
    /// Member accounts, in the order given (no duplicates).
    pub members: Vec<AccountId>,
    /// A free description.
    pub description: String,
    /// Creation time (ms since the Unix epoch).
    pub created_ms: u64,
    /// Last update (ms since the Unix epoch).
    pub updated_ms: u64,
}

/// Whether `name` is a valid pool name (see [`Pool::name`]).
pub fn pool_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_POOL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

//! A contact's push name (the display name it chose), as its messages announce it.

use wa_protocol::ids::PhoneNumber;

/// Longest push name kept, in bytes (the protocol crate's bound on free-text attributes).
pub const MAX_PUSH_NAME: usize = 256;

/// A contact's push name (`notify` on its messages, `messaging.md` §10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushName {
    /// The contact's phone number.
    pub pn: PhoneNumber,
    /// The name (1 to [`MAX_PUSH_NAME`] bytes).
    pub name: String,
    /// When it was last learnt or changed (ms since the Unix epoch).
    pub learnt_ms: u64,
}

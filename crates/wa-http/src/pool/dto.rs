//! Bodies and answers of the pool and session-metadata routes (our extension, issue 12).
//! Requests decode the Go way (`GoJson`: names case-insensitive, declared lowercase); answers
//! use wuzapi's PascalCase keys, in Go's sorted order.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /admin/pools` (create: `Name`, `Token`, `Members` required) and `PUT
/// /admin/pools/{name}` (absent fields stay as they are).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct PoolRequest {
    /// The pool's name: 1 to 64 ASCII letters, digits, `-`, `_`, `.` (create only).
    pub(crate) name: String,
    /// The pool's token (callers send it in the `token` header on the chat send routes).
    pub(crate) token: Option<String>,
    /// Member sessions: account ids (32 hex) or account names.
    pub(crate) members: Option<Vec<String>>,
    /// A free description.
    pub(crate) description: Option<String>,
}

/// One pool member as the status shows it.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct MemberView {
    /// The session's `active` flag.
    pub(crate) Active: bool,
    /// The session's socket is up.
    pub(crate) Connected: bool,
    /// Whether the account still exists (a deleted one stays listed until the pool changes).
    pub(crate) Exists: bool,
    /// Sends through a pool that failed on this member.
    pub(crate) Failed: u64,
    /// Of those, how many went on to another member.
    pub(crate) FailedOver: u64,
    /// Active, connected and logged in: it takes sends.
    pub(crate) Healthy: bool,
    /// The account id (32 hex).
    pub(crate) Id: String,
    /// Sends in flight on it now.
    pub(crate) InFlight: u32,
    /// The last failure's text (empty: none).
    pub(crate) LastError: String,
    /// When it happened (ms since the Unix epoch; 0: never).
    pub(crate) LastErrorAt: u64,
    /// When its last acknowledged send happened (ms since the Unix epoch; 0: never).
    pub(crate) LastSentAt: u64,
    /// Logged in on that socket.
    pub(crate) LoggedIn: bool,
    /// The account's name.
    pub(crate) Name: String,
    /// Sends through a pool it got acknowledged.
    pub(crate) Sent: u64,
    /// The session state (`working`, `starting`, `scan_qr`, `failed`, `stopped`).
    pub(crate) State: String,
}

/// A pool and its members' health.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct PoolView {
    /// When it was created (ms since the Unix epoch).
    pub(crate) CreatedAt: u64,
    /// Its description.
    pub(crate) Description: String,
    /// How many members take sends now.
    pub(crate) Healthy: usize,
    /// Its members, in the order given.
    pub(crate) Members: Vec<MemberView>,
    /// Its name.
    pub(crate) Name: String,
    /// How a member is chosen: `least-loaded` (fewest sends in flight; equals in turn).
    pub(crate) Strategy: &'static str,
    /// Its token (admin views only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) Token: Option<String>,
}

/// `DELETE /admin/pools/{name}`'s answer.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct PoolDeleted {
    /// The deleted pool's name.
    pub(crate) Name: String,
}

/// `PUT /admin/sessions/{id}`: absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SessionMetaRequest {
    /// A free description.
    pub(crate) description: Option<String>,
    /// Whether pools and the default may use it, and its own token may send.
    pub(crate) active: Option<bool>,
    /// Its country code for phone numbers (`62`, `+62`; empty: the server's default).
    #[serde(rename = "countrycode")]
    pub(crate) country_code: Option<String>,
    /// `true` makes it the default session; `false` clears the default if it is this one.
    pub(crate) default: Option<bool>,
}

/// A session's metadata and state (`GET /admin/sessions`, `/admin/sessions/{id}`).
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct SessionMetaView {
    /// Whether pools and the default may use it.
    pub(crate) Active: bool,
    /// The session's socket is up.
    pub(crate) Connected: bool,
    /// Its country code (empty: the server's default).
    pub(crate) CountryCode: String,
    /// Whether it is the default session.
    pub(crate) Default: bool,
    /// Its description.
    pub(crate) Description: String,
    /// The account id (32 hex).
    pub(crate) Id: String,
    /// The linked device's JID (empty: not linked).
    pub(crate) Jid: String,
    /// Logged in on that socket.
    pub(crate) LoggedIn: bool,
    /// The account's name.
    pub(crate) Name: String,
    /// The pools it belongs to.
    pub(crate) Pools: Vec<String>,
}

/// `PUT /admin/default-session`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct DefaultRequest {
    /// The session: an account id (32 hex) or an account name.
    pub(crate) session: String,
}

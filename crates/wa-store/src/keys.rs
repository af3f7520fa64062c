//! Trees and binary keys.
//!
//! Per-account keys start with the 16-byte [`AccountId`], so an account is a key range; integers
//! are big-endian so keys sort numerically. Variable-length parts that are not last carry a u16
//! big-endian length prefix, which keeps keys unambiguous.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::types::account_id::AccountId;

/// One sled tree per record kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TreeId {
    Meta,
    Accounts,
    Tokens,
    Devices,
    Identities,
    Sessions,
    PreKeys,
    PreKeyMeta,
    SignedPreKeys,
    SenderKeys,
    Outbox,
    OutboxDue,
    // Schema 3. Trees are only ever appended: the log records a tree by its index.
    DeviceLists,
    LidByPn,
    PnByLid,
    PrivacyTokens,
    TokensIssued,
    Received,
    ReceivedOrder,
    ReceivedMeta,
    PendingReports,
    // Issue 12: the durable webhook queue and its dead letters (key: seq; not per account).
    WebhookQueue,
    WebhookDead,
    // Issue 12: message status timelines (`core/status_log.rs`).
    StatusLog,
    // Issue 12: session pools and the default session (global trees, not per account).
    Pools,
    DefaultSession,
    // Push names (`push_names.rs`).
    PushNames,
}

impl TreeId {
    pub(crate) const ALL: [TreeId; 27] = [
        TreeId::Meta,
        TreeId::Accounts,
        TreeId::Tokens,
        TreeId::Devices,
        TreeId::Identities,
        TreeId::Sessions,
        TreeId::PreKeys,
        TreeId::PreKeyMeta,
        TreeId::SignedPreKeys,
        TreeId::SenderKeys,
        TreeId::Outbox,
        TreeId::OutboxDue,
        TreeId::DeviceLists,
        TreeId::LidByPn,
        TreeId::PnByLid,
        TreeId::PrivacyTokens,
        TreeId::TokensIssued,
        TreeId::Received,
        TreeId::ReceivedOrder,
        TreeId::ReceivedMeta,
        TreeId::PendingReports,
        TreeId::WebhookQueue,
        TreeId::WebhookDead,
        TreeId::StatusLog,
        TreeId::Pools,
        TreeId::DefaultSession,
        TreeId::PushNames,
    ];

    /// Trees holding the device identity, Signal state and what the linked WhatsApp account
    /// learnt (directory, privacy tokens, received-message dedup, push names): what logout wipes (a new
    /// link may be another WhatsApp account). Pending reports stay, like the outbox: they are
    /// the application's messages; so does `received_meta`, whose sequence numbers key them
    /// (a new commit after logout must not reuse the seq of a report still pending).
    pub(crate) const DEVICE_STATE: [TreeId; 15] = [
        TreeId::Devices,
        TreeId::Identities,
        TreeId::Sessions,
        TreeId::PreKeys,
        TreeId::PreKeyMeta,
        TreeId::SignedPreKeys,
        TreeId::SenderKeys,
        TreeId::DeviceLists,
        TreeId::LidByPn,
        TreeId::PnByLid,
        TreeId::PrivacyTokens,
        TreeId::TokensIssued,
        TreeId::Received,
        TreeId::ReceivedOrder,
        TreeId::PushNames,
    ];

    pub(crate) const fn name(self) -> &'static str {
        match self {
            TreeId::Meta => "meta",
            TreeId::Accounts => "accounts",
            TreeId::Tokens => "tokens",
            TreeId::Devices => "devices",
            TreeId::Identities => "identities",
            TreeId::Sessions => "sessions",
            TreeId::PreKeys => "prekeys",
            TreeId::PreKeyMeta => "prekey_meta",
            TreeId::SignedPreKeys => "signed_prekeys",
            TreeId::SenderKeys => "sender_keys",
            TreeId::Outbox => "outbox",
            TreeId::OutboxDue => "outbox_due",
            TreeId::DeviceLists => "device_lists",
            TreeId::LidByPn => "lid_by_pn",
            TreeId::PnByLid => "pn_by_lid",
            TreeId::PrivacyTokens => "privacy_tokens",
            TreeId::TokensIssued => "tokens_issued",
            TreeId::Received => "received",
            TreeId::ReceivedOrder => "received_order",
            TreeId::ReceivedMeta => "received_meta",
            TreeId::PendingReports => "pending_reports",
            TreeId::WebhookQueue => "webhook_queue",
            TreeId::WebhookDead => "webhook_dead",
            TreeId::StatusLog => "status_log",
            TreeId::Pools => "pools",
            TreeId::DefaultSession => "default_session",
            TreeId::PushNames => "push_names",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether keys of this tree start with the account id.
    pub(crate) const fn per_account(self) -> bool {
        !matches!(
            self,
            TreeId::Meta
                | TreeId::Tokens
                | TreeId::WebhookQueue
                | TreeId::WebhookDead
                | TreeId::Pools
                | TreeId::DefaultSession
        )
    }
}

pub(crate) const SCHEMA_KEY: &[u8] = b"schema";
/// The one key of tree `default_session`.
pub(crate) const DEFAULT_SESSION_KEY: &[u8] = b"default";
const MAX_NAME: usize = 1024;

fn check_part(what: &'static str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Error::InvalidInput {
            what,
            reason: "empty",
        });
    }
    if s.len() > MAX_NAME {
        return Err(Error::InvalidInput {
            what,
            reason: "longer than 1024 bytes",
        });
    }
    Ok(())
}

pub(crate) fn account(a: &AccountId) -> Vec<u8> {
    a.as_bytes().to_vec()
}

/// `account ‖ name` (sessions, identities, outbox).
pub(crate) fn named(a: &AccountId, what: &'static str, name: &str) -> Result<Vec<u8>> {
    check_part(what, name)?;
    let mut k = Vec::with_capacity(AccountId::LEN + name.len());
    k.extend_from_slice(a.as_bytes());
    k.extend_from_slice(name.as_bytes());
    Ok(k)
}

/// `account ‖ len(group) ‖ group ‖ sender`.
pub(crate) fn sender_key(a: &AccountId, group: &str, sender: &str) -> Result<Vec<u8>> {
    check_part("group", group)?;
    check_part("sender", sender)?;
    let mut k = Vec::with_capacity(AccountId::LEN + 2 + group.len() + sender.len());
    k.extend_from_slice(a.as_bytes());
    // check_part bounds the length to 1024, so it fits in u16.
    k.extend_from_slice(&(group.len() as u16).to_be_bytes());
    k.extend_from_slice(group.as_bytes());
    k.extend_from_slice(sender.as_bytes());
    Ok(k)
}

/// `account ‖ len(chat) ‖ chat ‖ len(sender) ‖ sender ‖ message id` (JIDs as text).
pub(crate) fn received(a: &AccountId, chat: &str, sender: &str, id: &str) -> Result<Vec<u8>> {
    check_part("chat", chat)?;
    check_part("sender", sender)?;
    check_part("message id", id)?;
    let mut k = Vec::with_capacity(AccountId::LEN + 4 + chat.len() + sender.len() + id.len());
    k.extend_from_slice(a.as_bytes());
    for part in [chat, sender] {
        // check_part bounds the length to 1024, so it fits in u16.
        k.extend_from_slice(&(part.len() as u16).to_be_bytes());
        k.extend_from_slice(part.as_bytes());
    }
    k.extend_from_slice(id.as_bytes());
    Ok(k)
}

/// Whether a `received` key (account prefix removed) has its shape.
pub(crate) fn received_suffix_ok(rest: &[u8]) -> bool {
    let mut r = rest;
    for _ in 0..2 {
        let Some(len) = r
            .get(..2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return false;
        };
        if len == 0 || r.len() < 2 + len {
            return false;
        }
        r = &r[2 + len..];
    }
    !r.is_empty()
}

/// `account ‖ seq (u64 BE)`.
pub(crate) fn sequenced(a: &AccountId, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(AccountId::LEN + 8);
    k.extend_from_slice(a.as_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The seq at the end of a `sequenced` key.
pub(crate) fn key_seq(key: &[u8]) -> Option<u64> {
    let b = key.get(AccountId::LEN..)?;
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

/// `account ‖ id (u32 BE)`.
pub(crate) fn numbered(a: &AccountId, id: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(AccountId::LEN + 4);
    k.extend_from_slice(a.as_bytes());
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// `account ‖ next_attempt_ms (u64 BE) ‖ message id`.
pub(crate) fn due(a: &AccountId, at_ms: u64, message_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(AccountId::LEN + 8 + message_id.len());
    k.extend_from_slice(a.as_bytes());
    k.extend_from_slice(&at_ms.to_be_bytes());
    k.extend_from_slice(message_id.as_bytes());
    k
}

/// Splits a `due` key into (time, message id).
pub(crate) fn parse_due(key: &[u8]) -> Option<(u64, &str)> {
    let rest = key.get(AccountId::LEN..)?;
    let (at, id) = (rest.get(..8)?, rest.get(8..)?);
    let at = u64::from_be_bytes(at.try_into().ok()?);
    Some((at, std::str::from_utf8(id).ok()?))
}

/// The token index key: SHA-256 of the token, so the token itself never appears in keys or errors.
pub(crate) fn token(token: &str) -> Result<Vec<u8>> {
    check_part("token", token)?;
    Ok(Sha256::digest(token.as_bytes()).to_vec())
}

/// The account id a per-account key starts with.
pub(crate) fn key_account(key: &[u8]) -> Option<AccountId> {
    AccountId::from_slice(key.get(..AccountId::LEN)?)
}

/// The id at the end of a `numbered` key.
pub(crate) fn key_number(key: &[u8]) -> Option<u32> {
    let b = key.get(AccountId::LEN..)?;
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

//! 1:1 messaging over the account task (`messaging.md` §4–§8, §10, §16).
//!
//! ```text
//!  send_text (caller's task)                       account task (driver.rs)
//!   directory: device lists (store | usync IQ) ──┐
//!   per-account send lock:                        │
//!     sessions (store) | bundles (IQ)             │
//!     encrypt_fanout (peer: padded Content,       │
//!       own devices: padded DeviceSentMessage)    │
//!     enqueue + commit_send (one blocking call)   │
//!     SendMessage command ────────────────────────┼─▶ pipeline: durable() ─▶ <message> out
//!   await the outcome ◀── MessageAcked/Rejected ──┼── record_status ─▶ MessageStatus event
//!                                                  │
//!  <message> in ─▶ pipeline: decrypt + commit_received (durable) ─▶ ack, receipt,
//!                  EventKind::Message ─▶ mark_reported
//!  <receipt> in (acked by the connection) ─▶ record_status(Delivered|Read) ─▶ MessageStatus
//! ```
//!
//! The send lock serializes the read-encrypt-commit step per account (two sends to one device
//! must never encrypt from the same session state); the awaits for the server's acks are not
//! serialized, so many sends are in flight at once.

pub(crate) mod address;
pub(crate) mod directory;
pub(crate) mod group;
pub(crate) mod group_commit;
pub(crate) mod group_recv;
pub(crate) mod group_retry;
pub(crate) mod group_send;
pub(crate) mod presence;
pub(crate) mod privacy;
pub(crate) mod receive;
pub(crate) mod resend;
pub(crate) mod retry;
pub(crate) mod send;
pub(crate) mod types;

//! 1:1 messaging over the account task (`messaging.md` §4–§8, §10, §16).
//!
//! ```text
//!  send (caller's task)                            account task (driver.rs)
//!   own device, device lists: send_cache ─────────┐
//!     (miss: store | usync IQ)                     │
//!   AccountCommand::Send(SendJob) ─────────────────┼─▶ pipeline (in order, batched, one
//!     ◀── needs bundles: one IQ, queued again ─────┤    blocking call per batch): sessions,
//!                                                  │    encrypt_fanout, enqueue + commit_send
//!                                                  │  ─▶ durable() ─▶ <message> out (one flush)
//!   await the outcome ◀── MessageAcked/Rejected ──┼── record_status ─▶ MessageStatus event
//!                                                  │
//!  <message> in ─▶ pipeline: decrypt + commit_received (durable) ─▶ ack, receipt,
//!                  EventKind::Message ─▶ mark_reported (by the client, or by the consumer
//!                  through Gateway::ack_report: `reports.rs`)
//!  <receipt> in (acked by the connection) ─▶ record_status(Delivered|Read) ─▶ MessageStatus
//! ```
//!
//! 1:1 sends and received messages read and commit sessions as jobs of the one ordered
//! pipeline (`send_job`), so none of them encrypts or decrypts from a session state another
//! is advancing; group sends and retry answers still do it outside, under the account's send
//! lock, which the send and receive jobs take too. The awaits for the server's acks are not
//! serialized: many sends are in flight at once.

pub(crate) mod accepted;
pub(crate) mod address;
pub(crate) mod device_cache;
pub(crate) mod directory;
pub(crate) mod group;
pub(crate) mod group_commit;
pub(crate) mod group_devices;
pub(crate) mod group_events;
pub(crate) mod group_phash;
pub(crate) mod group_recv;
pub(crate) mod group_retry;
pub(crate) mod group_send;
pub(crate) mod idempotent;
pub(crate) mod keys;
pub(crate) mod lid_route;
pub(crate) mod media;
pub(crate) mod peer_send;
pub(crate) mod presence;
pub(crate) mod privacy;
pub(crate) mod push_names;
pub(crate) mod receive;
pub(crate) mod resend;
pub(crate) mod retry;
pub(crate) mod retry_request;
pub(crate) mod send;
pub(crate) mod send_cache;
pub(crate) mod send_job;
pub(crate) mod send_plan;
pub(crate) mod types;

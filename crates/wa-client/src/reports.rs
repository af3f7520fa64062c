//! Who marks a received message reported, and when (issue 12: every Message event reaches a
//! durable consumer at least once).
//!
//! A received message is committed with a pending report (`Store::commit_received`), emitted
//! as [`EventKind::Message`](crate::EventKind::Message) carrying its seq
//! ([`ReceivedText::report`](crate::ReceivedText::report)), and then marked reported
//! (`Store::mark_reported`); what is still pending at the next start is emitted again
//! (`account.rs`, `hand_over_pending`). [`ReportAcks`] says who marks it:
//!
//! ```text
//!  Client (default):  emit Message ─▶ mark_reported            (a crash can lose the event)
//!  Consumer:          emit Message ─▶ consumer persists it ─▶ Gateway::ack_report / ack_report
//!                     (killed before the ack: still pending, emitted again after restart)
//! ```
//!
//! A consumer that persists into the same store must write its record before it acks, both
//! buffered: the store's durable backend is one write-ahead log whose record order is commit
//! order, synced as a prefix and replayed up to its first torn record (`wa_store` `logged`
//! and `wal` modules), so any sync that makes the mark durable makes the earlier record durable
//! too. Acking twice (or a seq already marked) is harmless.

use wa_store::{AccountId, Durability, Store};

use crate::config::ReportAcks;
use crate::context::Ctx;
use crate::error::Error;

/// Marks report `seq` of `account` reported (buffered): the consumer has persisted the
/// message. `false` when it was not pending (already acked, or an unknown seq).
///
/// # Errors
/// The store refused the write.
pub fn ack_report(store: &dyn Store, account: &AccountId, seq: u64) -> Result<bool, Error> {
    Ok(store.mark_reported(account, seq, Durability::Buffered)?)
}

/// A Message event with report `seq` is out: the client marks it now (off the pipeline, so a
/// connection ending cannot drop it) unless the consumer acks ([`ReportAcks::Consumer`]).
pub(crate) fn reported(ctx: &Ctx, seq: u64) {
    if ctx.config.reports == ReportAcks::Consumer {
        return;
    }
    let store = std::sync::Arc::clone(&ctx.store);
    let id = ctx.id;
    tokio::task::spawn_blocking(move || {
        if let Err(error) = ack_report(store.as_ref(), &id, seq) {
            tracing::warn!(account = %id, %error, "cannot mark a message reported");
        }
    });
}

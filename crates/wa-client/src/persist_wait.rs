//! The durability wait of one persistence batch (`persist.rs`): at once for a batch with any
//! urgent job, patient for a batch of patient jobs only (receipt statuses, whose only follow-up
//! is their `MessageStatus` event: the protocol layer acked the receipt already).
//!
//! A patient wait asks the store for no `fdatasync` of its own for [`PATIENCE`]: the next sync
//! another writer asks for covers it (at 1,000 sends/s one comes every fraction of a
//! millisecond), so a delivery receipt's status stops costing a sync of its own. Nothing changes
//! about durability: the events still leave only once the batch is synced. A job queued
//! behind a patient batch hurries it ([`Hurry::nudge`]): a send never waits on a receipt's
//! patience.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use wa_store::Store;

/// How long a patient batch waits for another writer's sync before asking for its own.
pub(crate) const PATIENCE: Duration = Duration::from_millis(2);

/// Turns a running patient wait into an ordinary one.
#[derive(Debug, Default)]
pub(crate) struct Hurry {
    notify: Notify,
    /// A patient wait is running.
    waiting: AtomicBool,
}

impl Hurry {
    /// A job was queued: a running patient wait asks for its sync now.
    pub(crate) fn nudge(&self) {
        if self.waiting.load(Ordering::Acquire) {
            self.notify.notify_one();
        }
    }
}

/// Waits until every write applied so far is durable: patiently when `patient`, unless
/// hurried.
pub(crate) async fn durable(
    store: &dyn Store,
    patient: bool,
    hurry: &Hurry,
) -> wa_store::Result<()> {
    if !patient {
        return store.durable().await;
    }
    hurry.waiting.store(true, Ordering::Release);
    let r = tokio::select! {
        r = store.durable_within(PATIENCE) => r,
        () = hurry.notify.notified() => store.durable().await,
    };
    hurry.waiting.store(false, Ordering::Release);
    r
}

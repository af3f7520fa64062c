//! [`Gateway::ack_report`]: the consumer's ack of a Message event it has persisted
//! (`reports.rs` says who marks reports and the order a consumer must keep).

use wa_store::AccountId;

use crate::error::Error;
use crate::gateway::Gateway;
use crate::reports::ack_report;

impl Gateway {
    /// Marks report `seq` (a [`crate::ReceivedText::report`]) of `account` reported, once the
    /// consumer has persisted the message; needed only with [`crate::ReportAcks::Consumer`]. `false`
    /// when it was not pending. See [`ack_report`] for the order a consumer that writes into the
    /// same store must keep.
    ///
    /// # Errors
    /// The store refused the write.
    pub fn ack_report(&self, account: &AccountId, seq: u64) -> Result<bool, Error> {
        ack_report(self.store().as_ref(), account, seq)
    }
}

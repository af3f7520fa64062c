//! The on-demand history sync on [`Gateway`] (`GET /session/history`, CONTRACTS §A.2): the
//! request of `wa_protocol::message::history_sync`, sent to our own primary phone as a peer
//! message (`messaging::peer_send`). The phone answers later with a history sync of its own;
//! this call resolves on the server's ack of the request.

use wa_protocol::message::HistorySyncRequest;
use wa_store::AccountId;

use crate::error::Error;
use crate::gateway::Gateway;
use crate::messaging::peer_send;
use crate::messaging::types::SentMessage;

impl Gateway {
    /// Asks the account's primary phone for the history `request` describes; the request's id
    /// and the server's timestamp.
    pub async fn request_history_sync(
        &self,
        id: &AccountId,
        request: &HistorySyncRequest,
    ) -> Result<SentMessage, Error> {
        let handle = self.logged_in(id)?;
        peer_send::send_peer(&handle, self.store(), self.now(), &request.to_message()).await
    }
}

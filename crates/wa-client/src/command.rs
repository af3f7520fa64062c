//! What an [`crate::AccountHandle`] asks of its task.

use tokio::sync::oneshot;
use wa_protocol::connection::Command;
use wa_protocol::stanza::{IqRequest, IqResponse, MessageStanza};
use wa_protocol::PhoneNumber;

use crate::error::Error;

/// Commands to an account task.
#[derive(Debug)]
pub(crate) enum AccountCommand {
    /// A protocol command for the current connection (dropped between connections).
    Protocol(Command),
    /// An IQ whose answer (`None`: timeout or disconnect) goes back on the channel.
    Iq(IqRequest, oneshot::Sender<Option<IqResponse>>),
    /// Send a committed `<message>` once durable; the server's verdict (its ack's `t`, or the
    /// refusal) goes back on the channel.
    SendMessage(
        Box<MessageStanza>,
        oneshot::Sender<Result<Option<u64>, Error>>,
    ),
    /// Link by pair code: sent as soon as a registration connection is up.
    PairPhone(PhoneNumber),
    /// Stop the task (keys stay).
    Shutdown,
}

//! What an [`crate::AccountHandle`] asks of its task.

use tokio::sync::oneshot;
use wa_protocol::connection::Command;
use wa_protocol::stanza::{IqRequest, IqResponse, MessageStanza};
use wa_protocol::PhoneNumber;

use crate::error::Error;
use crate::messaging::send_job::{Need, SendJob};

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
    /// Run a 1:1 send in the persistence pipeline (`messaging::send_job`), then send it.
    Send(Box<SendJob>, SendReply),
    /// Link by pair code: sent as soon as a registration connection is up.
    PairPhone(PhoneNumber),
    /// Stop the task (keys stay).
    Shutdown,
}

/// Where the account task answers a queued send.
#[derive(Debug)]
pub(crate) struct SendReply {
    /// The server's verdict (its ack's `t`, or the refusal).
    pub(crate) verdict: oneshot::Sender<Result<Option<u64>, Error>>,
    /// The job back, with what it lacks (dropped unsent once it is committed or failed).
    pub(crate) bundles: oneshot::Sender<(Box<SendJob>, Need)>,
}

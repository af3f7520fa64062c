//! What the account task does once a job of its persistence pipeline has finished
//! (`driver.rs` acts on these).

use wa_protocol::binary::Jid;
use wa_protocol::connection::{DisconnectCause, LinkedDevice, LogoutReason};
use wa_protocol::stanza::MessageStanza;
use wa_protocol::MessageId;

use crate::command::SendReply;
use crate::event::EventKind;
use crate::persist::{Job, Work};

/// What the driver does once a queued job has finished.
pub(crate) enum After {
    /// Emit an event (kept in order behind earlier writes).
    Emit(EventKind),
    /// Emit the events the job produced (`Output::Events`), in order.
    EmitOutput,
    /// The pairing is durable: release the reply, announce it.
    Paired(LinkedDevice),
    /// The device record is saved: announce the login.
    Connected { jid: Jid, lid: Option<Jid> },
    /// The prekeys are durable: upload them.
    Upload,
    /// The upload is recorded.
    Uploaded { count: usize },
    /// The keys are wiped.
    LoggedOut(LogoutReason),
    /// The connection is over (its last event).
    Disconnected(DisconnectCause),
    /// Messaging steps.
    Msg(MsgAfter),
}

/// What the driver does once a messaging job has finished.
pub(crate) enum MsgAfter {
    /// The send's commit is durable: write the message.
    Send(Box<MessageStanza>),
    /// A send job has run (`messaging::send_job`): write its message, or hand it back.
    Queued(SendReply),
    /// The server's ack is recorded: announce the status, resolve the send.
    Acked { id: MessageId, t: Option<u64> },
    /// The server's refusal is recorded: announce it, fail the send with the code.
    Rejected { id: MessageId, code: u16 },
    /// Receipts are recorded: announce the statuses that moved (also: a cache write with
    /// nothing to announce).
    Statuses,
    /// An incoming message is committed (durably): ack, receipt, announce, mark reported.
    Received,
}

impl MsgAfter {
    /// The durable job writing `work` before this step. Receipt statuses wait patiently
    /// (`persist_wait`): their only follow-up is the `MessageStatus` event (the protocol layer
    /// acked the receipt already), which still leaves only once the status is durable.
    pub(crate) fn durable_job(self, work: Work) -> Job<After> {
        let patient = matches!(self, MsgAfter::Statuses);
        let job = Job::durable(work, After::Msg(self));
        if patient {
            job.patiently()
        } else {
            job
        }
    }
}

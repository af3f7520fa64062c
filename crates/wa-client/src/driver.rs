//! One connection's life: socket ⇄ `Connection`, persistence through the ordered [`Pipeline`],
//! commands in, events out.
//!
//! ```text
//!  commands (mpsc) ─┐                         ┌─▶ events (after their writes, in order)
//!  socket bytes ────┼─▶ Connection (sans-IO) ─┼─▶ Pipeline: store writes off the loop
//!  poll_timeout ────┘        │                └─▶ IQ answers (at once)
//!                            └─▶ transmits (held while a gating write is pending)
//! ```
//!
//! The loop follows the connection's contract: every event is taken before the bytes queued
//! with it are written, and bytes that depend on persisted state (the pair-success reply)
//! leave only once that state is durable. Prekeys are stored (durably) before the command that
//! uploads them is even given. Meanwhile the loop keeps reading the socket, firing timers and
//! taking commands.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use wa_protocol::connection::{
    Command, Connection, Credentials, DisconnectCause, Event as ProtocolEvent, Phase,
};
use wa_protocol::stanza::{IqResponse, Notification, NotificationBody};
use wa_protocol::MessageId;
use wa_store::{DeviceIdentity, StatusEvent};

use crate::command::{AccountCommand, SendReply};
use crate::context::Ctx;
use crate::driver_after::{After, MsgAfter};
use crate::error::Error;
use crate::event::EventKind;
use crate::handle::WeakHandle;
use crate::messaging::device_cache::changed_users;
use crate::messaging::group_events::group_changes;
use crate::messaging::receive::Received;
use crate::messaging::send_job::Ran;
use crate::messaging::{group_retry, resend, retry};
use crate::persist::{Finished, Job, Output, Pipeline, Work};
use crate::protocol_events::{receive_keys, translate};
use crate::records::device_from;
use crate::socket::Ws;

/// How one connection ended, for the reconnect decision.
pub(crate) enum Ended {
    Disconnected(DisconnectCause),
    Shutdown,
}

type Sink = SplitSink<Ws, Message>;
type Stream = SplitStream<Ws>;

/// One connection's state in the driver.
struct Drive<'a> {
    ctx: &'a mut Ctx,
    commands: &'a mut mpsc::UnboundedReceiver<AccountCommand>,
    attempt: &'a mut u32,
    conn: Connection<StdRng>,
    pipeline: Pipeline<After>,
    iq_waiters: HashMap<u64, oneshot::Sender<Option<IqResponse>>>,
    /// Sends waiting for the server's verdict, by message id.
    send_waiters: HashMap<MessageId, oneshot::Sender<Result<Option<u64>, Error>>>,
    next_token: u64,
    shutdown: bool,
    commands_closed: bool,
    /// A gating write failed: the bytes queued behind it must never leave.
    discard_output: bool,
    ended: Option<DisconnectCause>,
}

/// Runs one connection over `ws` until it ends.
pub(crate) async fn drive(
    ctx: &mut Ctx,
    commands: &mut mpsc::UnboundedReceiver<AccountCommand>,
    ws: Ws,
    creds: Credentials,
    attempt: &mut u32,
) -> Ended {
    let (mut sink, mut stream) = ws.split();
    let conn = Connection::new(
        ctx.config.connection.clone(),
        creds,
        ctx.child_rng(),
        ctx.now(),
    );
    let pipeline = Pipeline::new(std::sync::Arc::clone(&ctx.store), ctx.id);
    let mut d = Drive {
        ctx,
        commands,
        attempt,
        conn,
        pipeline,
        iq_waiters: HashMap::new(),
        send_waiters: HashMap::new(),
        next_token: 1,
        shutdown: false,
        commands_closed: false,
        discard_output: false,
        ended: None,
    };
    loop {
        while let Some(event) = d.conn.poll_event() {
            d.accept(event);
        }
        if let Some(cause) = d.ended.take() {
            d.flush(&mut sink).await;
            if let Err(error) = sink.close().await {
                tracing::debug!(account = %d.ctx.id, %error, "closing the socket");
            }
            return if d.shutdown {
                Ended::Shutdown
            } else {
                Ended::Disconnected(cause)
            };
        }
        // Before transmitting: a pair-code request it issues leaves in this same turn.
        d.after_step();
        if !d.pipeline.holds_output() {
            d.transmit(&mut sink, &mut stream).await;
        }
        d.wait(&mut stream).await;
    }
}

impl Drive<'_> {
    /// Takes one protocol event: IQ answers at once, everything else in order behind pending
    /// writes (with its own write, if it carries state).
    fn accept(&mut self, event: ProtocolEvent) {
        let now = self.ctx.now().0;
        let record = |d: &Self| Box::new(device_from(d.conn.credentials(), &d.ctx.config, now));
        match event {
            ProtocolEvent::IqResponse { token, response } => {
                if let Some(tx) = self.iq_waiters.remove(&token) {
                    // The asker may have given up; nothing to do then.
                    if tx.send(response).is_err() {
                        tracing::trace!(account = %self.ctx.id, token, "IQ answer unclaimed");
                    }
                }
            }
            ProtocolEvent::PairSuccess(device) => {
                // Durable before the pair-device-sign reply (queued behind this event) leaves.
                let work = Work::SaveDevice(record(self));
                self.pipeline
                    .push(Job::durable(work, After::Paired(device)).gating_output());
            }
            ProtocolEvent::Connected { jid, lid, .. } => {
                *self.attempt = 0;
                let device = record(self);
                self.set_cached_device(Some(std::sync::Arc::new(DeviceIdentity::clone(&device))));
                let work = Work::LoggedIn(device);
                self.pipeline
                    .push(Job::buffered(work, After::Connected { jid, lid }));
            }
            ProtocolEvent::PreKeysNeeded { count } => {
                let rng = Box::new(self.ctx.child_rng());
                let work = Work::AddPreKeys { count, rng };
                self.pipeline.push(Job::durable(work, After::Upload));
            }
            ProtocolEvent::PreKeysUploaded { ids } => {
                let count = ids.len();
                let work = Work::MarkUploaded(ids);
                self.pipeline
                    .push(Job::buffered(work, After::Uploaded { count }));
            }
            ProtocolEvent::LoggedOut { reason } => {
                self.set_cached_device(None);
                self.pipeline
                    .push(Job::durable(Work::Logout, After::LoggedOut(reason)));
            }
            ProtocolEvent::Disconnected { cause } => self.in_order(After::Disconnected(cause)),
            ProtocolEvent::MessageAcked { .. }
            | ProtocolEvent::MessageRejected { .. }
            | ProtocolEvent::MessageUnconfirmed { .. }
            | ProtocolEvent::Message(_)
            | ProtocolEvent::Receipt(_) => self.accept_messaging(event, now),
            ProtocolEvent::Stanza(node) => self.notification(node),
            ProtocolEvent::RefreshLid { user } => {
                let after = After::Msg(MsgAfter::Statuses);
                let work = Work::ForgetDevices(vec![user]);
                self.pipeline.push(Job::buffered(work, after));
            }
            ProtocolEvent::StalePhash { id, chat } => {
                if let Some(handle) = &self.ctx.handle {
                    handle.cache().stale_phash(&chat, id);
                }
            }
            ProtocolEvent::SendFailed { error } => {
                tracing::warn!(account = %self.ctx.id, %error, "node not sent");
            }
            other => {
                if let Some(kind) = translate(other) {
                    self.in_order(After::Emit(kind));
                }
            }
        }
    }

    /// Runs `after` now if nothing is pending, else queues it behind the pending writes.
    fn in_order(&mut self, after: After) {
        if self.pipeline.is_idle() {
            self.settle(Ok(Output::Done), after);
        } else {
            self.pipeline.push(Job::in_order(after));
        }
    }

    /// Acts on a finished job.
    fn settle(&mut self, result: Result<Output, Error>, after: After) {
        let id = self.ctx.id;
        match (after, result) {
            (After::Emit(kind), _) => self.ctx.emit(kind),
            (After::EmitOutput, Ok(Output::Events(all))) => {
                all.into_iter().for_each(|e| self.ctx.emit(e))
            }
            (After::EmitOutput, _) => {}
            (After::Msg(m), result) => self.settle_messaging(m, result),
            (After::Disconnected(cause), _) => self.ended = Some(cause),
            (After::Paired(device), Ok(_)) => self.ctx.emit(EventKind::Paired {
                jid: device.jid,
                lid: device.lid,
                platform: device.platform,
                business_name: device.business_name,
            }),
            (After::Paired(_), Err(error)) => {
                tracing::error!(account = %id, %error, "cannot store the pairing");
                self.discard_output = true;
                while self.conn.poll_transmit().is_some() {}
                self.conn.handle_command(Command::Close, self.ctx.now());
            }
            (After::Connected { jid, lid }, result) => {
                if let Err(error) = result {
                    tracing::warn!(account = %id, %error, "cannot update the device record");
                }
                let clock = std::sync::Arc::clone(&self.ctx.config.clock);
                let handle = self.ctx.handle.as_ref();
                resend::after_login(handle, &self.ctx.store, clock, self.ctx.now());
                self.ctx.emit(EventKind::Connected { jid, lid });
            }
            (After::Upload, Ok(Output::PreKeys(keys))) => {
                self.conn
                    .handle_command(Command::UploadPreKeys(keys), self.ctx.now());
            }
            (After::Upload, Ok(_)) => {
                tracing::error!(account = %id, "the prekey write returned no keys");
                self.conn.handle_command(Command::Close, self.ctx.now());
            }
            (After::Upload, Err(error)) => {
                tracing::error!(account = %id, %error, "cannot store prekeys");
                self.conn.handle_command(Command::Close, self.ctx.now());
            }
            (After::Uploaded { count }, result) => {
                if let Err(error) = result {
                    tracing::warn!(account = %id, %error, "cannot mark prekeys uploaded");
                }
                self.ctx.emit(EventKind::PreKeysUploaded { count });
            }
            (After::LoggedOut(reason), result) => {
                if let Err(error) = result {
                    tracing::error!(account = %id, %error, "cannot wipe the keys");
                }
                self.ctx.emit(EventKind::LoggedOut { reason });
            }
        }
    }

    /// Writes the queued bytes; on a write error, reads what the server may still have said
    /// (a stream error) before calling it a transport failure.
    async fn transmit(&mut self, sink: &mut Sink, stream: &mut Stream) {
        let mut fed = false;
        loop {
            // Every ready frame is fed, then one flush writes them (not one flush per frame).
            let written = match self.conn.poll_transmit() {
                Some(bytes) => {
                    fed = true;
                    sink.feed(Message::binary(bytes)).await
                }
                None if fed => {
                    fed = false;
                    sink.flush().await
                }
                None => break,
            };
            if written.is_err() {
                let clock = std::sync::Arc::clone(&self.ctx.config.clock);
                let conn = &mut self.conn;
                let drain = async {
                    while let Some(Ok(Message::Binary(data))) = stream.next().await {
                        conn.handle_input(&data, clock.now());
                    }
                };
                if tokio::time::timeout(Duration::from_millis(200), drain)
                    .await
                    .is_err()
                {
                    tracing::trace!(account = %self.ctx.id, "nothing more to read");
                }
                self.conn.handle_socket_closed();
                break;
            }
        }
    }

    /// The last bytes of a closed connection (none if a gating write failed).
    async fn flush(&mut self, sink: &mut Sink) {
        if self.discard_output {
            return;
        }
        while let Some(bytes) = self.conn.poll_transmit() {
            if sink.send(Message::binary(bytes)).await.is_err() {
                break;
            }
        }
    }

    /// Refreshes the live facts and sends a waiting pair-code request when it can.
    fn after_step(&mut self) {
        let phase = self.conn.phase();
        self.ctx.set_phase(phase);
        if matches!(phase, Phase::Unpaired | Phase::LoggedIn) {
            if let Some(phone) = self.ctx.pending_pair.take() {
                let command = Command::PairPhone {
                    phone,
                    show_push_notification: true,
                };
                self.conn.handle_command(command, self.ctx.now());
            }
        }
    }

    /// Waits for the next thing to do: a finished write, socket input, a command or a timer.
    async fn wait(&mut self, stream: &mut Stream) {
        let deadline = self.conn.poll_timeout();
        let now = self.ctx.now();
        let sleep = async move {
            match deadline {
                Some(at) => tokio::time::sleep(Duration::from_millis(at.since(now))).await,
                None => std::future::pending::<()>().await,
            }
        };
        let closed = self.conn.is_closed();
        tokio::select! {
            finished = self.pipeline.next(), if !self.pipeline.is_idle() => {
                let Finished { result, after } = finished;
                self.settle(result, after);
            }
            msg = stream.next(), if !closed => match msg {
                Some(Ok(Message::Binary(data))) => self.conn.handle_input(&data, self.ctx.now()),
                Some(Ok(Message::Close(_)) | Err(_)) | None => self.conn.handle_socket_closed(),
                Some(Ok(_)) => {}
            },
            cmd = self.commands.recv(), if !self.commands_closed => self.command(cmd),
            () = sleep, if !closed => self.conn.handle_timeout(self.ctx.now()),
        }
    }

    fn command(&mut self, cmd: Option<AccountCommand>) {
        let now = self.ctx.now();
        match cmd {
            Some(AccountCommand::Protocol(c)) => self.conn.handle_command(c, now),
            Some(AccountCommand::Iq(request, reply)) => {
                let token = self.next_token;
                self.next_token += 1;
                self.iq_waiters.insert(token, reply);
                self.conn
                    .handle_command(Command::Iq { token, request }, now);
            }
            Some(AccountCommand::PairPhone(phone)) => self.ctx.pending_pair = Some(phone),
            Some(AccountCommand::Send(job, reply)) => {
                let after = After::Msg(MsgAfter::Queued(reply));
                self.pipeline.push(Job::durable(Work::Send(job), after));
            }
            Some(AccountCommand::SendMessage(stanza, reply)) => {
                self.send_waiters.insert(stanza.id.clone(), reply);
                // Durable before the bytes leave: the commit happened before this command.
                let after = After::Msg(MsgAfter::Send(stanza));
                self.pipeline.push(Job::durable(Work::Nothing, after));
            }
            None | Some(AccountCommand::Shutdown) => {
                self.commands_closed |= cmd.is_none();
                self.shutdown = true;
                self.conn.handle_command(Command::Close, now);
            }
        }
    }
}

impl Drive<'_> {
    /// Messaging events: acks resolve sends (after the status is recorded), incoming messages
    /// are decrypted and committed before their ack, receipts move statuses.
    fn accept_messaging(&mut self, event: ProtocolEvent, now: u64) {
        let secs = now / 1000;
        let (work, after) = match event {
            ProtocolEvent::MessageAcked { id, t } => {
                let ev = StatusEvent::ServerAck {
                    server_t: t.unwrap_or(secs),
                };
                let work = Work::Status {
                    events: vec![(id.clone(), ev)],
                    now_ms: now,
                };
                (work, MsgAfter::Acked { id, t })
            }
            ProtocolEvent::MessageRejected { id, code } => {
                let ev = StatusEvent::Rejected { code };
                let work = Work::Status {
                    events: vec![(id.clone(), ev)],
                    now_ms: now,
                };
                (work, MsgAfter::Rejected { id, code })
            }
            ProtocolEvent::MessageUnconfirmed { id } => {
                self.resolve(&id, Err(Error::Unconfirmed(id.as_str().to_owned())));
                return;
            }
            ProtocolEvent::Message(stanza) => {
                let keys = Box::new(receive_keys(self.conn.credentials()));
                (
                    Work::Receive {
                        stanza,
                        keys,
                        now_ms: now,
                        lock: self.ctx.handle.as_ref().map(WeakHandle::send_lock),
                    },
                    MsgAfter::Received,
                )
            }
            ProtocolEvent::Receipt(receipt) => {
                let t = receipt.t.unwrap_or(secs);
                let ev = if receipt.kind.is_read() {
                    StatusEvent::Read { t }
                } else if receipt.kind.is_delivery() {
                    StatusEvent::Delivered { t }
                } else {
                    let handle = self.ctx.handle.as_ref();
                    if group_retry::is_group_retry(&receipt) {
                        let store = &self.ctx.store;
                        group_retry::on_group_retry(handle, store, *receipt, self.ctx.now());
                    } else if receipt.retry.is_some() {
                        retry::on_retry_receipt(handle, &self.ctx.store, *receipt, self.ctx.now());
                    }
                    return;
                };
                let events = receipt.ids().map(|id| (id.clone(), ev)).collect();
                (
                    Work::Status {
                        events,
                        now_ms: now,
                    },
                    MsgAfter::Statuses,
                )
            }
            _ => return,
        };
        self.pipeline.push(after.durable_job(work));
    }

    fn settle_messaging(&mut self, after: MsgAfter, result: Result<Output, Error>) {
        let id = self.ctx.id;
        if let MsgAfter::Queued(reply) = after {
            return self.queued(reply, result);
        }
        let result = match result {
            Ok(Output::Statuses(moved)) => {
                for (message, status) in moved {
                    self.ctx.emit(EventKind::MessageStatus {
                        id: message,
                        status,
                    });
                }
                Ok(None)
            }
            Ok(Output::Received(received)) => Ok(Some(received)),
            Ok(Output::Done | Output::PreKeys(_) | Output::Sent(_) | Output::Events(_)) => Ok(None),
            Err(error) => Err(error),
        };
        match (after, result) {
            (MsgAfter::Send(stanza), Ok(_)) => {
                self.conn
                    .handle_command(Command::SendMessage(stanza), self.ctx.now());
            }
            (MsgAfter::Send(stanza), Err(error)) => self.resolve(&stanza.id, Err(error)),
            (MsgAfter::Acked { id: message, t }, result) => {
                if let Err(error) = result {
                    tracing::warn!(account = %id, %error, "cannot record a server ack");
                }
                self.resolve(&message, Ok(t));
            }
            (MsgAfter::Rejected { id: message, code }, _) => {
                let error = Error::Rejected {
                    id: message.as_str().to_owned(),
                    code,
                };
                self.resolve(&message, Err(error));
            }
            (MsgAfter::Received, Ok(Some(received))) => self.delivered(*received),
            (MsgAfter::Received, Err(error)) => {
                // Not acked: the server delivers it again.
                tracing::error!(account = %id, %error, "cannot commit a received message");
            }
            (MsgAfter::Statuses | MsgAfter::Received | MsgAfter::Queued(_), _) => {}
        }
    }

    /// A send job has run: its stanza goes out (its waiter now waits for the ack), or the job
    /// goes back for bundles, or the send fails.
    fn queued(&mut self, reply: SendReply, result: Result<Output, Error>) {
        let gone = match result {
            Ok(Output::Sent(Ran::Sent(stanza))) => {
                self.send_waiters.insert(stanza.id.clone(), reply.verdict);
                let now = self.ctx.now();
                return self.conn.handle_command(Command::SendMessage(stanza), now);
            }
            Ok(Output::Sent(Ran::Needs(job, need))) => reply.bundles.send((job, need)).is_err(),
            // No other output comes from a send job; the dropped reply fails the send.
            Ok(_) => false,
            Err(error) => reply.verdict.send(Err(error)).is_err(),
        };
        if gone {
            tracing::trace!(account = %self.ctx.id, "sender gone");
        }
    }

    /// A committed incoming message: ack, delivery receipt, event, then its report mark
    /// (`reports::reported`).
    fn delivered(&mut self, received: Received) {
        let now = self.ctx.now();
        let ack = received.ack.to_node();
        self.conn.handle_command(Command::Send(ack), now);
        if let Some(receipt) = received.receipt {
            self.conn
                .handle_command(Command::Send(receipt.to_node()), now);
        }
        if let Some((message, seq)) = received.report {
            self.ctx.emit(EventKind::Message(message));
            crate::reports::reported(self.ctx, seq);
        }
    }

    /// A stanza the connection passed on: a devices notification first drops the cached
    /// lists, a privacy-token one stores its tokens, a `w:gp2` one drops the group's cached
    /// metadata and is announced as [`EventKind::GroupChanged`]s (members completed from the
    /// PN ↔ LID map by a pipeline job); each is then announced in order.
    fn notification(&mut self, node: wa_protocol::binary::Node) {
        if let Some((group, mut events)) = group_changes(&node) {
            if let Some(handle) = &self.ctx.handle {
                handle.cache().forget_group(&group);
            }
            events.push(EventKind::Stanza(node));
            let job = Job::buffered(Work::GroupChanges(events), After::EmitOutput);
            return self.pipeline.push(job);
        }
        if let Some(users) = changed_users(&node) {
            let after = After::Emit(EventKind::Stanza(node));
            let work = Work::ForgetDevices(users);
            return self.pipeline.push(Job::buffered(work, after));
        }
        if node.tag != "notification" {
            return self.in_order(After::Emit(EventKind::Stanza(node)));
        }
        let tokens = match Notification::from_node(&node) {
            Ok(Notification {
                body: NotificationBody::PrivacyToken(tokens),
                ..
            }) => tokens,
            _ => return self.in_order(After::Emit(EventKind::Stanza(node))),
        };
        let now_ms = self.ctx.now().0;
        let work = Work::PrivacyTokens { tokens, now_ms };
        let after = After::Emit(EventKind::Stanza(node));
        self.pipeline.push(Job::buffered(work, after));
    }

    fn set_cached_device(&self, device: Option<std::sync::Arc<DeviceIdentity>>) {
        if let Some(handle) = &self.ctx.handle {
            handle.cache().set_device(device);
        }
    }

    fn resolve(&mut self, id: &MessageId, outcome: Result<Option<u64>, Error>) {
        if let Some(tx) = self.send_waiters.remove(id) {
            if tx.send(outcome).is_err() {
                tracing::trace!(account = %self.ctx.id, "sender gone");
            }
        }
    }
}

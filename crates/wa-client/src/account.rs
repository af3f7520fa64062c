//! One tokio task per account: loads (or creates) its device identity, connects, runs
//! [`crate::driver`] for each connection, and reconnects with backoff while the cause allows.
//!
//! ```text
//!  AccountHandle ── commands (mpsc) ──▶ AccountTask::run
//!       ▲ status (watch)                   loop { credentials ─▶ proxy ─▶ WebSocket ─▶ drive()
//!       └──────────────────────────────────        ─▶ Disconnected{cause} ─▶ backoff or stop }
//! ```

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use wa_protocol::connection::{Credentials, DisconnectCause, Reconnect};
use wa_store::{AccountId, Durability, Store};

use crate::command::AccountCommand;
use crate::config::{ClientConfig, ReportAcks};
use crate::context::Ctx;
use crate::driver::{drive, Ended};
use crate::error::{Error, Fault};
use crate::event::{Event, EventKind};
/// The handle lives in `handle.rs`; named here too for the callers that know it from here.
pub(crate) use crate::handle::AccountHandle;
use crate::messaging::receive::pending;
use crate::metrics::ClientMetrics;
use crate::proxy::Proxy;
use crate::records::{credentials_from, device_from, linked_ids};
use crate::socket::open_websocket;
use crate::status::{FailReason, SessionState, Status};

/// Starts the task of account `id`. It loads (or creates) the device identity from `store`.
pub fn spawn_account(
    store: Arc<dyn Store>,
    id: AccountId,
    config: ClientConfig,
    events: broadcast::Sender<Event>,
) -> AccountHandle {
    spawn_counted(store, id, config, events, Arc::default())
}

/// [`spawn_account`] counting into `metrics` (the registry's). The task and everything it
/// spawns run in a span with the `account` field, so every log line of the session names it.
pub(crate) fn spawn_counted(
    store: Arc<dyn Store>,
    id: AccountId,
    config: ClientConfig,
    events: broadcast::Sender<Event>,
    metrics: Arc<ClientMetrics>,
) -> AccountHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    // The task runs from here on: `Starting` until its first event (never `Stopped`, which
    // the HTTP API reads as "no session", CONTRACTS §F).
    let mut first = Status::stopped(id, None, None);
    first.state = SessionState::Starting;
    let (status_tx, status_rx) = watch::channel(first);
    let handle = AccountHandle::new(id, tx, events.clone(), status_rx, Arc::clone(&metrics));
    let mut ctx = Ctx::new(id, store, config, events, status_tx);
    ctx.metrics = metrics;
    ctx.handle = Some(handle.downgrade());
    let task = AccountTask { ctx, commands: rx };
    let span = tracing::info_span!("session", account = %id);
    tokio::spawn(tracing::Instrument::instrument(task.run(), span));
    handle
}

struct AccountTask {
    ctx: Ctx,
    commands: mpsc::UnboundedReceiver<AccountCommand>,
}

impl AccountTask {
    async fn run(mut self) {
        let mut attempt = 0u32;
        self.hand_over_pending().await;
        loop {
            let creds = match self.load_or_create_credentials().await {
                Ok(c) => c,
                Err(error) => {
                    tracing::error!(account = %self.ctx.id, %error, "cannot load the device identity");
                    self.ctx.fail(FailReason::Store);
                    break;
                }
            };
            self.ctx.emit(EventKind::Connecting { attempt });
            let proxy = match self.proxy().await {
                Ok(p) => p,
                Err(error) => {
                    tracing::error!(account = %self.ctx.id, %error, "bad proxy configuration");
                    self.ctx.fail(match error.fault() {
                        Fault::Caller => FailReason::Config,
                        _ => FailReason::Store,
                    });
                    break;
                }
            };
            let timeout = self.ctx.config.connection.handshake_timeout_ms;
            let url = self.ctx.config.url.clone();
            let ended = match open_websocket(&url, timeout, proxy.as_ref()).await {
                Ok(ws) => drive(&mut self.ctx, &mut self.commands, ws, creds, &mut attempt).await,
                Err(error) => {
                    tracing::debug!(account = %self.ctx.id, %error, "connect failed");
                    Ended::Disconnected(DisconnectCause::Transport)
                }
            };
            let Ended::Disconnected(cause) = ended else {
                break;
            };
            let delay = match cause.reconnect() {
                Reconnect::Never => None,
                Reconnect::Immediately => Some(Duration::ZERO),
                Reconnect::WithBackoff => {
                    let d = self.ctx.config.backoff.delay(attempt, &mut self.ctx.rng);
                    attempt = attempt.saturating_add(1);
                    Some(d)
                }
            };
            self.ctx.emit(EventKind::Disconnected {
                cause,
                reconnect_in: delay,
            });
            let Some(delay) = delay else {
                break;
            };
            if self.wait_or_shutdown(delay).await {
                break;
            }
        }
        self.ctx.emit(EventKind::Stopped);
    }

    /// Messages committed before the last stop (or crash) but never handed over: announced
    /// now, once, then marked reported (`Store::pending_reports`) — by the consumer's
    /// [`crate::Gateway::ack_report`] under [`ReportAcks::Consumer`] (one that does not decode
    /// is marked here, so it does not come back at every start).
    async fn hand_over_pending(&mut self) {
        let id = self.ctx.id;
        let pending = self.ctx.blocking(move |s| pending(s, id, 10_000)).await;
        let pending = match pending {
            Ok(p) => p,
            Err(error) => {
                tracing::error!(account = %id, %error, "cannot read pending reports");
                return;
            }
        };
        for (message, seq) in pending {
            if let Some(message) = message {
                self.ctx.emit(EventKind::Message(Box::new(message)));
                if self.ctx.config.reports == ReportAcks::Consumer {
                    // Stays pending until the consumer acks it (`reports.rs`).
                    continue;
                }
            }
            let marked = self
                .ctx
                .blocking(move |s| s.mark_reported(&id, seq, Durability::Buffered))
                .await;
            if let Err(error) = marked {
                tracing::warn!(account = %id, %error, "cannot mark a message reported");
            }
        }
    }

    /// Sleeps for `delay` unless a shutdown arrives first (`true`).
    async fn wait_or_shutdown(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return false,
                cmd = self.commands.recv() => match cmd {
                    None | Some(AccountCommand::Shutdown) => return true,
                    Some(AccountCommand::Iq(_, reply)) => {
                        // Not connected: the asker learns it at once (or has given up).
                        if reply.send(None).is_err() {
                            tracing::trace!(account = %self.ctx.id, "IQ asker gone");
                        }
                    }
                    Some(AccountCommand::PairPhone(phone)) => self.ctx.pending_pair = Some(phone),
                    Some(AccountCommand::Send(_, reply)) => {
                        // Not connected: nothing committed, the sender learns it at once.
                        if reply.verdict.send(Err(Error::Closed)).is_err() {
                            tracing::trace!(account = %self.ctx.id, "sender gone");
                        }
                    }
                    Some(AccountCommand::SendMessage(_, reply)) => {
                        // Committed but never written: not sent (its status stays short of it).
                        if reply.send(Err(Error::Closed)).is_err() {
                            tracing::trace!(account = %self.ctx.id, "sender gone");
                        }
                    }
                    Some(AccountCommand::Protocol(_)) => {}
                },
            }
        }
    }

    /// The account's proxy, if enabled (read at every connect, so a change applies on the next
    /// reconnect).
    async fn proxy(&self) -> Result<Option<Proxy>, Error> {
        let id = self.ctx.id;
        let account = self.ctx.blocking(move |s| s.account(&id)).await?;
        match account {
            Some(a) if a.proxy.enabled && !a.proxy.url.trim().is_empty() => {
                a.proxy.url.parse().map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn load_or_create_credentials(&mut self) -> Result<Credentials, Error> {
        let id = self.ctx.id;
        if let Some(device) = self.ctx.blocking(move |s| s.device(&id)).await? {
            let (jid, lid) = linked_ids(&device);
            self.ctx.set_ids(jid, lid);
            return Ok(credentials_from(&device));
        }
        self.ctx.set_ids(None, None);
        let creds = Credentials::generate(&mut self.ctx.rng);
        let device = device_from(&creds, &self.ctx.config, self.ctx.now().0);
        self.ctx
            .durably(move |s| s.save_device(&id, &device, Durability::Buffered))
            .await?;
        Ok(creds)
    }
}

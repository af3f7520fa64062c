//! One tokio task per account: socket ⇄ `Connection`, persistence through wa-store, reconnect
//! with backoff, commands in, events out.
//!
//! ```text
//!  commands (mpsc) ─┐                     ┌─▶ events (broadcast, per registry)
//!  socket bytes ────┼─▶ Connection (sans-IO) ──▶ store (durable where it matters) ─▶ socket
//!  poll_timeout ────┘
//! ```
//!
//! The loop follows the connection's contract: drain every event (persisting what it carries)
//! before writing the bytes it queued, so a pairing or a prekey batch is on disk before the
//! server can act on it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use wa_protocol::binary::{Jid, Node};
use wa_protocol::connection::{
    Command, Config, Connection, Credentials, DisconnectCause, Event, LinkedDevice, LogoutReason,
    Millis, Reconnect,
};
use wa_protocol::stanza::IqRequest;
use wa_store::{AccountId, DeviceIdentity, Durability, Secret, SignedPreKey, Store};

use crate::proxy::Proxy;
use crate::socket::{open_websocket, ClientError, Ws};

/// Reconnect delays: exponential from `initial` to `max`, with ±`jitter` (fraction) randomness.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Upper bound.
    pub max: Duration,
    /// Random spread, 0.0..=1.0 of the delay.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// The delay before attempt `n` (0-based).
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let spread = base.as_secs_f64() * self.jitter.clamp(0.0, 1.0);
        let offset = if spread > 0.0 {
            rng.gen_range(-spread..=spread)
        } else {
            0.0
        };
        Duration::from_secs_f64((base.as_secs_f64() + offset).max(0.0))
    }
}

/// What every account task needs to know.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// WebSocket URL of the server.
    pub url: String,
    /// The protocol settings (trust root, client version, timers).
    pub connection: Config,
    /// Reconnect policy for transient drops.
    pub backoff: Backoff,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            url: crate::socket::PRODUCTION_URL.to_owned(),
            connection: Config::default(),
            backoff: Backoff::default(),
        }
    }
}

/// What an account reports (to the HTTP layer, the CLI, tests).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Connecting (attempt number, from 0).
    Connecting {
        /// Attempt since the last success.
        attempt: u32,
    },
    /// Show this QR code.
    Qr {
        /// The QR text.
        code: String,
        /// Unix ms when it expires.
        expires_at_ms: u64,
    },
    /// Every QR code expired unscanned.
    QrTimeout,
    /// Type this code on the phone.
    PairCode {
        /// `XXXX-XXXX`.
        code: String,
    },
    /// Linked to the phone (stored); a restart and login follow.
    Paired {
        /// Our device JID.
        jid: Jid,
    },
    /// Pairing failed.
    PairError {
        /// Wire code.
        code: u16,
        /// Wire text.
        text: String,
    },
    /// Logged in and ready.
    Connected {
        /// Our device JID.
        jid: Jid,
        /// Our LID.
        lid: Option<Jid>,
    },
    /// One-time prekeys uploaded.
    PreKeysUploaded {
        /// How many.
        count: usize,
    },
    /// Keepalive ping unanswered.
    KeepAliveTimeout {
        /// Consecutive failures.
        failures: u32,
    },
    /// Keepalive recovered.
    KeepAliveRestored,
    /// The server says our version is too old.
    ClientOutdated,
    /// Temporarily banned.
    TemporaryBan {
        /// Reason code.
        code: u16,
        /// Seconds.
        expire_secs: u64,
    },
    /// A stream error.
    StreamError {
        /// Its code.
        code: Option<u16>,
    },
    /// The session is gone; keys are wiped.
    LoggedOut {
        /// Why.
        reason: LogoutReason,
    },
    /// The connection ended; `reconnect_in` is `None` when no reconnect follows.
    Disconnected {
        /// Why.
        cause: DisconnectCause,
        /// Delay before the next attempt.
        reconnect_in: Option<Duration>,
    },
    /// A stanza for higher layers (messages, receipts, notifications).
    Stanza(Node),
    /// The task ended (stopped, logged out, replaced or refused).
    Stopped,
}

/// Commands to an account task.
#[derive(Debug)]
enum AccountCommand {
    Protocol(Command),
    Iq(
        IqRequest,
        oneshot::Sender<Option<wa_protocol::stanza::IqResponse>>,
    ),
    Shutdown,
}

/// A running account: send commands, subscribe to events.
#[derive(Debug, Clone)]
pub struct AccountHandle {
    id: AccountId,
    commands: mpsc::UnboundedSender<AccountCommand>,
    events: broadcast::Sender<(AccountId, ClientEvent)>,
}

impl AccountHandle {
    /// The account's id.
    pub fn id(&self) -> &AccountId {
        &self.id
    }

    /// Events of this registry (all accounts; filter by id).
    pub fn subscribe(&self) -> broadcast::Receiver<(AccountId, ClientEvent)> {
        self.events.subscribe()
    }

    /// Sends a node as is.
    pub fn send(&self, node: Node) -> bool {
        self.commands
            .send(AccountCommand::Protocol(Command::Send(node)))
            .is_ok()
    }

    /// Sends an IQ and waits for its answer (`None`: timeout or disconnect).
    pub async fn iq(&self, request: IqRequest) -> Option<wa_protocol::stanza::IqResponse> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(AccountCommand::Iq(request, tx)).ok()?;
        rx.await.ok().flatten()
    }

    /// Asks for a phone-number pair code (while unpaired).
    pub fn pair_phone(&self, phone: &wa_protocol::PhoneNumber) -> bool {
        self.commands
            .send(AccountCommand::Protocol(Command::PairPhone {
                phone: phone.clone(),
                show_push_notification: true,
            }))
            .is_ok()
    }

    /// Unlinks this companion and wipes its keys.
    pub fn logout(&self) -> bool {
        self.commands
            .send(AccountCommand::Protocol(Command::Logout))
            .is_ok()
    }

    /// Stops the task (graceful; keys stay).
    pub fn shutdown(&self) -> bool {
        self.commands.send(AccountCommand::Shutdown).is_ok()
    }

    /// Whether the task is still running.
    pub fn is_running(&self) -> bool {
        !self.commands.is_closed()
    }
}

/// Starts the task of account `id`. It loads (or creates) the device identity from `store`.
pub fn spawn_account(
    store: Arc<dyn Store>,
    id: AccountId,
    config: ClientConfig,
    events: broadcast::Sender<(AccountId, ClientEvent)>,
) -> AccountHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = AccountHandle {
        id,
        commands: tx,
        events: events.clone(),
    };
    let task = AccountTask {
        store,
        id,
        config,
        events,
        commands: rx,
        rng: StdRng::from_entropy(),
    };
    tokio::spawn(task.run());
    handle
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

struct AccountTask {
    store: Arc<dyn Store>,
    id: AccountId,
    config: ClientConfig,
    events: broadcast::Sender<(AccountId, ClientEvent)>,
    commands: mpsc::UnboundedReceiver<AccountCommand>,
    rng: StdRng,
}

/// How one connection ended, for the reconnect decision.
enum Ended {
    Disconnected(DisconnectCause),
    Shutdown,
}

impl AccountTask {
    fn emit(&self, event: ClientEvent) {
        let _ = self.events.send((self.id, event));
    }

    async fn run(mut self) {
        let mut attempt = 0u32;
        loop {
            let creds = match self.load_or_create_credentials().await {
                Ok(c) => c,
                Err(error) => {
                    tracing::error!(account = %self.id, %error, "cannot load the device identity");
                    break;
                }
            };
            self.emit(ClientEvent::Connecting { attempt });
            let proxy = match self.proxy().await {
                Ok(p) => p,
                Err(error) => {
                    tracing::error!(account = %self.id, %error, "bad proxy configuration");
                    break;
                }
            };
            let timeout = self.config.connection.handshake_timeout_ms;
            let ended = match open_websocket(&self.config.url, timeout, proxy.as_ref()).await {
                Ok(ws) => self.drive(ws, creds, &mut attempt).await,
                Err(error) => {
                    tracing::debug!(account = %self.id, %error, "connect failed");
                    Ended::Disconnected(DisconnectCause::Transport)
                }
            };
            let cause = match ended {
                Ended::Shutdown => break,
                Ended::Disconnected(cause) => cause,
            };
            let delay = match cause.reconnect() {
                Reconnect::Never => None,
                Reconnect::Immediately => Some(Duration::ZERO),
                Reconnect::WithBackoff => {
                    let d = self.config.backoff.delay(attempt, &mut self.rng);
                    attempt = attempt.saturating_add(1);
                    Some(d)
                }
            };
            self.emit(ClientEvent::Disconnected {
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
        self.emit(ClientEvent::Stopped);
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
                    Some(AccountCommand::Iq(_, reply)) => { let _ = reply.send(None); }
                    Some(AccountCommand::Protocol(_)) => {}
                },
            }
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> wa_store::Result<T> + Send + 'static,
    ) -> Result<T, ClientError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| ClientError::Store(e.to_string()))?
            .map_err(|e| ClientError::Store(e.to_string()))
    }

    /// Runs a `Buffered` write on a blocking thread, then waits (async, no thread held) until
    /// it is durable: the store shares one `fdatasync` among every writer waiting meanwhile.
    async fn durably<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> wa_store::Result<T> + Send + 'static,
    ) -> Result<T, ClientError> {
        let out = self.blocking(f).await?;
        self.store
            .durable()
            .await
            .map_err(|e| ClientError::Store(e.to_string()))?;
        Ok(out)
    }

    /// The account's proxy, if enabled (read at every connect, so a change applies on the next
    /// reconnect).
    async fn proxy(&self) -> Result<Option<Proxy>, ClientError> {
        let id = self.id;
        let account = self.blocking(move |s| s.account(&id)).await?;
        match account {
            Some(a) if a.proxy.enabled && !a.proxy.url.trim().is_empty() => {
                a.proxy.url.parse().map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn load_or_create_credentials(&mut self) -> Result<Credentials, ClientError> {
        let id = self.id;
        if let Some(device) = self.blocking(move |s| s.device(&id)).await? {
            return Ok(credentials_from(&device));
        }
        let creds = Credentials::generate(&mut self.rng);
        let device = device_from(&creds, &self.config, now_ms());
        let id = self.id;
        self.durably(move |s| s.save_device(&id, &device, Durability::Buffered))
            .await?;
        Ok(creds)
    }

    async fn drive(&mut self, ws: Ws, creds: Credentials, attempt: &mut u32) -> Ended {
        let (mut sink, mut stream) = ws.split();
        let mut conn = Connection::new(
            self.config.connection.clone(),
            creds,
            StdRng::from_rng(&mut self.rng).unwrap_or_else(|_| StdRng::from_entropy()),
            Millis(now_ms()),
        );
        let mut iq_waiters: std::collections::HashMap<
            u64,
            oneshot::Sender<Option<wa_protocol::stanza::IqResponse>>,
        > = std::collections::HashMap::new();
        let mut next_token = 1u64;
        let mut shutdown = false;
        loop {
            // Events first (persisting), then transmits.
            while let Some(event) = conn.poll_event() {
                if let Some(cause) = self
                    .on_event(&mut conn, event, &mut iq_waiters, attempt)
                    .await
                {
                    for bytes in std::iter::from_fn(|| conn.poll_transmit()) {
                        let _ = sink.send(Message::binary(bytes)).await;
                    }
                    let _ = sink.close().await;
                    return if shutdown {
                        Ended::Shutdown
                    } else {
                        Ended::Disconnected(cause)
                    };
                }
            }
            while let Some(bytes) = conn.poll_transmit() {
                if sink.send(Message::binary(bytes)).await.is_err() {
                    // The server may have said why before closing (a stream error): read what
                    // is still buffered before calling it a transport failure.
                    let drain = async {
                        while let Some(Ok(Message::Binary(data))) = stream.next().await {
                            conn.handle_input(&data, Millis(now_ms()));
                        }
                    };
                    let _ = tokio::time::timeout(Duration::from_millis(200), drain).await;
                    conn.handle_socket_closed();
                    break;
                }
            }
            if conn.is_closed() {
                continue;
            }
            let deadline = conn.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(Millis(at)) => {
                        let wait = at.saturating_sub(now_ms());
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(Ok(Message::Binary(data))) => conn.handle_input(&data, Millis(now_ms())),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => conn.handle_socket_closed(),
                    Some(Ok(_)) => {}
                },
                cmd = self.commands.recv() => match cmd {
                    Some(AccountCommand::Protocol(c)) => conn.handle_command(c, Millis(now_ms())),
                    Some(AccountCommand::Iq(request, reply)) => {
                        let token = next_token;
                        next_token += 1;
                        iq_waiters.insert(token, reply);
                        conn.handle_command(Command::Iq { token, request }, Millis(now_ms()));
                    }
                    None | Some(AccountCommand::Shutdown) => {
                        shutdown = true;
                        conn.handle_command(Command::Close, Millis(now_ms()));
                    }
                },
                () = sleep => conn.handle_timeout(Millis(now_ms())),
            }
        }
    }

    /// Persists and forwards one event; `Some(cause)` when the connection is over.
    async fn on_event(
        &mut self,
        conn: &mut Connection<StdRng>,
        event: Event,
        iq_waiters: &mut std::collections::HashMap<
            u64,
            oneshot::Sender<Option<wa_protocol::stanza::IqResponse>>,
        >,
        attempt: &mut u32,
    ) -> Option<DisconnectCause> {
        match event {
            Event::Qr { code, expires_at } => self.emit(ClientEvent::Qr {
                code,
                expires_at_ms: expires_at.0,
            }),
            Event::QrTimeout => self.emit(ClientEvent::QrTimeout),
            Event::PairCode { code } => self.emit(ClientEvent::PairCode { code }),
            Event::PairSuccess(device) => {
                // Durable before the pair-device-sign reply leaves (it is queued behind us).
                let record = device_from(conn.credentials(), &self.config, now_ms());
                let id = self.id;
                if let Err(error) = self
                    .durably(move |s| s.save_device(&id, &record, Durability::Buffered))
                    .await
                {
                    tracing::error!(account = %self.id, %error, "cannot store the pairing");
                    conn.handle_command(Command::Close, Millis(now_ms()));
                    return None;
                }
                self.emit(ClientEvent::Paired { jid: device.jid });
            }
            Event::PairError { code, text } => self.emit(ClientEvent::PairError { code, text }),
            Event::Connected { jid, lid, .. } => {
                *attempt = 0;
                let record = device_from(conn.credentials(), &self.config, now_ms());
                let id = self.id;
                let _ = self
                    .blocking(move |s| s.save_device(&id, &record, Durability::Buffered))
                    .await;
                self.emit(ClientEvent::Connected { jid, lid });
            }
            Event::PreKeysNeeded { count } => {
                let id = self.id;
                let mut rng =
                    StdRng::from_rng(&mut self.rng).unwrap_or_else(|_| StdRng::from_entropy());
                match self
                    .durably(move |s| s.add_prekeys(&id, count, &mut rng, Durability::Buffered))
                    .await
                {
                    Ok(keys) => conn.handle_command(Command::UploadPreKeys(keys), Millis(now_ms())),
                    Err(error) => {
                        tracing::error!(account = %self.id, %error, "cannot store prekeys");
                        conn.handle_command(Command::Close, Millis(now_ms()));
                    }
                }
            }
            Event::PreKeysUploaded { ids } => {
                let count = ids.len();
                let id = self.id;
                let _ = self
                    .blocking(move |s| s.mark_prekeys_uploaded(&id, &ids, Durability::Buffered))
                    .await;
                self.emit(ClientEvent::PreKeysUploaded { count });
            }
            Event::KeepAliveTimeout { failures } => {
                self.emit(ClientEvent::KeepAliveTimeout { failures })
            }
            Event::KeepAliveRestored => self.emit(ClientEvent::KeepAliveRestored),
            Event::IqResponse { token, response } => {
                if let Some(tx) = iq_waiters.remove(&token) {
                    let _ = tx.send(response);
                }
            }
            Event::EdgeRouting(_) => {}
            Event::Stanza(node) => self.emit(ClientEvent::Stanza(node)),
            Event::SendFailed { error } => {
                tracing::warn!(account = %self.id, %error, "node not sent")
            }
            Event::StreamError { code } => self.emit(ClientEvent::StreamError { code }),
            Event::ClientOutdated => self.emit(ClientEvent::ClientOutdated),
            Event::TemporaryBan { code, expire_secs } => {
                self.emit(ClientEvent::TemporaryBan { code, expire_secs })
            }
            Event::LoggedOut { reason } => {
                let id = self.id;
                if let Err(error) = self
                    .durably(move |s| s.logout(&id, Durability::Buffered))
                    .await
                {
                    tracing::error!(account = %self.id, %error, "cannot wipe the keys");
                }
                self.emit(ClientEvent::LoggedOut { reason });
            }
            Event::Disconnected { cause } => return Some(cause),
            _ => {}
        }
        None
    }
}

/// Device identity record → protocol credentials.
pub(crate) fn credentials_from(d: &DeviceIdentity) -> Credentials {
    let device = d.jid.as_deref().and_then(|jid| {
        let jid: Jid = jid.parse().ok()?;
        let account = d.adv_signed_identity.clone().unwrap_or_default();
        Some(LinkedDevice {
            jid,
            lid: d.lid.as_deref().and_then(|l| l.parse().ok()),
            platform: Some(d.platform.clone()).filter(|p| !p.is_empty()),
            business_name: Some(d.push_name.clone()).filter(|p| !p.is_empty()),
            key_index: wa_protocol::pairing::stored_key_index(&account).unwrap_or(0),
            account,
        })
    });
    Credentials {
        noise_key: d.noise_key.clone(),
        identity: d.identity_key.clone(),
        registration_id: d.registration_id,
        signed_prekey_id: d.signed_prekey.id,
        signed_prekey: d.signed_prekey.key_pair.clone(),
        signed_prekey_signature: d.signed_prekey.signature,
        adv_secret: *d.adv_secret.expose(),
        device,
    }
}

/// Protocol credentials → device identity record.
pub(crate) fn device_from(c: &Credentials, config: &ClientConfig, now: u64) -> DeviceIdentity {
    DeviceIdentity {
        noise_key: c.noise_key.clone(),
        identity_key: c.identity.clone(),
        registration_id: c.registration_id,
        signed_prekey: SignedPreKey {
            id: c.signed_prekey_id,
            key_pair: c.signed_prekey.clone(),
            signature: c.signed_prekey_signature,
            timestamp_ms: now,
        },
        adv_secret: Secret::new(c.adv_secret),
        jid: c.device.as_ref().map(|d| d.jid.to_string()),
        lid: c
            .device
            .as_ref()
            .and_then(|d| d.lid.as_ref())
            .map(ToString::to_string),
        platform: c
            .device
            .as_ref()
            .and_then(|d| d.platform.clone())
            .unwrap_or_default(),
        push_name: c
            .device
            .as_ref()
            .and_then(|d| d.business_name.clone())
            .or_else(|| config.connection.identity.push_name.clone())
            .unwrap_or_default(),
        adv_signed_identity: c.device.as_ref().map(|d| d.account.clone()),
        client_version: config.connection.identity.version,
    }
}

//! The listener (WebSocket and admin HTTP on one port), the shared state and the event stream.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::response::IntoResponse;
use axum::Router;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot};
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::noise::{build_cert_chain, Intro, TrustRoot, MAX_FRAME_LEN};
use wa_protocol::pairing::stanza::PairSuccess;
use wa_protocol::pairing::{PairCode, PrimaryCodeHello, QrData};
use wa_protocol::payload::{CheckedPayload, PayloadError};
use wa_protocol::signal::{KeyPair, PublicKey};
use wa_protocol::stanza::server_jid;

use crate::conn::{self, unix_now};
use crate::world::{Account, AwaitingSign, Companion, Counters, Faults, World};

/// Identifies one client connection for the lifetime of the server.
pub type ConnId = u64;

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; port 0 lets the OS choose.
    pub bind: SocketAddr,
    /// Seed for every key the server makes (root, certificates, ephemerals, phones): a given
    /// seed gives a reproducible server identity. `None` draws from the OS.
    pub seed: Option<u64>,
    /// Time a client has for each handshake message.
    pub handshake_timeout: Duration,
    /// Largest frame accepted from a client.
    pub max_frame: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: None,
            handshake_timeout: Duration::from_secs(20),
            max_frame: MAX_FRAME_LEN,
        }
    }
}

/// Errors of the simulator's API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// No account with this phone number.
    #[error("no account {0}")]
    NoAccount(String),
    /// The QR text does not parse.
    #[error("bad QR: {0}")]
    BadQr(String),
    /// No connection is showing this QR ref (expired, or never shown).
    #[error("no pending pairing for this QR")]
    UnknownQr,
    /// The QR's keys differ from what the connection proved in its handshake.
    #[error("QR keys do not match the connection")]
    QrMismatch,
    /// No such device or connection.
    #[error("not found: {0}")]
    NotFound(String),
}

/// What the simulator reports to its harness.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SimEvent {
    /// A WebSocket connection was accepted.
    Connected {
        /// Connection id.
        conn: ConnId,
        /// Remote address.
        peer: SocketAddr,
    },
    /// The Noise handshake completed and the ClientPayload was decoded and checked.
    ClientPayload {
        /// Connection id.
        conn: ConnId,
        /// The client's Noise static key, proven by the handshake.
        client_static: PublicKey,
        /// The intro the client sent.
        intro: Intro,
        /// The checked payload, or why it was refused (the connection is then closed).
        payload: Result<CheckedPayload, PayloadError>,
    },
    /// A companion finished pairing (pair-device-sign verified); 515 follows.
    Paired {
        /// Connection id.
        conn: ConnId,
        /// The companion's device JID.
        jid: Jid,
    },
    /// A companion asked for a pair code for this phone number.
    PairCodeRequested {
        /// Connection id.
        conn: ConnId,
        /// The phone number.
        phone: String,
    },
    /// Pairing failed on this connection.
    PairingFailed {
        /// Connection id.
        conn: ConnId,
        /// Why.
        error: String,
    },
    /// A companion logged in (`<success>` sent).
    LoggedIn {
        /// Connection id.
        conn: ConnId,
        /// The companion's device JID.
        jid: Jid,
    },
    /// A companion uploaded prekeys.
    PreKeysUploaded {
        /// Connection id.
        conn: ConnId,
        /// How many one-time prekeys.
        count: usize,
    },
    /// A companion was removed (by itself or by the phone).
    DeviceRemoved {
        /// Connection id (0 if it was offline).
        conn: ConnId,
        /// The removed device.
        jid: Jid,
    },
    /// The handshake or the transport failed; the connection was closed.
    ProtocolError {
        /// Connection id.
        conn: ConnId,
        /// What went wrong.
        error: String,
    },
    /// A node arrived from the client.
    Stanza {
        /// Connection id.
        conn: ConnId,
        /// The decoded node.
        node: Node,
    },
    /// The connection ended.
    Disconnected {
        /// Connection id.
        conn: ConnId,
    },
}

/// What the server pushes into a connection from outside its own loop.
pub(crate) enum Outgoing {
    Node(Node),
    Close,
}

pub(crate) struct Shared {
    rng: Mutex<StdRng>,
    pub(crate) static_key: KeyPair,
    pub(crate) cert_chain: Vec<u8>,
    pub(crate) config: SimConfig,
    events: broadcast::Sender<SimEvent>,
    conns: Mutex<HashMap<ConnId, mpsc::UnboundedSender<Outgoing>>>,
    next_conn: AtomicU64,
    next_iq: AtomicU64,
    world: Mutex<World>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Shared {
    pub(crate) fn emit(&self, event: SimEvent) {
        // No subscriber is fine: events are for harnesses that ask.
        let _ = self.events.send(event);
    }

    pub(crate) fn fork_rng(&self) -> StdRng {
        let mut seed = [0u8; 32];
        lock(&self.rng).fill_bytes(&mut seed);
        StdRng::from_seed(seed)
    }

    pub(crate) fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut lock(&self.world))
    }

    pub(crate) fn next_iq_id(&self) -> String {
        format!("sim-{}", self.next_iq.fetch_add(1, Ordering::Relaxed))
    }

    fn push(&self, conn: ConnId, out: Outgoing) -> bool {
        lock(&self.conns)
            .get(&conn)
            .is_some_and(|tx| tx.send(out).is_ok())
    }
}

/// A running simulator. Dropping it stops the listener and closes every connection.
pub struct SimServer {
    addr: SocketAddr,
    root: KeyPair,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl SimServer {
    /// Generates the server identity and starts listening.
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        let mut rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let root = KeyPair::generate(&mut rng);
        let intermediate = KeyPair::generate(&mut rng);
        let static_key = KeyPair::generate(&mut rng);
        let now = unix_now();
        let cert_chain = build_cert_chain(
            &root,
            &intermediate,
            &static_key.public,
            now.saturating_sub(24 * 3600),
            now + 365 * 24 * 3600,
            &mut rng,
        );
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.bind,
            source,
        })?;
        let (events, _) = broadcast::channel(1 << 16);
        let shared = Arc::new(Shared {
            rng: Mutex::new(rng),
            static_key,
            cert_chain,
            config,
            events,
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            next_iq: AtomicU64::new(1),
            world: Mutex::new(World::default()),
        });
        let app = crate::admin::routes()
            .fallback(ws_handler)
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "wa-sim listener failed");
            }
        });
        tracing::info!(%addr, root = %hex::encode(root.public.as_bytes()), "wa-sim listening");
        Ok(Self {
            addr,
            root,
            shared,
            stop: Some(stop),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The WebSocket URL clients connect to.
    pub fn url(&self) -> String {
        format!("ws://{}/ws/chat", self.addr)
    }

    /// The base URL of the admin API.
    pub fn admin_url(&self) -> String {
        format!("http://{}/admin", self.addr)
    }

    /// The root public key of the server's certificate chain: what clients must trust.
    pub fn root_key(&self) -> PublicKey {
        self.root.public
    }

    /// The trust root clients must be given.
    pub fn trust_root(&self) -> TrustRoot {
        TrustRoot::new(self.root.public)
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SimEvent> {
        self.shared.events.subscribe()
    }

    /// Sends a node to a connected client. Returns `false` if the connection is gone.
    pub fn send(&self, conn: ConnId, node: Node) -> bool {
        self.shared.push(conn, Outgoing::Node(node))
    }

    /// Closes a connection abruptly (a transient drop, as the client sees it).
    pub fn drop_connection(&self, conn: ConnId) -> bool {
        self.shared.push(conn, Outgoing::Close)
    }

    /// Creates an account with a simulated primary phone (idempotent).
    pub fn create_account(&self, phone: &str) -> AccountInfo {
        let mut rng = self.shared.fork_rng();
        let a = self
            .shared
            .with_world(|w| w.create_account(phone, &mut rng));
        AccountInfo::from(&a)
    }

    /// The account's public state.
    pub fn account(&self, phone: &str) -> Option<AccountInfo> {
        self.shared
            .with_world(|w| w.account(phone).map(AccountInfo::from))
    }

    /// The phone scans a QR code: it signs the companion and sends pair-success to the
    /// connection showing that QR. Returns the companion's device JID.
    pub fn scan(&self, phone: &str, qr: &str) -> Result<Jid, SimError> {
        scan(&self.shared, phone, qr)
    }

    /// The phone types the pair code a companion shows (`XXXX-XXXX`).
    pub fn enter_pair_code(&self, phone: &str, code: &str) -> Result<(), SimError> {
        enter_pair_code(&self.shared, phone, code)
    }

    /// The phone unlinks a companion: `<stream:error code=401><conflict type=device_removed>`
    /// to its connections, and the device is forgotten.
    pub fn remove_device(&self, phone: &str, device: u8) -> Result<(), SimError> {
        remove_device(&self.shared, phone, device)
    }

    /// Another client logged in with the same credentials: `<conflict type="replaced"/>`.
    pub fn replace_connection(&self, conn: ConnId) -> bool {
        let node = Node::new("stream:error")
            .with_children(vec![Node::new("conflict").with_attr("type", "replaced")]);
        self.shared.push(conn, Outgoing::Node(node)) && self.shared.push(conn, Outgoing::Close)
    }

    /// Sends `<stream:error code=…>` and closes the connection.
    pub fn stream_error(&self, conn: ConnId, code: u16) -> bool {
        let node = Node::new("stream:error").with_attr("code", code.to_string());
        self.shared.push(conn, Outgoing::Node(node)) && self.shared.push(conn, Outgoing::Close)
    }

    /// Tells a connection its prekey stock is low (`<notification type=encrypt><count>`).
    pub fn notify_prekey_count(&self, conn: ConnId, count: u32) -> bool {
        let node = Node::new("notification")
            .with_attr("from", server_jid())
            .with_attr("type", "encrypt")
            .with_attr("id", self.shared.next_iq_id())
            .with_attr("t", unix_now().to_string())
            .with_children(vec![
                Node::new("count").with_attr("value", count.to_string())
            ]);
        self.shared.push(conn, Outgoing::Node(node))
    }

    /// Sends a server ping (`urn:xmpp:ping`) to a connection.
    pub fn ping(&self, conn: ConnId) -> bool {
        let node = Node::new("iq")
            .with_attr("from", server_jid())
            .with_attr("id", self.shared.next_iq_id())
            .with_attr("type", "get")
            .with_attr("xmlns", "urn:xmpp:ping")
            .with_attr("t", unix_now().to_string());
        self.shared.push(conn, Outgoing::Node(node))
    }

    /// Sets an account's fault switches.
    pub fn set_faults(&self, phone: &str, faults: Faults) -> Result<(), SimError> {
        self.shared.with_world(|w| {
            let a = w
                .account_mut(phone)
                .ok_or_else(|| SimError::NoAccount(phone.to_owned()))?;
            a.faults = faults;
            Ok(())
        })
    }

    /// Stanza counters so far.
    pub fn counters(&self) -> Counters {
        self.shared.with_world(|w| w.counters())
    }

    /// Stops accepting connections and closes the open ones.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for (_, tx) in lock(&self.shared.conns).drain() {
            let _ = tx.send(Outgoing::Close);
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// An account as the harness sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountInfo {
    /// Phone number.
    pub phone: String,
    /// LID user.
    pub lid: String,
    /// Linked companion device numbers.
    pub devices: Vec<u8>,
    /// One-time prekeys each companion has on the server.
    pub prekeys: Vec<(u8, usize)>,
}

impl From<&Account> for AccountInfo {
    fn from(a: &Account) -> Self {
        Self {
            phone: a.phone.clone(),
            lid: a.lid.clone(),
            devices: a.companions.keys().copied().collect(),
            prekeys: a
                .companions
                .iter()
                .map(|(d, c)| (*d, c.bundle.as_ref().map_or(0, |b| b.prekeys.len())))
                .collect(),
        }
    }
}

pub(crate) fn scan(shared: &Shared, phone: &str, qr: &str) -> Result<Jid, SimError> {
    let qr = QrData::parse(qr).map_err(|e| SimError::BadQr(e.to_string()))?;
    let pending = shared
        .with_world(|w| w.pending.get(&qr.pairing_ref).cloned())
        .ok_or(SimError::UnknownQr)?;
    if pending.noise_pub != qr.noise_pub || pending.identity_pub != qr.identity_pub {
        return Err(SimError::QrMismatch);
    }
    let mut rng = shared.fork_rng();
    let (node, jid) = grant_device(
        shared,
        pending.conn,
        phone,
        &qr.noise_pub,
        &qr.identity_pub,
        &qr.adv_secret,
        &mut rng,
    )?;
    if shared.push(pending.conn, Outgoing::Node(node)) {
        Ok(jid)
    } else {
        Err(SimError::UnknownQr)
    }
}

/// The phone types a pair code shown by a companion: primary_hello goes to the connection that
/// asked for a code for this phone.
pub(crate) fn enter_pair_code(shared: &Shared, phone: &str, code: &str) -> Result<(), SimError> {
    let code: PairCode = code
        .parse()
        .map_err(|e: wa_protocol::pairing::PairError| SimError::BadQr(e.to_string()))?;
    let mut rng = shared.fork_rng();
    let (conn, node) = shared.with_world(|w| {
        let account = w
            .account(phone)
            .cloned()
            .ok_or_else(|| SimError::NoAccount(phone.to_owned()))?;
        let (conn, pending) = w
            .pending_codes
            .iter_mut()
            .filter(|(_, p)| p.phone == phone && p.primary.is_none())
            .max_by_key(|(c, _)| **c)
            .ok_or_else(|| SimError::NotFound(format!("pair-code request for {phone}")))?;
        let hello = PrimaryCodeHello::new(
            &code,
            &pending.wrapped_companion,
            pending.pairing_ref.clone(),
            &mut rng,
        )
        .map_err(|e| SimError::BadQr(e.to_string()))?;
        let node = wa_protocol::pairing::stanza::PrimaryHello {
            id: format!("sim-code-{}", rng.next_u32()),
            t: Some(unix_now()),
            wrapped_ephemeral: *hello.wrapped_ephemeral(),
            primary_identity: account.primary.identity.public,
            pairing_ref: pending.pairing_ref.clone(),
        }
        .to_node();
        pending.primary = Some(hello);
        Ok::<_, SimError>((*conn, node))
    })?;
    if shared.push(conn, Outgoing::Node(node)) {
        Ok(())
    } else {
        Err(SimError::NotFound(format!("connection {conn}")))
    }
}

/// The phone signs a new companion: reserves a device number, builds the pair-success for the
/// connection `conn` and records what the pair-device-sign must match.
pub(crate) fn grant_device(
    shared: &Shared,
    conn: ConnId,
    phone: &str,
    noise_pub: &PublicKey,
    identity_pub: &PublicKey,
    adv_secret: &[u8; 32],
    rng: &mut StdRng,
) -> Result<(Node, Jid), SimError> {
    shared.with_world(|w| {
        let account = w
            .account(phone)
            .cloned()
            .ok_or_else(|| SimError::NoAccount(phone.to_owned()))?;
        let (device, key_index) = w
            .reserve_device(phone)
            .ok_or_else(|| SimError::NoAccount(phone.to_owned()))?;
        let device_identity = wa_protocol::pairing::sign_companion(
            &account.primary.identity,
            identity_pub,
            adv_secret,
            rng.next_u32(),
            unix_now(),
            key_index,
            rng,
        );
        let id = format!("sim-pair-{}", rng.next_u32());
        let jid = Jid::device(phone.to_owned(), u16::from(device), Server::WhatsApp);
        let node = PairSuccess {
            id: id.clone(),
            t: Some(unix_now()),
            device_identity,
            platform: Some("android".to_owned()),
            device: jid.clone(),
            lid: Some(Jid::device(
                account.lid.clone(),
                u16::from(device),
                Server::Lid,
            )),
            business_name: Some(format!("wa-sim {phone}")),
            client_props: None,
        }
        .to_node();
        w.awaiting_sign.insert(
            conn,
            AwaitingSign {
                phone: phone.to_owned(),
                companion: Companion {
                    device,
                    key_index,
                    noise_pub: *noise_pub,
                    identity_pub: *identity_pub,
                    bundle: None,
                },
                iq_id: id,
            },
        );
        Ok((node, jid))
    })
}

pub(crate) fn remove_device(shared: &Shared, phone: &str, device: u8) -> Result<(), SimError> {
    let conns: Vec<ConnId> = shared.with_world(|w| {
        let a = w
            .account_mut(phone)
            .ok_or_else(|| SimError::NoAccount(phone.to_owned()))?;
        if a.companions.remove(&device).is_none() {
            return Err(SimError::NotFound(format!("{phone}:{device}")));
        }
        Ok(w.logged_in
            .iter()
            .filter(|(_, (p, d))| p == phone && *d == device)
            .map(|(c, _)| *c)
            .collect())
    })?;
    let jid = Jid::device(phone.to_owned(), u16::from(device), Server::WhatsApp);
    if conns.is_empty() {
        shared.emit(SimEvent::DeviceRemoved {
            conn: 0,
            jid: jid.clone(),
        });
    }
    for conn in conns {
        let node = Node::new("stream:error")
            .with_attr("code", "401")
            .with_children(vec![
                Node::new("conflict").with_attr("type", "device_removed")
            ]);
        shared.push(conn, Outgoing::Node(node));
        shared.push(conn, Outgoing::Close);
        shared.emit(SimEvent::DeviceRemoved {
            conn,
            jid: jid.clone(),
        });
    }
    Ok(())
}

async fn ws_handler(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> impl IntoResponse {
    let limit = shared.config.max_frame + 64;
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
            let (tx, mut rx) = mpsc::unbounded_channel();
            lock(&shared.conns).insert(conn, tx);
            shared.emit(SimEvent::Connected { conn, peer });
            if let Err(error) = conn::run(socket, conn, Arc::clone(&shared), &mut rx).await {
                tracing::debug!(conn, %error, "connection ended with an error");
                shared.emit(SimEvent::ProtocolError {
                    conn,
                    error: error.to_string(),
                });
            }
            lock(&shared.conns).remove(&conn);
            shared.with_world(|w| {
                w.logged_in.remove(&conn);
                w.pending.retain(|_, p| p.conn != conn);
                w.awaiting_sign.remove(&conn);
                w.pending_codes.remove(&conn);
            });
            shared.emit(SimEvent::Disconnected { conn });
        })
}

/// Admin routes reach the shared state through this router type.
pub(crate) type AdminRouter = Router<Arc<Shared>>;

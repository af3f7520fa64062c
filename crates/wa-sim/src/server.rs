//! The listener, the per-connection front door and the event stream for harnesses.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use wa_protocol::binary::{Limits, Node};
use wa_protocol::noise::{
    build_cert_chain, encode_frame, FrameDecoder, FramedTransport, Intro, Responder, TrustRoot,
    MAX_FRAME_LEN,
};
use wa_protocol::payload::{check_client_payload, CheckedPayload, PayloadError};
use wa_protocol::signal::{KeyPair, PublicKey};

/// Identifies one client connection for the lifetime of the server.
pub type ConnId = u64;

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; port 0 lets the OS choose.
    pub bind: SocketAddr,
    /// Seed for every key the server makes (root, certificates, ephemerals): a given seed gives
    /// a reproducible server identity. `None` draws from the OS.
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

/// Errors starting the simulator.
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

struct Shared {
    rng: Mutex<StdRng>,
    static_key: KeyPair,
    cert_chain: Vec<u8>,
    config: SimConfig,
    events: broadcast::Sender<SimEvent>,
    outboxes: Mutex<HashMap<ConnId, mpsc::UnboundedSender<Node>>>,
    next_conn: Mutex<ConnId>,
}

impl Shared {
    fn emit(&self, event: SimEvent) {
        // No subscriber is fine: events are for harnesses that ask.
        let _ = self.events.send(event);
    }

    fn fork_rng(&self) -> StdRng {
        let mut seed = [0u8; 32];
        match self.rng.lock() {
            Ok(mut rng) => rng.fill_bytes(&mut seed),
            Err(poisoned) => poisoned.into_inner().fill_bytes(&mut seed),
        }
        StdRng::from_seed(seed)
    }
}

/// A running simulator. Dropping it stops the listener.
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
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
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
        let (events, _) = broadcast::channel(4096);
        let shared = Arc::new(Shared {
            rng: Mutex::new(rng),
            static_key,
            cert_chain,
            config,
            events,
            outboxes: Mutex::new(HashMap::new()),
            next_conn: Mutex::new(1),
        });
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(accept_loop(listener, Arc::clone(&shared), stopped));
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
        let outboxes = match self.shared.outboxes.lock() {
            Ok(o) => o,
            Err(poisoned) => poisoned.into_inner(),
        };
        outboxes.get(&conn).is_some_and(|tx| tx.send(node).is_ok())
    }

    /// Stops accepting connections and closes the open ones.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let mut outboxes = match self.shared.outboxes.lock() {
            Ok(o) => o,
            Err(poisoned) => poisoned.into_inner(),
        };
        outboxes.clear();
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let conn = {
                        let mut next = match shared.next_conn.lock() {
                            Ok(n) => n,
                            Err(p) => p.into_inner(),
                        };
                        let id = *next;
                        *next += 1;
                        id
                    };
                    tokio::spawn(serve_connection(stream, peer, conn, Arc::clone(&shared)));
                }
                Err(error) => tracing::warn!(%error, "accept failed"),
            },
        }
    }
}

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("protocol: {0}")]
    Protocol(#[from] wa_protocol::Error),
    #[error("handshake timed out")]
    Timeout,
    #[error("client closed during the handshake")]
    ClosedEarly,
}

impl From<wa_protocol::noise::HandshakeError> for ConnError {
    fn from(e: wa_protocol::noise::HandshakeError) -> Self {
        ConnError::Protocol(e.into())
    }
}

type WsStream = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn serve_connection(stream: TcpStream, peer: SocketAddr, conn: ConnId, shared: Arc<Shared>) {
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(shared.config.max_frame + 64))
        .max_frame_size(Some(shared.config.max_frame + 64));
    let ws = match tokio_tungstenite::accept_async_with_config(stream, Some(ws_config)).await {
        Ok(ws) => ws,
        Err(error) => {
            tracing::debug!(%peer, %error, "websocket upgrade failed");
            return;
        }
    };
    shared.emit(SimEvent::Connected { conn, peer });
    if let Err(error) = run_connection(ws, conn, &shared).await {
        tracing::debug!(conn, %error, "connection ended with an error");
        shared.emit(SimEvent::ProtocolError {
            conn,
            error: error.to_string(),
        });
    }
    if let Ok(mut outboxes) = shared.outboxes.lock() {
        outboxes.remove(&conn);
    }
    shared.emit(SimEvent::Disconnected { conn });
}

/// Reads WebSocket messages until the decoder yields a frame or the deadline passes.
async fn next_handshake_frame(
    ws: &mut WsStream,
    decoder: &mut FrameDecoder,
    timeout: Duration,
) -> Result<Vec<u8>, ConnError> {
    let read = async {
        loop {
            if let Some(frame) = decoder.next_frame().map_err(wa_protocol::Error::from)? {
                return Ok(frame);
            }
            match ws.next().await {
                Some(Ok(Message::Binary(data))) => decoder.push(&data),
                Some(Ok(Message::Close(_))) | None => return Err(ConnError::ClosedEarly),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            }
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| ConnError::Timeout)?
}

async fn run_connection(mut ws: WsStream, conn: ConnId, shared: &Shared) -> Result<(), ConnError> {
    let mut rng = shared.fork_rng();
    let timeout = shared.config.handshake_timeout;
    let mut decoder = FrameDecoder::for_server(shared.config.max_frame);

    let hello = next_handshake_frame(&mut ws, &mut decoder, timeout).await?;
    let responder = Responder::start(shared.static_key.clone(), shared.cert_chain.clone());
    let (await_finish, server_hello) =
        responder.read_client_hello(&hello, KeyPair::generate(&mut rng))?;
    let mut out = Vec::new();
    encode_frame(&server_hello, &mut out).map_err(wa_protocol::Error::from)?;
    ws.send(Message::binary(out)).await?;

    let finish = next_handshake_frame(&mut ws, &mut decoder, timeout).await?;
    let done = await_finish.read_client_finish(&finish)?;
    let intro = decoder.intro().cloned().unwrap_or(Intro::Plain);
    let payload = check_client_payload(&done.payload);
    let refused = payload.is_err();
    shared.emit(SimEvent::ClientPayload {
        conn,
        client_static: done.client_static,
        intro,
        payload,
    });
    if refused {
        let _ = ws.close(None).await;
        return Ok(());
    }

    let mut transport = FramedTransport::new(done.transport, decoder, Limits::default());
    let (tx, mut outbox) = mpsc::unbounded_channel();
    if let Ok(mut outboxes) = shared.outboxes.lock() {
        outboxes.insert(conn, tx);
    }
    loop {
        while let Some(node) = transport.next_node()? {
            shared.emit(SimEvent::Stanza { conn, node });
        }
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Binary(data))) => transport.push(&data),
                Some(Ok(Message::Close(_))) | None => return Ok(()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            },
            node = outbox.recv() => match node {
                Some(node) => {
                    let mut out = Vec::new();
                    transport.encode_node(&node, &mut out)?;
                    ws.send(Message::binary(out)).await?;
                }
                None => {
                    let _ = ws.close(None).await;
                    return Ok(());
                }
            },
        }
    }
}

//! A raw Noise client: tests speak stanzas to a server (wa-sim) directly, without wagate's
//! account machinery. It opens the WebSocket with wa-client's [`open_websocket`] (same headers,
//! buffers and proxies as the gateway), runs wa-protocol's client handshake
//! ([`Dial`], as the gateway's `Connection` does) with an ephemeral key drawn from the RNG the
//! test hands in, and then sends
//! and receives nodes through wa-protocol's [`FramedTransport`].

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand_core::CryptoRngCore;
use tokio_tungstenite::tungstenite::Message;
use wa_client::{open_websocket, Proxy, Ws, PRODUCTION_URL};
use wa_protocol::binary::{Limits, Node};
use wa_protocol::noise::{Dial, FramedTransport, TrustRoot, VerifiedServer, MAX_FRAME_LEN};
use wa_protocol::signal::KeyPair;
use wa_protocol::time::{Clock, SystemClock};
use wa_sim::SimServer;

use crate::error::Error;

/// Where and how the raw client connects.
#[derive(Debug, Clone)]
pub struct RawOptions {
    /// WebSocket URL (`ws://` for wa-sim).
    pub url: String,
    /// The key the server's certificate chain must lead to.
    pub trust: TrustRoot,
    /// Time allowed for the WebSocket upgrade and for the server's handshake answer.
    pub handshake_timeout: Duration,
    /// Largest frame accepted from the server.
    pub max_frame: usize,
    /// Caps for decoding received nodes.
    pub limits: Limits,
    /// Optional outbound proxy.
    pub proxy: Option<Proxy>,
    /// The time the server's certificates are checked at.
    pub clock: Arc<dyn Clock>,
}

impl Default for RawOptions {
    /// Production's URL and trust root, 20 s for the handshake, the largest frame, default
    /// node limits, no proxy, the system clock.
    fn default() -> Self {
        Self {
            url: PRODUCTION_URL.to_owned(),
            trust: TrustRoot::production(),
            handshake_timeout: Duration::from_secs(20),
            max_frame: MAX_FRAME_LEN,
            limits: Limits::default(),
            proxy: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl RawOptions {
    /// To `sim`: its URL and trust root, the rest default.
    pub fn to_sim(sim: &SimServer) -> Self {
        Self {
            url: sim.url(),
            trust: sim.trust_root(),
            ..Self::default()
        }
    }
}

/// An authenticated connection that sends and receives binary nodes.
pub struct RawSocket {
    ws: Ws,
    transport: FramedTransport,
    server: VerifiedServer,
}

impl RawSocket {
    /// Connects to `options.url` and runs the Noise handshake: an ephemeral key from `rng`,
    /// `noise_key` as our static key and `client_payload` (a serialised ClientPayload) as the
    /// final handshake payload.
    pub async fn connect(
        options: &RawOptions,
        rng: &mut impl CryptoRngCore,
        noise_key: &KeyPair,
        client_payload: &[u8],
    ) -> Result<Self, Error> {
        let timeout = options.handshake_timeout;
        let (mut dial, first) = Dial::start(KeyPair::generate(rng), options.max_frame);
        let mut ws = open_websocket(
            &options.url,
            u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            options.proxy.as_ref(),
        )
        .await?;
        ws.send(Message::binary(first)).await?;
        let server_hello = tokio::time::timeout(timeout, server_hello(&mut ws, &mut dial))
            .await
            .map_err(|_| Error::Timeout {
                what: "server hello".to_owned(),
                deadline: timeout,
            })??;
        let dialed = dial.finish(
            &server_hello,
            &options.trust,
            options.clock.now().unix_secs(),
            noise_key,
            client_payload,
            options.limits.clone(),
        )?;
        ws.send(Message::binary(dialed.finish)).await?;
        Ok(Self {
            ws,
            transport: dialed.transport,
            server: dialed.server,
        })
    }

    /// What the certificate chain proved about the server.
    pub fn server(&self) -> &VerifiedServer {
        &self.server
    }

    /// Encrypts and sends one node.
    pub async fn send_node(&mut self, node: &Node) -> Result<(), Error> {
        let mut out = Vec::new();
        self.transport.encode_node(node, &mut out)?;
        self.ws.send(Message::binary(out)).await?;
        Ok(())
    }

    /// Waits for the next node; `Ok(None)` when the server closed the connection.
    pub async fn next_node(&mut self) -> Result<Option<Node>, Error> {
        loop {
            if let Some(node) = self.transport.next_node()? {
                return Ok(Some(node));
            }
            match self.ws.next().await {
                Some(Ok(Message::Binary(data))) => self.transport.push(&data),
                Some(Ok(Message::Close(_))) | None => return Ok(None),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// The next node within `deadline`: [`Error::Timeout`] after it, [`Error::Closed`] if
    /// the server closes the connection first.
    pub async fn recv(&mut self, deadline: Duration) -> Result<Node, Error> {
        let what = || "a node".to_owned();
        match tokio::time::timeout(deadline, self.next_node()).await {
            Ok(Ok(Some(node))) => Ok(node),
            Ok(Ok(None)) => Err(Error::Closed { what: what() }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Timeout {
                what: what(),
                deadline,
            }),
        }
    }

    /// Closes the WebSocket politely.
    pub async fn close(mut self) {
        // The connection is going away either way; a failed close frame changes nothing.
        self.ws.close(None).await.ok();
    }
}

/// The server's handshake answer, once whole.
async fn server_hello(ws: &mut Ws, dial: &mut Dial) -> Result<Vec<u8>, Error> {
    loop {
        if let Some(frame) = dial.server_hello()? {
            return Ok(frame);
        }
        match ws.next().await {
            Some(Ok(Message::Binary(data))) => dial.push(&data),
            Some(Ok(Message::Close(_))) | None => {
                return Err(Error::Closed {
                    what: "server hello".to_owned(),
                })
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

//! WebSocket + Noise: the authenticated pipe to a WhatsApp (or wa-sim) server.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wa_protocol::binary::{Limits, Node};
use wa_protocol::noise::{
    encode_frame, FrameDecoder, FramedTransport, Initiator, TrustRoot, VerifiedServer,
    MAX_FRAME_LEN, WA_HEADER,
};
use wa_protocol::signal::KeyPair;

use wa_protocol::time::{Clock, SystemClock};

use crate::error::ClientError;
use crate::proxy::Proxy;

/// The production WebSocket endpoint.
pub const PRODUCTION_URL: &str = "wss://web.whatsapp.com/ws/chat";

/// The `Origin` header WhatsApp Web sends.
pub const ORIGIN: &str = "https://web.whatsapp.com";

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// WebSocket URL (`ws://` for wa-sim; production is [`PRODUCTION_URL`]).
    pub url: String,
    /// The key the server's certificate chain must lead to.
    pub trust: TrustRoot,
    /// Time allowed for the WebSocket upgrade and for each handshake message (20 s like the
    /// references).
    pub handshake_timeout: Duration,
    /// Largest frame accepted from the server.
    pub max_frame: usize,
    /// Caps for decoding received nodes.
    pub limits: Limits,
    /// Optional outbound proxy.
    pub proxy: Option<Proxy>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            url: PRODUCTION_URL.to_owned(),
            trust: TrustRoot::production(),
            handshake_timeout: Duration::from_secs(20),
            max_frame: MAX_FRAME_LEN,
            limits: Limits::default(),
            proxy: None,
        }
    }
}

/// The WebSocket type the client uses.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An authenticated connection: sends and receives binary nodes.
pub struct NoiseSocket {
    ws: Ws,
    transport: FramedTransport,
    server: VerifiedServer,
}

async fn next_frame(ws: &mut Ws, decoder: &mut FrameDecoder) -> Result<Vec<u8>, ClientError> {
    loop {
        if let Some(frame) = decoder.next_frame().map_err(wa_protocol::Error::from)? {
            return Ok(frame);
        }
        match ws.next().await {
            Some(Ok(Message::Binary(data))) => decoder.push(&data),
            Some(Ok(Message::Close(_))) | None => return Err(ClientError::Closed),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// Opens the WebSocket to `url` with WhatsApp Web's `Origin` header, within `timeout_ms`,
/// directly or through `proxy`.
pub async fn open_websocket(
    url: &str,
    timeout_ms: u64,
    proxy: Option<&Proxy>,
) -> Result<Ws, ClientError> {
    let mut request = url
        .into_client_request()
        .map_err(|_| ClientError::BadUrl(url.to_owned()))?;
    request
        .headers_mut()
        .insert("Origin", HeaderValue::from_static(ORIGIN));
    // Small buffers: an idle account must stay cheap (tungstenite's defaults are 128 KiB each
    // way, which dominated the per-account memory of a 1,000-account process). Larger messages
    // still work; the buffers grow while they are in flight.
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_FRAME_LEN + 64))
        .max_frame_size(Some(MAX_FRAME_LEN + 64));
    let open = async {
        match proxy {
            None => tokio_tungstenite::connect_async_with_config(request, Some(ws_config), false)
                .await
                .map(|(ws, _)| ws)
                .map_err(ClientError::from),
            Some(proxy) => {
                let uri = request.uri();
                let host = uri
                    .host()
                    .ok_or_else(|| ClientError::BadUrl(url.to_owned()))?
                    .to_owned();
                let tls = uri.scheme_str() == Some("wss");
                let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
                let stream = crate::proxy::tunnel(proxy, &host, port).await?;
                tokio_tungstenite::client_async_tls_with_config(
                    request,
                    stream,
                    Some(ws_config),
                    None,
                )
                .await
                .map(|(ws, _)| ws)
                .map_err(ClientError::from)
            }
        }
    };
    tokio::time::timeout(Duration::from_millis(timeout_ms), open)
        .await
        .map_err(|_| ClientError::Timeout("websocket upgrade"))?
}

/// Connects to `options.url`, runs the Noise handshake with `noise_key` as our static key and
/// `client_payload` (a serialised ClientPayload) as the final handshake payload.
pub async fn connect(
    options: &ConnectOptions,
    noise_key: &KeyPair,
    client_payload: &[u8],
) -> Result<NoiseSocket, ClientError> {
    let timeout = options.handshake_timeout;
    let mut ws = open_websocket(
        &options.url,
        u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        options.proxy.as_ref(),
    )
    .await?;
    let (state, hello) = Initiator::start(KeyPair::generate(&mut StdRng::from_entropy()));
    let mut first = WA_HEADER.to_vec();
    encode_frame(&hello, &mut first).map_err(wa_protocol::Error::from)?;
    ws.send(Message::binary(first)).await?;

    let mut decoder = FrameDecoder::for_client(options.max_frame);
    let server_hello = tokio::time::timeout(timeout, next_frame(&mut ws, &mut decoder))
        .await
        .map_err(|_| ClientError::Timeout("server hello"))??;
    let state =
        state.read_server_hello(&server_hello, &options.trust, SystemClock.now().unix_secs())?;
    let server = *state.server();
    let (cipher, finish) = state.write_client_finish(noise_key, client_payload)?;
    let mut out = Vec::new();
    encode_frame(&finish, &mut out).map_err(wa_protocol::Error::from)?;
    ws.send(Message::binary(out)).await?;
    Ok(NoiseSocket {
        ws,
        transport: FramedTransport::new(cipher, decoder, options.limits.clone()),
        server,
    })
}

impl NoiseSocket {
    /// What the certificate chain proved about the server.
    pub fn server(&self) -> &VerifiedServer {
        &self.server
    }

    /// Encrypts and sends one node.
    pub async fn send_node(&mut self, node: &Node) -> Result<(), ClientError> {
        let mut out = Vec::new();
        self.transport.encode_node(node, &mut out)?;
        self.ws.send(Message::binary(out)).await?;
        Ok(())
    }

    /// Waits for the next node; `Ok(None)` when the server closed the connection cleanly.
    pub async fn next_node(&mut self) -> Result<Option<Node>, ClientError> {
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

    /// Closes the WebSocket politely.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

//! The WebSocket to a WhatsApp (or wa-sim) server, directly or through a proxy; the Noise
//! session on top of it is the protocol's `Connection`, driven by `driver.rs`.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wa_protocol::noise::MAX_FRAME_LEN;

use crate::error::Error;
use crate::proxy::Proxy;

/// The production WebSocket endpoint.
pub const PRODUCTION_URL: &str = "wss://web.whatsapp.com/ws/chat";

/// The `Origin` header WhatsApp Web sends.
pub const ORIGIN: &str = "https://web.whatsapp.com";

/// The WebSocket type the client uses.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens the WebSocket to `url` with WhatsApp Web's `Origin` header, within `timeout_ms`,
/// directly or through `proxy`.
pub async fn open_websocket(
    url: &str,
    timeout_ms: u64,
    proxy: Option<&Proxy>,
) -> Result<Ws, Error> {
    let mut request = url
        .into_client_request()
        .map_err(|_| Error::BadUrl(url.to_owned()))?;
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
                .map_err(Error::from),
            Some(proxy) => {
                let uri = request.uri();
                let host = uri
                    .host()
                    .ok_or_else(|| Error::BadUrl(url.to_owned()))?
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
                .map_err(Error::from)
            }
        }
    };
    tokio::time::timeout(Duration::from_millis(timeout_ms), open)
        .await
        .map_err(|_| Error::Timeout("websocket upgrade"))?
}

//! The load generator's own HTTP/1.1 client: keep-alive connections over tokio sockets, one
//! `write` per request and (mostly) one `read` per answer, in the calling task, with the
//! response head parsed by `httparse`. `reqwest` (URL parsing, its pool, a connection task per
//! connection, header maps) cost about 150 µs of CPU per request at 1,000 requests/s on the
//! 2-core benchmark box, taken from the cores the gateway and the sim run on; this client costs
//! a fraction of that (`http_load` reports its own CPU per request).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Idle keep-alive connections to one server.
pub struct RawClient {
    addr: SocketAddr,
    idle: Mutex<Vec<Conn>>,
    timeout: Duration,
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// What a response head says about the body.
struct Head {
    status: u16,
    head_len: usize,
    body_len: usize,
    close: bool,
}

impl RawClient {
    /// A client of `addr`; every request gives up after `timeout`.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self {
            addr,
            idle: Mutex::new(Vec::new()),
            timeout,
        }
    }

    /// `POST path` with `headers` (`name: value` pairs) and a body; the status and the body.
    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let mut request = Vec::with_capacity(160 + body.len());
        request.extend_from_slice(
            format!("POST {path} HTTP/1.1\r\nhost: {}\r\n", self.addr).as_bytes(),
        );
        for (name, value) in headers {
            request.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        request.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        request.extend_from_slice(body);
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match idle {
            Some(c) => c,
            None => self.connect().await?,
        };
        let exchange = conn.exchange(&request);
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok((status, body, close))) => {
                if !close {
                    self.idle
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(conn);
                }
                Ok((status, body))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }

    async fn connect(&self) -> Result<Conn, String> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", self.addr))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(1024),
        })
    }
}

impl Conn {
    /// Writes `request`, reads one whole response: status, body, whether the server closes.
    async fn exchange(&mut self, request: &[u8]) -> Result<(u16, Vec<u8>, bool), String> {
        self.stream
            .write_all(request)
            .await
            .map_err(|e| format!("write: {e}"))?;
        self.buf.clear();
        let head = loop {
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            self.fill().await?;
        };
        let end = head.head_len + head.body_len;
        while self.buf.len() < end {
            self.fill().await?;
        }
        if self.buf.len() > end {
            return Err("bytes after the response (no pipelining here)".to_owned());
        }
        let body = self.buf[head.head_len..end].to_vec();
        Ok((head.status, body, head.close))
    }

    async fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 4096];
        let n = self
            .stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed before the whole response".to_owned());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// The response head in `buf`, once it is complete (only `content-length` bodies: the gateway
/// answers every JSON request with one).
fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response
        .parse(buf)
        .map_err(|e| format!("response head: {e}"))?
    {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let mut body_len = None;
    let mut close = false;
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let len = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or("bad content-length")?;
            body_len = Some(len);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("chunked responses are not read by this client".to_owned());
        } else if h.name.eq_ignore_ascii_case("connection") {
            close |= h.value.eq_ignore_ascii_case(b"close");
        }
    }
    Ok(Some(Head {
        status: response.code.ok_or("no status")?,
        head_len,
        body_len: body_len.ok_or("no content-length")?,
        close,
    }))
}

//! Outbound proxies per account: SOCKS5 (`socks5://[user:pass@]host:port`, through tokio-socks)
//! and HTTP `CONNECT` (`http://[user:pass@]host:port`). The WebSocket (and TLS for `wss://`)
//! then runs inside the tunnel.

use core::fmt;
use core::str::FromStr;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::error::Error;

/// Longest HTTP response head accepted from a proxy.
const MAX_HEAD: usize = 8 * 1024;

/// The kind of proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// SOCKS5 (RFC 1928), optionally with username/password (RFC 1929).
    Socks5,
    /// HTTP `CONNECT` tunnel, optionally with Basic authentication.
    Http,
}

/// A parsed proxy URL. Its `Debug`/`Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    kind: ProxyKind,
    host: String,
    port: u16,
    auth: Option<(String, String)>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proxy({self})")
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Http => "http",
        };
        let user = self
            .auth
            .as_ref()
            .map(|(u, _)| format!("{u}:***@"))
            .unwrap_or_default();
        write!(f, "{scheme}://{user}{}:{}", self.host, self.port)
    }
}

impl Proxy {
    /// The kind of proxy.
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }
}

impl FromStr for Proxy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || Error::BadProxy(s.split('@').next_back().unwrap_or_default().to_owned());
        let (scheme, rest) = s.trim().split_once("://").ok_or_else(bad)?;
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "socks5" | "socks5h" => ProxyKind::Socks5,
            "http" => ProxyKind::Http,
            _ => return Err(bad()),
        };
        let rest = rest.trim_end_matches('/');
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((creds, hp)) => {
                let (u, p) = creds.split_once(':').unwrap_or((creds, ""));
                (Some((u.to_owned(), p.to_owned())), hp)
            }
            None => (None, rest),
        };
        let (host, port) = hostport.rsplit_once(':').ok_or_else(bad)?;
        let port = port.parse().map_err(|_| bad())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            kind,
            host: host.to_owned(),
            port,
            auth,
        })
    }
}

/// Opens a TCP stream to `target_host:target_port` through `proxy`.
pub(crate) async fn tunnel(
    proxy: &Proxy,
    target_host: &str,
    target_port: u16,
) -> Result<TcpStream, Error> {
    let proxy_addr = (proxy.host.as_str(), proxy.port);
    match proxy.kind {
        ProxyKind::Socks5 => {
            let target = (target_host, target_port);
            let stream = match &proxy.auth {
                Some((user, pass)) => {
                    tokio_socks::tcp::Socks5Stream::connect_with_password(
                        proxy_addr, target, user, pass,
                    )
                    .await
                }
                None => tokio_socks::tcp::Socks5Stream::connect(proxy_addr, target).await,
            }?;
            Ok(stream.into_inner())
        }
        ProxyKind::Http => {
            let mut stream = TcpStream::connect(proxy_addr)
                .await
                .map_err(Error::ProxyIo)?;
            let mut request = format!(
                "CONNECT {target_host}:{target_port} HTTP/1.1\r\nHost: {target_host}:{target_port}\r\n"
            );
            if let Some((user, pass)) = &proxy.auth {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
            }
            request.push_str("\r\n");
            stream
                .write_all(request.as_bytes())
                .await
                .map_err(Error::ProxyIo)?;
            // Read the response head byte-line by byte-line so nothing of the tunnel is consumed.
            let mut reader = BufReader::with_capacity(1, &mut stream);
            let mut status = String::new();
            reader
                .read_line(&mut status)
                .await
                .map_err(Error::ProxyIo)?;
            let ok = status
                .split_whitespace()
                .nth(1)
                .is_some_and(|code| code == "200");
            let mut seen = status.len();
            loop {
                let mut line = String::new();
                let n = reader.read_line(&mut line).await.map_err(Error::ProxyIo)?;
                seen += n;
                if n == 0 || line == "\r\n" || line == "\n" {
                    break;
                }
                if seen > MAX_HEAD {
                    return Err(Error::ProxyHeadTooLong);
                }
            }
            if !ok {
                return Err(Error::ProxyRefused(status.trim().to_owned()));
            }
            Ok(stream)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_hides_passwords() {
        let p: Proxy = "socks5://alice:s3cret@127.0.0.1:1080"
            .parse()
            .expect("valid");
        assert_eq!(p.kind(), ProxyKind::Socks5);
        assert_eq!(p.to_string(), "socks5://alice:***@127.0.0.1:1080");
        assert!(!format!("{p:?}").contains("s3cret"));
        let p: Proxy = "http://proxy.example:3128/".parse().expect("valid");
        assert_eq!((p.kind(), p.port), (ProxyKind::Http, 3128));
        for bad in [
            "ftp://x:1",
            "socks5://host",
            "http://:80",
            "nonsense",
            "http://h:99999",
        ] {
            let err = bad.parse::<Proxy>().expect_err(bad);
            assert!(!err.to_string().contains("s3cret"));
        }
    }
}

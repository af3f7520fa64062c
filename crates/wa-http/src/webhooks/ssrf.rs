//! The SSRF guard (issue 12 item 1): webhook URLs must not make the gateway POST into its own
//! network. A receiver whose address is loopback, private (RFC 1918 `10/8`, `172.16/12`,
//! `192.168/16`; IPv6 ULA `fc00::/7`), link-local (`169.254/16`, `fe80::/10`), unspecified
//! (`0.0.0.0/8`, `::`), multicast or broadcast, or carrier-grade NAT (`100.64/10`, RFC 6598) is
//! refused, unless the operator allows private targets (`--webhook-allow-private` /
//! `WAGATE_WEBHOOK_ALLOW_PRIVATE=true`).
//!
//! Checked twice: when a URL is set ([`check_url`]: a clear 400), and at every delivery, where
//! the HTTP client resolves names through [`GuardedResolver`] (so a name that resolves to a
//! private address later, DNS rebinding included, is refused at connect time) and literal
//! addresses are checked before the request ([`check_literal`]); redirects are checked too
//! ([`redirect_policy`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Why a webhook URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlRefusal {
    /// Not a URL at all.
    #[error("invalid webhook URL")]
    Invalid,
    /// Another scheme than http or https.
    #[error("webhook URL must be http:// or https://")]
    Scheme,
    /// No host.
    #[error("webhook URL has no host")]
    NoHost,
    /// The host is (or resolves to) an address of the gateway's own network.
    #[error("webhook URL points to a loopback, private, link-local or otherwise internal address ({addr}); the operator can allow it with --webhook-allow-private")]
    Internal {
        /// The refused address.
        addr: IpAddr,
    },
}

fn v4_internal(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        // Carrier-grade NAT, RFC 6598: 100.64.0.0/10.
        || (a == 100 && (b & 0xc0) == 64)
}

fn v6_internal(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_internal(v4);
    }
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local, fc00::/7.
        || (first & 0xfe00) == 0xfc00
        // Link-local, fe80::/10.
        || (first & 0xffc0) == 0xfe80
}

/// Whether `ip` belongs to the gateway's own network (see the module docs for the ranges).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_internal(v4),
        IpAddr::V6(v6) => v6_internal(v6),
    }
}

/// The URL's host as an address, when it is a literal one (`[::1]` included).
fn literal(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

fn parse(url: &str) -> Result<Url, UrlRefusal> {
    let url = Url::parse(url.trim()).map_err(|_| UrlRefusal::Invalid)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlRefusal::Scheme);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlRefusal::NoHost);
    }
    Ok(url)
}

/// The delivery-time check of a URL with a literal address (names are checked by
/// [`GuardedResolver`] when the client connects).
pub fn check_literal(url: &str, allow_private: bool) -> Result<(), UrlRefusal> {
    let url = parse(url)?;
    match literal(&url) {
        Some(addr) if !allow_private && is_internal(addr) => Err(UrlRefusal::Internal { addr }),
        _ => Ok(()),
    }
}

/// What is left to check after the URL's shape: nothing (`None`: accepted), or the name to
/// resolve and its port.
fn name_to_resolve(url: &str, allow_private: bool) -> Result<Option<(String, u16)>, UrlRefusal> {
    if url.trim().is_empty() {
        return Ok(None);
    }
    let parsed = parse(url)?;
    if allow_private {
        return Ok(None);
    }
    if let Some(addr) = literal(&parsed) {
        return if is_internal(addr) {
            Err(UrlRefusal::Internal { addr })
        } else {
            Ok(None)
        };
    }
    let host = parsed.host_str().unwrap_or_default().to_owned();
    Ok(Some((host, parsed.port_or_known_default().unwrap_or(80))))
}

/// Refuses the first internal address among `addrs`.
fn judge(addrs: impl Iterator<Item = SocketAddr>) -> Result<(), UrlRefusal> {
    for addr in addrs {
        if is_internal(addr.ip()) {
            return Err(UrlRefusal::Internal { addr: addr.ip() });
        }
    }
    Ok(())
}

/// Checks a webhook URL as it is set: http(s), a host, and (unless `allow_private`) no internal
/// address, literal or resolved. A name that does not resolve now is accepted: it is checked
/// again at every delivery. An empty URL (no webhook) is always accepted.
pub async fn check_url(url: &str, allow_private: bool) -> Result<(), UrlRefusal> {
    let Some((host, port)) = name_to_resolve(url, allow_private)? else {
        return Ok(());
    };
    let resolved = tokio::net::lookup_host((host.as_str(), port)).await;
    match resolved {
        Ok(addrs) => judge(addrs),
        Err(_) => Ok(()),
    }
}

/// [`check_url`] for a caller outside a runtime (the configuration at start): the system's
/// resolver, blocking.
pub fn check_url_blocking(url: &str, allow_private: bool) -> Result<(), UrlRefusal> {
    use std::net::ToSocketAddrs;
    let Some((host, port)) = name_to_resolve(url, allow_private)? else {
        return Ok(());
    };
    match (host.as_str(), port).to_socket_addrs() {
        Ok(addrs) => judge(addrs),
        Err(_) => Ok(()),
    }
}

/// The delivery client's resolver: the system's, with internal addresses refused (unless
/// allowed), so the address the client connects to is the one checked.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    /// Whether internal addresses are allowed.
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow {
                if let Some(bad) = addrs.iter().find(|a| is_internal(a.ip())) {
                    let refusal = UrlRefusal::Internal { addr: bad.ip() };
                    return Err(Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Follows up to 10 redirects, refusing one to a literal internal address (names go through
/// [`GuardedResolver`]).
pub fn redirect_policy(allow_private: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 10 {
            return attempt.error("too many redirects");
        }
        match literal(attempt.url()) {
            Some(addr) if !allow_private && is_internal(addr) => {
                attempt.error(UrlRefusal::Internal { addr })
            }
            _ => attempt.follow(),
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_ranges() {
        for s in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_internal(ip(s)), "{s} is internal");
        }
        for s in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "100.63.255.255",
            "192.169.0.1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip(s)), "{s} is public");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_as_they_are_set() {
        assert_eq!(
            check_url("http://127.0.0.1:9/hook", false).await,
            Err(UrlRefusal::Internal {
                addr: ip("127.0.0.1")
            })
        );
        assert!(check_url("http://[::1]/x", false).await.is_err());
        assert!(check_url("http://localhost:8080/", false).await.is_err());
        assert_eq!(
            check_url("ftp://8.8.8.8/", false).await,
            Err(UrlRefusal::Scheme)
        );
        assert_eq!(
            check_url("not a url", false).await,
            Err(UrlRefusal::Invalid)
        );
        assert_eq!(check_url("http://8.8.8.8/hook", false).await, Ok(()));
        assert_eq!(check_url("", false).await, Ok(()));
        assert_eq!(check_url("http://127.0.0.1:9/hook", true).await, Ok(()));
        assert!(check_literal("http://10.0.0.1/", false).is_err());
        assert!(check_literal("http://10.0.0.1/", true).is_ok());
        assert!(check_literal("http://example.invalid/", false).is_ok());
    }
}

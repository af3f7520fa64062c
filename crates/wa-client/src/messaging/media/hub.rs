//! The gateway's media state: one HTTP client for every account, and each account's cached
//! `media_conn` answer (`media.md` §3: cached for `ttl` seconds, refreshed on auth failure).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use wa_protocol::stanza::{IqResponse, MediaConn, MediaConnRequest};
use wa_protocol::time::Millis;
use wa_store::AccountId;

use crate::error::Error;
use crate::handle::AccountHandle;
use crate::tls::https_client_config;

use super::failure::MediaFailure;

/// One cached answer and when it expires (gateway clock).
#[derive(Debug, Clone)]
struct Cached {
    conn: MediaConn,
    expires: Millis,
}

/// Media state shared by the gateway's accounts.
#[derive(Debug, Default)]
pub(crate) struct MediaHub {
    http: OnceLock<reqwest::Client>,
    conns: Mutex<HashMap<AccountId, Cached>>,
    /// Root certificates (DER) trusted besides the webpki roots.
    extra_roots: Vec<Vec<u8>>,
}

impl MediaHub {
    /// A hub whose HTTPS client also trusts `extra_roots` (DER; see
    /// [`MediaConfig::extra_root_certs`](crate::MediaConfig::extra_root_certs)).
    pub(crate) fn new(extra_roots: Vec<Vec<u8>>) -> Self {
        Self {
            extra_roots,
            ..Self::default()
        }
    }

    /// The HTTP client (built once, see [`build_client`]).
    pub(crate) fn http(&self) -> Result<reqwest::Client, MediaFailure> {
        if let Some(client) = self.http.get() {
            return Ok(client.clone());
        }
        let client = build_client(&self.extra_roots)?;
        Ok(self.http.get_or_init(|| client).clone())
    }

    /// The account's `media_conn`: the cached answer while it lives, else (or when `refresh`,
    /// after a host refused the auth token) a new query.
    pub(crate) async fn media_conn(
        &self,
        handle: &AccountHandle,
        now: Millis,
        refresh: bool,
    ) -> Result<MediaConn, Error> {
        let id = *handle.id();
        if !refresh {
            let cached = self.lock().get(&id).cloned();
            if let Some(c) = cached.filter(|c| now < c.expires) {
                return Ok(c.conn);
            }
        }
        let conn = query(handle).await?;
        let expires = Millis(now.0.saturating_add(conn.ttl.saturating_mul(1000)));
        self.lock().insert(
            id,
            Cached {
                conn: conn.clone(),
                expires,
            },
        );
        Ok(conn)
    }

    /// Forgets the account's answer (its auth token was refused).
    pub(crate) fn forget(&self, id: &AccountId) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, Cached>> {
        // A panic while holding the map leaves it consistent (single inserts/removes).
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Sends the `media_conn` IQ and parses the answer.
async fn query(handle: &AccountHandle) -> Result<MediaConn, Error> {
    match handle.iq(MediaConnRequest.request()).await {
        None => Err(Error::Timeout("media_conn query")),
        Some(IqResponse::Error { code, .. }) => Err(Error::IqRefused {
            what: "media_conn",
            code,
        }),
        Some(IqResponse::Result(node)) => {
            MediaConn::from_node(&node).map_err(|e| Error::Protocol(e.into()))
        }
    }
}

/// The media HTTP client: plain `http` (wa-sim) and `https` (WhatsApp's media hosts) with the
/// ring TLS configuration of [`crate::tls`] (webpki roots plus `extra_roots`).
fn build_client(extra_roots: &[Vec<u8>]) -> Result<reqwest::Client, MediaFailure> {
    let tls = https_client_config(extra_roots).map_err(MediaFailure::RootCertificate)?;
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()?)
}

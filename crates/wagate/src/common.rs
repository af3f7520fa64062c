//! What `serve` and `link` share: where the WhatsApp servers are, and the session store.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use wa_client::ClientConfig;
use wa_protocol::noise::TrustRoot;
use wa_protocol::signal::PublicKey;
use wa_store::{SledStore, Store, StoreConfig};

/// Where the WhatsApp servers are and whom to trust (shared by `serve` and `link`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// WebSocket URL of the WhatsApp server (a wa-sim URL for offline use).
    #[arg(long, env = "WAGATE_WA_URL", default_value = wa_client::PRODUCTION_URL)]
    pub(crate) wa_url: String,
    /// Root public key (64 hex) the server certificate must chain to; default: WhatsApp's.
    #[arg(long, env = "WAGATE_TRUST_ROOT")]
    pub(crate) trust_root: Option<String>,
    /// WhatsApp Web version to announce (`2.3000.N`); default: `data/client_version.txt`.
    #[arg(long, env = "WAGATE_CLIENT_VERSION")]
    pub(crate) client_version: Option<String>,
    /// URL scheme of the media hosts (`https`; wa-sim serves plain `http`).
    #[arg(long, env = "WAGATE_MEDIA_SCHEME")]
    pub(crate) media_scheme: Option<String>,
    /// Upload to and download from this `host[:port]` instead of the hosts `media_conn` names.
    #[arg(long, env = "WAGATE_MEDIA_HOST")]
    pub(crate) media_host: Option<String>,
}

impl ServerArgs {
    pub(crate) fn client_config(&self) -> Result<ClientConfig> {
        let mut config = ClientConfig {
            url: self.wa_url.clone(),
            ..ClientConfig::default()
        };
        // A plain ws:// server (wa-sim) serves its media over plain http too.
        if self.wa_url.starts_with("ws://") {
            config.media.scheme = "http".to_owned();
        }
        if let Some(hex_key) = &self.trust_root {
            let bytes: [u8; 32] = hex::decode(hex_key.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .context("--trust-root must be 64 hex characters")?;
            config.connection.trust = TrustRoot::new(PublicKey::from_bytes(bytes));
        }
        if let Some(version) = &self.client_version {
            config.connection.identity.version = version
                .parse()
                .context("--client-version must look like 2.3000.1234567890")?;
        }
        if let Some(scheme) = &self.media_scheme {
            config.media.scheme = scheme.trim().to_owned();
        }
        config.media.host_override = self.media_host.clone();
        Ok(config)
    }
}

pub(crate) fn open_store(dir: &Path) -> Result<Arc<dyn Store>> {
    let store = SledStore::open(&StoreConfig::at(dir))
        .with_context(|| format!("opening the session store at {}", dir.display()))?;
    Ok(Arc::new(store))
}

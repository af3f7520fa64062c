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
}

impl ServerArgs {
    pub(crate) fn client_config(&self) -> Result<ClientConfig> {
        let mut config = ClientConfig {
            url: self.wa_url.clone(),
            ..ClientConfig::default()
        };
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
        Ok(config)
    }
}

/// The store's group-commit window in µs (`StoreConfig::group_commit_window`), from
/// `WAGATE_GROUP_COMMIT_US` (a tuning knob of the HTTP benchmark; unset: the store's default).
fn group_commit_window() -> Result<Option<std::time::Duration>> {
    match std::env::var("WAGATE_GROUP_COMMIT_US") {
        Ok(v) => {
            let us: u64 = v
                .trim()
                .parse()
                .context("WAGATE_GROUP_COMMIT_US must be a number of microseconds")?;
            Ok(Some(std::time::Duration::from_micros(us.min(100_000))))
        }
        Err(_) => Ok(None),
    }
}

pub(crate) fn open_store(dir: &Path) -> Result<Arc<dyn Store>> {
    let mut config = StoreConfig::at(dir);
    if let Some(window) = group_commit_window()? {
        config.group_commit_window = window;
    }
    let store = SledStore::open(&config)
        .with_context(|| format!("opening the session store at {}", dir.display()))?;
    Ok(Arc::new(store))
}

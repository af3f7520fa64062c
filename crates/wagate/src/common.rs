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

/// Shortest time between two timed checkpoints of the served store
/// (`StoreConfig::checkpoint_every_ms`).
const CHECKPOINT_EVERY_MS: u64 = 5_000;

/// A store tuning knob of the HTTP benchmark from the environment (unset: the default).
fn env_knob(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Ok(v) => {
            Ok(Some(v.trim().parse().with_context(|| {
                format!("{name} must be a whole number")
            })?))
        }
        Err(_) => Ok(None),
    }
}

pub(crate) fn open_store(dir: &Path) -> Result<Arc<dyn Store>> {
    Ok(open_sled(dir)?)
}

/// [`open_store`] as the sled store it is (`serve` reads its log syncs for `/metrics`).
pub(crate) fn open_sled(dir: &Path) -> Result<Arc<SledStore>> {
    let mut config = StoreConfig::at(dir);
    // A timed checkpoint rotates the log: creating the next segment and syncing its directory
    // entry stalls every durable wait for several milliseconds (~9 ms on the benchmark VM's
    // disk), which at every 500 ms was the HTTP benchmark's p99. Buffered writes are still
    // synced every 500 ms; a growing log or overlay still checkpoints at once.
    config.checkpoint_every_ms = Some(CHECKPOINT_EVERY_MS);
    // Tuning knobs (the HTTP benchmark): `StoreConfig::group_commit_window` in µs, and the
    // checkpoint spacing in ms.
    if let Some(us) = env_knob("WAGATE_GROUP_COMMIT_US")? {
        config.group_commit_window = std::time::Duration::from_micros(us.min(100_000));
    }
    if let Some(ms) = env_knob("WAGATE_CHECKPOINT_MS")? {
        config.checkpoint_every_ms = Some(ms);
    }
    let store = SledStore::open(&config)
        .with_context(|| format!("opening the session store at {}", dir.display()))?;
    Ok(Arc::new(store))
}

//! How media is uploaded and downloaded (`media.md` §3): URL scheme, host override, limits.

use std::path::PathBuf;
use std::time::Duration;

/// Media settings of [`crate::ClientConfig`].
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// URL scheme of the media hosts: `https` in production (TLS with ring, see
    /// [`crate::https_client_config`]); wa-sim serves plain `http` on its port.
    pub scheme: String,
    /// Upload to and download from this `host[:port]` instead of the hosts `media_conn`
    /// names (tests, proxies).
    pub host_override: Option<String>,
    /// Largest plaintext accepted for upload or download, in bytes.
    pub max_file_bytes: u64,
    /// Time limit of one upload or download request (each host tried gets its own).
    pub request_timeout: Duration,
    /// Directory for the encrypted upload staging files and the downloaded plaintext; the
    /// system's temporary directory by default.
    pub temp_dir: Option<PathBuf>,
    /// How long a media retry waits for the phone's answer.
    pub retry_timeout: Duration,
    /// Root certificates (DER) the media client trusts besides the webpki (Mozilla) roots: a
    /// private proxy's, or a test server's self-signed one.
    pub extra_root_certs: Vec<Vec<u8>>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            scheme: "https".to_owned(),
            host_override: None,
            max_file_bytes: 2 << 30,
            request_timeout: Duration::from_secs(300),
            temp_dir: None,
            retry_timeout: Duration::from_secs(30),
            extra_root_certs: Vec::new(),
        }
    }
}

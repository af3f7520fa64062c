//! TLS of the gateway's HTTP clients (media hosts, `https` webhooks): rustls with the ring
//! provider, the one the workspace already uses for `wss://`, so no second crypto library
//! (reqwest's own default, aws-lc, needs cmake).
//!
//! reqwest is built with `rustls-no-provider`: a client given [`https_client_config`] through
//! `tls_backend_preconfigured` needs nothing else; any other `reqwest::Client` panics when it is
//! built unless a process-wide rustls provider is installed, which
//! [`install_crypto_provider`] does (the `wagate` binary calls it first thing; tests build
//! their clients with `wa_testkit::http_client()`).

use std::sync::Arc;

use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// Installs ring as rustls' process-wide default provider, unless one is installed already.
pub fn install_crypto_provider() {
    if CryptoProvider::get_default().is_none()
        && ring::default_provider().install_default().is_err()
    {
        // Another thread installed one meanwhile: any provider will do.
        tracing::trace!("rustls provider installed concurrently");
    }
}

/// A client TLS configuration: ring, TLS 1.2 and 1.3, the webpki (Mozilla) root certificates
/// and `extra_roots` (DER), e.g. a private media proxy's or a test server's certificate.
pub fn https_client_config(extra_roots: &[Vec<u8>]) -> Result<ClientConfig, rustls::Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for der in extra_roots {
        roots.add(CertificateDer::from(der.clone()))?;
    }
    Ok(
        ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

//! Shared helpers for the workspace-level tests: where the Node side lives and installing its
//! pinned npm packages. Running a Node peer and waiting on its JSON lines (or on any event)
//! with deadlines is wa-testkit's (`JsonLines`, `wait_for`).

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// The Node side of the interop tests (`tests/node/`) and its pinned npm packages: one
/// implementation, wa-testkit's (the dashboard's browser test uses it too).
pub use wa_testkit::browser::{ensure_npm_packages, node_dir};

/// The Baileys media tests' set-up (`connect_both_with`'s hook): the gateway talks plain HTTP to
/// the sim's media server (`MediaConfig::scheme`); Baileys gets the sim's media host through the
/// local TLS edge (`tests/node/media_edge/`: its certificate, key and CA, trusted only in the
/// Node process through `NODE_EXTRA_CA_CERTS`). The environment for the Node side.
///
/// # Panics
/// When an edge file is missing from the checkout.
pub fn media_edge_setup(
    sim: &wa_sim::SimServer,
    config: &mut wa_client::ClientConfig,
) -> Vec<(&'static str, String)> {
    let edge_file = |name: &str| {
        let path = node_dir().join("media_edge").join(name);
        assert!(path.is_file(), "missing {}", path.display());
        path.to_string_lossy().into_owned()
    };
    config.media.scheme = "http".to_owned();
    vec![
        ("WA_MEDIA_EDGE", sim.media_host()),
        ("WA_MEDIA_EDGE_CERT", edge_file("edge.pem")),
        ("WA_MEDIA_EDGE_KEY", edge_file("edge.key")),
        ("NODE_EXTRA_CA_CERTS", edge_file("ca.pem")),
    ]
}

/// `len` bytes starting with `magic`, the rest random from `seed` (lengths off the AES block
/// size and over one 64 KiB chunk exercise padding and streaming).
pub fn file_of(magic: &[u8], len: usize, seed: u64) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut data = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    data[..magic.len()].copy_from_slice(magic);
    data
}

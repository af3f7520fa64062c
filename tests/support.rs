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

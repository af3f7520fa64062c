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

/// The folder of the Node side of the interop tests.
pub fn node_dir() -> PathBuf {
    repo_root().join("tests").join("node")
}

/// Installs the pinned npm packages of `dir` (`npm ci`) unless `node_modules` matches the lock
/// file already. Test binaries running at once take turns through a file lock.
pub fn ensure_npm_packages(dir: &Path) -> Result<(), String> {
    let lock_path = dir.join(".install.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("open {}: {e}", lock_path.display()))?;
    lock.lock().map_err(|e| format!("lock: {e}"))?;
    let stamp = dir.join("node_modules").join(".package-lock.json");
    let lockfile = dir.join("package-lock.json");
    let fresh = match (std::fs::metadata(&stamp), std::fs::metadata(&lockfile)) {
        (Ok(s), Ok(l)) => match (s.modified(), l.modified()) {
            (Ok(s), Ok(l)) => s >= l,
            _ => false,
        },
        _ => false,
    };
    if !fresh {
        let out = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir)
            .output()
            .map_err(|e| format!("cannot run npm (is Node.js installed?): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "npm ci failed in {}:\n{}\n{}",
                dir.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(())
}

//! What a browser test needs on the machine: the pinned npm packages of `tests/node/` (its
//! `package-lock.json` pins `playwright-core`), Debian's Chromium, and a folder under the target
//! directory for the screenshots it keeps as artifacts. Each is installed when missing; a test
//! that cannot get one FAILS (panics) with what to do, it never skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where Debian's `chromium` package puts the browser; `WAGATE_CHROMIUM` overrides it.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The repository root (wa-testkit lives in `crates/wa-testkit`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("../.."), Path::to_path_buf)
}

/// The Node.js side of the end-to-end tests: `tests/node/` (package.json, package-lock.json and
/// the scripts).
pub fn node_dir() -> PathBuf {
    repo_root().join("tests").join("node")
}

/// Whether `dir/node_modules` was installed from the current `package-lock.json` (npm writes
/// `node_modules/.package-lock.json` on install).
fn npm_fresh(dir: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (
        modified(dir.join("node_modules").join(".package-lock.json")),
        modified(dir.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => installed >= lock,
        _ => false,
    }
}

/// Installs the pinned npm packages of `dir` (`npm ci`) unless `node_modules` matches the lock
/// file already. Test binaries running at once take turns through `dir/.install.lock` (the
/// same lock the workspace tests' Baileys helpers take).
///
/// # Panics
/// When Node.js or npm is missing or `npm ci` fails: the caller is a test.
pub fn ensure_npm_packages(dir: &Path) {
    let lock_path = dir.join(".install.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap_or_else(|e| panic!("open {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", lock_path.display()));
    if npm_fresh(dir) {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run npm: {e}; install Node.js >= 20 and npm (.ci/run does)")
        });
    assert!(
        out.status.success(),
        "npm ci failed in {}:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `path` runs as a Chromium (`--version` answers).
fn chromium_runs(path: &Path) -> bool {
    Command::new(path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `apt-get args…` quietly and non-interactively; whether it succeeded.
fn apt_get(args: &[&str]) -> bool {
    Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The Chromium to drive: `WAGATE_CHROMIUM` when set, else Debian's [`CHROMIUM`], installed
/// with `apt-get install chromium` when missing (as `.ci/run` does; needs root and the Debian
/// mirrors).
///
/// # Panics
/// When there is no Chromium and it cannot be installed: a browser test must fail, not skip.
pub fn ensure_chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("WAGATE_CHROMIUM") {
        let path = PathBuf::from(path);
        assert!(
            chromium_runs(&path),
            "WAGATE_CHROMIUM={} does not run (`--version` fails)",
            path.display()
        );
        return path;
    }
    let path = PathBuf::from(CHROMIUM);
    if chromium_runs(&path) {
        return path;
    }
    let install = ["install", "-y", "-qq", "chromium"];
    let installed = apt_get(&install) || (apt_get(&["update", "-qq"]) && apt_get(&install));
    assert!(
        installed && chromium_runs(&path),
        "Chromium is missing at {CHROMIUM} and `apt-get install -y chromium` failed: \
         the dashboard's browser test needs Debian's chromium package (.ci/run installs it; \
         or point WAGATE_CHROMIUM at a Chromium)"
    );
    path
}

/// `target/artifacts/<name>/` (created, emptied of earlier PNGs): where a test keeps its
/// screenshots. The target directory is the one the running test binary was built into
/// (`target/debug/deps/<test>`), so `CARGO_TARGET_DIR` is honoured.
///
/// # Panics
/// If the folder cannot be created.
pub fn artifacts_dir(name: &str) -> PathBuf {
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| repo_root().join("target"));
    let dir = target.join("artifacts").join(name);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let old = std::fs::read_dir(&dir).into_iter().flatten().flatten();
    for entry in old {
        if entry.path().extension().is_some_and(|e| e == "png") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    dir
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn npm_install_is_fresh_only_when_newer_than_the_lock_file() {
        let dir = crate::temp_dir("npm-fresh");
        std::fs::write(dir.path().join("package-lock.json"), "{}").unwrap();
        assert!(!npm_fresh(dir.path()), "nothing installed yet");
        std::fs::create_dir(dir.path().join("node_modules")).unwrap();
        std::fs::write(dir.path().join("node_modules/.package-lock.json"), "{}").unwrap();
        assert!(
            npm_fresh(dir.path()),
            "installed after the lock file was written"
        );
    }

    #[test]
    fn the_artifacts_folder_is_under_target_and_starts_without_screenshots() {
        let dir = artifacts_dir("wa-testkit-unit");
        assert!(
            dir.ends_with("artifacts/wa-testkit-unit"),
            "{}",
            dir.display()
        );
        std::fs::write(dir.join("01-old.png"), b"x").unwrap();
        std::fs::write(dir.join("notes.txt"), b"kept").unwrap();
        let again = artifacts_dir("wa-testkit-unit");
        assert!(!again.join("01-old.png").exists());
        assert!(again.join("notes.txt").exists());
        std::fs::remove_dir_all(again).unwrap();
    }
}

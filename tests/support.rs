//! Shared helpers for the workspace-level tests: installing the pinned npm packages, and running
//! a Node script that reports JSON lines, waited on with deadlines (never sleeps).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

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

/// A child process whose stdout is a stream of JSON objects, one per line.
pub struct JsonLines {
    child: Child,
    lines: mpsc::UnboundedReceiver<Value>,
    seen: Vec<Value>,
}

impl JsonLines {
    /// Spawns `node script` in `dir` with extra environment variables. Stderr is inherited so
    /// a failing test shows the script's own diagnostics.
    pub fn spawn_node(dir: &Path, script: &str, env: &[(&str, String)]) -> Result<Self, String> {
        let mut cmd = Command::new("node");
        cmd.arg(script)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("spawn node {script}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                    Err(_) => eprintln!("[node stdout, not JSON] {line}"),
                }
            }
        });
        Ok(Self {
            child,
            lines,
            seen: Vec::new(),
        })
    }

    /// Waits up to `deadline` for a line matching `pred`; earlier lines are kept in
    /// [`JsonLines::seen`].
    pub async fn wait_for(
        &mut self,
        deadline: Duration,
        what: &str,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Result<Value, String> {
        let wait = async {
            while let Some(v) = self.lines.recv().await {
                if pred(&v) {
                    return Ok(v);
                }
                self.seen.push(v);
            }
            Err(format!("script ended before {what}; saw {:?}", self.seen))
        };
        match tokio::time::timeout(deadline, wait).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "no {what} within {deadline:?}; saw {:?}",
                self.seen
            )),
        }
    }

    /// Lines received that did not match a wait.
    pub fn seen(&self) -> &[Value] {
        &self.seen
    }

    /// Kills the process and waits for it.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Waits for the first item of a broadcast receiver that `pick` maps to `Some`.
pub async fn wait_event<E: Clone, T>(
    rx: &mut tokio::sync::broadcast::Receiver<E>,
    deadline: Duration,
    what: &str,
    mut pick: impl FnMut(&E) -> Option<T>,
) -> Result<T, String> {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(e) => {
                    if let Some(t) = pick(&e) {
                        return Ok(t);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => return Err(format!("event stream ended before {what}: {e}")),
            }
        }
    };
    tokio::time::timeout(deadline, wait)
        .await
        .unwrap_or_else(|_| Err(format!("no {what} within {deadline:?}")))
}

//! A peer process (a Node.js script) that reports what it does as JSON lines on stdout.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::error::Error;
use crate::wait::wait_for;

/// A child process whose stdout is a stream of JSON objects, one per line; commands go to it
/// as JSON lines on its stdin ([`JsonLines::send`]).
pub struct JsonLines {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<Value>,
    seen: Vec<Value>,
}

impl JsonLines {
    /// Spawns `node script` in `dir` with extra environment variables. Stderr is inherited so
    /// a failing test shows the script's own diagnostics; stdout lines that are not JSON are
    /// shown on stderr.
    pub fn spawn_node(dir: &Path, script: &str, env: &[(&str, String)]) -> Result<Self, Error> {
        let mut cmd = Command::new("node");
        cmd.arg(script)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let spawn_error = |source| Error::Spawn {
            program: format!("node {script}"),
            source,
        };
        let mut child = cmd.spawn().map_err(spawn_error)?;
        let stdout = child.stdout.take().ok_or_else(|| {
            spawn_error(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "no stdout",
            ))
        })?;
        let stdin = child.stdin.take();
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
            stdin,
            lines,
            seen: Vec::new(),
        })
    }

    /// Waits up to `deadline` for a line matching `pred`; earlier lines are kept in
    /// [`JsonLines::seen`]. On failure the lines seen so far are shown on stderr.
    pub async fn wait_for(
        &mut self,
        deadline: Duration,
        what: &str,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Result<Value, Error> {
        let seen = &mut self.seen;
        let found = wait_for(&mut self.lines, deadline, what, |v| {
            if pred(v) {
                Some(v.clone())
            } else {
                seen.push(v.clone());
                None
            }
        })
        .await;
        if found.is_err() {
            eprintln!("[node] lines seen before {what}: {:?}", self.seen);
        }
        found
    }

    /// Writes `command` as one JSON line to the process's stdin.
    pub async fn send(&mut self, command: &Value) -> Result<(), Error> {
        let write_error = |source| Error::Spawn {
            program: "node (stdin)".to_owned(),
            source,
        };
        let stdin = self.stdin.as_mut().ok_or_else(|| {
            write_error(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "no stdin",
            ))
        })?;
        let mut line = command.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .await
            .map_err(write_error)?;
        stdin.flush().await.map_err(write_error)
    }

    /// Lines received that did not match a wait.
    pub fn seen(&self) -> &[Value] {
        &self.seen
    }

    /// Kills the process and waits for it.
    pub async fn kill(mut self) {
        // The process may have exited already; either way it is gone afterwards.
        self.child.kill().await.ok();
    }
}

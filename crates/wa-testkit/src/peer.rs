//! A peer process (a Node.js script, or a test-only binary) that reports what it does as JSON
//! lines on stdout.

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
        cmd.arg(script).current_dir(dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn(cmd, &format!("node {script}"))
    }

    /// Spawns `cmd` (any program reporting JSON lines; `label` names it in errors) with piped
    /// stdin and stdout and inherited stderr; the process is killed when dropped.
    pub fn spawn(mut cmd: Command, label: &str) -> Result<Self, Error> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let spawn_error = |source| Error::Spawn {
            program: label.to_owned(),
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
        let label = label.to_owned();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                    Err(_) => eprintln!("[{label} stdout, not JSON] {line}"),
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

    /// Closes the process's stdin (it sees end of file).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits up to `deadline` for the process to exit by itself; its exit status.
    pub async fn wait_exit(
        &mut self,
        deadline: Duration,
    ) -> Result<std::process::ExitStatus, Error> {
        let what = "the process's exit";
        match tokio::time::timeout(deadline, self.child.wait()).await {
            Ok(status) => status.map_err(|source| Error::Spawn {
                program: what.to_owned(),
                source,
            }),
            Err(_) => Err(Error::Timeout {
                what: what.to_owned(),
                deadline,
            }),
        }
    }

    /// Kills the process (SIGKILL on Unix), waits for it, and returns the lines it wrote before
    /// dying that no wait took (up to the end of its stdout, within `deadline`).
    pub async fn kill_and_drain(mut self, deadline: Duration) -> Result<Vec<Value>, Error> {
        // The process may have exited already; either way it is gone afterwards.
        self.child.kill().await.ok();
        let mut rest = Vec::new();
        let drain = async {
            while let Some(v) = self.lines.recv().await {
                rest.push(v);
            }
        };
        tokio::time::timeout(deadline, drain)
            .await
            .map_err(|_| Error::Timeout {
                what: "the end of the killed process's output".to_owned(),
                deadline,
            })?;
        Ok(rest)
    }

    /// Kills the process (SIGKILL on Unix) and waits for it.
    pub async fn kill(mut self) {
        // The process may have exited already; either way it is gone afterwards.
        self.child.kill().await.ok();
    }
}

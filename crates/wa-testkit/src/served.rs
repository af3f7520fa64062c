//! The real `wagate serve` binary as a child process against a wa-sim, with a small HTTP client
//! for its API: what the HTTP API's end-to-end tests drive (issue 11: "the real binary, real
//! sockets, wa-sim as WhatsApp").

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use wa_sim::SimServer;

use crate::dir::temp_dir;
use crate::served_secrets::Secrets;

/// The admin token every served gateway of the tests uses.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// How long the binary may take to start listening.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A running `wagate serve` (killed when dropped) and its data directory (kept across
/// [`Served::restart`], removed when dropped).
#[derive(Debug)]
pub struct Served {
    bin: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    child: Option<Child>,
    addr: SocketAddr,
    dir: TempDir,
    http: reqwest::Client,
    /// What must never appear in its log (checked when dropped).
    secrets: Secrets,
}

impl Served {
    /// Starts `bin` (`env!("CARGO_BIN_EXE_wagate")`) against `sim` with the admin token
    /// [`ADMIN_TOKEN`], a fresh store and `extra_env` (e.g. `("API_KEY", "…")`).
    ///
    /// # Panics
    /// If it does not start listening within 30 s: the caller is a test.
    pub async fn start(bin: &Path, sim: &SimServer, extra_env: &[(&str, &str)]) -> Self {
        let dir = temp_dir("served");
        let args = vec![
            "serve".to_owned(),
            "--listen".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--data-dir".to_owned(),
            dir.path().join("wa_sessions").display().to_string(),
            "--wa-url".to_owned(),
            sim.url(),
            "--trust-root".to_owned(),
            hex_key(sim),
        ];
        let mut env = vec![("WAGATE_ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned())];
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let secrets = Secrets::default();
        for (k, v) in &env {
            secrets.note_env(k, v);
        }
        let mut served = Self {
            bin: bin.to_path_buf(),
            args,
            env,
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir,
            http: crate::http::http_client(),
            secrets,
        };
        served.spawn().await;
        served
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("gateway log: {e}"));
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(START_DEADLINE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix("wagate listening on http://") {
                    return rest.trim().parse::<SocketAddr>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("wagate did not start; its log:\n{}", self.log()));
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.addr = addr;
        self.child = Some(child);
    }

    /// The HTTP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The store directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("wa_sessions")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("wagate.log")
    }

    /// What the gateway logged so far (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Adds `secret` to what must never appear in this gateway's log (checked when it is
    /// dropped; the admin token, the user tokens the helpers sent and secret-looking
    /// environment values are added by themselves). Values under 8 characters are ignored.
    pub fn note_secret(&self, secret: &str) {
        self.secrets.note(secret);
    }

    /// Stops the process (SIGKILL) and starts it again on the same store (a new port).
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }

    /// Kills the process and waits for it.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// One request: `headers` as given, `body` sent as JSON text when `Some`. Returns the status
    /// and the body as JSON (`Null` when empty, a JSON string when not JSON).
    ///
    /// # Panics
    /// If the exchange fails or takes more than 30 s.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> (u16, Value) {
        let (status, _, text) = self.request_raw(method, path, headers, body).await;
        let json = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    /// Like [`Served::request`] but returns the content type and the raw body text too.
    ///
    /// # Panics
    /// If the exchange fails or takes more than 30 s.
    pub async fn request_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> (u16, String, String) {
        self.secrets.note_headers(headers);
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .unwrap_or_else(|e| panic!("HTTP method {method:?}: {e}"));
        let mut builder = self
            .http
            .request(method, format!("{}{path}", self.base()))
            .timeout(Duration::from_secs(30));
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        if let Some(body) = body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_owned());
        }
        let response = builder
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{path} body: {e}"));
        (status, content_type, text)
    }

    /// A request with the admin token in `Authorization`.
    pub async fn admin(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        self.request(method, path, &[("Authorization", ADMIN_TOKEN)], body)
            .await
    }

    /// A request with a user's token in the `token` header.
    pub async fn user(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        self.request(method, path, &[("token", token)], body).await
    }

    /// Creates a wuzapi user (`POST /admin/users`) and returns its id.
    ///
    /// # Panics
    /// If the gateway refuses.
    pub async fn create_user(&self, name: &str, token: &str) -> String {
        self.secrets.note(token);
        let body = serde_json::json!({ "name": name, "token": token }).to_string();
        let (status, json) = self.admin("POST", "/admin/users", Some(&body)).await;
        assert_eq!(status, 201, "create user: {json}");
        json["data"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {json}"))
            .to_owned()
    }
}

/// The whole test suite checks that no secret reaches a gateway's log: a test whose gateway
/// logged one fails here (unless it is failing already).
impl Drop for Served {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Some(leak) = self.secrets.leak(&self.log()) {
            panic!("{leak}");
        }
    }
}

fn hex_key(sim: &SimServer) -> String {
    sim.root_key()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

//! `wagate demo` smoke test (issue 14's proof): the real binary starts with `--listen
//! 127.0.0.1:0 --data-dir <temp>`, links its demo session through the simulated phone, shows the
//! second phone's hello, and prints its URLs, tokens, phones and a curl. The test reads those
//! lines (with deadlines), checks the session through the HTTP API, has the printed curl's
//! request round-trip a message to the second phone (wa-sim's admin API), then stops the
//! demo with SIGINT or SIGTERM: exit status 0 within a deadline, the process gone, its ports
//! free, its store readable. Refusals print one line and exit non-zero.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use wa_testkit::{http_client, poll_until, temp_dir, DEADLINE};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
/// Starting, linking and the hello (a debug build on a busy shared machine).
const READY_DEADLINE: Duration = Duration::from_secs(90);
/// From the signal to the exit status.
const EXIT_DEADLINE: Duration = Duration::from_secs(30);

/// A running `wagate demo` (killed if the test fails) and what it printed until `ready`.
struct Demo {
    child: Child,
    pid: u32,
    printed: Vec<String>,
    fields: HashMap<String, String>,
    stdout: Lines<BufReader<ChildStdout>>,
    dir: TempDir,
}

impl Demo {
    /// Starts the demo on a free port with a store in a fresh temp dir; returns once it
    /// printed `ready`.
    async fn start() -> Self {
        let dir = temp_dir("demo");
        let log = std::fs::File::create(dir.path().join("demo.log")).expect("demo log");
        let mut child = Command::new(BIN)
            .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("store"))
            .env_remove("WAGATE_ADMIN_TOKEN")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn wagate demo");
        let pid = child.id().expect("a pid");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut demo = Self {
            child,
            pid,
            printed: Vec::new(),
            fields: HashMap::new(),
            stdout,
            dir,
        };
        demo.read_until_ready().await;
        demo
    }

    async fn read_until_ready(&mut self) {
        let read = tokio::time::timeout(READY_DEADLINE, async {
            while let Ok(Some(line)) = self.stdout.next_line().await {
                let done = line == "ready";
                self.printed.push(line);
                if done {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            matches!(read, Ok(true)),
            "the demo did not print `ready` within {READY_DEADLINE:?}; it printed:\n{}\nlog:\n{}",
            self.printed.join("\n"),
            self.log()
        );
        // The block's `  label: value` lines.
        self.fields = self
            .printed
            .iter()
            .filter_map(|l| l.strip_prefix("  "))
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("demo.log")).unwrap_or_default()
    }

    fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// A printed field (`dashboard`, `admin token`, `user token`, …).
    fn field(&self, label: &str) -> &str {
        self.fields.get(label).map_or_else(
            || panic!("no `{label}:` in\n{}", self.printed.join("\n")),
            String::as_str,
        )
    }

    /// The first printed line (trimmed) that starts with `prefix`.
    fn line(&self, prefix: &str) -> &str {
        self.printed
            .iter()
            .map(|l| l.trim())
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in\n{}", self.printed.join("\n")))
    }

    /// `http://<gateway>` from the dashboard URL.
    fn base(&self) -> &str {
        let dashboard = self.field("dashboard");
        dashboard
            .strip_suffix("/dashboard")
            .unwrap_or_else(|| panic!("dashboard URL {dashboard}"))
    }

    fn gateway_addr(&self) -> SocketAddr {
        let base = self.base();
        base.strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("gateway address in {base}"))
    }

    /// wa-sim's address from its admin API URL.
    fn sim_addr(&self) -> SocketAddr {
        let admin = self.field("sim admin API");
        admin
            .strip_prefix("http://")
            .and_then(|a| a.strip_suffix("/admin"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("sim admin URL {admin}"))
    }

    /// What the sim's phone `phone` received (`GET /admin/phones/{phone}/messages`).
    async fn phone_messages(&self, phone: &str) -> Vec<Value> {
        let url = format!("{}/phones/{phone}/messages", self.field("sim admin API"));
        let (status, body) = get_json(&url, &[]).await;
        assert_eq!(status, 200, "{url}: {body}");
        body.as_array()
            .unwrap_or_else(|| panic!("{url}: {body}"))
            .clone()
    }

    /// Sends `signal` (`INT`, `TERM`) with `kill`; returns the exit status, which must come
    /// within [`EXIT_DEADLINE`], and the lines printed after `ready`.
    async fn stop_with(mut self, signal: &str) -> (ExitStatus, Vec<String>, Self) {
        let sent = kill(&format!("-{signal}"), self.pid);
        assert!(sent.success(), "kill -{signal} {}", self.pid);
        let mut after = Vec::new();
        let status = tokio::time::timeout(EXIT_DEADLINE, async {
            while let Ok(Some(line)) = self.stdout.next_line().await {
                after.push(line);
            }
            self.child.wait().await
        })
        .await;
        let status = match status {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => panic!("waiting for the demo: {e}"),
            Err(_) => panic!(
                "the demo did not exit within {EXIT_DEADLINE:?} of SIG{signal}; log:\n{}",
                self.log()
            ),
        };
        (status, after, self)
    }

    /// The process is gone and both its ports can be bound again.
    fn assert_nothing_left(&self) {
        let alive = kill("-0", self.pid);
        assert!(!alive.success(), "process {} is still there", self.pid);
        for addr in [self.gateway_addr(), self.sim_addr()] {
            std::net::TcpListener::bind(addr)
                .unwrap_or_else(|e| panic!("{addr} is still taken after the exit: {e}"));
        }
    }
}

/// The shell's `kill <flag> <pid>` (a builtin of every `sh`: no procps needed); its status.
fn kill(flag: &str, pid: u32) -> ExitStatus {
    std::process::Command::new("sh")
        .args(["-c", &format!("kill {flag} {pid}")])
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("sh -c 'kill {flag} {pid}': {e}"))
}

/// `GET url` with `headers`; the status and the JSON body.
async fn get_json(url: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = http_client().get(url).timeout(DEADLINE);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A shell line's words, with single-quoted words unquoted (what the printed curl uses).
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut in_word) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => (quoted, in_word) = (!quoted, true),
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                }
                in_word = false;
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quotes in {line}");
    if in_word {
        words.push(word);
    }
    words
}

/// Makes the request the printed curl line makes (`-X`, `-H`, `-d`, the URL); the status, the
/// JSON answer and the body sent.
async fn do_as_curl(line: &str) -> (u16, Value, Value) {
    let words = shell_words(line);
    assert_eq!(words.first().map(String::as_str), Some("curl"), "{line}");
    let (mut method, mut url, mut headers, mut body) = ("GET".to_owned(), None, Vec::new(), None);
    let mut rest = words[1..].iter();
    while let Some(word) = rest.next() {
        match word.as_str() {
            "-sS" | "-s" | "-S" => {}
            "-X" => method = rest.next().expect("-X method").clone(),
            "-H" => headers.push(rest.next().expect("-H header").clone()),
            "-d" => body = Some(rest.next().expect("-d body").clone()),
            flag if flag.starts_with('-') => panic!("unexpected curl flag {flag} in {line}"),
            other => url = Some(other.to_owned()),
        }
    }
    let url = url.unwrap_or_else(|| panic!("no URL in {line}"));
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = http_client().request(method, &url).timeout(DEADLINE);
    for header in &headers {
        let (k, v) = header.split_once(": ").expect("a `name: value` header");
        request = request.header(k, v);
    }
    let body = body.unwrap_or_default();
    let sent: Value = serde_json::from_str(&body).expect("the curl's body is JSON");
    let response = request.body(body).send().await.expect("the curl's request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let answer = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, answer, sent)
}

/// The session is linked (HTTP status), the hello arrived, the printed admin token works, and
/// the printed curl's message reaches the second phone.
async fn check_running_demo(demo: &Demo) {
    let base = demo.base();
    let token = demo.field("user token");
    let (status, body) = get_json(&format!("{base}/session/status"), &[("token", token)]).await;
    assert_eq!(status, 200, "status: {body}");
    assert_eq!(body["data"]["connected"], true, "{body}");
    assert_eq!(body["data"]["loggedIn"], true, "{body}");
    assert_eq!(body["data"]["name"], "demo", "{body}");
    let admin = demo.field("admin token");
    let (status, users) =
        get_json(&format!("{base}/admin/users"), &[("Authorization", admin)]).await;
    assert_eq!(status, 200, "admin users: {users}");
    assert!(users.to_string().contains(token), "{users}");

    // The hello: the gateway received it (the demo waited on the event and printed it), and
    // the sim recorded it (the demo's own phone gets a copy of what its chats receive).
    let hello = demo.line("received: ").trim_start_matches("received: ");
    assert!(hello.starts_with("hello"), "{hello}");
    let (demo_phone, friend) = (demo.field("demo phone"), demo.field("second phone"));
    let friend = friend.split_whitespace().next().expect("a phone number");
    let inbox = demo.phone_messages(demo_phone).await;
    assert!(
        inbox
            .iter()
            .any(|m| m["from"] == friend && m["text"] == hello),
        "the hello is not in {demo_phone}'s messages: {inbox:?}"
    );

    // A message round-trips: the printed curl's request, then the second phone has it.
    let (status, answer, sent) = do_as_curl(demo.line("curl -sS -X POST ")).await;
    assert_eq!(status, 200, "send: {answer}");
    let id = answer["data"]["Id"]
        .as_str()
        .expect("a message id")
        .to_owned();
    assert_eq!(sent["Phone"], friend, "{sent}");
    let arrived = poll_until(DEADLINE, "the curl's message at the second phone", || {
        let (id, sent) = (&id, &sent);
        async move {
            let messages = demo.phone_messages(friend).await;
            messages
                .into_iter()
                .find(|m| m["id"] == id.as_str() && m["text"] == sent["Body"])
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}; log:\n{}", demo.log()));
    assert_eq!(arrived["from"], demo_phone, "{arrived}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_links_round_trips_and_exits_0_on_sigint() {
    let demo = Demo::start().await;
    check_running_demo(&demo).await;
    let (status, after, demo) = demo.stop_with("INT").await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit: {status}; log:\n{}",
        demo.log()
    );
    assert!(after.iter().any(|l| l.starts_with("stopped")), "{after:?}");
    demo.assert_nothing_left();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_exits_0_on_sigterm_with_its_store_flushed() {
    let demo = Demo::start().await;
    let token = demo.field("user token").to_owned();
    let url = format!("{}/session/status", demo.base());
    let (status, body) = get_json(&url, &[("token", &token)]).await;
    assert_eq!(
        (status, &body["data"]["loggedIn"]),
        (200, &Value::Bool(true)),
        "{body}"
    );
    login_link_works_once(&demo).await;
    let (status, _, demo) = demo.stop_with("TERM").await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit: {status}; log:\n{}",
        demo.log()
    );
    demo.assert_nothing_left();
    // The store was flushed and closed: `wagate store check` opens it and every record reads.
    let check = std::process::Command::new(BIN)
        .args(["store", "check", "--data-dir"])
        .arg(demo.store_dir())
        .env("RUST_LOG", "off")
        .output()
        .expect("run wagate store check");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "store check: {out}");
    assert!(out.contains("ok: "), "{out}");
}

/// The printed one-time login link logs a browser in (a cookie, then the dashboard) once; the
/// second use is refused and sets nothing.
async fn login_link_works_once(demo: &Demo) {
    let link = demo.field("login link");
    let link = link.split_whitespace().next().unwrap_or(link).to_owned();
    assert!(
        link.starts_with(&format!("{}/dashboard/login/once/", demo.base())),
        "{link}"
    );
    wa_client::install_crypto_provider();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(DEADLINE)
        .build()
        .expect("client");
    let first = client.get(&link).send().await.expect("GET the login link");
    assert_eq!(first.status().as_u16(), 303);
    let cookie = first.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    let pair = cookie.split(';').next().unwrap_or_default().to_owned();
    let page = client
        .get(format!("{}/dashboard", demo.base()))
        .header("cookie", &pair)
        .send()
        .await
        .expect("GET /dashboard");
    assert_eq!(page.status().as_u16(), 200);
    let again = client.get(&link).send().await.expect("GET the link again");
    assert_eq!(again.status().as_u16(), 401, "the code is burnt");
    assert!(again.headers().get("set-cookie").is_none());
}

/// A refusal: one line on stderr (`wagate: …`), a non-zero status, nothing listening.
async fn refused(args: &[&str]) -> (Option<i32>, String) {
    let output = tokio::time::timeout(
        EXIT_DEADLINE,
        Command::new(BIN)
            .args(args)
            .env_remove("WAGATE_ADMIN_TOKEN")
            .env("RUST_LOG", "off")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the refused demo exits in time")
    .expect("run wagate demo");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    (output.status.code(), stderr)
}

#[tokio::test]
async fn demo_refusals_are_one_line_and_non_zero() {
    let dir = temp_dir("demo-refused");
    std::fs::write(dir.path().join("something"), b"x").expect("a file");
    let path = dir.path().display().to_string();
    let (code, stderr) = refused(&["demo", "--listen", "127.0.0.1:0", "--data-dir", &path]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.starts_with("wagate: --data-dir"), "{stderr}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("its address").to_string();
    let fresh = dir.path().join("fresh").display().to_string();
    let args = ["demo", "--listen", &addr, "--data-dir", &fresh];
    let (code, stderr) = refused(&args).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );

    let args = ["demo", "--admin-token", "short", "--data-dir", &fresh];
    let (code, stderr) = refused(&args).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("at least 16 characters"), "{stderr}");
}

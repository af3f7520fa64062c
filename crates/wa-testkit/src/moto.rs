//! An S3-compatible server for the object storage tests: moto's server mode (PyPI `moto[server]`),
//! started by the test itself on a free port and killed when dropped. It is installed with pip
//! when missing; a test that cannot start it FAILS (panics), it never skips.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::poll::poll_until;

/// How long moto may take to install and to answer.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// The pip requirement installed when moto's server is missing.
pub const MOTO_REQUIREMENT: &str = "moto[server]==5.2.1";

/// A running moto S3 server (killed when dropped).
#[derive(Debug)]
pub struct Moto {
    child: Child,
    url: String,
    http: reqwest::Client,
}

async fn python_ok(args: &[&str]) -> bool {
    Command::new("python3")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// Installs `moto[server]` with pip unless `import moto.server` already works.
///
/// # Panics
/// When it cannot be installed: the caller is a test.
pub async fn ensure_moto() {
    let probe = ["-c", "import moto.server, flask, flask_cors, boto3"];
    if python_ok(&probe).await {
        return;
    }
    let installed = python_ok(&[
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        MOTO_REQUIREMENT,
    ])
    .await;
    assert!(
        installed && python_ok(&probe).await,
        "moto's S3 server is missing and `python3 -m pip install '{MOTO_REQUIREMENT}'` failed"
    );
}

impl Moto {
    /// Installs moto if needed and starts its server on a free 127.0.0.1 port.
    ///
    /// # Panics
    /// If it cannot be installed or does not answer within 60 s.
    pub async fn start() -> Self {
        ensure_moto().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port for moto");
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting `python3 -m moto.server`");
        let url = format!("http://127.0.0.1:{port}");
        let http = crate::http::http_client();
        let probe = format!("{url}/moto-api/");
        poll_until(START_DEADLINE, "moto's S3 server answers", || {
            let http = http.clone();
            let probe = probe.clone();
            async move { http.get(&probe).send().await.ok().map(|_| ()) }
        })
        .await
        .expect("moto's S3 server did not start");
        Self { child, url, http }
    }

    /// `http://127.0.0.1:<port>`, the S3 endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates `bucket` (moto takes unsigned requests).
    ///
    /// # Panics
    /// If moto refuses.
    pub async fn create_bucket(&self, bucket: &str) {
        let status = self
            .http
            .put(format!("{}/{bucket}", self.url))
            .send()
            .await
            .expect("create bucket")
            .status();
        assert!(status.is_success(), "create bucket {bucket}: {status}");
    }

    /// The object at a path-style URL of this server (`<url>/<bucket>/<key>`), read with a
    /// signed `GetObject` through boto3 (moto's dependency), or `None` when there is no such
    /// object.
    ///
    /// # Panics
    /// If `url` is not below this server or boto3 fails otherwise.
    pub async fn fetch(&self, url: &str) -> Option<Vec<u8>> {
        let path = url
            .strip_prefix(&format!("{}/", self.url))
            .unwrap_or_else(|| panic!("{url} is not on {}", self.url));
        let (bucket, key) = path.split_once('/').expect("<bucket>/<key>");
        let out = self.boto3(FETCH, &[bucket, key]).await;
        match out.status.code() {
            Some(0) => Some(out.stdout),
            Some(3) => None,
            _ => panic!("boto3 get_object: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }

    /// The keys in `bucket` below `prefix` (boto3's `list_objects_v2`).
    ///
    /// # Panics
    /// If boto3 fails.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let out = self.boto3(LIST, &[bucket, prefix]).await;
        assert!(
            out.status.success(),
            "boto3 list_objects_v2: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Puts `body` at `key` in `bucket` (boto3's `put_object`).
    ///
    /// # Panics
    /// If boto3 fails.
    pub async fn put_object(&self, bucket: &str, key: &str, body: &[u8]) {
        let body = String::from_utf8_lossy(body).into_owned();
        let out = self.boto3(PUT, &[bucket, key, &body]).await;
        assert!(
            out.status.success(),
            "boto3 put_object: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn boto3(&self, script: &str, args: &[&str]) -> std::process::Output {
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&self.url)
            .args(args)
            .output()
            .await
            .expect("running python3 with boto3")
    }
}

/// `python3 -c FETCH <endpoint> <bucket> <key>`: the object's bytes on stdout; exit 3 when absent.
const FETCH: &str = r#"
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="test",
                  aws_secret_access_key="test", region_name="us-east-1")
try:
    sys.stdout.buffer.write(s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])["Body"].read())
except s3.exceptions.NoSuchKey:
    sys.exit(3)
"#;

/// `python3 -c PUT <endpoint> <bucket> <key> <text>`.
const PUT: &str = r#"
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="test",
                  aws_secret_access_key="test", region_name="us-east-1")
s3.put_object(Bucket=sys.argv[2], Key=sys.argv[3], Body=sys.argv[4].encode())
"#;

/// `python3 -c LIST <endpoint> <bucket> <prefix>`: one key a line.
const LIST: &str = r#"
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="test",
                  aws_secret_access_key="test", region_name="us-east-1")
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2], Prefix=sys.argv[3]):
    for item in page.get("Contents", []):
        print(item["Key"])
"#;

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

//! Unit tests of the transfer code against a tiny local HTTP stub (one request per
//! connection): the end-to-end test against wa-sim's media endpoints is the merge step.

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wa_protocol::media::{encrypt, upload_path, upload_token, MediaError, MediaKey, MediaType};
use wa_protocol::message::{DocumentInfo, ImageInfo, Media, MediaFile, MediaKind};

use super::download::{download, Wanted};
use super::failure::MediaFailure;
use super::hub::MediaHub;
use super::upload::{post_staged, stage, MediaSource};
use crate::media_config::MediaConfig;

/// A request the stub saw: request line and body.
#[derive(Debug, Clone, Default)]
struct Seen {
    line: String,
    body: Vec<u8>,
}

/// Serves every request with `status` and `body`; records what it saw. Returns `host:port`.
async fn stub(status: u16, body: Vec<u8>, seen: Arc<Mutex<Vec<Seen>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            let head_end = loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < head_end + len {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            seen.lock().expect("lock").push(Seen {
                line: head.lines().next().unwrap_or_default().to_owned(),
                body: buf[head_end..].to_vec(),
            });
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
            let _ = sock.write_all(&body).await;
        }
    });
    addr
}

fn config(dir: &tempfile::TempDir) -> MediaConfig {
    MediaConfig {
        scheme: "http".into(),
        temp_dir: Some(dir.path().to_path_buf()),
        ..MediaConfig::default()
    }
}

fn image(key: &MediaKey, plain: &[u8]) -> (Media, Vec<u8>) {
    let (body, info) = encrypt(key, MediaType::Image, plain);
    let media = Media {
        kind: MediaKind::Image(ImageInfo::default()),
        file: MediaFile {
            direct_path: Some("/v/t62.7118-24/x.enc?ccb=11-4".into()),
            media_key: Some(key.clone()),
            file_sha256: Some(info.file_sha256),
            file_enc_sha256: Some(info.file_enc_sha256),
            file_length: Some(info.file_length),
            mimetype: Some("image/jpeg".into()),
            ..MediaFile::default()
        },
        reply: None,
        mentions: Vec::new(),
    };
    (media, body)
}

#[tokio::test]
async fn download_falls_over_to_the_next_host_and_hands_on_verified_bytes() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = config(&dir);
    let plain: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let key = MediaKey::from([4; 32]);
    let (media, body) = image(&key, &plain);
    let gone = Arc::new(Mutex::new(Vec::new()));
    let good = Arc::new(Mutex::new(Vec::new()));
    let hosts = vec![
        stub(404, Vec::new(), Arc::clone(&gone)).await,
        stub(200, body, Arc::clone(&good)).await,
    ];
    let wanted = Wanted::from_media(&media, &cfg).expect("fields");
    let urls = wanted.urls(&hosts, "http");
    let http = MediaHub::default().http().expect("client");
    let got = download(&http, &cfg, wanted, urls).await.expect("verified");
    assert_eq!(got.read_all().expect("read"), plain);
    assert_eq!(got.verified.file_length, plain.len() as u64);
    assert_eq!(
        gone.lock().expect("lock").len(),
        1,
        "the 404 host was tried first"
    );
    let line = good.lock().expect("lock")[0].line.clone();
    assert!(
        line.starts_with("GET /v/t62.7118-24/x.enc?ccb=11-4&hash="),
        "{line}"
    );
    assert!(line.contains("&mms-type=image&__wa-mms="), "{line}");
    drop(got);
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "temp file removed"
    );
}

#[tokio::test]
async fn a_tampered_body_is_refused_and_leaves_no_file() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = config(&dir);
    let key = MediaKey::from([5; 32]);
    let (media, mut body) = image(&key, &[7u8; 100_000]);
    body[50_000] ^= 1;
    let host = stub(200, body, Arc::default()).await;
    let wanted = Wanted::from_media(&media, &cfg).expect("fields");
    let urls = wanted.urls(&[host], "http");
    let http = MediaHub::default().http().expect("client");
    let err = download(&http, &cfg, wanted, urls)
        .await
        .expect_err("refused");
    assert!(
        matches!(err, MediaFailure::Verify(MediaError::BadMac)),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "nothing handed on"
    );
}

#[tokio::test]
async fn a_message_without_key_or_hashes_is_refused_before_any_request() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut media, _) = image(&MediaKey::from([6; 32]), b"x");
    media.file.file_enc_sha256 = None;
    let err = Wanted::from_media(&media, &config(&dir))
        .err()
        .expect("refused");
    assert!(matches!(err, MediaFailure::MissingField("fileEncSha256")));
}

#[tokio::test]
async fn upload_streams_the_staged_body_with_token_and_auth() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = config(&dir);
    let plain = vec![0x42u8; 1 << 20];
    let (staged, plain_sum) =
        stage(MediaSource::Bytes(plain.clone()), MediaType::Document, &cfg).expect("staged");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let answer =
        br#"{"url":"https://mmg.example/d.enc","direct_path":"/v/t62/d.enc?ccb=1","handle":"h"}"#;
    let host = stub(200, answer.to_vec(), Arc::clone(&seen)).await;
    let http = MediaHub::default().http().expect("client");
    let token = upload_token(&staged.file_enc_sha256);
    let path = upload_path(MediaType::Document, &token);
    let got = post_staged(&http, &cfg, &host, &path, "AUTH/+=", &token, &staged)
        .await
        .expect("answer");
    assert_eq!(got.direct_path, "/v/t62/d.enc?ccb=1");
    let seen = seen.lock().expect("lock")[0].clone();
    assert_eq!(
        seen.line,
        format!("POST /mms/document/{token}?auth=AUTH%2F%2B%3D&token={token} HTTP/1.1")
    );
    assert_eq!(seen.body.len() as u64, staged.enc_length);
    let hash: [u8; 32] = Sha256::digest(&seen.body).into();
    assert_eq!(
        hash, staged.file_enc_sha256,
        "the body is what the token names"
    );
    let (_, plain_info) = encrypt(&MediaKey::from([0; 32]), MediaType::Document, &plain);
    let info = staged.info(plain_sum.finish());
    assert_eq!(info.file_sha256, plain_info.file_sha256);
    assert_eq!(info.file_length, 1 << 20);
}

#[tokio::test]
async fn oversized_sources_and_refusing_hosts_are_typed_errors() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = MediaConfig {
        max_file_bytes: 1000,
        ..config(&dir)
    };
    let big = MediaSource::Bytes(vec![0; 300_000]);
    let err = stage(big, MediaType::Image, &cfg).err().expect("too large");
    assert!(matches!(err, MediaFailure::TooLarge { max: 1000, .. }));
    let (staged, _) =
        stage(MediaSource::Bytes(vec![1; 10]), MediaType::Image, &cfg).expect("small");
    let host = stub(401, Vec::new(), Arc::default()).await;
    let http = MediaHub::default().http().expect("client");
    let err = post_staged(&http, &cfg, &host, "/mms/image/t", "a", "t", &staged)
        .await
        .expect_err("refused");
    assert!(matches!(err, MediaFailure::Status { status: 401, .. }));
    let kind = MediaKind::Document(DocumentInfo::default());
    assert_eq!(kind.media_type(), MediaType::Document);
}

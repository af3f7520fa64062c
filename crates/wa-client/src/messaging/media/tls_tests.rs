//! HTTPS media transfer (issue 13: media hosts are `https` in production) against a local TLS
//! server whose self-signed certificate (`testdata/media-tls-*.der`, for `127.0.0.1`) is
//! trusted through [`MediaConfig::extra_root_certs`]: a verified download and an upload over
//! TLS; without the extra root the same download is refused (the certificate is checked).

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use wa_protocol::media::{encrypt, upload_path, upload_token, MediaKey, MediaType};
use wa_protocol::message::{ImageInfo, Media, MediaFile, MediaKind};

use super::download::{download, Wanted};
use super::failure::MediaFailure;
use super::hub::MediaHub;
use super::upload::{post_staged, stage, MediaSource};
use crate::media_config::MediaConfig;

const CERT: &[u8] = include_bytes!("../../../testdata/media-tls-cert.der");
const KEY: &[u8] = include_bytes!("../../../testdata/media-tls-key.der");

/// An HTTPS server answering every request with `status` and `body`; each request body goes to
/// the returned channel. Returns `127.0.0.1:port`.
async fn tls_stub(status: u16, body: Vec<u8>) -> (String, mpsc::UnboundedReceiver<Vec<u8>>) {
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(CERT.to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(KEY.to_vec())),
        )
        .expect("certificate and key");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(sock).await else {
                continue; // the client refused our certificate
            };
            if let Some(request_body) = read_request(&mut tls).await {
                let _ = tx.send(request_body);
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(&body).await;
                let _ = tls.shutdown().await;
            }
        }
    });
    (addr, rx)
}

/// Reads one request (head, then `content-length` bytes); its body.
async fn read_request<S: AsyncRead + AsyncWrite + Unpin>(sock: &mut S) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap_or(0));
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf[head_end..].to_vec())
}

fn config(dir: &tempfile::TempDir, trusted: bool) -> MediaConfig {
    MediaConfig {
        scheme: "https".into(),
        temp_dir: Some(dir.path().to_path_buf()),
        extra_root_certs: if trusted {
            vec![CERT.to_vec()]
        } else {
            Vec::new()
        },
        ..MediaConfig::default()
    }
}

fn image(key: &MediaKey, plain: &[u8]) -> (Media, Vec<u8>) {
    let (body, info) = encrypt(key, MediaType::Image, plain);
    let media = Media {
        kind: MediaKind::Image(ImageInfo::default()),
        file: MediaFile {
            direct_path: Some("/v/t62.7118-24/tls.enc?ccb=11-4".into()),
            media_key: Some(key.clone()),
            file_sha256: Some(info.file_sha256),
            file_enc_sha256: Some(info.file_enc_sha256),
            file_length: Some(info.file_length),
            ..MediaFile::default()
        },
        reply: None,
        mentions: Vec::new(),
    };
    (media, body)
}

#[tokio::test]
async fn https_download_verifies_with_a_trusted_extra_root() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = config(&dir, true);
    let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let (media, body) = image(&MediaKey::from([5; 32]), &plain);
    let (host, _seen) = tls_stub(200, body).await;
    let wanted = Wanted::from_media(&media, &cfg).expect("fields");
    let urls = wanted.urls(&[host], &cfg.scheme);
    assert!(urls[0].starts_with("https://127.0.0.1:"), "{}", urls[0]);
    let http = MediaHub::new(cfg.extra_root_certs.clone())
        .http()
        .expect("client");
    let got = download(&http, &cfg, wanted, urls)
        .await
        .expect("verified over TLS");
    assert_eq!(got.read_all().expect("read"), plain);
}

#[tokio::test]
async fn https_upload_sends_the_staged_body() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = config(&dir, true);
    let plain = vec![0x17u8; 300_000];
    let (staged, _) = stage(MediaSource::Bytes(plain), MediaType::Image, &cfg).expect("staged");
    let answer = br#"{"url":"https://mmg.example/i.enc","direct_path":"/v/t62/i.enc?ccb=1"}"#;
    let (host, mut seen) = tls_stub(200, answer.to_vec()).await;
    let http = MediaHub::new(cfg.extra_root_certs.clone())
        .http()
        .expect("client");
    let token = upload_token(&staged.file_enc_sha256);
    let path = upload_path(MediaType::Image, &token);
    let got = post_staged(&http, &cfg, &host, &path, "auth", &token, &staged)
        .await
        .expect("uploaded over TLS");
    assert_eq!(got.direct_path, "/v/t62/i.enc?ccb=1");
    let body = seen.recv().await.expect("the server saw the body");
    let hash: [u8; 32] = Sha256::digest(&body).into();
    assert_eq!(hash, staged.file_enc_sha256);
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = config(&dir, false);
    let (media, body) = image(&MediaKey::from([6; 32]), b"secret");
    let (host, _seen) = tls_stub(200, body).await;
    let wanted = Wanted::from_media(&media, &cfg).expect("fields");
    let urls = wanted.urls(&[host], &cfg.scheme);
    let http = MediaHub::default().http().expect("client");
    let err = download(&http, &cfg, wanted, urls)
        .await
        .expect_err("self-signed certificate refused");
    assert!(matches!(err, MediaFailure::Http(_)), "{err:?}");
}

#[test]
fn a_malformed_extra_root_is_a_typed_error() {
    let err = MediaHub::new(vec![b"not a certificate".to_vec()])
        .http()
        .expect_err("refused");
    assert!(matches!(err, MediaFailure::RootCertificate(_)), "{err:?}");
}

//! A 100 MiB upload and its download stream through the simulated media server without being
//! held in memory (`media.md` §3; issue 13 item 7): the process's peak resident memory
//! (`VmHWM`) grows by less than 32 MiB over both, the client side being raw sockets that write
//! and hash 64 KiB at a time. Alone in its test binary, so no other test's memory counts.

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wa_sim::{SimConfig, SimServer};

const PIECE: usize = 64 * 1024;
/// 1,600 pieces of 64 KiB: 100 MiB.
const PIECES: usize = 1600;
const MIB: u64 = 1 << 20;

/// Piece `i` of the upload (distinct pieces, so nothing compresses or repeats).
fn piece(i: usize) -> Vec<u8> {
    let seed = (i as u32).wrapping_mul(2_654_435_761);
    (0..PIECE)
        .map(|j| (seed.wrapping_add(j as u32 * 40_503) >> 11) as u8)
        .collect()
}

/// The process's peak resident memory, in bytes (`VmHWM` of `/proc/self/status`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb * 1024
}

/// The status line's code and the body of a response read to its end, hashed (never kept).
async fn read_response(stream: &mut TcpStream) -> (u16, [u8; 32], u64, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.expect("head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("utf-8 head");
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let mut hasher = Sha256::new();
    let (mut len, mut first) = (0u64, Vec::new());
    let mut buf = vec![0u8; PIECE];
    loop {
        let n = stream.read(&mut buf).await.expect("body");
        if n == 0 {
            break;
        }
        if first.len() < 4096 {
            first.extend_from_slice(&buf[..n.min(4096)]);
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    (code, hasher.finalize().into(), len, first)
}

#[tokio::test]
async fn a_100_mib_upload_and_download_stream_through_in_bounded_memory() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    let (auth, host) = (sim.media_auth(), sim.media_host());
    let mut hasher = Sha256::new();
    for i in 0..PIECES {
        hasher.update(piece(i));
    }
    let hash: [u8; 32] = hasher.finalize().into();
    let token = wa_protocol::media::upload_token(&hash);
    let before = peak_rss();

    let mut stream = TcpStream::connect(sim.addr()).await.expect("connect");
    let total = PIECE * PIECES;
    let head = format!(
        "POST /mms/video/{token}?auth={auth}&token={token} HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {total}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    for i in 0..PIECES {
        stream.write_all(&piece(i)).await.expect("piece");
    }
    let (code, _, _, body) = read_response(&mut stream).await;
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let answer: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let direct_path = answer["direct_path"].as_str().expect("direct_path");
    let after_upload = peak_rss();

    let mut stream = TcpStream::connect(sim.addr()).await.expect("connect");
    let request =
        format!("GET {direct_path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("request");
    let (code, got, len, _) = read_response(&mut stream).await;
    assert_eq!((code, len), (200, total as u64));
    assert_eq!(got, hash, "the same 100 MiB come back");
    let after_download = peak_rss();

    let grown = after_download.saturating_sub(before);
    println!(
        "peak RSS: {} MiB before, {} MiB after the upload, {} MiB after the download",
        before / MIB,
        after_upload / MIB,
        after_download / MIB
    );
    assert!(grown < 32 * MIB, "peak RSS grew by {} MiB", grown / MIB);
}

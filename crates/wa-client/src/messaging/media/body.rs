//! Streaming a staged file as an HTTP request body: a blocking reader fills a small bounded
//! channel, so at most a few chunks are in memory whatever the file size.

use std::io::Read;
use std::path::PathBuf;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::StreamBody;
use tokio::sync::mpsc;

/// Bytes read from the file per chunk.
const CHUNK: usize = 256 * 1024;
/// Chunks buffered between the reader and the connection.
const IN_FLIGHT: usize = 4;

/// A request body reading `path` from the start.
pub(crate) fn file_body(path: PathBuf) -> reqwest::Body {
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(IN_FLIGHT);
    tokio::task::spawn_blocking(move || pump(&path, &tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        Some((item.map(Frame::data), rx))
    });
    reqwest::Body::wrap(StreamBody::new(stream))
}

/// Reads `path` into the channel until the end, an error, or the body being dropped.
fn pump(path: &PathBuf, tx: &mpsc::Sender<std::io::Result<Bytes>>) {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.blocking_send(Err(e));
            return;
        }
    };
    loop {
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
}

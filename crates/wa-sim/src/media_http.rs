//! The media endpoints on the simulator's HTTP port (`media.md` §3), plain `http`:
//!
//! | route | does |
//! |---|---|
//! | `POST /mms/{type}/{token}?auth=…&token=…` (body: ciphertext ‖ MAC) | stores the file; `200 {"url", "direct_path"}` |
//! | `GET /v/…?…&oh=…` (a direct path, extra query parameters allowed) | the stored bytes (`application/octet-stream`) |
//!
//! An upload is refused with 400 for an unknown `{type}` (`media.md` §1), a token that is not
//! the URL-safe base64 of 32 bytes (padded or not, §6) or that differs between path and query,
//! and a body that does not hash to it; 401 without a live `auth` from `media_conn`; 413 past
//! [`MediaConfig::max_file_bytes`](crate::MediaConfig::max_file_bytes). A download is 404 for
//! a path never stored, 410 once expired, 403 without the path's `oh`. Errors are
//! `{"error": "…"}`, like the admin API's.
//!
//! Bodies stream both ways: an upload goes to disk chunk by chunk on a blocking thread fed
//! through a small channel (the receiving task hashes the same chunks), a download is read
//! back the same way.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Read;
use tokio::sync::mpsc;

use crate::error::SimError;
use crate::media_store::{decode_token, mms_type, Incoming};
use crate::state::Shared;

/// Chunks in flight between the socket and the disk thread, each direction.
const CHANNEL_CHUNKS: usize = 8;
/// Bytes a download reads from disk at a time.
const READ_CHUNK: usize = 256 * 1024;

/// The media routes, over the shared state.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/mms/{mms_type}/{token}", post(upload))
        .route("/v/{*path}", get(download))
}

/// `POST /mms/{type}/{token}?auth=…&token=…`.
async fn upload(
    State(shared): State<Arc<Shared>>,
    Path((mms, token)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    body: Body,
) -> Result<impl IntoResponse, SimError> {
    let mms = mms_type(&mms)?;
    shared
        .media
        .check_auth(query.get("auth").map(String::as_str), shared.now())?;
    let expected = decode_token(&token)?;
    let same = query
        .get("token")
        .map(|q| decode_token(q))
        .transpose()?
        .is_some_and(|q| q == expected);
    if !same {
        return Err(SimError::BadMediaToken);
    }
    let incoming = receive(&shared, body).await?;
    let mut rng = shared.fork_rng();
    let uploaded = shared
        .media
        .commit(incoming, mms, Some(expected), shared.now(), &mut rng)?;
    shared.count(format!("media:upload:{mms}"));
    Ok(Json(json!({
        "url": uploaded.url,
        "direct_path": uploaded.direct_path,
    })))
}

/// Streams a request body into a new store file on a blocking thread fed through a small
/// channel, hashing each chunk on this task as it arrives: the hash check then ends with the
/// last chunk (a few hundred microseconds of SHA-256 per chunk at most, between reads), with
/// no thread hand-off per chunk.
async fn receive(shared: &Shared, body: Body) -> Result<Incoming, SimError> {
    let mut incoming = shared.media.begin()?;
    let (tx, mut rx) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let writer = tokio::task::spawn_blocking(move || {
        while let Some(chunk) = rx.blocking_recv() {
            incoming.append(&chunk)?;
        }
        Ok::<_, SimError>(incoming)
    });
    let mut hasher = Sha256::new();
    let mut stream = body.into_data_stream();
    let mut read_error = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                hasher.update(&chunk);
                // The writer stopped (too large, disk error): its error is the answer.
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
            Err(error) => {
                read_error = Some(error);
                break;
            }
        }
    }
    drop(tx);
    let join = |e: tokio::task::JoinError| SimError::MediaIo(std::io::Error::other(e));
    let mut written = writer.await.map_err(join)??;
    written.hashed_by(hasher);
    match read_error {
        Some(error) => Err(SimError::MediaUpload(error)),
        None => Ok(written),
    }
}

/// `GET /v/…`: a stored file by its direct path.
async fn download(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, SimError> {
    let direct_path = format!("/v/{path}");
    let oh = query.get("oh").map(String::as_str);
    let (file, size) = shared.media.open(&direct_path, oh, shared.now())?;
    shared.count("media:download");
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(CHANNEL_CHUNKS);
    tokio::task::spawn_blocking(move || send_file(file, &tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Reads `file` in chunks into `tx` until its end, an error, or the client leaving.
fn send_file(mut file: std::fs::File, tx: &mpsc::Sender<std::io::Result<Bytes>>) {
    loop {
        let mut buf = vec![0u8; READ_CHUNK];
        match file.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return;
                }
            }
            Err(error) => {
                let _ = tx.blocking_send(Err(error));
                return;
            }
        }
    }
}

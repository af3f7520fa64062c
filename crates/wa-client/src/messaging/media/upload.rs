//! Upload (`media.md` §2–§3): the source is encrypted into a staged body ([`super::stage`]:
//! the upload token is the hash of the whole body, so it must exist before the request), then
//! that body is streamed to the media hosts in turn until one answers 200; a 401/403 refreshes
//! the `media_conn` auth token once.

use std::io::Read;
use std::path::PathBuf;

use rand::rngs::OsRng;
use reqwest::header;
use serde::Deserialize;
use wa_protocol::media::{
    upload_path, upload_token, BodyDigest, EncryptedMedia, MediaKey, MediaType, PlainDigest,
};
use wa_protocol::message::MediaFile;
use wa_protocol::stanza::MediaConn;
use wa_protocol::time::Millis;

use crate::error::Error;
use crate::handle::AccountHandle;
use crate::media_config::MediaConfig;

use super::failure::MediaFailure;
use super::hub::MediaHub;
use super::stage::{seal, PlainSum, Source, StagedBody};

/// The `Origin` whatsmeow and Baileys send (`media.md` §3).
const ORIGIN: &str = "https://web.whatsapp.com";

/// Where the plaintext of an upload comes from.
pub enum MediaSource {
    /// A file, read in chunks.
    Path(PathBuf),
    /// Bytes already in memory.
    Bytes(Vec<u8>),
    /// Any reader, read in chunks to the end.
    Reader(Box<dyn Read + Send>),
}

impl std::fmt::Debug for MediaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaSource::Path(p) => f.debug_tuple("Path").field(p).finish(),
            MediaSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            MediaSource::Reader(_) => f.write_str("Reader(…)"),
        }
    }
}

/// An uploaded file: the message fields (`url`, `directPath`, `mediaKey`, hashes, length,
/// `mediaKeyTimestamp`; the mimetype is the caller's) and the audio/video sidecar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedMedia {
    /// The file fields of the message.
    pub file: MediaFile,
    /// `streamingSidecar` for audio and video.
    pub streaming_sidecar: Option<Vec<u8>>,
}

/// The encrypted body, staged.
pub(crate) struct Staged {
    body: StagedBody,
    key: MediaKey,
    digest: BodyDigest,
    /// `fileEncSha256`, the upload token's hash.
    pub(crate) file_enc_sha256: [u8; 32],
    /// Bytes of the body.
    pub(crate) enc_length: u64,
}

impl Staged {
    /// The message's hashes and lengths, given the plaintext's finished digest.
    pub(crate) fn info(&self, plain: PlainDigest) -> EncryptedMedia {
        EncryptedMedia::from_digests(plain, self.digest.clone())
    }
}

/// The upload answer's fields wagate reads (`media.md` §3).
#[derive(Debug, Deserialize)]
pub(crate) struct Answer {
    url: String,
    pub(crate) direct_path: String,
}

/// Encrypts `source` into a staged body (blocking: run on a blocking thread; see
/// [`seal`] for the threads it uses), and gives the plaintext's digest apart: it may still
/// have to be hashed ([`PlainSum::finish`]).
pub(crate) fn stage(
    source: MediaSource,
    ty: MediaType,
    config: &MediaConfig,
) -> Result<(Staged, PlainSum), MediaFailure> {
    let key = MediaKey::generate(&mut OsRng);
    let source = match source {
        MediaSource::Path(p) => {
            let file = std::fs::File::open(p).map_err(MediaFailure::Source)?;
            let size_hint = file.metadata().ok().map(|m| m.len());
            Source {
                reader: Box::new(file),
                size_hint,
            }
        }
        MediaSource::Bytes(b) => Source {
            size_hint: Some(b.len() as u64),
            reader: Box::new(std::io::Cursor::new(b)),
        },
        MediaSource::Reader(reader) => Source {
            reader,
            size_hint: None,
        },
    };
    let temp_dir = config.temp_dir.clone();
    let sealed = seal(source, &key, ty, config.max_file_bytes, temp_dir)?;
    let staged = Staged {
        body: sealed.body,
        key,
        file_enc_sha256: sealed.digest.sha256(),
        enc_length: sealed.digest.fed(),
        digest: sealed.digest,
    };
    Ok((staged, sealed.plain))
}

/// The hosts to try, in order: the override, or each `media_conn` host then the fallbacks.
pub(crate) fn hosts(conn: Option<&MediaConn>, config: &MediaConfig) -> Vec<String> {
    if let Some(host) = &config.host_override {
        return vec![host.clone()];
    }
    let Some(conn) = conn else {
        return Vec::new();
    };
    let mut hosts: Vec<String> = conn.hosts.iter().map(|h| h.hostname.clone()).collect();
    for h in &conn.hosts {
        if let Some(fb) = h.fallback_hostname.as_ref().filter(|f| !hosts.contains(f)) {
            hosts.push(fb.clone());
        }
    }
    hosts
}

/// Stagings running at once (each holds two blocking threads and up to two 2 MiB buffers).
const MAX_STAGINGS: usize = 64;
static STAGINGS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_STAGINGS);

/// Encrypts and uploads `source` as `ty` for the account of `handle`.
pub(crate) async fn upload(
    hub: &MediaHub,
    config: &MediaConfig,
    handle: &AccountHandle,
    now: Millis,
    source: MediaSource,
    ty: MediaType,
) -> Result<UploadedMedia, Error> {
    let cfg = config.clone();
    // A staging holds two blocking-pool threads, and its reader waits for its keeper: bounded
    // so that stagings can never fill the runtime's (bounded) pool with waiting readers.
    // (Never closed, so a permit always comes.)
    let permit = STAGINGS.acquire().await.ok();
    let (staged, plain) = tokio::task::spawn_blocking(move || stage(source, ty, &cfg)).await??;
    drop(permit);
    // The plaintext's hash is only for the message: it runs while the body is on its way.
    let plain = tokio::task::spawn_blocking(move || plain.finish());
    let token = upload_token(&staged.file_enc_sha256);
    let path = upload_path(ty, &token);
    let http = hub.http()?;
    let mut conn = hub.media_conn(handle, now, false).await?;
    let mut last = MediaFailure::NoHosts;
    for attempt in 0..2 {
        let mut auth_refused = false;
        for host in hosts(Some(&conn), config) {
            match post_staged(&http, config, &host, &path, &conn.auth, &token, &staged).await {
                Ok(answer) => {
                    let info = staged.info(plain.await?);
                    let done = uploaded(&staged, &info, answer, now);
                    staged.body.recycle();
                    return Ok(done);
                }
                Err(e) => {
                    auth_refused |= matches!(&e, MediaFailure::Status { status, .. }
                        if *status == 401 || *status == 403);
                    tracing::debug!(%host, error = %e, "media upload attempt failed");
                    last = e;
                }
            }
        }
        if !auth_refused || attempt == 1 {
            break;
        }
        hub.forget(handle.id());
        conn = hub.media_conn(handle, now, true).await?;
    }
    Err(last.into())
}

/// One POST of the staged body to `host`.
pub(crate) async fn post_staged(
    http: &reqwest::Client,
    config: &MediaConfig,
    host: &str,
    path: &str,
    auth: &str,
    token: &str,
    staged: &Staged,
) -> Result<Answer, MediaFailure> {
    let mut url = reqwest::Url::parse(&format!("{}://{host}{path}", config.scheme))
        .map_err(|e| MediaFailure::BadAnswer(format!("host {host:?}: {e}")))?;
    url.query_pairs_mut()
        .append_pair("auth", auth)
        .append_pair("token", token);
    let response = http
        .post(url)
        .timeout(config.request_timeout)
        .header(header::ORIGIN, ORIGIN)
        .header(header::REFERER, format!("{ORIGIN}/"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, staged.enc_length)
        .body(staged.body.request_body())
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        return Err(MediaFailure::Status {
            host: host.to_owned(),
            status: status.as_u16(),
        });
    }
    let bytes = response.bytes().await?;
    let answer: Answer =
        serde_json::from_slice(&bytes).map_err(|e| MediaFailure::BadAnswer(e.to_string()))?;
    if answer.direct_path.is_empty() {
        return Err(MediaFailure::BadAnswer("empty direct_path".into()));
    }
    Ok(answer)
}

fn uploaded(staged: &Staged, info: &EncryptedMedia, answer: Answer, now: Millis) -> UploadedMedia {
    UploadedMedia {
        file: MediaFile {
            url: Some(answer.url),
            direct_path: Some(answer.direct_path),
            media_key: Some(staged.key.clone()),
            file_sha256: Some(info.file_sha256),
            file_enc_sha256: Some(info.file_enc_sha256),
            file_length: Some(info.file_length),
            mimetype: None,
            media_key_timestamp: i64::try_from(now.0 / 1000).ok(),
        },
        streaming_sidecar: info.streaming_sidecar.clone(),
    }
}

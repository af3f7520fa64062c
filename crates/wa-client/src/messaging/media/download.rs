//! Download (`media.md` §2–§3): the body is fetched by `directPath` from the media hosts in
//! turn (whatsmeow's URL form, then the message `url`), decrypted as it streams into a
//! temporary file, and handed on only after the MAC, `fileEncSha256`, `fileSha256` and
//! `fileLength` verified; a body that fails is deleted.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use tempfile::TempPath;
use tokio::sync::mpsc;
use wa_protocol::media::{encrypted_len, Expected, MediaDecryptor, VerifiedMedia};
use wa_protocol::message::Media;

use crate::media_config::MediaConfig;

use super::failure::MediaFailure;

/// Plaintext batches buffered between the decryptor and the file writer.
const IN_FLIGHT: usize = 4;
/// Plaintext bytes gathered before they go to the writer.
const WRITE_BATCH: usize = 256 * 1024;

/// A verified download in a temporary file (deleted when this is dropped, unless kept).
#[derive(Debug)]
pub struct DownloadedMedia {
    path: TempPath,
    /// The verified hashes and length.
    pub verified: VerifiedMedia,
    /// The message's `mimetype`, if it had one.
    pub mimetype: Option<String>,
}

impl DownloadedMedia {
    /// Where the plaintext is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the plaintext to `dest` (same filesystem as the temporary directory) and keeps it.
    pub fn keep_at(self, dest: &Path) -> std::io::Result<()> {
        self.path.persist(dest).map_err(|e| e.error)
    }

    /// Reads the plaintext into memory (for small files: webhooks with base64).
    pub fn read_all(&self) -> std::io::Result<Vec<u8>> {
        std::fs::read(&self.path)
    }
}

/// What a download needs from the message, checked before any request.
pub(crate) struct Wanted {
    direct_path: Option<String>,
    url: Option<String>,
    decryptor: MediaDecryptor,
    max_body: u64,
    mimetype: Option<String>,
    mms_type: &'static str,
    hash: String,
}

impl Wanted {
    /// Refuses a message without `mediaKey`, `fileEncSha256`, `fileSha256` or a path, or one
    /// whose `fileLength` is over the limit.
    pub(crate) fn from_media(media: &Media, config: &MediaConfig) -> Result<Wanted, MediaFailure> {
        let f = &media.file;
        let key = f
            .media_key
            .as_ref()
            .ok_or(MediaFailure::MissingField("mediaKey"))?;
        let enc = f
            .file_enc_sha256
            .ok_or(MediaFailure::MissingField("fileEncSha256"))?;
        let plain = f
            .file_sha256
            .ok_or(MediaFailure::MissingField("fileSha256"))?;
        if f.direct_path.is_none() && f.url.is_none() {
            return Err(MediaFailure::MissingField("directPath"));
        }
        let max = config.max_file_bytes;
        if let Some(len) = f.file_length.filter(|l| *l > max) {
            return Err(MediaFailure::TooLarge { len, max });
        }
        let ty = media.media_type();
        let expected = Expected {
            file_enc_sha256: Some(enc),
            file_sha256: Some(plain),
            file_length: f.file_length,
        };
        Ok(Wanted {
            direct_path: f.direct_path.clone(),
            url: f.url.clone(),
            decryptor: MediaDecryptor::new(key, ty, expected),
            max_body: encrypted_len(f.file_length.unwrap_or(max).min(max)),
            mimetype: f.mimetype.clone(),
            mms_type: ty.mms_type(),
            hash: URL_SAFE.encode(enc),
        })
    }

    /// The URLs to try: each host with the direct path (whatsmeow: `&hash=…&mms-type=…&__wa-mms=`),
    /// then the message's `url`.
    pub(crate) fn urls(&self, hosts: &[String], scheme: &str) -> Vec<String> {
        let mut urls = Vec::new();
        if let Some(path) = &self.direct_path {
            let sep = if path.contains('?') { '&' } else { '?' };
            let hash: String = form_hash(&self.hash);
            for host in hosts {
                urls.push(format!(
                    "{scheme}://{host}{path}{sep}hash={hash}&mms-type={}&__wa-mms=",
                    self.mms_type
                ));
            }
        }
        if let Some(url) = &self.url {
            urls.push(url.clone());
        }
        urls
    }
}

/// Percent-escapes the padding of a base64url hash for a query.
fn form_hash(hash: &str) -> String {
    hash.replace('=', "%3D")
}

/// Tries `urls` in turn; the first body that verifies wins.
pub(crate) async fn download(
    http: &reqwest::Client,
    config: &MediaConfig,
    wanted: Wanted,
    urls: Vec<String>,
) -> Result<DownloadedMedia, MediaFailure> {
    if urls.is_empty() {
        return Err(MediaFailure::NoHosts);
    }
    let mut last = MediaFailure::NoHosts;
    let Wanted {
        decryptor,
        max_body,
        mimetype,
        ..
    } = wanted;
    // Each attempt starts a fresh decryptor state: keep the pristine one to clone from.
    let template = DecryptorTemplate(decryptor);
    for url in urls {
        match fetch(http, config, &url, template.fresh(), max_body).await {
            Ok((path, verified)) => {
                return Ok(DownloadedMedia {
                    path,
                    verified,
                    mimetype,
                })
            }
            Err(e) => {
                tracing::debug!(error = %e, "media download attempt failed");
                last = e;
            }
        }
    }
    Err(last)
}

/// Holds an unused decryptor to start each attempt from.
struct DecryptorTemplate(MediaDecryptor);

impl DecryptorTemplate {
    fn fresh(&self) -> MediaDecryptor {
        self.0.clone()
    }
}

/// One GET: streams the body through the decryptor into a temporary file; the file is
/// returned only if `finish` verified everything.
async fn fetch(
    http: &reqwest::Client,
    config: &MediaConfig,
    url: &str,
    mut dec: MediaDecryptor,
    max_body: u64,
) -> Result<(TempPath, VerifiedMedia), MediaFailure> {
    let mut response = http
        .get(url)
        .timeout(config.request_timeout)
        .header(reqwest::header::ORIGIN, "https://web.whatsapp.com")
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        let host = response.url().host_str().unwrap_or_default().to_owned();
        return Err(MediaFailure::Status {
            host,
            status: status.as_u16(),
        });
    }
    let (tx, writer) = spawn_writer(config.temp_dir.clone())?;
    let mut plain = Vec::with_capacity(2 * WRITE_BATCH);
    while let Some(chunk) = response.chunk().await? {
        if dec.body_len() + chunk.len() as u64 > max_body {
            return Err(MediaFailure::TooLarge {
                len: dec.body_len() + chunk.len() as u64,
                max: max_body,
            });
        }
        dec.update(&chunk, &mut plain);
        // Whole batches to the writer: one wake-up per WRITE_BATCH, not per network read.
        if plain.len() >= WRITE_BATCH {
            let batch = std::mem::replace(&mut plain, Vec::with_capacity(2 * WRITE_BATCH));
            if tx.send(batch).await.is_err() {
                break;
            }
        }
    }
    let verified = dec.finish(&mut plain);
    if verified.is_ok() && !plain.is_empty() {
        let _ = tx.send(plain).await;
    }
    drop(tx);
    let path = writer
        .await
        .map_err(|e| MediaFailure::TempFile(std::io::Error::other(e)))??;
    // On an error `path` drops here and the unverified file is deleted.
    Ok((path, verified?))
}

type Writer = tokio::task::JoinHandle<Result<TempPath, MediaFailure>>;

/// A blocking task writing plaintext chunks to a new temporary file.
fn spawn_writer(dir: Option<PathBuf>) -> Result<(mpsc::Sender<Vec<u8>>, Writer), MediaFailure> {
    let file = match &dir {
        Some(dir) => tempfile::NamedTempFile::new_in(dir),
        None => tempfile::NamedTempFile::new(),
    }
    .map_err(MediaFailure::TempFile)?;
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(IN_FLIGHT);
    let writer = tokio::task::spawn_blocking(move || {
        let (mut out, path) = file.into_parts();
        while let Some(chunk) = rx.blocking_recv() {
            out.write_all(&chunk).map_err(MediaFailure::TempFile)?;
        }
        out.flush().map_err(MediaFailure::TempFile)?;
        Ok(path)
    });
    Ok((tx, writer))
}

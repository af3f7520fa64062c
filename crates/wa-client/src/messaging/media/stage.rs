//! Staging an upload's encrypted body (`media.md` §2): the upload token is the hash of the
//! whole body, so the body is made before the request. The work runs on three threads fed
//! through small bounded channels: one reads the source and hashes the plaintext
//! (`fileSha256`), one encrypts and MACs ([`MediaCipher`]), one hashes the body
//! (`fileEncSha256`, the sidecar) and keeps it. The encryption is thus the only serial cost,
//! and at most a few chunks per channel are in memory whatever the file size. A body up to
//! [`MEMORY_STAGE`] stays in memory; a larger one goes to a temporary file.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use bytes::Bytes;
use tempfile::TempPath;
use wa_protocol::media::{
    encrypt_parts, BodyDigest, EncryptedMedia, MediaCipher, MediaKey, MediaType, PlainDigest,
};

use super::body::file_body;
use super::failure::MediaFailure;

/// Plaintext bytes read per step.
const READ_CHUNK: usize = 256 * 1024;
/// Chunks in flight on each channel between the threads.
const DEPTH: usize = 3;
/// Largest body staged in memory instead of a temporary file.
pub(crate) const MEMORY_STAGE: usize = 2 << 20;

/// Where a staged body is.
#[derive(Debug)]
pub(crate) enum StagedBody {
    /// Small enough to stay in memory.
    Memory(Bytes),
    /// In a temporary file (deleted when this is dropped).
    File(TempPath),
}

impl StagedBody {
    /// A request body with the staged bytes: a cheap clone, or the file streamed from its
    /// start.
    pub(crate) fn request_body(&self) -> reqwest::Body {
        match self {
            StagedBody::Memory(bytes) => reqwest::Body::from(bytes.clone()),
            StagedBody::File(path) => file_body(path.to_path_buf()),
        }
    }
}

/// Encrypts everything `reader` gives with `key` as `ty` (blocking: run it on a blocking
/// thread). Refuses a source over `max` plaintext bytes.
pub(crate) fn seal(
    reader: Box<dyn Read + Send>,
    key: &MediaKey,
    ty: MediaType,
    max: u64,
    temp_dir: Option<PathBuf>,
) -> Result<(StagedBody, EncryptedMedia), MediaFailure> {
    let (plain_digest, cipher, body_digest) = encrypt_parts(key, ty);
    let (plain_tx, plain_rx) = sync_channel::<Vec<u8>>(DEPTH);
    let (sealed_tx, sealed_rx) = sync_channel::<Vec<u8>>(DEPTH);
    std::thread::scope(|s| {
        let reading = s.spawn(move || read_source(reader, max, plain_digest, &plain_tx));
        let keeping = s.spawn(move || keep_body(&sealed_rx, body_digest, temp_dir));
        encrypt_chunks(cipher, plain_rx, &sealed_tx);
        drop(sealed_tx);
        // The source's fault first: a writer stopped by it has nothing to say.
        let plain = joined(reading.join())?;
        let (body, body_digest) = joined(keeping.join())?;
        Ok((body, EncryptedMedia::from_digests(plain, body_digest)))
    })
}

/// A finished thread's result; its panic goes on.
fn joined<T>(result: std::thread::Result<T>) -> T {
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The cipher thread: every plaintext chunk, then the padded last block and the MAC. Stops
/// early when the body keeper is gone (its error is the answer).
fn encrypt_chunks(mut cipher: MediaCipher, plain: Receiver<Vec<u8>>, sealed: &SyncSender<Vec<u8>>) {
    for chunk in plain {
        let mut out = Vec::with_capacity(chunk.len() + 16);
        cipher.update(&chunk, &mut out);
        if sealed.send(out).is_err() {
            return;
        }
    }
    let mut last = Vec::with_capacity(32);
    cipher.finish(&mut last);
    // A keeper that already stopped has its error.
    let _ = sealed.send(last);
}

/// The reading thread: the source in chunks, hashed, to the cipher. Stops early when the
/// cipher is gone (the keeper failed).
fn read_source(
    mut reader: Box<dyn Read + Send>,
    max: u64,
    mut digest: PlainDigest,
    plain: &SyncSender<Vec<u8>>,
) -> Result<PlainDigest, MediaFailure> {
    let mut total = 0u64;
    loop {
        let mut chunk = vec![0u8; READ_CHUNK];
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(digest),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(MediaFailure::Source(e)),
        };
        total += n as u64;
        if total > max {
            return Err(MediaFailure::TooLarge { len: total, max });
        }
        chunk.truncate(n);
        digest.update(&chunk);
        if plain.send(chunk).is_err() {
            return Ok(digest);
        }
    }
}

/// The keeping thread: hashes each body chunk and keeps it, in memory up to
/// [`MEMORY_STAGE`], then in a temporary file in `dir`.
fn keep_body(
    sealed: &Receiver<Vec<u8>>,
    mut digest: BodyDigest,
    dir: Option<PathBuf>,
) -> Result<(StagedBody, BodyDigest), MediaFailure> {
    let mut memory: Vec<u8> = Vec::new();
    let mut file: Option<(File, TempPath)> = None;
    for chunk in sealed {
        digest.update(&chunk);
        if file.is_none() && memory.len() + chunk.len() > MEMORY_STAGE {
            let (mut out, path) = match &dir {
                Some(dir) => tempfile::NamedTempFile::new_in(dir),
                None => tempfile::NamedTempFile::new(),
            }
            .map_err(MediaFailure::TempFile)?
            .into_parts();
            out.write_all(&memory).map_err(MediaFailure::TempFile)?;
            memory = Vec::new();
            file = Some((out, path));
        }
        match file.as_mut() {
            Some((out, _)) => out.write_all(&chunk).map_err(MediaFailure::TempFile)?,
            None => memory.extend_from_slice(&chunk),
        }
    }
    let body = match file {
        Some((mut out, path)) => {
            out.flush().map_err(MediaFailure::TempFile)?;
            StagedBody::File(path)
        }
        None => StagedBody::Memory(Bytes::from(memory)),
    };
    Ok((body, digest))
}

#[cfg(test)]
mod tests {
    use wa_protocol::media::encrypt;

    use super::*;

    fn source(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + 7) as u8).collect()
    }

    fn staged_bytes(body: &StagedBody) -> Vec<u8> {
        match body {
            StagedBody::Memory(b) => b.to_vec(),
            StagedBody::File(p) => std::fs::read(p).expect("staged file"),
        }
    }

    #[test]
    fn the_three_threads_give_the_one_shot_body_in_memory_or_in_a_file() {
        let dir = tempfile::tempdir().expect("dir");
        let key = MediaKey::from([9; 32]);
        for (len, in_file) in [(0, false), (1000, false), (MEMORY_STAGE + 1, true)] {
            let plain = source(len);
            let (want, info) = encrypt(&key, MediaType::Video, &plain);
            let reader = Box::new(std::io::Cursor::new(plain));
            let dir_path = Some(dir.path().to_path_buf());
            let (body, got) =
                seal(reader, &key, MediaType::Video, u64::MAX, dir_path).expect("seal");
            assert_eq!(got, info, "len {len}");
            assert_eq!(matches!(body, StagedBody::File(_)), in_file, "len {len}");
            assert_eq!(staged_bytes(&body), want, "len {len}");
            drop(body);
            let left = std::fs::read_dir(dir.path()).expect("dir").count();
            assert_eq!(left, 0, "the staging file goes with the body");
        }
    }

    #[test]
    fn an_oversized_source_or_a_missing_temp_dir_stops_every_thread_with_its_error() {
        let key = MediaKey::from([9; 32]);
        let big = || Box::new(std::io::Cursor::new(source(3 * MEMORY_STAGE)));
        let err = seal(big(), &key, MediaType::Document, 1000, None).expect_err("too large");
        assert!(matches!(err, MediaFailure::TooLarge { max: 1000, .. }));
        let gone = Some(PathBuf::from("/nonexistent/wagate-staging"));
        let err = seal(big(), &key, MediaType::Document, u64::MAX, gone).expect_err("no dir");
        assert!(matches!(err, MediaFailure::TempFile(_)));
    }
}

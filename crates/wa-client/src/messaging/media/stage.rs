//! Staging an upload's encrypted body (`media.md` §2): the upload token is the hash of the
//! whole body, so the body is made before the request. The work is split over two threads
//! joined by a small bounded channel: the calling thread reads the source and runs the AES
//! ([`MediaCbc`]); the keeping thread runs the MAC ([`BodyMac`]), hashes the body
//! (`fileEncSha256`, the sidecar) and keeps it. Chunks are small (64 KiB) so the two overlap
//! from the first one, and their buffers go back to the reader to be filled again, so at most
//! a few chunks are in flight whatever the file size and a staging allocates almost nothing.
//!
//! The plaintext's hash (`fileSha256`) is not needed for the request, only for the message:
//! a source known to fit in [`MEMORY_STAGE`] is kept as read and hashed later, while the body
//! is on its way ([`PlainSum`]); a larger or unsized one is hashed as it is read. A body up to
//! [`MEMORY_STAGE`] stays in memory (in a reused staging buffer, see [`SPARE_BUFFERS`]); a
//! larger one goes to a temporary file.

use std::fs::File;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

use bytes::Bytes;
use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
use tempfile::TempPath;
use wa_protocol::media::{
    encrypt_parts, encrypted_len, BodyDigest, BodyMac, MediaCbc, MediaKey, MediaType, PlainDigest,
};

use super::body::file_body;
use super::failure::MediaFailure;

/// Plaintext bytes read and encrypted per step.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight between the two threads.
const DEPTH: usize = 4;
/// Largest body staged in memory instead of a temporary file.
pub(crate) const MEMORY_STAGE: usize = 2 << 20;

/// Spare staging buffers kept between uploads, at most this many.
const SPARES: usize = 2;
/// The capacity of every staging buffer: a body or plaintext up to [`MEMORY_STAGE`], plus a
/// chunk (pages never written cost nothing).
const BUFFER: usize = MEMORY_STAGE + CHUNK + 64;

/// Staging buffers given back by finished uploads. Fresh memory costs a page fault per 4 KiB
/// (measured up to 0.5 ms per MiB on the 2-core VM, a tenth of a 1 MB upload), and the
/// allocator hands a freed megabyte back to the kernel, so the two big buffers of a staging
/// (the kept plaintext, the body) are reused instead.
static SPARE_BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn spares() -> std::sync::MutexGuard<'static, Vec<Vec<u8>>> {
    // A panic while holding the list leaves it consistent (single pushes and pops).
    SPARE_BUFFERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// An empty staging buffer of [`BUFFER`] bytes' capacity.
fn buffer() -> Vec<u8> {
    spares().pop().unwrap_or_else(|| Vec::with_capacity(BUFFER))
}

/// Gives a staging buffer back (kept when there is room and it has the staging capacity).
fn recycle(mut buf: Vec<u8>) {
    if buf.capacity() == BUFFER {
        buf.clear();
        let mut spares = spares();
        if spares.len() < SPARES {
            spares.push(buf);
        }
    }
}

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

    /// Done with the body: its memory goes back to the staging buffers when no request still
    /// holds it.
    pub(crate) fn recycle(self) {
        if let StagedBody::Memory(bytes) = self {
            if let Ok(unique) = bytes.try_into_mut() {
                recycle(Vec::from(unique));
            }
        }
    }
}

/// What the source gives: its bytes, and how many it says it has (a file's length), which
/// only sizes the staging.
pub(crate) struct Source {
    /// The plaintext, read to its end.
    pub(crate) reader: Box<dyn Read + Send>,
    /// The expected plaintext length, when known.
    pub(crate) size_hint: Option<u64>,
}

/// One message from the encrypting thread to the keeper.
enum Sealed {
    /// Ciphertext blocks.
    Chunk(Vec<u8>),
    /// The padded last block: the source ended well.
    Last(Vec<u8>),
}

/// The plaintext's digest after staging: finished, or the plaintext kept to hash later.
pub(crate) enum PlainSum {
    /// Hashed while it was read.
    Hashed(PlainDigest),
    /// The whole plaintext, not hashed yet.
    Kept(Vec<u8>),
}

impl PlainSum {
    /// The finished digest (hashing a kept plaintext now: blocking, about 0.6 ms per MB).
    pub(crate) fn finish(self) -> PlainDigest {
        match self {
            PlainSum::Hashed(digest) => digest,
            PlainSum::Kept(plain) => {
                let mut digest = PlainDigest::new();
                digest.update(&plain);
                recycle(plain);
                digest
            }
        }
    }
}

/// What a staging gives: the body, its digest (whole), and the plaintext's.
pub(crate) struct SealedBody {
    pub(crate) body: StagedBody,
    pub(crate) digest: BodyDigest,
    pub(crate) plain: PlainSum,
}

impl std::fmt::Debug for SealedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedBody")
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

/// Encrypts everything `source` gives with `key` as `ty` (blocking: run it on a blocking
/// thread). The keeping half runs on a pooled blocking thread of the current Tokio runtime
/// (starting a thread per upload cost up to a millisecond here), or on a new thread outside
/// one; the reader waits for it, so callers on the runtime bound how many stagings run at once
/// (`upload`'s `MAX_STAGINGS`) well under the pool's size. Refuses a source over `max`
/// plaintext bytes.
pub(crate) fn seal(
    source: Source,
    key: &MediaKey,
    ty: MediaType,
    max: u64,
    temp_dir: Option<PathBuf>,
) -> Result<SealedBody, MediaFailure> {
    let (plain_digest, cipher, body_digest) = encrypt_parts(key, ty);
    let (cbc, mac) = cipher.split();
    let (sealed_tx, sealed_rx) = sync_channel::<Sealed>(DEPTH);
    let (spare_tx, spare_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);
    let (kept_tx, kept_rx) = sync_channel(1);
    let store = Store::new(source.size_hint.map(encrypted_len), temp_dir);
    let reader_cpu = rustix::thread::sched_getcpu();
    let _here = Narrowed::around(reader_cpu, true);
    spawn_blocking_job(move || {
        let _away = Narrowed::around(reader_cpu, false);
        // Nobody waits any more only when the reader failed: its error is the answer.
        let _ = kept_tx.send(keep_body(&sealed_rx, &spare_tx, mac, body_digest, store));
    });
    let plain = Plain::new(plain_digest, source.size_hint);
    let read = encrypt_source(source.reader, max, plain, cbc, &sealed_tx, &spare_rx);
    drop(sealed_tx);
    // The source's fault first: a keeper stopped by it has nothing to say.
    let plain = read?;
    let stopped = || MediaFailure::TempFile(std::io::Error::other("the staging thread stopped"));
    let (body, digest) = kept_rx
        .recv()
        .map_err(|_| stopped())??
        .ok_or_else(stopped)?;
    Ok(SealedBody {
        body,
        digest,
        plain,
    })
}

/// The calling thread's CPU affinity narrowed until dropped, then given back. The two halves
/// of a staging use it to run side by side, the reader on its CPU and the keeper on the others:
/// a kernel that packs threads onto few vCPUs (as the CI VM's does) otherwise often wakes the
/// keeper on the reader's CPU, and the halves then take turns instead of overlapping
/// (measured: 3.3 ms instead of 1.7 ms for 1 MB). Nothing changes on a one-CPU thread or when
/// the calls are refused.
struct Narrowed {
    saved: Option<CpuSet>,
}

impl Narrowed {
    /// Only on `cpu` (`keep = true`) or anywhere but `cpu`.
    fn around(cpu: usize, keep: bool) -> Narrowed {
        let Ok(saved) = sched_getaffinity(None) else {
            return Narrowed { saved: None };
        };
        if saved.count() < 2 || !saved.is_set(cpu) {
            return Narrowed { saved: None };
        }
        let mut narrow = saved;
        if keep {
            narrow = CpuSet::new();
            narrow.set(cpu);
        } else {
            narrow.unset(cpu);
        }
        Narrowed {
            saved: sched_setaffinity(None, &narrow).ok().map(|()| saved),
        }
    }
}

impl Drop for Narrowed {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            // Best effort: a refused restore leaves a pool thread on fewer CPUs, no more.
            let _ = sched_setaffinity(None, &saved);
        }
    }
}

/// Runs `job` on the current Tokio runtime's blocking pool, or on a new thread outside one.
fn spawn_blocking_job(job: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(job)),
        Err(_) => drop(std::thread::spawn(job)),
    }
}

/// The plaintext side of the reading thread: each chunk read into the kept plaintext (while
/// it stays within [`MEMORY_STAGE`]) or into one reused buffer and hashed at once.
struct Plain {
    digest: PlainDigest,
    kept: Option<Vec<u8>>,
    scratch: Vec<u8>,
    /// Where the last chunk read is, in `kept` or else in `scratch`.
    last: Range<usize>,
}

impl Plain {
    fn new(digest: PlainDigest, size_hint: Option<u64>) -> Plain {
        let fits = size_hint.and_then(|n| usize::try_from(n).ok().filter(|&n| n <= MEMORY_STAGE));
        Plain {
            digest,
            kept: fits.map(|_| buffer()),
            scratch: Vec::new(),
            last: 0..0,
        }
    }

    /// Reads the next chunk ([`Plain::chunk`]; empty at the end of the source).
    fn read(&mut self, reader: &mut dyn Read) -> Result<(), MediaFailure> {
        match self.kept.as_mut() {
            Some(kept) if kept.len() <= MEMORY_STAGE => {
                let start = kept.len();
                kept.resize(start + CHUNK, 0);
                let n = read_some(reader, &mut kept[start..]);
                kept.truncate(start + *n.as_ref().unwrap_or(&0));
                self.last = start..start + n?;
            }
            _ => {
                // Larger than it said: hash what was kept and go on chunk by chunk.
                if let Some(kept) = self.kept.take() {
                    self.digest.update(&kept);
                    recycle(kept);
                }
                self.scratch.resize(CHUNK, 0);
                let n = read_some(reader, &mut self.scratch)?;
                self.digest.update(&self.scratch[..n]);
                self.last = 0..n;
            }
        }
        Ok(())
    }

    /// The last chunk read.
    fn chunk(&self) -> &[u8] {
        match &self.kept {
            Some(kept) => &kept[self.last.clone()],
            None => &self.scratch[self.last.clone()],
        }
    }

    fn finish(self) -> PlainSum {
        match self.kept {
            Some(kept) => PlainSum::Kept(kept),
            None => PlainSum::Hashed(self.digest),
        }
    }
}

/// One `read`, retried when interrupted.
fn read_some(reader: &mut dyn Read, buf: &mut [u8]) -> Result<usize, MediaFailure> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            result => return result.map_err(MediaFailure::Source),
        }
    }
}

/// The calling thread: the source in chunks, encrypted, to the keeper, then the padded last
/// block. Stops early when the keeper is gone (its error is the answer).
fn encrypt_source(
    mut reader: Box<dyn Read + Send>,
    max: u64,
    mut plain: Plain,
    mut cbc: MediaCbc,
    sealed: &SyncSender<Sealed>,
    spare: &Receiver<Vec<u8>>,
) -> Result<PlainSum, MediaFailure> {
    let mut total = 0u64;
    loop {
        plain.read(&mut *reader)?;
        let chunk = plain.chunk();
        if chunk.is_empty() {
            break;
        }
        total += chunk.len() as u64;
        if total > max {
            return Err(MediaFailure::TooLarge { len: total, max });
        }
        let mut out = spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK + 16));
        out.clear();
        cbc.update(chunk, &mut out);
        if sealed.send(Sealed::Chunk(out)).is_err() {
            return Ok(plain.finish());
        }
    }
    let mut last = Vec::with_capacity(16);
    cbc.finish(&mut last);
    // A keeper that already stopped has its error.
    let _ = sealed.send(Sealed::Last(last));
    Ok(plain.finish())
}

/// Where the keeper puts the body: memory up to [`MEMORY_STAGE`], then a temporary file.
struct Store {
    memory: Vec<u8>,
    file: Option<(File, TempPath)>,
    dir: Option<PathBuf>,
    /// Known to be too large for memory: straight to a file.
    large: bool,
}

impl Store {
    fn new(body_len: Option<u64>, dir: Option<PathBuf>) -> Store {
        let fits = body_len.and_then(|n| usize::try_from(n).ok().filter(|&n| n <= MEMORY_STAGE));
        Store {
            memory: if fits.is_some() { buffer() } else { Vec::new() },
            file: None,
            dir,
            large: body_len.is_some() && fits.is_none(),
        }
    }

    fn keep(&mut self, bytes: &[u8]) -> Result<(), MediaFailure> {
        if self.file.is_none() && (self.large || self.memory.len() + bytes.len() > MEMORY_STAGE) {
            let (mut out, path) = match &self.dir {
                Some(dir) => tempfile::NamedTempFile::new_in(dir),
                None => tempfile::NamedTempFile::new(),
            }
            .map_err(MediaFailure::TempFile)?
            .into_parts();
            out.write_all(&self.memory)
                .map_err(MediaFailure::TempFile)?;
            recycle(std::mem::take(&mut self.memory));
            self.file = Some((out, path));
        }
        match self.file.as_mut() {
            Some((out, _)) => out.write_all(bytes).map_err(MediaFailure::TempFile),
            None => {
                self.memory.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<StagedBody, MediaFailure> {
        Ok(match self.file {
            Some((mut out, path)) => {
                out.flush().map_err(MediaFailure::TempFile)?;
                StagedBody::File(path)
            }
            None => StagedBody::Memory(Bytes::from(self.memory)),
        })
    }
}

/// The keeping thread: MACs, hashes and keeps each ciphertext chunk (handing its buffer back),
/// then the MAC that ends the body. `None` when the source stopped before its end.
fn keep_body(
    sealed: &Receiver<Sealed>,
    spare: &SyncSender<Vec<u8>>,
    mut mac: BodyMac,
    mut digest: BodyDigest,
    mut store: Store,
) -> Result<Option<(StagedBody, BodyDigest)>, MediaFailure> {
    for message in sealed {
        let (chunk, last) = match message {
            Sealed::Chunk(chunk) => (chunk, false),
            Sealed::Last(chunk) => (chunk, true),
        };
        mac.update(&chunk);
        digest.update(&chunk);
        store.keep(&chunk)?;
        if last {
            let tag = mac.finish();
            digest.update(&tag);
            store.keep(&tag)?;
            return Ok(Some((store.finish()?, digest)));
        }
        // The reader may have stopped: the buffer is simply dropped then.
        let _ = spare.try_send(chunk);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use wa_protocol::media::{encrypt, EncryptedMedia};

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
    fn the_two_threads_give_the_one_shot_body_whatever_the_size_hint_says() {
        let dir = tempfile::tempdir().expect("dir");
        let key = MediaKey::from([9; 32]);
        let big = MEMORY_STAGE + 1;
        for (len, in_file) in [(0, false), (1000, false), (MEMORY_STAGE, true), (big, true)] {
            let plain = source(len);
            let (want, info) = encrypt(&key, MediaType::Video, &plain);
            // No hint, the true length, and a hint that lies low. A plaintext of MEMORY_STAGE
            // is kept in memory, its (longer) body goes to a file.
            for size_hint in [None, Some(len as u64), Some(10)] {
                let reader = Box::new(std::io::Cursor::new(plain.clone()));
                let dir_path = Some(dir.path().to_path_buf());
                let src = Source { reader, size_hint };
                let sealed = seal(src, &key, MediaType::Video, u64::MAX, dir_path).expect("seal");
                let kept = matches!(sealed.plain, PlainSum::Kept(_));
                let fits = size_hint.is_some_and(|h| h <= MEMORY_STAGE as u64);
                assert_eq!(
                    kept,
                    fits && len <= MEMORY_STAGE,
                    "len {len} hint {size_hint:?}"
                );
                let got = EncryptedMedia::from_digests(sealed.plain.finish(), sealed.digest);
                assert_eq!(got, info, "len {len} hint {size_hint:?}");
                let body = sealed.body;
                assert_eq!(matches!(body, StagedBody::File(_)), in_file, "len {len}");
                assert_eq!(staged_bytes(&body), want, "len {len} hint {size_hint:?}");
                drop(body);
                let left = std::fs::read_dir(dir.path()).expect("dir").count();
                assert_eq!(left, 0, "the staging file goes with the body");
            }
        }
    }

    #[test]
    fn an_oversized_source_or_a_missing_temp_dir_stops_every_thread_with_its_error() {
        let key = MediaKey::from([9; 32]);
        let big = || Source {
            reader: Box::new(std::io::Cursor::new(source(3 * MEMORY_STAGE))),
            size_hint: None,
        };
        let err = seal(big(), &key, MediaType::Document, 1000, None).expect_err("too large");
        assert!(matches!(err, MediaFailure::TooLarge { max: 1000, .. }));
        let gone = Some(PathBuf::from("/nonexistent/wagate-staging"));
        let err = seal(big(), &key, MediaType::Document, u64::MAX, gone).expect_err("no dir");
        assert!(matches!(err, MediaFailure::TempFile(_)));
    }
}

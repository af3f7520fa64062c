//! The write-ahead log: record format, segment files and replay.
//!
//! A segment file `wal.<number>` (20 decimal digits, mode 0600) starts with an 8-byte magic and
//! holds records back to back. A record is the *after-image* of one committed write set:
//!
//! ```text
//! record  = len:u32le  crc32(payload):u32le  payload[len]
//! payload = seq:u64le  ops:u32le  op*
//! op      = tree:u8  kind:u8 (1 insert, 0 remove)  klen:u32le key  [vlen:u32le value]
//! ```
//!
//! Replay applies records in order and stops at the first record that is short, fails its
//! checksum or breaks the sequence: that is the torn tail of a write that was never acknowledged
//! (acknowledged records lie before the last successful `fdatasync`). Because records carry
//! after-images, applying one twice (a crash during replay, or a record whose write set sled
//! already holds in part) gives the same state: replay is idempotent.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{CorruptReason, Error, Result};
use crate::keys::TreeId;

/// File-name prefix of log segments in the data directory.
pub(crate) const PREFIX: &str = "wal.";
const MAGIC: &[u8; 8] = b"wagwal01";
const RECORD_HEADER: usize = 8;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{number:020}"))
}

/// Segment numbers present in `dir`, ascending.
pub(crate) fn segments(dir: &Path) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let name = entry.map_err(io_err(dir))?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_prefix(PREFIX)
            .and_then(|n| n.parse::<u64>().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Makes creations and removals of files in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Creates segment `number` (mode 0600) with its magic, synced, and its directory entry synced.
pub(crate) fn create_segment(dir: &Path, number: u64) -> Result<File> {
    let path = segment_path(dir, number);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path))?;
    f.write_all(MAGIC)
        .and_then(|()| f.sync_data())
        .map_err(io_err(&path))?;
    sync_dir(dir)?;
    Ok(f)
}

/// Removes segment `number` and makes the removal durable (segments are removed oldest first,
/// so a crash never leaves an older segment behind a newer one that was removed).
pub(crate) fn remove_segment(dir: &Path, number: u64) -> Result<()> {
    let path = segment_path(dir, number);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&path)(e)),
    }
    sync_dir(dir)
}

/// Appends one record (sequence number `seq`, the given writes) to `out`.
pub(crate) fn encode_record<'a>(
    out: &mut Vec<u8>,
    seq: u64,
    ops: impl Iterator<Item = (TreeId, &'a [u8], Option<&'a [u8]>)>,
) {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER]);
    out.extend_from_slice(&seq.to_le_bytes());
    let count_at = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut count = 0u32;
    for (tree, key, value) in ops {
        count += 1;
        // Tree indexes are < 12 and keys/values are far below 4 GiB (message ids, addresses
        // and records are bounded by the callers).
        out.push(tree.index() as u8);
        out.push(u8::from(value.is_some()));
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key);
        if let Some(v) = value {
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
    }
    out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
    let payload = &out[start + RECORD_HEADER..];
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// One decoded write of a record.
pub(crate) struct Op<'a> {
    pub(crate) tree: TreeId,
    pub(crate) key: &'a [u8],
    pub(crate) value: Option<&'a [u8]>,
}

fn take<'a>(p: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if p.len() < n {
        return None;
    }
    let (a, b) = p.split_at(n);
    *p = b;
    Some(a)
}

fn take_u32(p: &mut &[u8]) -> Option<u32> {
    take(p, 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
}

fn parse_payload(mut p: &[u8]) -> Option<(u64, Vec<Op<'_>>)> {
    let seq = u64::from_le_bytes(take(&mut p, 8)?.try_into().ok()?);
    let count = take_u32(&mut p)?;
    let mut ops = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        let tree = *TreeId::ALL.get(usize::from(*take(&mut p, 1)?.first()?))?;
        let kind = *take(&mut p, 1)?.first()?;
        let klen = take_u32(&mut p)? as usize;
        let key = take(&mut p, klen)?;
        let value = match kind {
            0 => None,
            1 => {
                let vlen = take_u32(&mut p)? as usize;
                Some(take(&mut p, vlen)?)
            }
            _ => return None,
        };
        ops.push(Op { tree, key, value });
    }
    p.is_empty().then_some((seq, ops))
}

/// What reading a segment found.
pub(crate) struct Scan {
    /// Complete, checksummed records.
    pub(crate) records: usize,
    /// Whether bytes after the last good record were ignored (a torn or damaged tail).
    pub(crate) torn: bool,
}

/// Reads segment bytes and hands each intact record's writes to `apply`, in order, stopping at
/// the first torn or damaged record.
pub(crate) fn read_segment(
    bytes: &[u8],
    apply: &mut dyn FnMut(&[Op<'_>]) -> Result<()>,
) -> Result<Scan> {
    let mut scan = Scan {
        records: 0,
        torn: false,
    };
    let Some(mut rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
        // A segment whose creation was cut short: it never held a synced record.
        scan.torn = !bytes.is_empty();
        return Ok(scan);
    };
    let mut prev: Option<u64> = None;
    while !rest.is_empty() {
        let mut p = rest;
        let Some(len) = take_u32(&mut p) else { break };
        let Some(crc) = take_u32(&mut p) else { break };
        let Some(payload) = take(&mut p, len as usize) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Some((seq, ops)) = parse_payload(payload) else {
            break;
        };
        if prev.is_some_and(|s| seq != s.wrapping_add(1)) {
            break;
        }
        apply(&ops)?;
        prev = Some(seq);
        scan.records += 1;
        rest = p;
    }
    scan.torn = !rest.is_empty();
    Ok(scan)
}

/// Replays every segment in `dir` through `apply` (oldest first) and returns the segment
/// numbers found. Only the newest segment may end in a torn record; damage inside an older one
/// (which was fully synced before the next was created) is reported, not skipped.
pub(crate) fn replay(
    dir: &Path,
    apply: &mut dyn FnMut(&[Op<'_>]) -> Result<()>,
) -> Result<Vec<u64>> {
    let numbers = segments(dir)?;
    for (i, &n) in numbers.iter().enumerate() {
        let path = segment_path(dir, n);
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io_err(&path))?;
        let scan = read_segment(&bytes, apply)?;
        if scan.torn && i + 1 < numbers.len() {
            return Err(Error::corrupt(
                "wal",
                &n.to_be_bytes(),
                CorruptReason::Inconsistent("write-ahead log segment damaged before its end"),
            ));
        }
    }
    Ok(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut buf = MAGIC.to_vec();
        encode_record(
            &mut buf,
            1,
            [
                (TreeId::Sessions, &b"k1"[..], Some(&b"v1"[..])),
                (TreeId::Outbox, &b"k2"[..], None),
            ]
            .into_iter(),
        );
        encode_record(
            &mut buf,
            2,
            [(TreeId::Meta, &b"k3"[..], Some(&[7u8; 300][..]))].into_iter(),
        );
        buf
    }

    fn count(bytes: &[u8]) -> (usize, bool, usize) {
        let mut ops = 0;
        let s = read_segment(bytes, &mut |o| {
            ops += o.len();
            Ok(())
        })
        .expect("read");
        (s.records, s.torn, ops)
    }

    #[test]
    fn round_trip_and_every_truncation() {
        let buf = sample();
        assert_eq!(count(&buf), (2, false, 3));
        let first_end = {
            let mut one = MAGIC.to_vec();
            encode_record(
                &mut one,
                1,
                [
                    (TreeId::Sessions, &b"k1"[..], Some(&b"v1"[..])),
                    (TreeId::Outbox, &b"k2"[..], None),
                ]
                .into_iter(),
            );
            one.len()
        };
        for cut in 0..buf.len() {
            let (records, torn, _) = count(&buf[..cut]);
            let want = if cut < first_end { 0 } else { 1 };
            assert_eq!(records, want, "cut {cut}");
            assert_eq!(torn, cut != MAGIC.len() && cut != first_end && cut != 0);
        }
        // A flipped bit anywhere in the second record drops exactly that record.
        for i in first_end..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x10;
            let (records, torn, _) = count(&b);
            assert_eq!((records, torn), (1, true), "flip at {i}");
        }
    }
}

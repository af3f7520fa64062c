//! The write-ahead log: record format, segment files and replay.
//!
//! A segment file `wal.<number>` (20 decimal digits, mode 0600) starts with an 8-byte magic and
//! holds records back to back. A record is the *after-image* of one committed write set:
//!
//! ```text
//! record  = len:u32le  crc32(payload):u32le  payload[len]
//! payload = seq:u64le  ops:u32le  op*
//! op      = tree:u8  kind:u8  klen:u32le key  body
//!   kind 0 remove: no body
//!   kind 1 insert: vlen:u32le value
//!   kind 2 patch:  base_len:u32le prefix:u32le suffix:u32le mlen:u32le middle
//! ```
//!
//! A **patch** says "the new value is the first `prefix` bytes of the key's previous value, then
//! `middle`, then its last `suffix` bytes". It is only written when the previous value is an
//! image *in the same segment* (the engine's active overlay holds exactly the current segment's
//! latest images), so a segment is self-contained: replay rebuilds every value from the segment
//! alone and never from what sled holds. A session record advanced by one message differs from
//! its previous image in a few dozen bytes (chain key and counter), so a send step logs ~40 bytes
//! of session instead of ~1.2 KB. Segments written before patches existed (magic `wagwal01`)
//! are still replayed.
//!
//! Replay applies records in order and stops at the first record that is short, fails its
//! checksum or breaks the sequence: that is the torn tail of a write that was never acknowledged
//! (acknowledged records lie before the last successful `fdatasync`). Because records resolve to
//! after-images, applying one twice (a crash during replay, or a record whose write set sled
//! already holds in part) gives the same state: replay is idempotent. A patch whose base is
//! missing or of the wrong length, in a record that passed its checksum, is reported as
//! corruption, never guessed at.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{CorruptReason, Error, Result};
use crate::keys::TreeId;

/// File-name prefix of log segments in the data directory.
pub(crate) const PREFIX: &str = "wal.";
const MAGIC: &[u8; 8] = b"wagwal02";
/// Magic of segments written before patches existed (inserts and removals only).
const MAGIC_V1: &[u8; 8] = b"wagwal01";
/// Bytes a patch adds over its middle (the four lengths); a patch is only used when it saves
/// more than this.
const PATCH_OVERHEAD: usize = 16;
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

/// What one op of a record does to its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Write<'a> {
    Remove,
    Put(&'a [u8]),
    Patch(Patch<'a>),
}

/// A value expressed against the key's previous value: `base[..prefix] ++ middle ++
/// base[base_len - suffix..]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Patch<'a> {
    base_len: u32,
    prefix: u32,
    suffix: u32,
    middle: &'a [u8],
}

/// Length of the common prefix of `a` and `b` (compared 32 bytes at a time, then bytewise).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 32 <= n && a[i..i + 32] == b[i..i + 32] {
        i += 32;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Length of the common suffix of `a` and `b`.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let mut i = 0;
    while i + 32 <= n && a[n - i - 32..n - i] == b[n - i - 32..n - i] {
        i += 32;
    }
    while i < n && a[n - i - 1] == b[n - i - 1] {
        i += 1;
    }
    i
}

impl<'a> Patch<'a> {
    /// The patch turning `old` into `new`, when it is smaller than `new` itself.
    pub(crate) fn between(old: &[u8], new: &'a [u8]) -> Option<Self> {
        let base_len = u32::try_from(old.len()).ok()?;
        let prefix = common_prefix(old, new);
        let suffix = common_suffix(&old[prefix..], &new[prefix..]);
        let middle = &new[prefix..new.len() - suffix];
        (middle.len() + PATCH_OVERHEAD < new.len()).then_some(Self {
            base_len,
            prefix: prefix as u32,
            suffix: suffix as u32,
            middle,
        })
    }

    /// The new value, or `None` when `base` is not the value this patch was made against.
    pub(crate) fn apply(&self, base: &[u8]) -> Option<Vec<u8>> {
        let (len, prefix, suffix) = (
            self.base_len as usize,
            self.prefix as usize,
            self.suffix as usize,
        );
        if base.len() != len || prefix.checked_add(suffix)? > len {
            return None;
        }
        let mut out = Vec::with_capacity(prefix + self.middle.len() + suffix);
        out.extend_from_slice(&base[..prefix]);
        out.extend_from_slice(self.middle);
        out.extend_from_slice(&base[len - suffix..]);
        Some(out)
    }
}

/// Appends one record (sequence number `seq`, the given writes) to `out`.
pub(crate) fn encode_record<'a>(
    out: &mut Vec<u8>,
    seq: u64,
    ops: impl Iterator<Item = (TreeId, &'a [u8], Write<'a>)>,
) {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER]);
    out.extend_from_slice(&seq.to_le_bytes());
    let count_at = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut count = 0u32;
    let u32_le = |out: &mut Vec<u8>, n: usize| out.extend_from_slice(&(n as u32).to_le_bytes());
    for (tree, key, write) in ops {
        count += 1;
        // Tree indexes are < 12 and keys/values are far below 4 GiB (message ids, addresses
        // and records are bounded by the callers).
        out.push(tree.index() as u8);
        out.push(match write {
            Write::Remove => 0,
            Write::Put(_) => 1,
            Write::Patch(_) => 2,
        });
        u32_le(out, key.len());
        out.extend_from_slice(key);
        match write {
            Write::Remove => {}
            Write::Put(v) => {
                u32_le(out, v.len());
                out.extend_from_slice(v);
            }
            Write::Patch(p) => {
                for n in [p.base_len, p.prefix, p.suffix] {
                    out.extend_from_slice(&n.to_le_bytes());
                }
                u32_le(out, p.middle.len());
                out.extend_from_slice(p.middle);
            }
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

/// One op as stored (a patch not yet resolved against its base).
struct RawOp<'a> {
    tree: TreeId,
    key: &'a [u8],
    write: Write<'a>,
}

fn parse_payload(mut p: &[u8], patches: bool) -> Option<(u64, Vec<RawOp<'_>>)> {
    let seq = u64::from_le_bytes(take(&mut p, 8)?.try_into().ok()?);
    let count = take_u32(&mut p)?;
    let mut ops = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        let tree = *TreeId::ALL.get(usize::from(*take(&mut p, 1)?.first()?))?;
        let kind = *take(&mut p, 1)?.first()?;
        let klen = take_u32(&mut p)? as usize;
        let key = take(&mut p, klen)?;
        let write = match kind {
            0 => Write::Remove,
            1 => {
                let vlen = take_u32(&mut p)? as usize;
                Write::Put(take(&mut p, vlen)?)
            }
            2 if patches => {
                let base_len = take_u32(&mut p)?;
                let prefix = take_u32(&mut p)?;
                let suffix = take_u32(&mut p)?;
                let mlen = take_u32(&mut p)? as usize;
                Write::Patch(Patch {
                    base_len,
                    prefix,
                    suffix,
                    middle: take(&mut p, mlen)?,
                })
            }
            _ => return None,
        };
        ops.push(RawOp { tree, key, write });
    }
    p.is_empty().then_some((seq, ops))
}

/// The latest image of every key written in the segment being replayed (patch bases).
type Images = HashMap<(u8, Vec<u8>), Vec<u8>>;

/// Resolves a record's ops to after-images, updating `images`.
fn resolve<'a>(
    raw: &[RawOp<'a>],
    images: &mut Images,
    seq: u64,
) -> Result<Vec<Option<Cow<'a, [u8]>>>> {
    let mut out = Vec::with_capacity(raw.len());
    for op in raw {
        let id = (op.tree.index() as u8, op.key.to_vec());
        let value = match op.write {
            Write::Remove => {
                images.remove(&id);
                None
            }
            Write::Put(v) => {
                images.insert(id, v.to_vec());
                Some(Cow::Borrowed(v))
            }
            Write::Patch(p) => {
                let Some(v) = images.get(&id).and_then(|base| p.apply(base)) else {
                    return Err(Error::corrupt(
                        "wal",
                        &seq.to_be_bytes(),
                        CorruptReason::Inconsistent(
                            "write-ahead log patch does not match its base image",
                        ),
                    ));
                };
                images.insert(id, v.clone());
                Some(Cow::Owned(v))
            }
        };
        out.push(value);
    }
    Ok(out)
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
    let (mut rest, patches) = if let Some(r) = bytes.strip_prefix(MAGIC.as_slice()) {
        (r, true)
    } else if let Some(r) = bytes.strip_prefix(MAGIC_V1.as_slice()) {
        (r, false)
    } else {
        // A segment whose creation was cut short: it never held a synced record.
        scan.torn = !bytes.is_empty();
        return Ok(scan);
    };
    let mut images = Images::new();
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
        let Some((seq, raw)) = parse_payload(payload, patches) else {
            break;
        };
        if prev.is_some_and(|s| seq != s.wrapping_add(1)) {
            break;
        }
        let values = resolve(&raw, &mut images, seq)?;
        let ops: Vec<Op<'_>> = raw
            .iter()
            .zip(&values)
            .map(|(r, v)| Op {
                tree: r.tree,
                key: r.key,
                value: v.as_deref(),
            })
            .collect();
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

    fn first_record(buf: &mut Vec<u8>) {
        encode_record(
            buf,
            1,
            [
                (TreeId::Sessions, &b"k1"[..], Write::Put(&b"v1"[..])),
                (TreeId::Outbox, &b"k2"[..], Write::Remove),
            ]
            .into_iter(),
        );
    }

    fn sample() -> Vec<u8> {
        let mut buf = MAGIC.to_vec();
        first_record(&mut buf);
        encode_record(
            &mut buf,
            2,
            [(TreeId::Meta, &b"k3"[..], Write::Put(&[7u8; 300][..]))].into_iter(),
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

    /// Every (tree, key, value) a segment replays to, in order.
    type Replayed = Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)>;

    fn replayed(bytes: &[u8]) -> Result<Replayed> {
        let mut out = Vec::new();
        read_segment(bytes, &mut |ops| {
            for o in ops {
                out.push((o.tree, o.key.to_vec(), o.value.map(<[u8]>::to_vec)));
            }
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn round_trip_and_every_truncation() {
        let buf = sample();
        assert_eq!(count(&buf), (2, false, 3));
        let first_end = {
            let mut one = MAGIC.to_vec();
            first_record(&mut one);
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

    #[test]
    fn patches_are_small_and_replay_to_the_full_image() {
        let v1: Vec<u8> = (0..1200u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut v2 = v1.clone();
        v2[400..436].copy_from_slice(&[0xAB; 36]);
        v2.insert(437, 9); // a varint grew by a byte
        let patch = Patch::between(&v1, &v2).expect("patch");
        assert!(patch.middle.len() <= 38, "middle {}", patch.middle.len());
        assert_eq!(patch.apply(&v1).as_deref(), Some(&v2[..]));
        assert_eq!(patch.apply(&v2), None, "a different base length is refused");
        // No saving, no patch; identical values patch to nothing.
        assert!(Patch::between(&v1, &[1, 2, 3]).is_none());
        let same = Patch::between(&v1, &v1).expect("patch");
        assert!(same.middle.is_empty());
        assert_eq!(same.apply(&v1).as_deref(), Some(&v1[..]));

        let mut buf = MAGIC.to_vec();
        let k = &b"15550001111.0"[..];
        encode_record(
            &mut buf,
            1,
            [(TreeId::Sessions, k, Write::Put(&v1))].into_iter(),
        );
        let full = buf.len();
        encode_record(
            &mut buf,
            2,
            [(TreeId::Sessions, k, Write::Patch(patch))].into_iter(),
        );
        assert!(
            buf.len() - full < 100,
            "patch record {} bytes",
            buf.len() - full
        );
        let got = replayed(&buf).expect("replay");
        assert_eq!(got[1], (TreeId::Sessions, k.to_vec(), Some(v2.clone())));
        // A torn patch record is a torn tail like any other.
        assert_eq!(count(&buf[..buf.len() - 1]), (1, true, 1));
    }

    #[test]
    fn a_patch_without_its_base_is_corruption_not_a_guess() {
        let v1 = vec![5u8; 500];
        let mut v2 = v1.clone();
        v2[10] = 6;
        let patch = Patch::between(&v1, &v2).expect("patch");
        // Base removed in between.
        let mut buf = MAGIC.to_vec();
        let k = &b"k"[..];
        encode_record(
            &mut buf,
            1,
            [(TreeId::Sessions, k, Write::Put(&v1))].into_iter(),
        );
        encode_record(
            &mut buf,
            2,
            [(TreeId::Sessions, k, Write::Remove)].into_iter(),
        );
        encode_record(
            &mut buf,
            3,
            [(TreeId::Sessions, k, Write::Patch(patch))].into_iter(),
        );
        assert!(matches!(replayed(&buf), Err(Error::Corrupt { .. })));
        // Base of another length.
        let mut buf = MAGIC.to_vec();
        encode_record(
            &mut buf,
            1,
            [(TreeId::Sessions, k, Write::Put(&v2[..9]))].into_iter(),
        );
        encode_record(
            &mut buf,
            2,
            [(TreeId::Sessions, k, Write::Patch(patch))].into_iter(),
        );
        assert!(matches!(replayed(&buf), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn old_segments_replay_but_may_not_hold_patches() {
        let mut v1 = sample();
        v1[..8].copy_from_slice(MAGIC_V1);
        assert_eq!(count(&v1), (2, false, 3));
        let mut buf = MAGIC_V1.to_vec();
        let base = vec![1u8; 100];
        let mut new = base.clone();
        new[0] = 2;
        encode_record(
            &mut buf,
            1,
            [(TreeId::Meta, &b"k"[..], Write::Put(&base))].into_iter(),
        );
        let p = Patch::between(&base, &new).expect("patch");
        encode_record(
            &mut buf,
            2,
            [(TreeId::Meta, &b"k"[..], Write::Patch(p))].into_iter(),
        );
        assert_eq!(count(&buf), (1, true, 1));
    }
}

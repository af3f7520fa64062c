//! The duration of an Ogg Opus file (what voice notes are), read from two pages without
//! decoding: the identification header's pre-skip and the last page's granule position, both
//! counted at 48 kHz (RFC 7845 §4, §5.1; the Ogg page header, RFC 3533 §6).
//!
//! Other audio formats (MP3, AAC, AMR) would need a frame walk or a decoder: their duration
//! is the caller's `Seconds`. The voice-note waveform needs decoded samples: it is the
//! caller's too (none is computed).

use std::io::{Read, Seek, SeekFrom};

/// Bytes at the end of the file searched for the last page (a page is at most 65,307 bytes).
const TAIL: u64 = 65_536 + 4_096;
/// Opus granule positions count 48 kHz samples (RFC 7845 §4).
const RATE: u64 = 48_000;

/// The Ogg page header's fixed part: `OggS`, version, flags, granule (8, LE), serial,
/// sequence, checksum, segment count (RFC 3533 §6).
const PAGE_HEADER: usize = 27;

/// The pre-skip of the `OpusHead` packet on the first page (`head`: the file's first bytes).
fn pre_skip(head: &[u8]) -> Option<u64> {
    if head.get(..4)? != b"OggS" {
        return None;
    }
    let segments = usize::from(*head.get(26)?);
    let packet = head.get(PAGE_HEADER + segments..)?;
    if packet.get(..8)? != b"OpusHead" {
        return None;
    }
    // OpusHead: magic (8), version (1), channels (1), pre-skip (u16 LE) (RFC 7845 §5.1).
    Some(u64::from(u16::from_le_bytes([
        *packet.get(10)?,
        *packet.get(11)?,
    ])))
}

/// The granule position of the last complete page header in `tail`.
fn last_granule(tail: &[u8]) -> Option<u64> {
    let at = tail
        .windows(4)
        .enumerate()
        .filter(|(i, w)| *w == b"OggS" && tail.len() >= i + PAGE_HEADER)
        .map(|(i, _)| i)
        .next_back()?;
    let granule: [u8; 8] = tail.get(at + 6..at + 14)?.try_into().ok()?;
    Some(u64::from_le_bytes(granule))
}

/// Whole seconds of the Ogg Opus file `file` (`head`: its first bytes), rounded up; `None`
/// when it is not Ogg Opus or the pages do not tell.
pub(crate) fn opus_seconds<R: Read + Seek>(head: &[u8], mut file: R) -> Option<u32> {
    let skip = pre_skip(head)?;
    let len = file.seek(SeekFrom::End(0)).ok()?;
    let start = len.saturating_sub(TAIL);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut tail = Vec::with_capacity(usize::try_from(len - start).ok()?);
    file.take(TAIL).read_to_end(&mut tail).ok()?;
    let granule = last_granule(&tail)?;
    let samples = granule.checked_sub(skip)?;
    u32::try_from(samples.div_ceil(RATE)).ok()
}

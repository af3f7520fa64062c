//! The streaming sidecar of audio and video: one 10-byte HMAC per 64 KiB window of the uploaded
//! blob, each window reaching 16 bytes into the next (`media.md` §2 "Optional for audio/video";
//! the layout follows whatsapp-rust `wacore/src/upload.rs`, which `media.md` cites: key =
//! macKey, windows over `ciphertext ‖ mac` starting every `SIDECAR_CHUNK` bytes, each
//! `SIDECAR_CHUNK + SIDECAR_OVERLAP` long or up to the end, HMAC-SHA256 truncated to 10 bytes).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::keys::keyed_mac;

/// Window spacing: one MAC per 64 KiB (`SIDECAR_CHUNK`).
pub const SIDECAR_CHUNK: u64 = 64 * 1024;
/// Bytes each window reaches into the next (`SIDECAR_OVERLAP`, one AES block).
pub const SIDECAR_OVERLAP: u64 = 16;
/// Length of each window's truncated HMAC (`SIDECAR_MAC_LEN`).
pub const SIDECAR_MAC_LEN: usize = 10;

/// Builds a sidecar from the blob fed in order, holding two running HMACs at most (never a
/// window's bytes).
#[derive(Clone)]
pub struct SidecarBuilder {
    keyed: Hmac<Sha256>,
    /// The window that started at the last multiple of `SIDECAR_CHUNK` at or before `pos`.
    current: Option<Hmac<Sha256>>,
    /// The window before it, while `pos` is within its 16-byte overlap.
    previous: Option<Hmac<Sha256>>,
    pos: u64,
    out: Vec<u8>,
}

impl SidecarBuilder {
    /// A builder keyed with the media's `macKey`.
    pub fn new(mac_key: &[u8; 32]) -> SidecarBuilder {
        SidecarBuilder {
            keyed: keyed_mac(mac_key),
            current: None,
            previous: None,
            pos: 0,
            out: Vec::new(),
        }
    }

    /// Feeds the next bytes of the blob (ciphertext, then the 10-byte MAC).
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let off = self.pos % SIDECAR_CHUNK;
            if off == 0 {
                self.previous = self.current.take();
                self.current = Some(self.keyed.clone());
            }
            let in_overlap = self.previous.is_some() && off < SIDECAR_OVERLAP;
            let span = if in_overlap {
                SIDECAR_OVERLAP - off
            } else {
                SIDECAR_CHUNK - off
            };
            let take = usize::try_from(span).map_or(data.len(), |s| s.min(data.len()));
            let (piece, rest) = data.split_at(take);
            if let Some(mac) = self.current.as_mut() {
                mac.update(piece);
            }
            if in_overlap {
                if let Some(mac) = self.previous.as_mut() {
                    mac.update(piece);
                }
            }
            self.pos += take as u64;
            if in_overlap && self.pos % SIDECAR_CHUNK == SIDECAR_OVERLAP {
                if let Some(mac) = self.previous.take() {
                    self.emit(mac);
                }
            }
            data = rest;
        }
    }

    /// The concatenated window MACs, in window order.
    pub fn finish(mut self) -> Vec<u8> {
        if let Some(mac) = self.previous.take() {
            self.emit(mac);
        }
        if let Some(mac) = self.current.take() {
            self.emit(mac);
        }
        self.out
    }

    fn emit(&mut self, mac: Hmac<Sha256>) {
        let tag = mac.finalize().into_bytes();
        self.out.extend_from_slice(&tag[..SIDECAR_MAC_LEN]);
    }
}

/// The sidecar of a whole blob at once (tests, small files).
pub fn sidecar(mac_key: &[u8; 32], blob: &[u8]) -> Vec<u8> {
    let mut b = SidecarBuilder::new(mac_key);
    b.update(blob);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, window by window, with no streaming.
    fn by_definition(key: &[u8; 32], blob: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let chunk = SIDECAR_CHUNK as usize;
        let mut start = 0;
        while start < blob.len() {
            let end = (start + chunk + SIDECAR_OVERLAP as usize).min(blob.len());
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("key");
            mac.update(&blob[start..end]);
            out.extend_from_slice(&mac.finalize().into_bytes()[..SIDECAR_MAC_LEN]);
            start += chunk;
        }
        out
    }

    #[test]
    fn matches_the_definition_at_window_edges_in_any_feed() {
        let key = [7u8; 32];
        let c = SIDECAR_CHUNK as usize;
        for len in [
            0,
            1,
            16,
            c - 1,
            c,
            c + 1,
            c + 15,
            c + 16,
            c + 17,
            2 * c,
            3 * c + 5,
        ] {
            let blob: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let want = by_definition(&key, &blob);
            assert_eq!(want.len(), len.div_ceil(c) * SIDECAR_MAC_LEN, "len {len}");
            for feed in [1usize, 7, 16, 4096, c + 3, usize::MAX] {
                let mut b = SidecarBuilder::new(&key);
                for piece in blob.chunks(feed.min(len.max(1))) {
                    b.update(piece);
                }
                assert_eq!(b.finish(), want, "len {len} feed {feed}");
            }
        }
    }
}

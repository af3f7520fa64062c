//! Frames: a 3-byte big-endian length and the payload, carried in WebSocket binary messages.
//!
//! A WebSocket message may hold several frames, and a frame may be split across messages
//! (`transport-noise.md` §1, §3; whatsmeow `socket/framesocket.go` `processData`). The decoder
//! reassembles frames from any chunking and refuses a declared length above its cap before
//! buffering the payload.

use crate::fault::Fault;

/// The connection header ("intro") the client sends once: `WA`, magic 6, dictionary version 3.
/// It is also the Noise prologue.
pub const WA_HEADER: [u8; 4] = [b'W', b'A', 6, crate::binary::DICT_VERSION];

/// Bytes in a frame's length prefix.
pub const FRAME_HEADER_LEN: usize = 3;

/// The largest payload the 3-byte length can express (whatsmeow rejects `len >= 1 << 24`).
pub const MAX_FRAME_LEN: usize = (1 << 24) - 1;

/// Largest edge-routing block accepted before the `WA` header.
const MAX_ROUTING_LEN: usize = 4096;

/// Errors of the framing layer; all are the peer's fault except
/// [`FrameError::OutgoingTooLarge`] (see [`FrameError::fault`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A received frame (or edge-routing block) declares a length above the allowed maximum:
    /// the peer's fault.
    #[error("received frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Declared payload length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// A frame we were asked to send is longer than a frame can be: a local bug (the caller's
    /// fault), never the peer's.
    #[error("frame to send of {len} bytes exceeds the limit of {max}")]
    OutgoingTooLarge {
        /// Payload length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The connection did not start with `WA 06 03` (optionally after an `ED` routing block).
    #[error("connection header is not a WhatsApp intro: {0:02x?}")]
    BadIntro(Vec<u8>),
    /// The intro names a protocol or dictionary version we do not speak.
    #[error("unsupported protocol version {magic}.{dict}")]
    UnsupportedVersion {
        /// Protocol major version byte (6 today).
        magic: u8,
        /// Binary dictionary version byte (3 today).
        dict: u8,
    },
}

impl FrameError {
    /// Who is at fault: the peer for everything received, the caller for a frame too large to
    /// send.
    pub fn fault(&self) -> Fault {
        match self {
            FrameError::TooLarge { .. }
            | FrameError::BadIntro(_)
            | FrameError::UnsupportedVersion { .. } => Fault::Peer,
            FrameError::OutgoingTooLarge { .. } => Fault::Caller,
        }
    }
}

/// What preceded the first frame of a client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intro {
    /// Just `WA 06 03`.
    Plain,
    /// An `ED 00 01` edge-routing block (its routing data), then `WA 06 03`.
    EdgeRouting(Vec<u8>),
}

/// Appends `len24 ‖ payload` to `out`.
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    if payload.len() > MAX_FRAME_LEN {
        return Err(FrameError::OutgoingTooLarge {
            len: payload.len(),
            max: MAX_FRAME_LEN,
        });
    }
    let len = payload.len() as u32;
    out.reserve(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    Ok(())
}

/// A streaming frame decoder. Push WebSocket payloads in, take whole frames out.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    pos: usize,
    max_len: usize,
    awaiting_intro: bool,
    intro: Option<Intro>,
}

impl FrameDecoder {
    /// A decoder for frames sent by the server (no intro).
    pub fn for_client(max_len: usize) -> Self {
        Self::new(max_len, false)
    }

    /// A decoder for a client connection: it first expects the intro.
    pub fn for_server(max_len: usize) -> Self {
        Self::new(max_len, true)
    }

    fn new(max_len: usize, awaiting_intro: bool) -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            max_len: max_len.min(MAX_FRAME_LEN),
            awaiting_intro,
            intro: None,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The intro seen on this connection, once it has been read.
    pub fn intro(&self) -> Option<&Intro> {
        self.intro.as_ref()
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Returns the next whole frame's payload, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if self.awaiting_intro && !self.read_intro()? {
            return Ok(None);
        }
        let rest = &self.buf[self.pos..];
        let Some(header) = rest.get(..FRAME_HEADER_LEN) else {
            return Ok(None);
        };
        let len =
            usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        if len > self.max_len {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_len,
            });
        }
        let Some(payload) = rest.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len) else {
            return Ok(None);
        };
        let frame = payload.to_vec();
        self.pos += FRAME_HEADER_LEN + len;
        Ok(Some(frame))
    }

    /// Consumes the intro if it is complete. `Ok(false)` means "wait for more bytes".
    fn read_intro(&mut self) -> Result<bool, FrameError> {
        let rest = &self.buf[self.pos..];
        let (routing, header_at) = match rest.get(..2) {
            None => return Ok(false),
            Some(b"WA") => (None, 0),
            Some(b"ED") => {
                let Some(block) = rest.get(..7) else {
                    return Ok(false);
                };
                if block[2..4] != [0, 1] {
                    return Err(FrameError::BadIntro(block.to_vec()));
                }
                let len = usize::from(block[4]) << 16
                    | usize::from(block[5]) << 8
                    | usize::from(block[6]);
                if len > MAX_ROUTING_LEN {
                    return Err(FrameError::TooLarge {
                        len,
                        max: MAX_ROUTING_LEN,
                    });
                }
                let Some(data) = rest.get(7..7 + len) else {
                    return Ok(false);
                };
                (Some(data.to_vec()), 7 + len)
            }
            Some(other) => return Err(FrameError::BadIntro(other.to_vec())),
        };
        let Some(header) = rest.get(header_at..header_at + WA_HEADER.len()) else {
            return Ok(false);
        };
        if header[..2] != WA_HEADER[..2] {
            return Err(FrameError::BadIntro(header.to_vec()));
        }
        if header[2..] != WA_HEADER[2..] {
            return Err(FrameError::UnsupportedVersion {
                magic: header[2],
                dict: header[3],
            });
        }
        self.pos += header_at + WA_HEADER.len();
        self.awaiting_intro = false;
        self.intro = Some(routing.map_or(Intro::Plain, Intro::EdgeRouting));
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(decoder: &mut FrameDecoder) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(f) = decoder.next_frame().expect("valid") {
            out.push(f);
        }
        out
    }

    #[test]
    fn reassembles_any_chunking() {
        let mut wire = WA_HEADER.to_vec();
        let payloads: Vec<Vec<u8>> = vec![vec![1; 36], vec![], vec![2; 300], vec![3; 70000]];
        for p in &payloads {
            encode_frame(p, &mut wire).expect("fits");
        }
        for chunk in [1, 2, 3, 5, 64, 4096, wire.len()] {
            let mut d = FrameDecoder::for_server(1 << 20);
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                d.push(piece);
                got.extend(frames_of(&mut d));
            }
            assert_eq!(got, payloads, "chunk size {chunk}");
            assert_eq!(d.intro(), Some(&Intro::Plain));
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn edge_routing_intro() {
        let mut wire = vec![b'E', b'D', 0, 1, 0, 0, 3, 9, 8, 7];
        wire.extend_from_slice(&WA_HEADER);
        encode_frame(&[5, 5], &mut wire).expect("fits");
        let mut d = FrameDecoder::for_server(100);
        d.push(&wire);
        assert_eq!(d.next_frame(), Ok(Some(vec![5, 5])));
        assert_eq!(d.intro(), Some(&Intro::EdgeRouting(vec![9, 8, 7])));
    }

    #[test]
    fn rejects_bad_intro_and_versions() {
        let mut d = FrameDecoder::for_server(100);
        d.push(b"GET / HTTP/1.1");
        assert!(matches!(d.next_frame(), Err(FrameError::BadIntro(_))));
        let mut d = FrameDecoder::for_server(100);
        d.push(&[b'W', b'A', 6, 2, 0, 0, 0]);
        assert_eq!(
            d.next_frame(),
            Err(FrameError::UnsupportedVersion { magic: 6, dict: 2 })
        );
        let mut d = FrameDecoder::for_server(100);
        d.push(&[b'E', b'D', 0, 1, 0xff, 0xff, 0xff]);
        assert!(matches!(d.next_frame(), Err(FrameError::TooLarge { .. })));
    }

    #[test]
    fn oversized_length_refused_before_payload_arrives() {
        let mut d = FrameDecoder::for_client(1000);
        d.push(&[0x00, 0x03, 0xe9]);
        assert_eq!(
            d.next_frame(),
            Err(FrameError::TooLarge {
                len: 1001,
                max: 1000
            })
        );
    }

    #[test]
    fn truncated_frame_waits() {
        let mut d = FrameDecoder::for_client(1000);
        d.push(&[0x00, 0x00, 0x05, 1, 2]);
        assert_eq!(d.next_frame(), Ok(None));
        d.push(&[3, 4, 5]);
        assert_eq!(d.next_frame(), Ok(Some(vec![1, 2, 3, 4, 5])));
    }

    #[test]
    fn encode_refuses_oversized() {
        let big = vec![0u8; MAX_FRAME_LEN + 1];
        let mut out = Vec::new();
        assert!(matches!(
            encode_frame(&big, &mut out),
            Err(FrameError::OutgoingTooLarge { .. })
        ));
        assert!(out.is_empty());
    }
}

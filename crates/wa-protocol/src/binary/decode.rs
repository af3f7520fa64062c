//! Decoder: bytes → [`Node`].
//!
//! The decoder never panics and never allocates more than a small multiple of its input:
//! declared lengths are checked against the remaining input before anything is allocated,
//! list pre-allocation is capped, and inflating stops at [`Limits::max_decompressed`].
#![warn(clippy::arithmetic_side_effects)]

use std::borrow::Cow;

use flate2::{Decompress, FlushDecompress, Status};

use super::jid::{valid_user, Jid, Server};
use super::node::{AttrValue, Attrs, Content, Node};
use super::tags;
use super::token;

/// Flags-byte bit: the body is a zlib stream.
pub const FLAG_COMPRESSED: u8 = 0x02;

/// Nesting depth above which [`Limits::max_depth`] is clamped. Decoding itself is iterative,
/// but encoding, `Display`, comparison and drop of a node tree recurse, so decoded trees are
/// kept shallow enough for them.
pub const HARD_MAX_DEPTH: usize = 512;

/// Initial capacity cap for attribute and child vectors (they grow as entries really decode).
const PREALLOC_MAX: usize = 64;

/// Smallest possible encoded node: `F8 01 <token>`.
const MIN_NODE_LEN: usize = 3;

/// Resource limits for decoding untrusted input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum node nesting depth; the top-level node is depth 1. Default 128. Values above
    /// [`HARD_MAX_DEPTH`] are treated as [`HARD_MAX_DEPTH`].
    pub max_depth: usize,
    /// Maximum size of an inflated (zlib) body in bytes. Default 16 MiB.
    pub max_decompressed: usize,
    /// Maximum number of children in one child list. Default 65535 (the LIST_16 maximum);
    /// independently, a list can never claim more children than the remaining input could hold.
    pub max_list: usize,
    /// Maximum number of attributes of one node. Default 32767 (the most a LIST_16 node
    /// header can describe).
    pub max_attrs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 128,
            max_decompressed: 16 << 20,
            max_list: 65_535,
            max_attrs: 32_767,
        }
    }
}

/// Errors from [`decode`] / [`unmarshal`]. Offsets are byte positions in the node bytes
/// (after the flags byte and after inflating, if the frame was compressed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame has no flags byte.
    #[error("empty frame (no flags byte)")]
    EmptyFrame,
    /// The input ended in the middle of an item.
    #[error("unexpected end of input at offset {offset}")]
    Truncated {
        /// Where more input was needed.
        offset: usize,
    },
    /// One of the unassigned tag bytes 0xF0–0xF4.
    #[error("unassigned tag byte 0x{tag:02X} at offset {offset}")]
    UnassignedTag {
        /// The tag byte.
        tag: u8,
        /// Its position.
        offset: usize,
    },
    /// A token index with no entry in the dictionaries.
    #[error("invalid token index at offset {offset}")]
    InvalidToken {
        /// Position of the token's tag byte.
        offset: usize,
    },
    /// A nibble-packed string holds a value outside `0-9 - .` (12–15, or a pad nibble that is
    /// not the final one of an odd-length string).
    #[error("invalid nibble value 0x{value:X} in packed string at offset {offset}")]
    InvalidNibble {
        /// The nibble value.
        value: u8,
        /// Position of the byte holding it.
        offset: usize,
    },
    /// A packed string header claims odd length with no data bytes.
    #[error("invalid packed string header at offset {offset}")]
    InvalidPacked {
        /// Position of the packed string's tag byte.
        offset: usize,
    },
    /// An attribute key is not a string (e.g. a JID, a list or LIST_EMPTY).
    #[error("attribute key at offset {offset} is not a string")]
    NonStringKey {
        /// Position of the key's tag byte.
        offset: usize,
    },
    /// An attribute value is a list.
    #[error("attribute value at offset {offset} is neither a string nor a JID")]
    InvalidAttrValue {
        /// Position of the value's tag byte.
        offset: usize,
    },
    /// A node tag is not a non-empty string.
    #[error("node tag at offset {offset} is not a non-empty string")]
    InvalidTag {
        /// Position of the tag's tag byte.
        offset: usize,
    },
    /// Raw bytes used where a string is required are not valid UTF-8.
    #[error("invalid UTF-8 in string at offset {offset}")]
    InvalidUtf8 {
        /// Position of the string's tag byte.
        offset: usize,
    },
    /// A node does not start with a non-empty LIST_8/LIST_16 header.
    #[error("invalid node list header at offset {offset} (expected LIST_8/LIST_16 of size ≥ 1)")]
    InvalidListHeader {
        /// Position of the header.
        offset: usize,
    },
    /// Nodes nested deeper than [`Limits::max_depth`].
    #[error("node nesting exceeds {max} levels at offset {offset}")]
    DepthExceeded {
        /// The effective depth limit.
        max: usize,
        /// Position of the node that is too deep.
        offset: usize,
    },
    /// A declared length (bytes, or the minimum size of a declared list) is larger than the
    /// rest of the input. Checked before allocating.
    #[error("item at offset {offset} needs at least {len} bytes but only {remaining} remain")]
    LengthExceedsInput {
        /// Position of the item's tag byte.
        offset: usize,
        /// Bytes needed (as declared).
        len: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A list or attribute count above [`Limits::max_list`] / [`Limits::max_attrs`].
    #[error("list of {len} entries at offset {offset} exceeds the limit of {max}")]
    ListTooLong {
        /// Declared number of entries.
        len: usize,
        /// The limit.
        max: usize,
        /// Position of the list header.
        offset: usize,
    },
    /// Input left over after the top-level node.
    #[error("{count} trailing bytes after the node, at offset {offset}")]
    TrailingBytes {
        /// Where the trailing bytes start.
        offset: usize,
        /// How many there are.
        count: usize,
    },
    /// The compressed body is not a valid, complete zlib stream.
    #[error("invalid zlib stream: {reason}")]
    BadZlib {
        /// Details from the inflater.
        reason: String,
    },
    /// The inflated body would exceed [`Limits::max_decompressed`].
    #[error("decompressed body exceeds the limit of {limit} bytes")]
    DecompressedTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A malformed JID (bad server for FB_JID/INTEROP_JID, missing server, non-string part,
    /// invalid user characters or server name).
    #[error("invalid JID at offset {offset}: {reason}")]
    InvalidJid {
        /// Position of the JID (or of the offending part).
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Decodes node bytes (no flags byte). The input must hold exactly one node.
pub fn decode(body: &[u8], limits: &Limits) -> Result<Node, DecodeError> {
    let mut r = Reader {
        buf: body,
        pos: 0,
        limits,
        max_depth: limits.max_depth.min(HARD_MAX_DEPTH),
    };
    let node = r.tree()?;
    if r.pos < body.len() {
        return Err(DecodeError::TrailingBytes {
            offset: r.pos,
            count: body.len().saturating_sub(r.pos),
        });
    }
    Ok(node)
}

/// Decodes a frame payload: flags byte, then the node bytes (zlib-compressed if the flags
/// have bit `0x02` set; other flag bits are ignored).
pub fn unmarshal(frame: &[u8], limits: &Limits) -> Result<Node, DecodeError> {
    let (&flags, body) = frame.split_first().ok_or(DecodeError::EmptyFrame)?;
    if flags & FLAG_COMPRESSED != 0 {
        let inflated = inflate(body, limits.max_decompressed)?;
        decode(&inflated, limits)
    } else {
        decode(body, limits)
    }
}

/// Inflates a zlib stream, failing as soon as the output would exceed `cap` bytes.
fn inflate(input: &[u8], cap: usize) -> Result<Vec<u8>, DecodeError> {
    let hard = cap.saturating_add(1);
    let too_large = DecodeError::DecompressedTooLarge { limit: cap };
    let mut d = Decompress::new(true);
    let mut out: Vec<u8> = Vec::with_capacity(input.len().saturating_mul(4).max(256).min(hard));
    loop {
        if out.len() > cap {
            return Err(too_large);
        }
        if out.len() == out.capacity() {
            let room = hard.saturating_sub(out.len());
            out.reserve_exact(out.len().max(4096).min(room));
        }
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let consumed = usize::try_from(in_before).unwrap_or(usize::MAX);
        let rest = input.get(consumed..).unwrap_or_default();
        let status = d
            .decompress_vec(rest, &mut out, FlushDecompress::None)
            .map_err(|e| DecodeError::BadZlib {
                reason: e.to_string(),
            })?;
        if matches!(status, Status::StreamEnd) {
            break;
        }
        if d.total_in() == in_before && d.total_out() == out_before {
            return Err(DecodeError::BadZlib {
                reason: if rest.is_empty() {
                    "truncated stream".to_owned()
                } else {
                    "inflater made no progress".to_owned()
                },
            });
        }
    }
    if out.len() > cap {
        return Err(too_large);
    }
    Ok(out)
}

/// One item as read from the wire (list contents and JID payloads not yet read).
enum Raw<'a> {
    /// LIST_EMPTY.
    Empty,
    /// A token or packed string.
    Text(Cow<'a, str>),
    /// BINARY_8/20/32 payload.
    Binary(&'a [u8]),
    /// LIST_8/LIST_16 header with its size.
    List(usize),
    /// A JID tag; the payload follows.
    Jid(u8),
}

/// A node whose child list is still being read.
struct Pending {
    tag: String,
    attrs: Vec<(String, AttrValue)>,
    children: Vec<Node>,
    /// Declared number of children (≥ 1).
    expected: usize,
}

/// Result of reading a node head.
enum Head {
    /// A complete node (no content, scalar content or an empty child list).
    Done(Node),
    /// A node with a non-empty child list to read next.
    List(Pending),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    max_depth: usize,
}

fn utf8(b: &[u8], offset: usize) -> Result<&str, DecodeError> {
    std::str::from_utf8(b).map_err(|_| DecodeError::InvalidUtf8 { offset })
}

fn unpack(value: u8, hex: bool, offset: usize) -> Result<char, DecodeError> {
    const NIBBLE: &[u8] = b"0123456789-.";
    const HEX: &[u8] = b"0123456789ABCDEF";
    let alphabet = if hex { HEX } else { NIBBLE };
    alphabet
        .get(usize::from(value))
        .map(|&c| char::from(c))
        .ok_or(DecodeError::InvalidNibble { value, offset })
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(DecodeError::Truncated { offset: self.pos })?;
        self.pos = self.pos.saturating_add(1);
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self
            .buf
            .get(self.pos..)
            .and_then(|rest| rest.get(..N))
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or(DecodeError::Truncated {
                offset: self.buf.len(),
            })?;
        self.pos = self.pos.saturating_add(N);
        Ok(bytes)
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Takes `len` bytes, checking the declared length before touching anything.
    fn take(&mut self, len: u64, item_offset: usize) -> Result<&'a [u8], DecodeError> {
        let remaining = self.remaining();
        let n = usize::try_from(len)
            .ok()
            .filter(|&n| n <= remaining)
            .ok_or(DecodeError::LengthExceedsInput {
                offset: item_offset,
                len,
                remaining,
            })?;
        let bytes = self
            .buf
            .get(self.pos..)
            .and_then(|rest| rest.get(..n))
            .ok_or(DecodeError::Truncated { offset: self.pos })?;
        self.pos = self.pos.saturating_add(n);
        Ok(bytes)
    }

    /// Reads one item's tag and its scalar payload.
    fn raw(&mut self) -> Result<(usize, Raw<'a>), DecodeError> {
        let offset = self.pos;
        let tag = self.u8()?;
        let raw = match tag {
            tags::LIST_EMPTY => Raw::Empty,
            1..=235 => Raw::Text(Cow::Borrowed(
                token::single(tag).ok_or(DecodeError::InvalidToken { offset })?,
            )),
            0xEC..=0xEF => {
                let index = self.u8()?;
                Raw::Text(Cow::Borrowed(
                    token::double(tag & 0x03, index).ok_or(DecodeError::InvalidToken { offset })?,
                ))
            }
            tags::UNASSIGNED_FIRST..=tags::UNASSIGNED_LAST => {
                return Err(DecodeError::UnassignedTag { tag, offset })
            }
            tags::INTEROP_JID | tags::FB_JID | tags::AD_JID | tags::JID_PAIR => Raw::Jid(tag),
            tags::LIST_8 => Raw::List(usize::from(self.u8()?)),
            tags::LIST_16 => Raw::List(usize::from(self.u16()?)),
            tags::HEX_8 => Raw::Text(Cow::Owned(self.packed(true, offset)?)),
            tags::NIBBLE_8 => Raw::Text(Cow::Owned(self.packed(false, offset)?)),
            tags::BINARY_8 => {
                let len = self.u8()?;
                Raw::Binary(self.take(u64::from(len), offset)?)
            }
            tags::BINARY_20 => {
                let [b0, b1, b2] = self.array()?;
                let len = u32::from_be_bytes([0, b0 & 0x0F, b1, b2]);
                Raw::Binary(self.take(u64::from(len), offset)?)
            }
            tags::BINARY_32 => {
                let len = u32::from_be_bytes(self.array()?);
                Raw::Binary(self.take(u64::from(len), offset)?)
            }
        };
        Ok((offset, raw))
    }

    fn packed(&mut self, hex: bool, offset: usize) -> Result<String, DecodeError> {
        let header = self.u8()?;
        let n = header & 0x7F;
        let odd = header & 0x80 != 0;
        if odd && n == 0 {
            return Err(DecodeError::InvalidPacked { offset });
        }
        let start = self.pos;
        let data = self.take(u64::from(n), offset)?;
        let mut s = String::with_capacity(usize::from(n) * 2);
        let last = data.len().saturating_sub(1);
        for (i, &b) in data.iter().enumerate() {
            let at = start.saturating_add(i);
            s.push(unpack(b >> 4, hex, at)?);
            if !(odd && i == last) {
                s.push(unpack(b & 0x0F, hex, at)?);
            }
        }
        Ok(s)
    }

    /// Decodes one node tree. Iterative (explicit stack), so deep input cannot exhaust the
    /// call stack; depth is still limited by `max_depth`.
    fn tree(&mut self) -> Result<Node, DecodeError> {
        let mut stack: Vec<Pending> = Vec::new();
        loop {
            let mut done = match self.node_head(stack.len().saturating_add(1))? {
                Head::Done(node) => node,
                Head::List(pending) => {
                    stack.push(pending);
                    continue;
                }
            };
            // Attach the finished node to its parents, closing every list that fills up.
            loop {
                let Some(parent) = stack.last_mut() else {
                    return Ok(done);
                };
                parent.children.push(done);
                if parent.children.len() < parent.expected {
                    break;
                }
                let Some(full) = stack.pop() else {
                    return Err(DecodeError::Truncated { offset: self.pos });
                };
                done = Node {
                    tag: full.tag,
                    attrs: Attrs::from(full.attrs),
                    content: Some(Content::Nodes(full.children)),
                };
            }
        }
    }

    /// Reads a node's header, tag, attributes and (non-list) content. A non-empty child list
    /// is returned as [`Head::List`] for the caller to fill.
    fn node_head(&mut self, depth: usize) -> Result<Head, DecodeError> {
        let offset = self.pos;
        if depth > self.max_depth {
            return Err(DecodeError::DepthExceeded {
                max: self.max_depth,
                offset,
            });
        }
        let size = match self.u8()? {
            tags::LIST_8 => usize::from(self.u8()?),
            tags::LIST_16 => usize::from(self.u16()?),
            _ => return Err(DecodeError::InvalidListHeader { offset }),
        };
        if size == 0 {
            return Err(DecodeError::InvalidListHeader { offset });
        }
        // Every one of the `size` items takes at least one byte.
        let remaining = self.remaining();
        if size > remaining {
            return Err(DecodeError::LengthExceedsInput {
                offset,
                len: size as u64,
                remaining,
            });
        }

        let (tag_offset, raw) = self.raw()?;
        let tag = match raw {
            Raw::Text(s) => s.into_owned(),
            Raw::Binary(b) => utf8(b, tag_offset)?.to_owned(),
            _ => String::new(),
        };
        if tag.is_empty() {
            return Err(DecodeError::InvalidTag { offset: tag_offset });
        }

        let n_attrs = size.saturating_sub(1) / 2;
        if n_attrs > self.limits.max_attrs {
            return Err(DecodeError::ListTooLong {
                len: n_attrs,
                max: self.limits.max_attrs,
                offset,
            });
        }
        let mut attrs = Vec::with_capacity(n_attrs.min(PREALLOC_MAX));
        for _ in 0..n_attrs {
            let (key_offset, raw) = self.raw()?;
            let key = match raw {
                Raw::Text(s) => s.into_owned(),
                Raw::Binary(b) => utf8(b, key_offset)?.to_owned(),
                _ => return Err(DecodeError::NonStringKey { offset: key_offset }),
            };
            let (value_offset, raw) = self.raw()?;
            let value = match raw {
                Raw::Text(s) => AttrValue::Str(s.into_owned()),
                Raw::Binary(b) => AttrValue::Str(utf8(b, value_offset)?.to_owned()),
                Raw::Empty => AttrValue::Str(String::new()),
                Raw::Jid(t) => AttrValue::Jid(self.jid(t, value_offset)?),
                Raw::List(_) => {
                    return Err(DecodeError::InvalidAttrValue {
                        offset: value_offset,
                    })
                }
            };
            attrs.push((key, value));
        }

        if size % 2 == 1 {
            return Ok(Head::Done(Node {
                tag,
                attrs: Attrs::from(attrs),
                content: None,
            }));
        }
        let (content_offset, raw) = self.raw()?;
        let content = match raw {
            Raw::Empty | Raw::List(0) => Content::Nodes(Vec::new()),
            // String content the encoder would write raw decodes as bytes, like raw content: an
            // empty string (e.g. an empty nibble-packed `FF 00`; `FC 00` is the canonical "")
            // and packed strings over PACKED_MAX characters (the length byte allows 254). The
            // round trip stays stable; both cases were found by the `node_decoder` fuzz target.
            Raw::Text(s) if s.is_empty() || s.len() > crate::binary::tags::PACKED_MAX => {
                Content::Bytes(s.into_owned().into_bytes())
            }
            Raw::Text(s) => Content::Str(s.into_owned()),
            Raw::Binary(b) => Content::Bytes(b.to_vec()),
            Raw::Jid(t) => Content::Jid(self.jid(t, content_offset)?),
            Raw::List(n) => {
                if n > self.limits.max_list {
                    return Err(DecodeError::ListTooLong {
                        len: n,
                        max: self.limits.max_list,
                        offset: content_offset,
                    });
                }
                let needed = n.saturating_mul(MIN_NODE_LEN);
                let remaining = self.remaining();
                if needed > remaining {
                    return Err(DecodeError::LengthExceedsInput {
                        offset: content_offset,
                        len: needed as u64,
                        remaining,
                    });
                }
                return Ok(Head::List(Pending {
                    tag,
                    attrs,
                    children: Vec::with_capacity(n.min(PREALLOC_MAX)),
                    expected: n,
                }));
            }
        };
        Ok(Head::Done(Node {
            tag,
            attrs: Attrs::from(attrs),
            content: Some(content),
        }))
    }

    /// A JID user (string, or LIST_EMPTY for empty).
    fn jid_user(&mut self) -> Result<String, DecodeError> {
        let (offset, raw) = self.raw()?;
        let user = match raw {
            Raw::Empty => String::new(),
            Raw::Text(s) => s.into_owned(),
            Raw::Binary(b) => utf8(b, offset)?.to_owned(),
            Raw::List(_) | Raw::Jid(_) => {
                return Err(DecodeError::InvalidJid {
                    offset,
                    reason: "user is not a string",
                })
            }
        };
        if !valid_user(&user) {
            return Err(DecodeError::InvalidJid {
                offset,
                reason: "invalid characters in user",
            });
        }
        Ok(user)
    }

    fn jid_server(&mut self) -> Result<Server, DecodeError> {
        let (offset, raw) = self.raw()?;
        let name = match raw {
            Raw::Text(s) => s,
            Raw::Binary(b) => Cow::Borrowed(utf8(b, offset)?),
            Raw::Empty => {
                return Err(DecodeError::InvalidJid {
                    offset,
                    reason: "missing server",
                })
            }
            Raw::List(_) | Raw::Jid(_) => {
                return Err(DecodeError::InvalidJid {
                    offset,
                    reason: "server is not a string",
                })
            }
        };
        name.parse().map_err(|_| DecodeError::InvalidJid {
            offset,
            reason: "invalid server name",
        })
    }

    /// Reads a JID payload after its tag byte (at `offset`).
    fn jid(&mut self, tag: u8, offset: usize) -> Result<Jid, DecodeError> {
        match tag {
            tags::AD_JID => {
                let [domain, device] = self.array()?;
                let user = self.jid_user()?;
                let (server, agent) = match domain {
                    0 => (Server::WhatsApp, 0),
                    1 => (Server::Lid, 0),
                    128 => (Server::Hosted, 0),
                    129 => (Server::HostedLid, 0),
                    // Unknown domain types: s.whatsapp.net with a raw agent (as whatsmeow).
                    other => (Server::WhatsApp, other),
                };
                Ok(Jid::from_parts(user, agent, u16::from(device), 0, server))
            }
            tags::FB_JID => {
                let user = self.jid_user()?;
                let device = self.u16()?;
                let server = self.jid_server()?;
                if server != Server::Messenger {
                    return Err(DecodeError::InvalidJid {
                        offset,
                        reason: "FB_JID server is not msgr",
                    });
                }
                Ok(Jid::from_parts(user, 0, device, 0, server))
            }
            tags::INTEROP_JID => {
                let user = self.jid_user()?;
                let device = self.u16()?;
                let integrator = self.u16()?;
                let server = self.jid_server()?;
                if server != Server::Interop {
                    return Err(DecodeError::InvalidJid {
                        offset,
                        reason: "INTEROP_JID server is not interop",
                    });
                }
                Ok(Jid::from_parts(user, 0, device, integrator, server))
            }
            _ => {
                let user = self.jid_user()?;
                let server = self.jid_server()?;
                Ok(Jid::from_parts(user, 0, 0, 0, server))
            }
        }
    }
}

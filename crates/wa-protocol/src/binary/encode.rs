//! Encoder: [`Node`] → bytes.

use super::jid::{Jid, Server};
use super::node::{AttrValue, Content, Node};
use super::tags;
use super::token::{self, Token};

/// Errors from [`encode`] / [`marshal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A node's tag is the empty string.
    #[error("node has an empty tag")]
    EmptyTag,
    /// `1 + 2 * attributes (+ 1 for content)` does not fit a LIST_16 header (65535).
    #[error("node <{tag}> has {count} attributes; at most 32767 fit in a node header")]
    TooManyAttributes {
        /// The node's tag.
        tag: String,
        /// Number of attributes.
        count: usize,
    },
    /// More than 65535 child nodes.
    #[error("node <{tag}> has {count} children; at most 65535 fit in a list header")]
    TooManyChildren {
        /// The node's tag.
        tag: String,
        /// Number of children.
        count: usize,
    },
    /// A byte or string value of 2³² bytes or more (BINARY_32 carries a u32 length).
    #[error("value of {len} bytes is too long for BINARY_32")]
    TooLong {
        /// Length in bytes.
        len: usize,
    },
    /// The JID has a device/agent/integrator its server's wire form cannot carry.
    #[error("JID {jid} cannot be encoded: {reason}")]
    UnencodableJid {
        /// The JID, rendered as text.
        jid: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Largest list size a LIST_16 header can express.
const MAX_LIST: usize = u16::MAX as usize;
/// Longest string that may be nibble/hex packed.
use super::tags::PACKED_MAX;

/// Encodes `node` into the node bytes (no leading flags byte).
pub fn encode(node: &Node) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(size_hint(node));
    Encoder { out: &mut out }.node(node)?;
    Ok(out)
}

/// Encodes `node` as a frame payload: the flags byte `0x00` (uncompressed) followed by the node.
pub fn marshal(node: &Node) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(size_hint(node) + 1);
    out.push(0);
    Encoder { out: &mut out }.node(node)?;
    Ok(out)
}

/// Appends the node bytes of `node` (no flags byte) to `out`.
///
/// On error `out` is truncated back to its original length.
pub fn encode_to(node: &Node, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    out.reserve(size_hint(node));
    let res = Encoder { out }.node(node);
    if res.is_err() {
        out.truncate(start);
    }
    res
}

/// Upper bound of a string's encoded size.
fn str_hint(s: &str) -> usize {
    s.len() + 5
}

fn jid_hint(j: &Jid) -> usize {
    j.user_part().len() + j.server().as_str().len() + 16
}

/// Upper bound of the encoded size of `node`, used to size the output buffer once.
fn size_hint(node: &Node) -> usize {
    let mut n = 3 + str_hint(&node.tag);
    for (k, v) in node.attrs.iter() {
        n += str_hint(k);
        n += match v {
            AttrValue::Str(s) => str_hint(s),
            AttrValue::Jid(j) => jid_hint(j),
        };
    }
    n + match &node.content {
        None => 0,
        Some(Content::Nodes(children)) => 3 + children.iter().map(size_hint).sum::<usize>(),
        Some(Content::Bytes(b)) => b.len() + 5,
        Some(Content::Str(s)) => str_hint(s),
        Some(Content::Jid(j)) => jid_hint(j),
    }
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

impl Encoder<'_> {
    fn node(&mut self, node: &Node) -> Result<(), EncodeError> {
        if node.tag.is_empty() {
            return Err(EncodeError::EmptyTag);
        }
        let attrs = node.attrs.len();
        let size = attrs
            .checked_mul(2)
            .and_then(|n| n.checked_add(1 + usize::from(node.content.is_some())))
            .filter(|&n| n <= MAX_LIST)
            .ok_or_else(|| EncodeError::TooManyAttributes {
                tag: node.tag.clone(),
                count: attrs,
            })?;
        self.list_header(size);
        self.string(&node.tag)?;
        for (key, value) in node.attrs.iter() {
            self.string(key)?;
            match value {
                AttrValue::Str(s) => self.string(s)?,
                AttrValue::Jid(j) => self.jid(j)?,
            }
        }
        match &node.content {
            None => {}
            Some(Content::Nodes(children)) => {
                if children.len() > MAX_LIST {
                    return Err(EncodeError::TooManyChildren {
                        tag: node.tag.clone(),
                        count: children.len(),
                    });
                }
                self.list_header(children.len());
                for child in children {
                    self.node(child)?;
                }
            }
            Some(Content::Bytes(b)) => self.binary(b)?,
            Some(Content::Str(s)) => self.string(s)?,
            Some(Content::Jid(j)) => self.jid(j)?,
        }
        Ok(())
    }

    /// `size` must be ≤ 65535 (checked by callers).
    fn list_header(&mut self, size: usize) {
        match size {
            0 => self.out.push(tags::LIST_EMPTY),
            1..=255 => self.out.extend_from_slice(&[tags::LIST_8, size as u8]),
            _ => {
                let [hi, lo] = (size as u16).to_be_bytes();
                self.out.extend_from_slice(&[tags::LIST_16, hi, lo]);
            }
        }
    }

    /// String rules: token → double-byte token → NIBBLE_8 → HEX_8 → raw.
    fn string(&mut self, s: &str) -> Result<(), EncodeError> {
        match token::lookup(s) {
            Some(Token::Single(i)) => {
                self.out.push(i);
                return Ok(());
            }
            Some(Token::Double(d, i)) => {
                self.out.extend_from_slice(&[token::DICTIONARY_0 + d, i]);
                return Ok(());
            }
            None => {}
        }
        let bytes = s.as_bytes();
        if !bytes.is_empty() && bytes.len() <= PACKED_MAX {
            let mut buf = [0u8; 2 + PACKED_MAX.div_ceil(2)];
            if let Some(n) = pack(tags::NIBBLE_8, bytes, &NIBBLE_CODES, &mut buf)
                .or_else(|| pack(tags::HEX_8, bytes, &HEX_CODES, &mut buf))
            {
                self.out.extend_from_slice(buf.get(..n).unwrap_or_default());
                return Ok(());
            }
        }
        self.binary(bytes)
    }

    fn binary(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        let len = b.len();
        if len < 1 << 8 {
            self.out.extend_from_slice(&[tags::BINARY_8, len as u8]);
        } else if len < 1 << 20 {
            let [_, b0, b1, b2] = (len as u32).to_be_bytes();
            self.out.extend_from_slice(&[tags::BINARY_20, b0, b1, b2]);
        } else {
            let len32 = u32::try_from(len).map_err(|_| EncodeError::TooLong { len })?;
            self.out.push(tags::BINARY_32);
            self.out.extend_from_slice(&len32.to_be_bytes());
        }
        self.out.extend_from_slice(b);
        Ok(())
    }

    fn jid(&mut self, j: &Jid) -> Result<(), EncodeError> {
        let unencodable = |reason| EncodeError::UnencodableJid {
            jid: j.to_string(),
            reason,
        };
        let server = j.server();
        if j.integrator() != 0 && *server != Server::Interop {
            return Err(unencodable("integrator on a non-interop server"));
        }
        if j.agent() != 0 && *server != Server::WhatsApp {
            return Err(unencodable("agent on a server other than s.whatsapp.net"));
        }
        match server {
            Server::Messenger => {
                self.out.push(tags::FB_JID);
                self.string(j.user_part())?;
                self.out.extend_from_slice(&j.device_id().to_be_bytes());
                self.string(server.as_str())
            }
            Server::Interop => {
                self.out.push(tags::INTEROP_JID);
                self.string(j.user_part())?;
                self.out.extend_from_slice(&j.device_id().to_be_bytes());
                self.out.extend_from_slice(&j.integrator().to_be_bytes());
                self.string(server.as_str())
            }
            _ => match server.ad_domain() {
                Some(domain) if j.is_ad() => {
                    let device = u8::try_from(j.device_id())
                        .map_err(|_| unencodable("device does not fit AD_JID (max 255)"))?;
                    let domain = if *server == Server::WhatsApp {
                        if matches!(j.agent(), 1 | 128 | 129) {
                            return Err(unencodable("agent collides with an AD_JID domain type"));
                        }
                        j.agent()
                    } else {
                        domain
                    };
                    self.out.extend_from_slice(&[tags::AD_JID, domain, device]);
                    self.string(j.user_part())
                }
                _ => {
                    if j.device_id() != 0 {
                        return Err(unencodable("server has no device-qualified wire form"));
                    }
                    self.out.push(tags::JID_PAIR);
                    if j.user_part().is_empty() {
                        self.out.push(tags::LIST_EMPTY);
                    } else {
                        self.string(j.user_part())?;
                    }
                    self.string(server.as_str())
                }
            },
        }
    }
}

/// Marks bytes outside a packing alphabet.
const INVALID: u8 = 0xFF;

/// Builds a byte → nibble table for `alphabet` (index = nibble value). Evaluated at compile
/// time only, so its indexing cannot fail at run time.
#[allow(clippy::indexing_slicing)]
const fn code_table(alphabet: &[u8]) -> [u8; 256] {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < alphabet.len() {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
}

/// NIBBLE_8 codes: `0-9` → 0–9, `-` → 10, `.` → 11.
static NIBBLE_CODES: [u8; 256] = code_table(b"0123456789-.");
/// HEX_8 codes: `0-9` → 0–9, `A-F` → 10–15 (uppercase only).
static HEX_CODES: [u8; 256] = code_table(b"0123456789ABCDEF");

/// Packs `bytes` (1..=127 of them) as `tag, lenbyte, nibbles…` into `buf`, returning the
/// number of bytes written, or `None` if a byte is outside the table's alphabet.
#[inline]
fn pack(
    tag: u8,
    bytes: &[u8],
    codes: &[u8; 256],
    buf: &mut [u8; 2 + PACKED_MAX.div_ceil(2)],
) -> Option<usize> {
    let code = |b: u8| codes.get(usize::from(b)).copied().unwrap_or(INVALID);
    let n = bytes.len();
    let packed_len = n.div_ceil(2);
    let odd = if n % 2 == 1 { 0x80 } else { 0 };
    let (header, body) = buf.split_at_mut(2);
    header.copy_from_slice(&[tag, packed_len as u8 | odd]);
    for (out, pair) in body.iter_mut().zip(bytes.chunks(2)) {
        let hi = pair.first().map_or(INVALID, |&b| code(b));
        let lo = pair.get(1).map_or(0x0F, |&b| code(b));
        if hi == INVALID || lo == INVALID {
            return None;
        }
        *out = (hi << 4) | lo;
    }
    Some(2 + packed_len)
}

#[cfg(test)]
pub(crate) fn encode_string(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let res = Encoder { out: &mut out }.string(s);
    assert!(res.is_ok());
    out
}

#[cfg(test)]
pub(crate) fn encode_jid(j: &Jid) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    Encoder { out: &mut out }.jid(j)?;
    Ok(out)
}

//! WhatsApp binary XML ("WAP" node) codec.
//!
//! A stanza is a [`Node`] tree (tag, ordered attributes, optional content). On the wire each
//! node is a list of strings/JIDs/bytes using token dictionaries (dictionary version
//! [`DICT_VERSION`]), nibble/hex packing and typed JID encodings; see
//! `shared/protocol/binary-node.md`.
//!
//! * [`encode`] / [`encode_to`] produce the node bytes; [`marshal`] prepends the `0x00` flags
//!   byte used inside each Noise transport frame.
//! * [`decode`] parses node bytes; [`unmarshal`] parses a frame payload (flags byte, optional
//!   zlib) under [`Limits`].
//!
//! Plain strings are never interpreted as JIDs: JIDs are [`AttrValue::Jid`] /
//! [`Content::Jid`] values with their own wire forms.
#![warn(clippy::indexing_slicing)]

mod decode;
mod encode;
mod jid;
mod node;
mod tags;
mod token;
mod token_hash;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use decode::{decode, unmarshal, DecodeError, Limits, FLAG_COMPRESSED, HARD_MAX_DEPTH};
pub use encode::{encode, encode_to, marshal, EncodeError};
pub use jid::{Jid, JidError, OtherServer, Server};
pub use node::{AttrValue, Attrs, Content, Node};

/// Token dictionary version these tables implement (sent as the 4th byte of the connection
/// header).
pub const DICT_VERSION: u8 = token::DICTIONARY_VERSION;

/// A typical outgoing 1:1 message stanza (used by benchmarks):
///
/// ```text
/// <message id="3EB0C1D2E3F4A5B6C7D8" to="1234567890@s.whatsapp.net" type="text" t="1700000000">
///   <participants>
///     <to jid="1234567890:3@s.whatsapp.net"><enc v="2" type="msg">(120 bytes)</enc></to>
///   </participants>
///   <device-identity>(150 bytes)</device-identity>
/// </message>
/// ```
#[doc(hidden)]
pub fn sample_message_stanza() -> Node {
    /// Deterministic "random-looking" bytes (xorshift32).
    fn noise(len: usize, mut state: u32) -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            })
            .collect()
    }
    Node::new("message")
        .with_attr("id", "3EB0C1D2E3F4A5B6C7D8")
        .with_attr("to", Jid::user("1234567890", Server::WhatsApp))
        .with_attr("type", "text")
        .with_attr("t", "1700000000")
        .with_children(vec![
            Node::new("participants").with_children(vec![Node::new("to")
                .with_attr("jid", Jid::device("1234567890", 3, Server::WhatsApp))
                .with_children(vec![Node::new("enc")
                    .with_attr("v", "2")
                    .with_attr("type", "msg")
                    .with_bytes(noise(120, 0x9E37_79B9))])]),
            Node::new("device-identity").with_bytes(noise(150, 0x85EB_CA6B)),
        ])
}

//! The value format: one format-version byte, then a protobuf message from
//! `proto/store.proto`; decode failures name the tree and key.

use prost::Message;

use crate::error::{CorruptReason, Error, Result};
use crate::keys::TreeId;

/// Format of every record but the device identity (the only format they have had).
pub(crate) const RECORD_VERSION: u8 = 1;

pub(crate) type Field<T> = std::result::Result<T, CorruptReason>;

/// A record of format [`RECORD_VERSION`].
pub(crate) fn encode(m: &impl Message) -> Vec<u8> {
    encode_as(RECORD_VERSION, m)
}

pub(crate) fn encode_as(version: u8, m: &impl Message) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + m.encoded_len());
    v.push(version);
    // Encoding into a Vec cannot run out of space.
    m.encode_raw(&mut v);
    v
}

/// The version byte (one of `known`) and the decoded body.
pub(crate) fn decode_versioned<M: Message + Default>(bytes: &[u8], known: &[u8]) -> Field<(u8, M)> {
    match bytes.split_first() {
        None => Err(CorruptReason::Empty),
        Some((v, body)) if known.contains(v) => M::decode(body)
            .map(|m| (*v, m))
            .map_err(CorruptReason::Protobuf),
        Some((&v, _)) => Err(CorruptReason::UnknownVersion(v)),
    }
}

fn decode_body<M: Message + Default>(bytes: &[u8]) -> Field<M> {
    decode_versioned(bytes, &[RECORD_VERSION]).map(|(_, m)| m)
}

/// Decodes a value and converts it, naming the tree and key on failure.
pub(crate) fn decode<M, T>(
    tree: TreeId,
    key: &[u8],
    bytes: &[u8],
    convert: impl FnOnce(M) -> Field<T>,
) -> Result<T>
where
    M: Message + Default,
{
    decode_body::<M>(bytes)
        .and_then(convert)
        .map_err(|r| Error::corrupt(tree.name(), key, r))
}

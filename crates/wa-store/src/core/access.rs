//! Small helpers every room uses: decoding inside and outside transactions, opaque records,
//! key listings, message-id checks.

use prost::Message;

use crate::engine::{Engine, TxError, TxResult};
use crate::error::{CorruptReason, Error, Result};
use crate::keys::TreeId;
use crate::pb;
use crate::records::{decode, encode};

const MAX_MESSAGE_ID: usize = 256;

pub(super) fn check_message_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_MESSAGE_ID {
        return Err(Error::InvalidInput {
            what: "message id",
            reason: "must be 1 to 256 bytes",
        });
    }
    Ok(())
}

/// A session or sender-key record as stored (kept byte for byte).
pub(super) fn opaque(record: &[u8]) -> Vec<u8> {
    encode(&pb::OpaqueRecord {
        record: record.to_vec(),
    })
}

/// [`decode`] inside a transaction (a failure aborts it).
pub(super) fn tx_decode<M: Message + Default, T>(
    tree: TreeId,
    key: &[u8],
    bytes: &[u8],
    convert: impl FnOnce(M) -> std::result::Result<T, CorruptReason>,
) -> TxResult<T> {
    decode(tree, key, bytes, convert).map_err(TxError::Abort)
}

/// Reads and decodes one record.
pub(super) fn load<E: Engine, M: Message + Default, T>(
    engine: &E,
    tree: TreeId,
    key: &[u8],
    convert: impl FnOnce(M) -> std::result::Result<T, CorruptReason>,
) -> Result<Option<T>> {
    engine
        .get(tree, key)?
        .map(|v| decode(tree, key, &v, convert))
        .transpose()
}

/// Reads an opaque (session or sender-key) record.
pub(super) fn load_opaque<E: Engine>(
    engine: &E,
    tree: TreeId,
    key: &[u8],
) -> Result<Option<Vec<u8>>> {
    load(engine, tree, key, |m: pb::OpaqueRecord| Ok(m.record))
}

/// Every key of `tree` that starts with `prefix`, in key order.
pub(super) fn keys_with_prefix<E: Engine>(
    engine: &E,
    tree: TreeId,
    prefix: &[u8],
) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    engine.scan(tree, prefix, &mut |k, _| {
        out.push(k.to_vec());
        Ok(true)
    })?;
    Ok(out)
}

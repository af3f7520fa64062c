//! The schema record in tree `meta`: written into a new store, checked (and raised) at open.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::keys::{self, TreeId};
use crate::pb;
use crate::records::{decode, encode};

/// Highest store schema this build reads and writes.
///
/// 2: device identity records of format 2 (push name and business name apart). A store of
/// schema 1 opens unchanged (its records are read in their own format) and is marked 2, so an
/// older build refuses it instead of reading records it does not know.
///
/// 3: the directory (`device_lists`, `lid_by_pn`, `pn_by_lid`), privacy tokens
/// (`privacy_tokens`, `tokens_issued`), received-message dedup (`received`, `received_order`,
/// `received_meta`), and outbox entries with delivery/read statuses and their times. A store of
/// schema 2 opens unchanged (its outbox records read with no times) and is marked 3.
pub const SCHEMA_VERSION: u32 = 3;

fn write<E: Engine>(engine: &E) -> Result<()> {
    let info = pb::SchemaInfo {
        schema_version: SCHEMA_VERSION,
        writer: concat!("wa-store ", env!("CARGO_PKG_VERSION")).to_string(),
    };
    engine.insert(TreeId::Meta, keys::SCHEMA_KEY, encode(&info))?;
    engine.flush()
}

/// Reads the schema record; writes it into an empty store (`fresh`) or over an older one.
pub(super) fn init<E: Engine>(engine: &E, fresh: bool) -> Result<()> {
    let key = keys::SCHEMA_KEY;
    match engine.get(TreeId::Meta, key)? {
        Some(v) => {
            let found = decode(TreeId::Meta, key, &v, |m: pb::SchemaInfo| {
                Ok(m.schema_version)
            })?;
            if found > SCHEMA_VERSION {
                return Err(Error::NewerSchema {
                    path: engine.path().to_path_buf(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            if found < SCHEMA_VERSION {
                write(engine)?;
            }
            Ok(())
        }
        None if fresh => write(engine),
        None => Err(Error::Foreign {
            path: engine.path().to_path_buf(),
            reason: "records present but no schema record",
        }),
    }
}

//! `check`, `export` and `import`: whole-store maintenance over raw (tree, key, value) entries.
//!
//! Backups carry the stored values unchanged (version byte included), so a backup restores
//! byte-identical records, and a backup taken from one backend imports into the other.
//!
//! File layout: the magic line, then length-delimited protobuf messages: one `BackupHeader`, the
//! `BackupEntry`s, one `BackupTrailer` holding the entry count and a SHA-256 over all entries.
//! The file is written to `<path>.tmp` with mode 0600, fsync'd, then renamed over `<path>`.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use prost::Message;
use sha2::{Digest, Sha256};

use crate::engine::{Engine, ReadView, TxError};
use crate::error::{BackupProblem, CorruptReason, Error, Result};
use crate::keys::{self, TreeId};
use crate::msg_records;
use crate::pb;
use crate::records;
use crate::types::account_id::AccountId;
use crate::types::outbox::OutboxStatus;
use crate::types::report::{BackupSummary, CheckReport};

use super::accounts::account_in;
use super::schema::SCHEMA_VERSION;

/// One stored entry: tree, key, value.
type RawEntry = (TreeId, Vec<u8>, Vec<u8>);

const MAGIC: &[u8] = b"wagate-store-backup\n";
const BACKUP_FORMAT: u32 = 1;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn backup_err(path: &Path, problem: BackupProblem) -> Error {
    Error::Backup {
        path: path.to_path_buf(),
        problem,
    }
}

/// Decodes every record of one consistent view of the store (writes made meanwhile by other
/// tasks neither show up half-way nor make the indexes look inconsistent).
pub(super) fn check<E: Engine>(engine: &E) -> Result<CheckReport> {
    engine.consistent(|view| {
        let mut report = CheckReport::default();
        for tree in TreeId::ALL {
            let mut n = 0u64;
            let problems = &mut report.problems;
            view.scan(tree, &[], &mut |k, v| {
                n += 1;
                if let Err(e) = records::verify_entry(tree, k, v) {
                    problems.push(e);
                } else if let Err(e) = cross_check(view, tree, k, v) {
                    problems.push(e);
                }
                Ok(true)
            })?;
            report.counts.push((tree.name(), n));
        }
        Ok(report)
    })
}

/// Relations between trees: token index ↔ account, due index ↔ queued entry.
fn cross_check(view: &dyn ReadView, tree: TreeId, k: &[u8], v: &[u8]) -> Result<()> {
    let inconsistent = |what| Error::corrupt(tree.name(), k, CorruptReason::Inconsistent(what));
    match tree {
        TreeId::Tokens => {
            let id = records::decode(tree, k, v, |m: pb::TokenOwner| {
                AccountId::from_slice(&m.account_id).ok_or(CorruptReason::BadField("account_id"))
            })?;
            match account_in(view, &id) {
                Ok(Some(a)) if keys::token(a.token.expose()).ok().as_deref() == Some(k) => Ok(()),
                Ok(_) => Err(inconsistent("token index does not match its account")),
                // The account record's own problem is reported under `accounts`.
                Err(_) => Ok(()),
            }
        }
        TreeId::OutboxDue => {
            let (at, id) = keys::parse_due(k).ok_or_else(|| inconsistent("bad key"))?;
            let acc = keys::key_account(k).ok_or_else(|| inconsistent("bad key"))?;
            let entry = keys::named(&acc, "message id", id).and_then(|ok| {
                view.get(TreeId::Outbox, &ok)?
                    .map(|v| records::decode(TreeId::Outbox, &ok, &v, records::outbox_from_pb))
                    .transpose()
            });
            match entry {
                Ok(Some(e)) if e.status == OutboxStatus::Queued && e.next_attempt_ms == at => {
                    Ok(())
                }
                Ok(_) => Err(inconsistent("due index without a matching queued entry")),
                Err(_) => Ok(()),
            }
        }
        TreeId::Pools => {
            let pool = records::decode(tree, k, v, crate::pool_records::pool_from_pb)?;
            let tk = keys::token(pool.token.expose())?;
            if view.get(TreeId::Tokens, &tk)?.is_some() {
                Err(inconsistent("pool token is also an account's token"))
            } else {
                Ok(())
            }
        }
        _ => cross_check_messaging(view, tree, k, v),
    }
}

/// Relations between the schema-3 trees: each PN ↔ LID mapping under both keys, each dedup
/// entry with its receive-order entry and back.
fn cross_check_messaging(view: &dyn ReadView, tree: TreeId, k: &[u8], v: &[u8]) -> Result<()> {
    let inconsistent = |what| Error::corrupt(tree.name(), k, CorruptReason::Inconsistent(what));
    let Some(acc) = keys::key_account(k) else {
        return Ok(());
    };
    let agrees = match tree {
        TreeId::LidByPn | TreeId::PnByLid => {
            let m = records::decode(tree, k, v, msg_records::lid_mapping_from_pb)?;
            let (other, ok) = if tree == TreeId::LidByPn {
                (
                    TreeId::PnByLid,
                    keys::named(&acc, "lid", m.lid.user_part())?,
                )
            } else {
                (
                    TreeId::LidByPn,
                    keys::named(&acc, "phone number", m.pn.as_str())?,
                )
            };
            view.get(other, &ok)?
                .map(|w| records::decode(other, &ok, &w, msg_records::lid_mapping_from_pb))
                .transpose()?
                .is_some_and(|o| o.pn == m.pn && o.lid == m.lid)
        }
        TreeId::Received => {
            let seq = records::decode(tree, k, v, |m: pb::Received| Ok(m.seq))?;
            let ok = keys::sequenced(&acc, seq);
            view.get(TreeId::ReceivedOrder, &ok)?
                .map(|w| {
                    records::decode(TreeId::ReceivedOrder, &ok, &w, |m: pb::ReceivedOrder| {
                        Ok(m.key)
                    })
                })
                .transpose()?
                .is_some_and(|key| key == k[AccountId::LEN..])
        }
        TreeId::ReceivedOrder => {
            let key = records::decode(tree, k, v, |m: pb::ReceivedOrder| Ok(m.key))?;
            let mut rk = acc.as_bytes().to_vec();
            rk.extend_from_slice(&key);
            view.get(TreeId::Received, &rk)?
                .map(|w| records::decode(TreeId::Received, &rk, &w, |m: pb::Received| Ok(m.seq)))
                .transpose()?
                .is_some_and(|seq| Some(seq) == keys::key_seq(k))
        }
        _ => true,
    };
    if agrees {
        Ok(())
    } else {
        Err(inconsistent(
            "entry without its matching entry in the paired tree",
        ))
    }
}

/// Writes one account (or all) to a backup file, from one consistent view.
pub(super) fn export<E: Engine>(
    engine: &E,
    account: Option<&AccountId>,
    path: &Path,
) -> Result<BackupSummary> {
    let tmp = path.with_extension("tmp");
    let file = create_private(&tmp)?;
    let mut w = BufWriter::new(file);
    let mut hasher = Sha256::new();
    let mut summary = BackupSummary::default();
    w.write_all(MAGIC).map_err(io_err(&tmp))?;
    let header = pb::BackupHeader {
        format: BACKUP_FORMAT,
        schema_version: SCHEMA_VERSION,
        account_id: account.map(|a| a.as_bytes().to_vec()).unwrap_or_default(),
    };
    w.write_all(&header.encode_length_delimited_to_vec())
        .map_err(io_err(&tmp))?;
    let mut write_entry = |tree: TreeId, k: &[u8], v: &[u8]| -> Result<()> {
        let e = pb::BackupEntry {
            tree: tree.name().to_string(),
            key: k.to_vec(),
            value: v.to_vec(),
        };
        let bytes = e.encode_length_delimited_to_vec();
        hasher.update(&bytes);
        w.write_all(&bytes).map_err(io_err(&tmp))?;
        if tree == TreeId::Accounts {
            if let Some(id) = AccountId::from_slice(k) {
                summary.accounts.push(id);
            }
        }
        summary.entries += 1;
        Ok(())
    };
    // One consistent view: a backup of a live store never holds a session without the
    // prekey consumption (or outbox transition) committed with it.
    engine.consistent(|view| {
        for tree in TreeId::ALL {
            match (tree, account) {
                (TreeId::Meta, _) => {}
                // Global trees (issue 12) belong to whole-store exports only.
                (TreeId::Pools | TreeId::DefaultSession, Some(_)) => {}
                (TreeId::Tokens, Some(a)) => {
                    if let Some(acc) = account_in(view, a)? {
                        let tk = keys::token(acc.token.expose())?;
                        if let Some(v) = view.get(tree, &tk)? {
                            write_entry(tree, &tk, &v)?;
                        }
                    }
                }
                (_, Some(a)) => view.scan(tree, a.as_bytes(), &mut |k, v| {
                    write_entry(tree, k, v)?;
                    Ok(true)
                })?,
                (_, None) => view.scan(tree, &[], &mut |k, v| {
                    write_entry(tree, k, v)?;
                    Ok(true)
                })?,
            }
        }
        Ok(())
    })?;
    let trailer = pb::BackupTrailer {
        entries: summary.entries,
        sha256: hasher.finalize().to_vec(),
    };
    w.write_all(&trailer.encode_length_delimited_to_vec())
        .map_err(io_err(&tmp))?;
    let file = w.into_inner().map_err(|e| io_err(&tmp)(e.into_error()))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(summary)
}

/// Verifies a whole backup file, then writes it in one transaction.
pub(super) fn import<E: Engine>(engine: &E, path: &Path) -> Result<BackupSummary> {
    let entries = read_backup(path)?;
    let mut summary = BackupSummary {
        accounts: Vec::new(),
        entries: entries.len() as u64,
    };
    let mut owners = BTreeSet::new();
    for (tree, k, _) in &entries {
        if tree.per_account() {
            if let Some(a) = keys::key_account(k) {
                owners.insert(a);
                if *tree == TreeId::Accounts {
                    summary.accounts.push(a);
                }
            }
        }
    }
    engine.transact(|tx| {
        for a in &owners {
            let k = keys::account(a);
            if tx.get(TreeId::Accounts, &k)?.is_some() || tx.get(TreeId::Devices, &k)?.is_some() {
                return Err(TxError::Abort(backup_err(
                    path,
                    BackupProblem::AccountExists(*a),
                )));
            }
        }
        for (tree, k, v) in &entries {
            if *tree == TreeId::Tokens && tx.get(TreeId::Tokens, k)?.is_some() {
                return Err(TxError::Abort(backup_err(path, BackupProblem::TokenTaken)));
            }
            if *tree == TreeId::Pools && tx.get(TreeId::Pools, k)?.is_some() {
                let name = String::from_utf8_lossy(k).into_owned();
                return Err(TxError::Abort(backup_err(
                    path,
                    BackupProblem::PoolExists(name),
                )));
            }
            // The store's own default session stays (one default per store).
            if *tree == TreeId::DefaultSession && tx.get(TreeId::DefaultSession, k)?.is_some() {
                continue;
            }
            tx.insert(*tree, k, v.clone())?;
        }
        Ok(())
    })?;
    Ok(summary)
}

/// Creates a file readable and writable by the owner only.
pub(crate) fn create_private(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))
}

/// Reads and fully verifies a backup before anything is written.
fn read_backup(path: &Path) -> Result<Vec<RawEntry>> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_err(path))?;
    let Some(mut rest) = bytes.strip_prefix(MAGIC) else {
        return Err(backup_err(path, BackupProblem::NotABackup));
    };
    let frame = |rest: &mut &[u8]| -> Result<Vec<u8>> {
        let before = rest.len();
        let len = prost::encoding::decode_varint(rest).map_err(|_| {
            backup_err(
                path,
                if before == 0 {
                    BackupProblem::Truncated
                } else {
                    BackupProblem::Malformed
                },
            )
        })?;
        let len = usize::try_from(len).map_err(|_| backup_err(path, BackupProblem::Malformed))?;
        if rest.len() < len {
            return Err(backup_err(path, BackupProblem::Truncated));
        }
        let (msg, tail) = rest.split_at(len);
        *rest = tail;
        Ok(msg.to_vec())
    };
    let header = pb::BackupHeader::decode(frame(&mut rest)?.as_slice())
        .map_err(|_| backup_err(path, BackupProblem::Malformed))?;
    if header.format > BACKUP_FORMAT {
        return Err(backup_err(path, BackupProblem::NewerFormat(header.format)));
    }
    if header.schema_version > SCHEMA_VERSION {
        return Err(backup_err(
            path,
            BackupProblem::NewerSchema(header.schema_version),
        ));
    }
    let mut hasher = Sha256::new();
    let mut out = Vec::new();
    loop {
        if rest.is_empty() {
            return Err(backup_err(path, BackupProblem::Truncated));
        }
        let start = rest;
        let msg = frame(&mut rest)?;
        if rest.is_empty() {
            // The last frame is the trailer.
            let t = pb::BackupTrailer::decode(msg.as_slice())
                .map_err(|_| backup_err(path, BackupProblem::Malformed))?;
            if t.entries != out.len() as u64 || t.sha256 != hasher.finalize().as_slice() {
                return Err(backup_err(path, BackupProblem::ChecksumMismatch));
            }
            return Ok(out);
        }
        hasher.update(&start[..start.len() - rest.len()]);
        let e = pb::BackupEntry::decode(msg.as_slice())
            .map_err(|_| backup_err(path, BackupProblem::Malformed))?;
        let tree = TreeId::from_name(&e.tree)
            .filter(|t| *t != TreeId::Meta)
            .ok_or_else(|| backup_err(path, BackupProblem::UnknownTree(e.tree.clone())))?;
        if let Err(err) = records::verify_entry(tree, &e.key, &e.value) {
            // `verify_entry` reports every problem as `Corrupt`; anything else is passed on.
            let Error::Corrupt { reason, .. } = err else {
                return Err(err);
            };
            return Err(backup_err(
                path,
                BackupProblem::BadEntry {
                    tree: tree.name(),
                    key: hex::encode(&e.key),
                    reason,
                },
            ));
        }
        out.push((tree, e.key, e.value));
    }
}

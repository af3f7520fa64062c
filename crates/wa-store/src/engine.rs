//! The key-value engines under the store logic: sled on disk, and ordered maps in memory.
//!
//! Both give the same small interface (point reads and writes, prefix scans, serializable
//! multi-tree transactions, flush), so the record logic in `core.rs` is written once and the
//! conformance suite exercises the same code paths on both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree,
    UnabortableTransactionError,
};

use crate::error::{Error, Result};
use crate::keys::TreeId;

/// Why a transaction closure stopped: our own abort, or the engine asking for a retry/reporting
/// a storage failure (which must reach the engine unchanged).
pub(crate) enum TxError {
    Abort(Error),
    Sled(UnabortableTransactionError),
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::Abort(e)
    }
}

impl From<UnabortableTransactionError> for TxError {
    fn from(e: UnabortableTransactionError) -> Self {
        TxError::Sled(e)
    }
}

pub(crate) type TxResult<T> = std::result::Result<T, TxError>;

/// Reads and writes inside a transaction. Reads see the transaction's own writes.
pub(crate) trait TxView {
    fn get(&self, tree: TreeId, key: &[u8]) -> TxResult<Option<Vec<u8>>>;
    fn insert(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> TxResult<()>;
    fn remove(&self, tree: TreeId, key: &[u8]) -> TxResult<()>;
}

/// Callback for scans: gets key and value, returns whether to go on.
pub(crate) type ScanFn<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'a;

pub(crate) trait Engine: Send + Sync + 'static {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>>;
    fn insert(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> Result<()>;
    fn remove(&self, tree: TreeId, key: &[u8]) -> Result<()>;
    /// Visits the entries whose key starts with `prefix`, in key order.
    fn scan(&self, tree: TreeId, prefix: &[u8], f: &mut ScanFn<'_>) -> Result<()>;
    /// Runs `f` atomically over all trees. `f` may run more than once (sled retries on
    /// conflict), so it must have no side effects besides its reads and writes through the view.
    fn transact<T>(&self, f: impl Fn(&dyn TxView) -> TxResult<T>) -> Result<T>;
    /// Makes every completed write durable.
    fn flush(&self) -> Result<()>;
    /// The data directory, for error messages (empty in memory).
    fn path(&self) -> &Path;
}

// ---------------------------------------------------------------------------------------------
// sled

pub(crate) struct SledEngine {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    path: PathBuf,
}

impl SledEngine {
    pub(crate) fn open(config: &sled::Config, path: &Path) -> Result<Self> {
        let db = config.open().map_err(|e| open_error(e, path))?;
        // Before creating any tree: a sled database of someone else stays untouched.
        let names = db.tree_names();
        let ours = |n: &[u8]| {
            n == b"__sled__default" || TreeId::ALL.iter().any(|t| t.name().as_bytes() == n)
        };
        let has_meta = names
            .iter()
            .any(|n| &n[..] == TreeId::Meta.name().as_bytes());
        if !has_meta && (names.iter().any(|n| !ours(n)) || !db.is_empty()) {
            return Err(Error::Foreign {
                path: path.to_path_buf(),
                reason: "a sled database that is not a wagate store",
            });
        }
        let mut trees = Vec::with_capacity(TreeId::ALL.len());
        for t in TreeId::ALL {
            trees.push(db.open_tree(t.name()).map_err(|e| map_sled(e, path))?);
        }
        Ok(Self {
            db,
            trees,
            path: path.to_path_buf(),
        })
    }

    fn tree(&self, t: TreeId) -> &sled::Tree {
        &self.trees[t.index()]
    }

    fn err(&self, e: sled::Error) -> Error {
        map_sled(e, &self.path)
    }

    /// Whether every tree but `meta` is empty (a store whose creation was interrupted).
    pub(crate) fn data_trees_empty(&self) -> bool {
        TreeId::ALL
            .iter()
            .filter(|t| **t != TreeId::Meta)
            .all(|t| self.tree(*t).is_empty())
    }
}

fn open_error(e: sled::Error, path: &Path) -> Error {
    if let sled::Error::Io(io) = &e {
        if io.kind() == std::io::ErrorKind::Other
            && io.to_string().contains("could not acquire lock")
        {
            return Error::Locked {
                path: path.to_path_buf(),
            };
        }
    }
    map_sled(e, path)
}

pub(crate) fn map_sled(e: sled::Error, path: &Path) -> Error {
    match e {
        sled::Error::Io(source) => Error::Io {
            path: path.to_path_buf(),
            source,
        },
        e @ sled::Error::Corruption { .. } => Error::EngineCorrupt {
            path: path.to_path_buf(),
            source: e,
        },
        e => Error::Engine(e),
    }
}

struct SledTx<'a>(&'a [TransactionalTree]);

impl TxView for SledTx<'_> {
    fn get(&self, tree: TreeId, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        Ok(self.0[tree.index()].get(key)?.map(|v| v.to_vec()))
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> TxResult<()> {
        self.0[tree.index()].insert(key, value)?;
        Ok(())
    }

    fn remove(&self, tree: TreeId, key: &[u8]) -> TxResult<()> {
        self.0[tree.index()].remove(key)?;
        Ok(())
    }
}

impl Engine for SledEngine {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .tree(tree)
            .get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.to_vec()))
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> Result<()> {
        self.tree(tree)
            .insert(key, value)
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn remove(&self, tree: TreeId, key: &[u8]) -> Result<()> {
        self.tree(tree).remove(key).map_err(|e| self.err(e))?;
        Ok(())
    }

    fn scan(&self, tree: TreeId, prefix: &[u8], f: &mut ScanFn<'_>) -> Result<()> {
        for item in self.tree(tree).scan_prefix(prefix) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            if !f(&k, &v)? {
                break;
            }
        }
        Ok(())
    }

    fn transact<T>(&self, f: impl Fn(&dyn TxView) -> TxResult<T>) -> Result<T> {
        let r = self
            .trees
            .as_slice()
            .transaction(|view: &Vec<TransactionalTree>| {
                f(&SledTx(view)).map_err(|e| match e {
                    TxError::Abort(e) => ConflictableTransactionError::Abort(e),
                    TxError::Sled(u) => u.into(),
                })
            });
        match r {
            Ok(v) => Ok(v),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(self.err(e)),
        }
    }

    fn flush(&self) -> Result<()> {
        self.db.flush().map_err(|e| self.err(e))?;
        Ok(())
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

// ---------------------------------------------------------------------------------------------
// memory

type Maps = Vec<BTreeMap<Vec<u8>, Vec<u8>>>;
/// Staged writes per tree (`None` = removal).
type Staged = Vec<BTreeMap<Vec<u8>, Option<Vec<u8>>>>;

pub(crate) struct MemEngine {
    maps: RwLock<Maps>,
    path: PathBuf,
}

impl MemEngine {
    pub(crate) fn new() -> Self {
        Self {
            maps: RwLock::new(vec![BTreeMap::new(); TreeId::ALL.len()]),
            path: PathBuf::new(),
        }
    }
}

/// Staged writes of an in-memory transaction (`None` = removal), applied on success.
struct MemTx<'a> {
    base: &'a Maps,
    staged: std::cell::RefCell<Staged>,
}

impl TxView for MemTx<'_> {
    fn get(&self, tree: TreeId, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        if let Some(v) = self.staged.borrow()[tree.index()].get(key) {
            return Ok(v.clone());
        }
        Ok(self.base[tree.index()].get(key).cloned())
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> TxResult<()> {
        self.staged.borrow_mut()[tree.index()].insert(key.to_vec(), Some(value));
        Ok(())
    }

    fn remove(&self, tree: TreeId, key: &[u8]) -> TxResult<()> {
        self.staged.borrow_mut()[tree.index()].insert(key.to_vec(), None);
        Ok(())
    }
}

impl Engine for MemEngine {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let maps = self.maps.read().unwrap_or_else(PoisonError::into_inner);
        Ok(maps[tree.index()].get(key).cloned())
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> Result<()> {
        let mut maps = self.maps.write().unwrap_or_else(PoisonError::into_inner);
        maps[tree.index()].insert(key.to_vec(), value);
        Ok(())
    }

    fn remove(&self, tree: TreeId, key: &[u8]) -> Result<()> {
        let mut maps = self.maps.write().unwrap_or_else(PoisonError::into_inner);
        maps[tree.index()].remove(key);
        Ok(())
    }

    fn scan(&self, tree: TreeId, prefix: &[u8], f: &mut ScanFn<'_>) -> Result<()> {
        let maps = self.maps.read().unwrap_or_else(PoisonError::into_inner);
        for (k, v) in maps[tree.index()].range(prefix.to_vec()..) {
            if !k.starts_with(prefix) || !f(k, v)? {
                break;
            }
        }
        Ok(())
    }

    fn transact<T>(&self, f: impl Fn(&dyn TxView) -> TxResult<T>) -> Result<T> {
        // Holding the write lock for the whole closure makes transactions serializable; there is
        // never a conflict to retry.
        let mut maps = self.maps.write().unwrap_or_else(PoisonError::into_inner);
        let tx = MemTx {
            base: &maps,
            staged: std::cell::RefCell::new(vec![BTreeMap::new(); TreeId::ALL.len()]),
        };
        let out = match f(&tx) {
            Ok(v) => v,
            Err(TxError::Abort(e)) => return Err(e),
            Err(TxError::Sled(_)) => {
                return Err(Error::Engine(sled::Error::ReportableBug(
                    "sled transaction error inside the memory engine".into(),
                )))
            }
        };
        let staged = tx.staged.into_inner();
        for (i, writes) in staged.into_iter().enumerate() {
            for (k, v) in writes {
                match v {
                    Some(v) => maps[i].insert(k, v),
                    None => maps[i].remove(&k),
                };
            }
        }
        Ok(out)
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

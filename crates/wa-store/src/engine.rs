//! The key-value engines under the store logic: sled on disk, and ordered maps in memory.
//!
//! Both give the same small interface (point reads and writes, prefix scans, serializable
//! multi-tree transactions, flush), so the record logic in `core/` is written once and the
//! conformance suite exercises the same code paths on both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

use crate::error::{Error, Result};
use crate::keys::TreeId;

use crate::durable::DurableWait;

/// Why a transaction closure stopped (the write set is then discarded).
pub(crate) enum TxError {
    Abort(Error),
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::Abort(e)
    }
}

pub(crate) type TxResult<T> = std::result::Result<T, TxError>;

/// Reads and writes inside a transaction. Reads see the transaction's own writes.
pub(crate) trait TxView {
    fn get(&self, tree: TreeId, key: &[u8]) -> TxResult<Option<Vec<u8>>>;
    fn insert(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> TxResult<()>;
    /// Inserts a key the caller knows to be absent (derived from a key this transaction read
    /// as absent, e.g. the due-index key of a new outbox entry). Same result as `insert`; an
    /// engine may use the knowledge to skip work when the key is removed again soon.
    fn insert_new(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> TxResult<()> {
        self.insert(tree, key, value)
    }
    fn remove(&self, tree: TreeId, key: &[u8]) -> TxResult<()>;
}

/// Callback for scans: gets key and value, returns whether to go on.
pub(crate) type ScanFn<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'a;

/// An engine's live reads as a [`ReadView`] (each read sees the newest state).
pub(crate) struct Live<'a, E>(pub(crate) &'a E);

impl<E: Engine> ReadView for Live<'_, E> {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.0.get(tree, key)
    }

    fn scan(&self, tree: TreeId, prefix: &[u8], f: &mut ScanFn<'_>) -> Result<()> {
        self.0.scan(tree, prefix, f)
    }
}

/// Reads of one consistent point in time (see [`Engine::consistent`]).
pub(crate) trait ReadView {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Visits the entries whose key starts with `prefix`, in key order.
    fn scan(&self, tree: TreeId, prefix: &[u8], f: &mut ScanFn<'_>) -> Result<()>;
}

pub(crate) trait Engine: Send + Sync + 'static {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>>;
    fn insert(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> Result<()>;
    fn remove(&self, tree: TreeId, key: &[u8]) -> Result<()>;
    /// Visits the entries whose key starts with `prefix`, in key order.
    fn scan(&self, tree: TreeId, prefix: &[u8], f: &mut ScanFn<'_>) -> Result<()>;
    /// Runs `f` atomically (and serializably) over all trees. `f` must have no side effects
    /// besides its reads and writes through the view: an engine may run it more than once.
    fn transact<T>(&self, f: impl Fn(&dyn TxView) -> TxResult<T>) -> Result<T>;
    /// [`transact`](Engine::transact), naming keys the closure will read that probably live on
    /// disk: an engine may read them before taking its write lock (and re-check them under it),
    /// so a slow disk read does not hold up every other writer.
    fn transact_prefetch<T>(
        &self,
        prefetch: &[(TreeId, &[u8])],
        f: impl Fn(&dyn TxView) -> TxResult<T>,
    ) -> Result<T> {
        let _ = prefetch;
        self.transact(f)
    }
    /// Runs `f` over a view of the store as it was when `consistent` was called: writes that
    /// complete meanwhile are not visible to it (export and check of a live store). Writers
    /// are not blocked, unless the view outlives a large amount of writing (memory bound).
    fn consistent<T>(&self, f: impl FnOnce(&dyn ReadView) -> Result<T>) -> Result<T>;
    /// Makes every completed write durable.
    fn flush(&self) -> Result<()>;
    /// A wait on the durability of every completed write.
    fn durable(&self) -> DurableWait;
    /// A patient [`durable`](Self::durable) wait: it asks for no sync of its own for
    /// `patience` (default: an ordinary wait).
    fn durable_within(&self, patience: std::time::Duration) -> DurableWait {
        let _ = patience;
        self.durable()
    }
    /// The data directory, for error messages (empty in memory).
    fn path(&self) -> &Path;
}

// ---------------------------------------------------------------------------------------------
// memory

type Maps = Vec<BTreeMap<Vec<u8>, Vec<u8>>>;
/// Staged writes per tree (`None` = removal).
type Staged = Vec<BTreeMap<Vec<u8>, Option<Vec<u8>>>>;

/// Ordered maps in memory (the engine of [`MemStore`](crate::MemStore)).
pub struct MemEngine {
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

/// A read view over the maps (under their read lock).
struct MemView<'a>(&'a Maps);

impl ReadView for MemView<'_> {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.0[tree.index()].get(key).cloned())
    }

    fn scan(&self, tree: TreeId, prefix: &[u8], f: &mut ScanFn<'_>) -> Result<()> {
        for (k, v) in self.0[tree.index()].range(prefix.to_vec()..) {
            if !k.starts_with(prefix) || !f(k, v)? {
                break;
            }
        }
        Ok(())
    }
}

impl Engine for MemEngine {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let maps = self.maps.read().unwrap_or_else(PoisonError::into_inner);
        MemView(&maps).get(tree, key)
    }

    fn consistent<T>(&self, f: impl FnOnce(&dyn ReadView) -> Result<T>) -> Result<T> {
        let maps = self.maps.read().unwrap_or_else(PoisonError::into_inner);
        f(&MemView(&maps))
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
        MemView(&maps).scan(tree, prefix, f)
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

    fn durable(&self) -> DurableWait {
        DurableWait::ready()
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

//! Reads and writes over the overlays and sled: the transaction view, the consistent snapshot,
//! and the merged prefix scan.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Bound;

use crate::engine::{ReadView, ScanFn, TxResult, TxView};
use crate::error::Result;
use crate::keys::TreeId;

use super::shared::Shared;
use super::state::{lock, Overlay, Pending, State};

/// A transaction over the overlay and sled, run under the state mutex.
pub(super) struct LoggedTx<'a> {
    pub(super) state: &'a State,
    pub(super) shared: &'a Shared,
    pub(super) staged: RefCell<Overlay>,
    /// Keys this transaction read and found absent below the active overlay.
    pub(super) absent: RefCell<Vec<(TreeId, Vec<u8>)>>,
    /// sled values read before the lock, valid while `released` still equals the generation.
    pub(super) prefetched: Vec<Prefetched<'a>>,
}

/// A sled value read before the write lock: tree, key, value.
pub(super) type Prefetched<'a> = (TreeId, &'a [u8], Option<Vec<u8>>);

impl LoggedTx<'_> {
    pub(super) fn stage(&self, tree: TreeId, key: &[u8], value: Option<Vec<u8>>, fresh: bool) {
        let fresh = fresh
            || self
                .absent
                .borrow()
                .iter()
                .any(|(t, k)| *t == tree && k.as_slice() == key);
        self.staged.borrow_mut()[tree.index()].insert(key.to_vec(), Pending { value, fresh });
    }
}

impl TxView for LoggedTx<'_> {
    fn get(&self, tree: TreeId, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        if let Some(p) = self.staged.borrow()[tree.index()].get(key) {
            return Ok(p.value.clone());
        }
        if let Some(p) = self.state.active[tree.index()].get(key) {
            return Ok(p.value.clone());
        }
        let below = match self.state.lookup(tree, key) {
            Some(v) => v.clone(),
            None => match self
                .prefetched
                .iter()
                .find(|(t, k, _)| *t == tree && *k == key)
            {
                Some((_, _, v)) => v.clone(),
                None => self.shared.sled_get(tree, key)?,
            },
        };
        if below.is_none() {
            self.absent.borrow_mut().push((tree, key.to_vec()));
        }
        Ok(below)
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> TxResult<()> {
        self.stage(tree, key, Some(value), false);
        Ok(())
    }

    fn insert_new(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> TxResult<()> {
        self.stage(tree, key, Some(value), true);
        Ok(())
    }

    fn remove(&self, tree: TreeId, key: &[u8]) -> TxResult<()> {
        self.stage(tree, key, None, false);
        Ok(())
    }
}

pub(super) fn next_entry(
    it: &mut sled::Iter,
    sh: &Shared,
) -> Result<Option<(sled::IVec, sled::IVec)>> {
    it.next().transpose().map_err(|e| sh.err(e))
}

/// Releases a consistent view's pin (and lets a waiting checkpoint go on).
pub(super) struct Unpin<'a>(pub(super) &'a Shared);

impl Drop for Unpin<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).pinned -= 1;
        self.0.progress.notify_all();
    }
}

/// A consistent view: the overlays as they were when it was taken, over sled (which the
/// checkpointer leaves alone meanwhile, apart from values this copy already holds).
pub(super) struct Snapshot<'a> {
    pub(super) shared: &'a Shared,
    pub(super) pending: Vec<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl ReadView for Snapshot<'_> {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.pending[tree.index()].get(key) {
            Some(v) => Ok(v.clone()),
            None => self.shared.sled_get(tree, key),
        }
    }

    fn scan(&self, tree: TreeId, prefix: &[u8], f: &mut ScanFn<'_>) -> Result<()> {
        let range = (Bound::Included(prefix), Bound::Unbounded);
        let pending = self.pending[tree.index()]
            .range::<[u8], _>(range)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()));
        merged_scan(self.shared, tree, prefix, pending, f)
    }
}

/// Merges pending entries (ascending, `None` = removed) with sled's entries under `prefix`;
/// pending wins on equal keys. No lock is held while `f` runs.
pub(super) fn merged_scan(
    sh: &Shared,
    tree: TreeId,
    prefix: &[u8],
    mut pending: impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)>,
    f: &mut ScanFn<'_>,
) -> Result<()> {
    let i = tree.index();
    let mut it = sh.trees[i].scan_prefix(prefix);
    let mut on_disk = next_entry(&mut it, sh)?;
    let mut next_pending = pending.next();
    loop {
        let from_pending = match (&on_disk, &next_pending) {
            (None, None) => return Ok(()),
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some((dk, _)), Some((pk, _))) => pk.as_slice() <= dk.as_ref(),
        };
        if from_pending {
            let Some((k, v)) = next_pending.take() else {
                return Ok(());
            };
            next_pending = pending.next();
            if on_disk
                .as_ref()
                .is_some_and(|(dk, _)| dk.as_ref() == k.as_slice())
            {
                on_disk = next_entry(&mut it, sh)?;
            }
            if let Some(v) = v {
                if !f(&k, &v)? {
                    return Ok(());
                }
            }
        } else {
            let Some((k, v)) = on_disk.take() else {
                return Ok(());
            };
            on_disk = next_entry(&mut it, sh)?;
            if !f(&k, &v)? {
                return Ok(());
            }
        }
    }
}

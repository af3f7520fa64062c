//! The in-memory side of the log: pending writes (overlays), the log buffer, and committing a
//! write set into both.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::keys::TreeId;
use crate::wal;

/// A pending write: the new value (`None` = removal), and whether the key is known to be absent
/// *below* the overlay holding it (in the frozen overlay and sled). Removing a fresh key just
/// drops the entry: an outbox entry created and acknowledged, or a due-index key inserted and
/// removed, within one checkpoint interval never costs sled anything.
#[derive(Clone, Debug)]
pub(super) struct Pending {
    pub(super) value: Option<Vec<u8>>,
    pub(super) fresh: bool,
}

/// Pending writes per tree.
pub(super) type Overlay = Vec<BTreeMap<Vec<u8>, Pending>>;

pub(super) fn empty_overlay() -> Overlay {
    vec![BTreeMap::new(); TreeId::ALL.len()]
}

/// Active-overlay size (approximate bytes) that triggers a checkpoint.
pub(super) const CHECKPOINT_BYTES: usize = 16 << 20;
/// Log bytes since the last rotation that trigger a checkpoint.
pub(super) const CHECKPOINT_LOG_BYTES: usize = 64 << 20;
/// Active-overlay size at which writers wait for the running checkpoint (memory bound).
pub(super) const STALL_BYTES: usize = 64 << 20;
/// Rough per-entry bookkeeping cost of an overlay entry.
pub(super) const ENTRY_OVERHEAD: usize = 64;

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(g).unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
pub(super) struct Log {
    /// Encoded records not yet taken by the log writer.
    pub(super) buf: Vec<u8>,
    /// Sequence number of the last record appended to `buf`.
    pub(super) appended: u64,
    /// Bytes appended since the last rotation.
    pub(super) since_rotation: usize,
}

pub(super) struct State {
    pub(super) active: Overlay,
    pub(super) active_bytes: usize,
    /// The overlay being checkpointed into sled, and the segment that holds its records.
    pub(super) frozen: Option<(Arc<Overlay>, u64)>,
    pub(super) log: Log,
    pub(super) stop: bool,
    pub(super) checkpoint_wanted: bool,
    pub(super) checkpoint_failing: bool,
    /// Consistent views open: the checkpointer does not change sled while there are any.
    pub(super) pinned: usize,
}

pub(super) type Frozen = Option<(Arc<Overlay>, u64)>;

impl State {
    pub(super) fn lookup(&self, tree: TreeId, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        let i = tree.index();
        self.active[i]
            .get(key)
            .or_else(|| self.frozen.as_ref().and_then(|(f, _)| f[i].get(key)))
            .map(|p| &p.value)
    }

    /// Appends the write set to the log buffer and the active overlay (under the mutex: log order
    /// is commit order). Returns whether a checkpoint should be started.
    pub(super) fn commit(&mut self, staged: Overlay) -> bool {
        if staged.iter().all(BTreeMap::is_empty) {
            return false;
        }
        let seq = self.log.appended + 1;
        let before = self.log.buf.len();
        let active = &self.active;
        let ops = TreeId::ALL.iter().zip(&staged).flat_map(|(t, m)| {
            let current = &active[t.index()];
            m.iter().map(move |(k, p)| {
                let old = current.get(k).and_then(|c| c.value.as_deref());
                let write = match (&p.value, old) {
                    (None, _) => wal::Write::Remove,
                    (Some(new), Some(old)) => wal::Patch::between(old, new)
                        .map_or(wal::Write::Put(new), wal::Write::Patch),
                    (Some(new), _) => wal::Write::Put(new),
                };
                (*t, k.as_slice(), write)
            })
        });
        wal::encode_record(&mut self.log.buf, seq, ops);
        self.log.since_rotation += self.log.buf.len() - before;
        self.log.appended = seq;
        let size = |key_len: usize, v: &Option<Vec<u8>>| {
            key_len + v.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD
        };
        for (map, writes) in self.active.iter_mut().zip(staged) {
            for (k, p) in writes {
                // What lies below the active overlay does not change while the key stays in it.
                let fresh = map.get(&k).map_or(p.fresh, |e| e.fresh);
                let key_len = k.len();
                let replaced = if p.value.is_none() && fresh {
                    map.remove(&k)
                } else {
                    self.active_bytes += size(key_len, &p.value);
                    map.insert(
                        k,
                        Pending {
                            value: p.value,
                            fresh,
                        },
                    )
                };
                if let Some(o) = replaced {
                    self.active_bytes = self.active_bytes.saturating_sub(size(key_len, &o.value));
                }
            }
        }
        !self.checkpoint_wanted
            && (self.active_bytes >= CHECKPOINT_BYTES
                || self.log.since_rotation >= CHECKPOINT_LOG_BYTES)
    }
}

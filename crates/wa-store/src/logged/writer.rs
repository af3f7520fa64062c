//! The log writer thread: appends everyone's pending records, syncs once (group commit), and
//! rotates the segment when the checkpointer asks.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::wal;

use super::shared::{Rotation, Shared};
use super::state::{empty_overlay, lock, wait, Frozen};

/// The segment being appended to, owned by the log writer thread.
pub(super) struct Segment {
    pub(super) file: File,
    pub(super) number: u64,
}

impl Shared {
    /// Whether some waiter needs records that are not durable yet.
    pub(super) fn sync_wanted(&self) -> bool {
        self.requested.load(Ordering::SeqCst) > self.synced.load(Ordering::SeqCst)
            && self.failed.get().is_none()
    }

    pub(super) fn run_writer(&self, mut seg: Segment) {
        let mut spare = Vec::new();
        let mut last_end = None;
        loop {
            let rotate = {
                let mut ctl = lock(&self.writer);
                loop {
                    if matches!(ctl.rotation, Rotation::Wanted) {
                        ctl.rotation = Rotation::Running;
                        break true;
                    }
                    if self.sync_wanted() {
                        break false;
                    }
                    if self.patient_due().is_some_and(|d| d <= Instant::now()) {
                        let all = self.appended.load(Ordering::SeqCst);
                        self.requested.fetch_max(all, Ordering::SeqCst);
                        continue;
                    }
                    if ctl.stop {
                        return;
                    }
                    self.writer_idle.store(true, Ordering::SeqCst);
                    if !self.sync_wanted() {
                        ctl = match self.patient_due() {
                            Some(due) => {
                                let left = due.saturating_duration_since(Instant::now());
                                self.writer_cv
                                    .wait_timeout(ctl, left)
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .0
                            }
                            None => wait(&self.writer_cv, ctl),
                        };
                    }
                    self.writer_idle.store(false, Ordering::SeqCst);
                }
            };
            if rotate {
                let r = self.rotate_now(&mut seg);
                lock(&self.writer).rotation = Rotation::Done(r);
                self.rotated.notify_all();
            } else {
                self.gather(last_end);
                self.sync_once(&mut seg, &mut spare);
                last_end = Some(Instant::now());
            }
        }
    }

    /// The earliest deadline of a patient waiter that no sync has covered yet (the covered
    /// ones are dropped); none once the log failed (every waiter has its answer then).
    fn patient_due(&self) -> Option<Instant> {
        if self.failed.get().is_some() {
            return None;
        }
        let synced = self.synced.load(Ordering::Acquire);
        let mut patient = lock(&self.patient);
        patient.retain(|(target, _)| *target > synced);
        patient.iter().map(|(_, due)| *due).min()
    }

    /// Group commit under load: a sync wanted less than `window` after the previous one ended
    /// starts `window` after it, so the records committed meanwhile share it. A sync wanted
    /// later (light load) starts at once. Bounded: no record waits more than `window` longer.
    fn gather(&self, last_end: Option<Instant>) {
        if self.window.is_zero() {
            return;
        }
        if let Some(start) = last_end.map(|end| end + self.window) {
            let now = Instant::now();
            if start > now {
                std::thread::sleep(start - now);
            }
        }
    }

    /// Appends every pending record to the segment and syncs it once (group commit).
    pub(super) fn sync_once(&self, seg: &mut Segment, spare: &mut Vec<u8>) {
        let (mut buf, upto) = {
            let mut st = lock(&self.state);
            let buf = std::mem::replace(&mut st.log.buf, std::mem::take(spare));
            (buf, st.log.appended)
        };
        let r = (&seg.file)
            .write_all(&buf)
            .and_then(|()| seg.file.sync_data());
        self.syncs.fetch_add(1, Ordering::Relaxed);
        match r {
            Ok(()) => self.publish(upto),
            Err(source) => {
                self.fail(Error::Io {
                    path: wal::segment_path(&self.path, seg.number),
                    source,
                });
            }
        }
        buf.clear();
        *spare = buf;
    }

    /// Cuts the log (run by the log writer): the active overlay becomes the frozen one, the old
    /// segment is completed and synced, and a new segment takes further records. Returns the
    /// frozen overlay and the number of the segment holding it, or `None` when there is nothing
    /// to checkpoint.
    pub(super) fn rotate_now(&self, seg: &mut Segment) -> Result<Frozen> {
        let mut st = lock(&self.state);
        if let Some(f) = &st.frozen {
            // A previous checkpoint failed after rotating: finish that one first.
            return Ok(Some(f.clone()));
        }
        if let Some(cause) = self.failed.get() {
            return Err(self.failed_err(cause));
        }
        // Records whose writes all cancelled out (a fresh key created and removed) leave the
        // overlay empty but still fill the segment: those rotate too.
        if st.active.iter().all(BTreeMap::is_empty) && st.log.since_rotation == 0 {
            return Ok(None);
        }
        let frozen = Arc::new(std::mem::replace(&mut st.active, empty_overlay()));
        st.active_bytes = 0;
        let buf = std::mem::take(&mut st.log.buf);
        let upto = st.log.appended;
        st.log.since_rotation = 0;
        let old = seg.number;
        st.frozen = Some((frozen.clone(), old));
        drop(st);
        self.syncs.fetch_add(1, Ordering::Relaxed);
        let r = (&seg.file)
            .write_all(&buf)
            .and_then(|()| seg.file.sync_data())
            .map_err(|source| Error::Io {
                path: wal::segment_path(&self.path, old),
                source,
            })
            .and_then(|()| wal::create_segment(&self.path, old + 1));
        match r {
            Ok(file) => {
                *seg = Segment {
                    file,
                    number: old + 1,
                };
                self.publish(upto);
                Ok(Some((frozen, old)))
            }
            Err(e) => {
                let cause = self.fail(e);
                Err(self.failed_err(&cause))
            }
        }
    }
}

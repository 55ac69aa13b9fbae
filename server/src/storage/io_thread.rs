//! The IO thread: runs the group commit's operations (pwrite, fdatasync,
//! segment creation and deletion) on the segment files, one at a time,
//! blocking, off the event loop.

use spool_core::handoff::Handoff;

use crate::clock;
use crate::storage::backend::Storage;
use crate::storage::files::SegmentFiles;

/// An IO thread: runs operations until the log closes or fails. The
/// appenders a completion made durable are woken once the next operation's
/// write is issued, so waking them overlaps the device's sync.
pub fn io_thread<S: Storage>(io: &Handoff, files: &SegmentFiles<S>) {
    let mut next = io.next_op(&clock::now);
    let mut owed = None;
    while let Some(op) = next {
        let result = files.execute(&op, || drop(owed.take()));
        let (more, wakeups) = io.complete(clock::now(), op, result);
        owed = Some(wakeups);
        if more.is_none() {
            drop(owed.take());
        }
        next = more.or_else(|| io.next_op(&clock::now));
    }
}

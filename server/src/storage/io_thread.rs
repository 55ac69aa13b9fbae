//! The IO thread: runs the group commit's operations (pwrite, fdatasync,
//! segment creation and deletion) on the segment files, one at a time,
//! blocking, off the event loop.

use spool_core::commit::IoOp;
use spool_core::handoff::Handoff;

use crate::clock;
use crate::metrics::LogMetrics;
use crate::storage::backend::Storage;
use crate::storage::files::SegmentFiles;

/// An IO thread: runs operations until the log closes or fails. The
/// appenders a completion made durable are woken once the next operation's
/// write is issued, so waking them overlaps the device's sync.
pub fn io_thread<S: Storage>(io: &Handoff, files: &SegmentFiles<S>, metrics: Option<&LogMetrics>) {
    let mut next = io.next_op(&clock::now);
    let mut owed = None;
    while let Some(op) = next {
        let started = std::time::Instant::now();
        let result = files.execute(&op, || drop(owed.take()));
        if let (Some(m), IoOp::Append { first, last, .. }, Ok(())) = (metrics, &op, &result) {
            m.commit_seconds.observe(started.elapsed().as_secs_f64());
            m.commit_records.observe((last.0 - first.0 + 1) as f64);
        }
        let (more, wakeups) = io.complete(clock::now(), op, result);
        owed = Some(wakeups);
        if more.is_none() {
            drop(owed.take());
        }
        next = more.or_else(|| io.next_op(&clock::now));
    }
}

//! Running the group commit's operations (pwrite, fdatasync, segment
//! creation and deletion) on the segment files, blocking, off the event
//! loop: by the IO thread, or by a blocking appender that found the log
//! idle and leads (see [`spool_core::handoff::Handoff::append_lead`]).

use spool_core::commit::{IoError, IoOp};
use spool_core::handoff::{Handoff, Wakeups};

use crate::clock;
use crate::metrics::LogMetrics;
use crate::storage::backend::Storage;
use crate::storage::files::SegmentFiles;

/// An IO thread: runs operations until the log closes or fails.
pub fn io_thread<S: Storage>(io: &Handoff, files: &SegmentFiles<S>, metrics: Option<&LogMetrics>) {
    while let Some(op) = io.next_op(&clock::now) {
        run_ops(files, metrics, op, |op, result| {
            io.complete(clock::now(), op, result)
        });
    }
}

/// Runs `op`, reports it with `complete`, and runs the next operation
/// `complete` hands back, until it hands back none. The appenders a
/// completion made durable are woken once the next operation's write is
/// issued, so waking them overlaps the device's sync.
pub fn run_ops<'h, S: Storage>(
    files: &SegmentFiles<S>,
    metrics: Option<&LogMetrics>,
    mut op: IoOp,
    mut complete: impl FnMut(IoOp, Result<(), IoError>) -> (Option<IoOp>, Wakeups<'h>),
) {
    let mut owed: Option<Wakeups<'h>> = None;
    loop {
        let started = std::time::Instant::now();
        let result = files.execute(&op, || drop(owed.take()));
        if let (Some(m), IoOp::Append { first, last, .. }, Ok(())) = (metrics, &op, &result) {
            m.commit_seconds.observe(started.elapsed().as_secs_f64());
            m.commit_records.observe((last.0 - first.0 + 1) as f64);
        }
        let (more, wakeups) = complete(op, result);
        match more {
            Some(next) => {
                owed = Some(wakeups);
                op = next;
            }
            None => return wakeups.wake(),
        }
    }
}

//! The embeddable log: a blocking, thread-safe API over the same driver the
//! daemon uses (recovery, group commit, IO thread), without HTTP.
//!
//! ```no_run
//! let log = spool_server::Log::open("./my-log".as_ref()).unwrap();
//! let id = log.append(b"any bytes").unwrap(); // returns once fdatasync'ed
//! # let _ = id;
//! ```
//!
//! Guarantees: `append` returns `Ok(id)` only after the record's bytes were
//! written and `fdatasync` returned success; any number of threads may call
//! it at once, and concurrent calls share fsyncs. After a failed write or
//! sync every later call fails; the failure is never retried.

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use spool_core::commit::{CommitConfig, GroupCommit};
use spool_core::handoff::{AppendError, Handoff, Notify};
use spool_core::record::Lsn;

use crate::storage::files::SegmentFiles;
use crate::storage::recovery::{recover, DirLock, OpenError, Recovered};

/// Wall-clock nanoseconds since the Unix epoch (the clock the core is fed).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// An IO thread: runs operations until the log closes or fails. The
/// appenders a completion made durable are woken once the next operation's
/// write is issued, so waking them overlaps the device's sync.
fn io_thread(io: &Handoff, files: &SegmentFiles) {
    let mut next = io.next_op(&now_ns);
    let mut owed = None;
    while let Some(op) = next {
        let result = files.execute(&op, || drop(owed.take()));
        let (more, wakeups) = io.complete(now_ns(), op, result);
        owed = Some(wakeups);
        if more.is_none() {
            drop(owed.take());
        }
        next = more.or_else(|| io.next_op(&now_ns));
    }
}

/// An open, writable log directory.
pub struct Log {
    handoff: Arc<Handoff>,
    io_threads: Vec<JoinHandle<()>>,
    recovered: Recovered,
    _lock: DirLock,
}

impl Log {
    /// Opens (creating if needed) the log in `dir` with default limits.
    pub fn open(dir: &Path) -> Result<Log, OpenError> {
        Log::open_with(dir, CommitConfig::default(), false, None)
    }

    /// Opens with explicit limits. With `keep_events`, the group commit's
    /// events are kept for [`Handoff::take_events`] and `notify` runs after
    /// each completion (the daemon's event loop uses both).
    pub fn open_with(
        dir: &Path,
        cfg: CommitConfig,
        keep_events: bool,
        notify: Option<Notify>,
    ) -> Result<Log, OpenError> {
        let lock = DirLock::acquire(dir)?;
        let recovered = recover(dir, true)?;
        let commit = GroupCommit::new(cfg, recovered.state.clone(), now_ns());
        let handoff = Arc::new(Handoff::new(commit, keep_events, notify));
        let files =
            Arc::new(SegmentFiles::new(dir).map_err(|e| OpenError::Io(dir.to_path_buf(), e))?);
        let mut io_threads = Vec::new();
        for i in 0..spool_core::commit::MAX_IN_FLIGHT {
            let (io, files) = (handoff.clone(), files.clone());
            let thread = std::thread::Builder::new()
                .name(format!("spool-io-{i}"))
                .spawn(move || io_thread(&io, &files))
                .map_err(|e| OpenError::Io(dir.to_path_buf(), e))?;
            io_threads.push(thread);
        }
        Ok(Log {
            handoff,
            io_threads,
            recovered,
            _lock: lock,
        })
    }

    /// Appends one record and returns its id once it is durable.
    pub fn append(&self, payload: &[u8]) -> Result<Lsn, AppendError> {
        self.append_batch([payload]).map(|(_, last)| last)
    }

    /// Appends several records, all or none, returning the first and last
    /// ids once all are durable. Waits while the write queue is full.
    pub fn append_batch<'p, I>(&self, payloads: I) -> Result<(Lsn, Lsn), AppendError>
    where
        I: IntoIterator<Item = &'p [u8]>,
        I::IntoIter: Clone,
    {
        let (first, last) = self.handoff.submit_blocking(now_ns(), payloads)?;
        self.handoff.wait_durable(first, last)?;
        Ok((first, last))
    }

    /// The shared state machine (for stats and event loops).
    pub fn handoff(&self) -> &Arc<Handoff> {
        &self.handoff
    }

    /// What recovery found when the log was opened.
    pub fn recovered(&self) -> &Recovered {
        &self.recovered
    }

    /// Stops accepting records, lets the IO thread finish everything queued,
    /// and waits for it.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.handoff.close();
        for t in self.io_threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.shutdown();
    }
}

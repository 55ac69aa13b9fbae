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

/// An open, writable log directory.
pub struct Log {
    handoff: Arc<Handoff>,
    io_thread: Option<JoinHandle<()>>,
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
        let mut files = SegmentFiles::new(dir).map_err(|e| OpenError::Io(dir.to_path_buf(), e))?;
        let io = handoff.clone();
        let io_thread = std::thread::Builder::new()
            .name("spool-io".into())
            .spawn(move || {
                while let Some(op) = io.next_op(&now_ns) {
                    let result = files.execute(&op);
                    io.complete(now_ns(), op, result);
                }
            })
            .map_err(|e| OpenError::Io(dir.to_path_buf(), e))?;
        Ok(Log {
            handoff,
            io_thread: Some(io_thread),
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
        if let Some(t) = self.io_thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.shutdown();
    }
}

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
//! sync every later call fails; the failure is never retried. Ids are
//! consecutive and never given twice: opening refuses a log that lost its
//! newest segments or acknowledged records (see [`spool_core::mark`]) unless
//! told to accept the loss, and `close` records a clean shutdown so that
//! damage found at the next open is not mistaken for a torn write.

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use spool_core::commit::{CommitConfig, GroupCommit};
use spool_core::handoff::{AppendError, Handoff, Notify};
use spool_core::record::Lsn;

use crate::clock;
use crate::storage::backend::OsStorage;
use crate::storage::files::SegmentFiles;
use crate::storage::io_thread::{io_thread, run_ops};
use crate::storage::recovery::{fit_empty_segments, recover, DirLock, OpenError, Recovered};

/// How to open a log.
#[derive(Default)]
pub struct LogOptions {
    /// Limits, rotation and retention.
    pub commit: CommitConfig,
    /// Keep the group commit's events for [`Handoff::take_events`] (an
    /// event loop does).
    pub keep_events: bool,
    /// Runs after each completion that produced events.
    pub notify: Option<Notify>,
    /// Open a log that falls short of its mark anyway (see
    /// [`crate::storage::recovery::recover`]).
    pub accept_data_loss: bool,
    /// Where the IO threads record each append's latency and size.
    pub metrics: Option<Arc<crate::metrics::LogMetrics>>,
}

/// An open, writable log directory.
pub struct Log {
    dir: std::path::PathBuf,
    handoff: Arc<Handoff>,
    io_threads: Vec<JoinHandle<()>>,
    recovered: Recovered,
    files: Arc<SegmentFiles<OsStorage>>,
    metrics: Option<Arc<crate::metrics::LogMetrics>>,
    _lock: DirLock,
}

impl Log {
    /// Opens (creating if needed) the log in `dir` with default limits.
    pub fn open(dir: &Path) -> Result<Log, OpenError> {
        Log::open_with(dir, LogOptions::default())
    }

    /// Opens with explicit options.
    pub fn open_with(dir: &Path, opts: LogOptions) -> Result<Log, OpenError> {
        let lock = DirLock::acquire(dir)?;
        let scanned = OsStorage::new(dir);
        let mut recovered = recover(&scanned, true, opts.accept_data_loss)?;
        fit_empty_segments(&scanned, &mut recovered.state, &opts.commit)?;
        let commit = GroupCommit::new(opts.commit, recovered.state.clone(), clock::now());
        let storage = OsStorage::open(dir).map_err(|e| OpenError::Io(dir.to_path_buf(), e))?;
        let files = Arc::new(SegmentFiles::new(storage));
        // Before anything is written: the mark no longer says "clean", and
        // bounds the ids this run gives out before its next segment.
        files.write_mark(&commit.open_mark()).map_err(|e| {
            OpenError::Io(
                dir.join(crate::storage::files::MARK_FILE),
                std::io::Error::other(format!("writing the log mark: {e}")),
            )
        })?;
        let handoff = Arc::new(Handoff::new(commit, opts.keep_events, opts.notify));
        let mut io_threads = Vec::new();
        for i in 0..spool_core::commit::MAX_IN_FLIGHT {
            let (io, files, metrics) = (handoff.clone(), files.clone(), opts.metrics.clone());
            let thread = std::thread::Builder::new()
                .name(format!("spool-io-{i}"))
                .spawn(move || io_thread(&io, &files, metrics.as_deref()))
                .map_err(|e| OpenError::Io(dir.to_path_buf(), e))?;
            io_threads.push(thread);
        }
        Ok(Log {
            dir: dir.to_path_buf(),
            handoff,
            io_threads,
            recovered,
            files,
            metrics: opts.metrics,
            _lock: lock,
        })
    }

    /// Appends one record and returns its id once it is durable.
    pub fn append(&self, payload: &[u8]) -> Result<Lsn, AppendError> {
        self.append_batch([payload]).map(|(_, last)| last)
    }

    /// Appends several records, all or none, returning the first and last
    /// ids once all are durable. Waits while the write queue is full.
    ///
    /// When nothing is being written, the calling thread writes and syncs
    /// its records itself (it leads: [`Handoff::append_lead`]) rather than
    /// waking the IO thread and sleeping; otherwise its records join the
    /// next group commit.
    pub fn append_batch<'p, I>(&self, payloads: I) -> Result<(Lsn, Lsn), AppendError>
    where
        I: IntoIterator<Item = &'p [u8]>,
        I::IntoIter: Clone,
    {
        let (ticket, op) = self.handoff.append_lead(clock::now(), payloads)?;
        if let Some(op) = op {
            let handoff = &self.handoff;
            let mut lead = spool_core::handoff::Lead::new(ticket);
            run_ops(&self.files, self.metrics.as_deref(), op, |op, result| {
                handoff.complete_lead(clock::now(), op, result, &mut lead)
            });
            self.handoff.wait_durable(ticket)?;
        }
        Ok((ticket.first, ticket.last))
    }

    /// Appends one log entry (timestamp, level, service, message,
    /// metadata) in the daemon's record format, so readers can seek it by
    /// time and `spool cat` prints it; returns its id once durable. An
    /// entry whose service name is over 65,535 bytes (or another field over
    /// 4 GiB) cannot be encoded and is refused as
    /// [`spool_core::commit::SubmitError::TooLarge`] with that field's
    /// length and limit.
    pub fn append_entry(&self, entry: &spool_core::entry::Entry) -> Result<Lsn, AppendError> {
        use spool_core::commit::SubmitError;
        use spool_core::entry::EntryError;
        let payload = entry.encode().map_err(|e| {
            let (len, max) = match e {
                EntryError::ServiceTooLong => (entry.service.len(), u16::MAX as usize),
                _ => (
                    entry.message.len().max(entry.metadata.len()),
                    u32::MAX as usize,
                ),
            };
            AppendError::Submit(SubmitError::TooLarge {
                len: len as u64,
                max: u32::try_from(max).unwrap_or(u32::MAX),
            })
        })?;
        self.append(&payload)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The shared state machine (for stats and event loops).
    pub fn handoff(&self) -> &Arc<Handoff> {
        &self.handoff
    }

    /// Hands over the segment indexes recovery took from their files (see
    /// [`Recovered::indexes`]); empty afterwards.
    pub fn take_indexes(&mut self) -> Vec<spool_core::index::SegmentIndex> {
        std::mem::take(&mut self.recovered.indexes)
    }

    /// What recovery found when the log was opened.
    pub fn recovered(&self) -> &Recovered {
        &self.recovered
    }

    /// Stops accepting records, lets the IO thread finish everything queued,
    /// waits for it, and records a clean shutdown in the log mark (unless a
    /// write failed). Returns whether the clean shutdown was recorded.
    pub fn close(mut self) -> bool {
        self.shutdown()
    }

    fn shutdown(&mut self) -> bool {
        if self.io_threads.is_empty() {
            return false;
        }
        self.handoff.close();
        for t in self.io_threads.drain(..) {
            let _ = t.join();
        }
        match self.handoff.inspect(|gc| gc.clean_mark()) {
            Some(mark) => match self.files.write_mark(&mark) {
                Ok(()) => true,
                Err(e) => {
                    eprintln!("spool: writing the clean-shutdown mark: {e}");
                    false
                }
            },
            None => false,
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

//! The handoff between producers and the IO thread (feature `std`).
//!
//! [`Handoff`] wraps a [`GroupCommit`] in a mutex with two condition
//! variables: the IO thread sleeps on one until there is an operation to run,
//! blocking appenders sleep on the other until their records are durable.
//! The lock is held only to change the state machine, never across IO.
//!
//! Guarantees: [`Handoff::wait_durable`] returns `Ok` only after the state
//! machine reported the records durable (their write and fdatasync
//! returned); it returns an error for records rejected or failed, and never
//! blocks forever once the log has failed or shut down. Every primitive
//! comes from [`crate::sync`] so loom can check the interleavings.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use crate::commit::{Event, GroupCommit, IoError, IoOp, SubmitError};
use crate::record::Lsn;
use crate::sync::{Condvar, Mutex, MutexGuard};

/// Why appended records were not made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendError {
    /// Refused before queueing (queue full, too large, disk full, failed).
    Submit(SubmitError),
    /// Queued, then dropped unwritten because the disk was full.
    DiskFull,
    /// A write or sync failed; the log accepts nothing more.
    Failed(IoError),
    /// The log was shut down before they were written.
    Closed,
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::Submit(e) => write!(f, "{e}"),
            AppendError::DiskFull => f.write_str("disk full"),
            AppendError::Failed(e) => write!(f, "write or sync failed: {e}"),
            AppendError::Closed => f.write_str("log closed"),
        }
    }
}

/// Called (outside the lock) after a completion produced events, e.g. to
/// wake an event loop.
pub type Notify = Box<dyn Fn() + Send + Sync>;

struct Shared {
    commit: GroupCommit,
    /// Events kept for [`Handoff::take_events`], when enabled.
    events: Vec<Event>,
    keep_events: bool,
    durable: Lsn,
    /// Rejected id ranges, merged where adjacent.
    rejected: Vec<(Lsn, Lsn)>,
    failed: Option<(Lsn, IoError)>,
    closing: bool,
    io_busy: bool,
}

/// A [`GroupCommit`] shared between producers and one IO thread.
pub struct Handoff {
    shared: Mutex<Shared>,
    io_wake: Condvar,
    ack_wake: Condvar,
    notify: Option<Notify>,
}

impl Handoff {
    /// Wraps `commit`. With `keep_events`, events are kept for
    /// [`Handoff::take_events`] (an event loop); without, only the durable
    /// watermark is tracked (blocking appenders). `notify` runs after every
    /// completion that produced events.
    pub fn new(commit: GroupCommit, keep_events: bool, notify: Option<Notify>) -> Handoff {
        let durable = commit.durable();
        Handoff {
            shared: Mutex::new(Shared {
                commit,
                events: Vec::new(),
                keep_events,
                durable,
                rejected: Vec::new(),
                failed: None,
                closing: false,
                io_busy: false,
            }),
            io_wake: Condvar::new(),
            ack_wake: Condvar::new(),
            notify,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock leaves the state machine in an
        // unknown state; propagating the panic is the only safe answer.
        match self.shared.lock() {
            Ok(g) => g,
            Err(poisoned) => panic!("spool handoff lock poisoned: {poisoned}"),
        }
    }

    /// Queues records (all or none) and wakes the IO thread.
    pub fn submit<'p, I>(&self, now_ns: u64, payloads: I) -> Result<(Lsn, Lsn), SubmitError>
    where
        I: IntoIterator<Item = &'p [u8]>,
        I::IntoIter: Clone,
    {
        let mut s = self.lock();
        if s.closing {
            return Err(SubmitError::Failed);
        }
        let range = s.commit.submit(now_ns, payloads)?;
        drop(s);
        self.io_wake.notify_one();
        Ok(range)
    }

    /// Like [`Handoff::submit`], but while the queue is full it waits for a
    /// write to finish and tries again instead of returning `Busy`.
    pub fn submit_blocking<'p, I>(
        &self,
        now_ns: u64,
        payloads: I,
    ) -> Result<(Lsn, Lsn), AppendError>
    where
        I: IntoIterator<Item = &'p [u8]>,
        I::IntoIter: Clone,
    {
        let payloads = payloads.into_iter();
        let mut s = self.lock();
        loop {
            if s.closing {
                return Err(AppendError::Closed);
            }
            match s.commit.submit(now_ns, payloads.clone()) {
                Ok(range) => {
                    drop(s);
                    self.io_wake.notify_one();
                    return Ok(range);
                }
                Err(SubmitError::Busy) => {
                    s = match self.ack_wake.wait(s) {
                        Ok(g) => g,
                        Err(poisoned) => panic!("spool handoff lock poisoned: {poisoned}"),
                    };
                }
                Err(e) => return Err(AppendError::Submit(e)),
            }
        }
    }

    /// Blocks until record `last` (and every record before it from the same
    /// submit) is durable, or fails.
    pub fn wait_durable(&self, first: Lsn, last: Lsn) -> Result<(), AppendError> {
        let mut s = self.lock();
        loop {
            if let Some(status) = status_of(&s, first, last) {
                return status;
            }
            if s.closing && !s.io_busy && s.commit.is_idle() {
                return Err(AppendError::Closed);
            }
            s = match self.ack_wake.wait(s) {
                Ok(g) => g,
                Err(poisoned) => panic!("spool handoff lock poisoned: {poisoned}"),
            };
        }
    }

    /// Moves the kept events into `out`, oldest first.
    pub fn take_events(&self, out: &mut Vec<Event>) {
        let mut s = self.lock();
        out.append(&mut s.events);
    }

    /// Reads the state machine (for stats) under the lock.
    pub fn inspect<R>(&self, f: impl FnOnce(&GroupCommit) -> R) -> R {
        f(&self.lock().commit)
    }

    /// The highest durable id.
    pub fn durable(&self) -> Lsn {
        self.lock().durable
    }

    /// IO thread: blocks until there is an operation to run and returns it;
    /// `None` once the handoff is closing and all queued work is done, or the
    /// log failed. `now` reads the caller's clock.
    /// While idle it sleeps on a condition variable, at most until the state
    /// machine's next timer.
    pub fn next_op(&self, now: &dyn Fn() -> u64) -> Option<IoOp> {
        let mut s = self.lock();
        loop {
            let t = now();
            s.commit.handle_timeout(t);
            if let Some(op) = s.commit.poll_io(t) {
                s.io_busy = true;
                self.collect(&mut s);
                return Some(op);
            }
            self.collect(&mut s);
            if s.commit.is_failed() || (s.closing && s.commit.is_idle()) {
                drop(s);
                self.ack_wake.notify_all();
                return None;
            }
            s = self.wait_io(s, t);
        }
    }

    #[cfg(not(loom))]
    fn wait_io<'a>(&self, s: MutexGuard<'a, Shared>, now_ns: u64) -> MutexGuard<'a, Shared> {
        let guard = match s.commit.poll_timeout() {
            Some(deadline) => {
                let wait = core::time::Duration::from_nanos(deadline.saturating_sub(now_ns).max(1));
                self.io_wake.wait_timeout(s, wait).map(|(g, _)| g).ok()
            }
            None => self.io_wake.wait(s).ok(),
        };
        match guard {
            Some(g) => g,
            None => panic!("spool handoff lock poisoned"),
        }
    }

    #[cfg(loom)]
    fn wait_io<'a>(&self, s: MutexGuard<'a, Shared>, _now_ns: u64) -> MutexGuard<'a, Shared> {
        // loom models no time: timers are outside what it checks.
        match self.io_wake.wait(s) {
            Ok(g) => g,
            Err(poisoned) => panic!("spool handoff lock poisoned: {poisoned}"),
        }
    }

    /// IO thread: reports the result of the operation `next_op` returned.
    pub fn complete(&self, now_ns: u64, op: IoOp, result: Result<(), IoError>) {
        let mut s = self.lock();
        s.io_busy = false;
        s.commit.complete(now_ns, op, result);
        let produced = self.collect(&mut s);
        drop(s);
        self.ack_wake.notify_all();
        if produced {
            if let Some(notify) = &self.notify {
                notify();
            }
        }
    }

    /// Stops accepting records; the IO thread finishes what is queued and
    /// then `next_op` returns `None`.
    pub fn close(&self) {
        self.lock().closing = true;
        self.io_wake.notify_all();
        self.ack_wake.notify_all();
    }

    /// Drains state-machine events into the shared watermark (and the kept
    /// list). Returns whether there were any.
    fn collect(&self, s: &mut Shared) -> bool {
        let mut any = false;
        while let Some(ev) = s.commit.poll_event() {
            any = true;
            match ev {
                Event::Durable(l) => s.durable = l,
                Event::Rejected { first, last } => match s.rejected.last_mut() {
                    Some(prev) if prev.1.next() == first => prev.1 = last,
                    _ => s.rejected.push((first, last)),
                },
                Event::Failed { first, error, .. } => s.failed = Some((first, error)),
                Event::Rotated { .. } | Event::Deleted(_) => {}
            }
            if s.keep_events {
                s.events.push(ev);
            }
        }
        any
    }
}

fn status_of(s: &Shared, first: Lsn, last: Lsn) -> Option<Result<(), AppendError>> {
    let rejected = s.rejected.iter().any(|&(a, b)| a <= last && first <= b);
    if rejected {
        return Some(Err(AppendError::DiskFull));
    }
    if s.durable >= last {
        return Some(Ok(()));
    }
    s.failed.map(|(_, e)| Err(AppendError::Failed(e)))
}

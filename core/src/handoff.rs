//! The handoff between producers and the IO thread (feature `std`).
//!
//! [`Handoff`] wraps a [`GroupCommit`] in a mutex. IO threads (one per
//! append allowed in flight) sleep on a condition variable until there is an
//! operation to run. A blocking
//! appender parks until its records are durable; a completion unparks only
//! the appenders whose records it made durable (waking all of them on every
//! sync would have half of them wake, contend for the lock and sleep again).
//! It does not unpark them all itself: each unpark costs a few microseconds
//! of a syscall, and the IO thread issues the next batch's fdatasync only
//! after its wake-ups (64 writers spent 124 µs of each 300 µs cycle there,
//! with the device idle). The durable appenders go to a relay queue instead;
//! the IO thread unparks the first [`RELAY_FANOUT`], and every appender that
//! wakes unparks the next [`RELAY_FANOUT`] before it returns, so the
//! wake-ups spread as a tree over the woken threads while the device syncs.
//! The lock is held only to change the state machine, never across IO.
//!
//! A blocking appender that finds no operation running leads: it takes the
//! operation itself ([`Handoff::append_lead`]) and runs it on its own
//! thread, then at most [`LEADER_EXTRA_OPS`] more, and leaves the rest to
//! the IO thread, so an idle log costs an append no thread switch. An event
//! loop submits without waking the IO thread ([`Handoff::submit_quiet`])
//! and wakes it once per turn ([`Handoff::wake_io`]). Whoever runs an
//! operation, the state machine allows one append in flight.
//!
//! Guarantees: [`Handoff::wait_durable`] returns `Ok` only after the state
//! machine reported the records durable (their write and fdatasync
//! returned); it returns an error for records rejected or failed, and never
//! blocks forever once the log has failed or shut down. Every primitive
//! comes from [`crate::sync`] so loom can check the interleavings.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use crate::commit::{Event, GroupCommit, IoError, IoOp, SubmitError};
use crate::record::Lsn;
use crate::sync::{current, park, Condvar, Mutex, MutexGuard, Thread};
use crate::time::Now;

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

/// What a submit gave out: the records' ids, and the id epoch they belong
/// to (ids of records rejected for lack of space are given again in the
/// next epoch; see [`crate::commit::Event::Rejected`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// The first record's id.
    pub first: Lsn,
    /// The last record's id.
    pub last: Lsn,
    /// The id epoch at submit.
    pub epoch: u64,
}

/// How many queued appenders a completion, and then each woken appender,
/// unparks (see the module doc). Two keeps the IO thread's share small and
/// wakes 64 appenders in six hops; loom checks the relay with one, which
/// makes every hand-on a relay.
#[cfg(not(loom))]
pub const RELAY_FANOUT: usize = 2;
/// See above: under loom, one, so that a model of two appenders relays.
#[cfg(loom)]
pub const RELAY_FANOUT: usize = 1;

/// Operations a leader runs after its own records are answered (see
/// [`Handoff::complete_lead`]). One: with two writers, the one leading
/// writes the other's record (queued during its sync) at once instead of
/// waking the IO thread for it, so syncs follow each other without a
/// thread wake-up between them; more would only lengthen the leader's own
/// call.
pub const LEADER_EXTRA_OPS: u8 = 1;

/// A blocking appender leading the log: its records, and how many
/// operations it ran after they were answered.
#[derive(Debug)]
pub struct Lead {
    ticket: Ticket,
    extra: u8,
}

impl Lead {
    /// Leading for the records of `ticket`.
    pub fn new(ticket: Ticket) -> Lead {
        Lead { ticket, extra: 0 }
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
    /// Rejected id ranges with their id epoch.
    rejected: Vec<(u64, Lsn, Lsn)>,
    failed: Option<(Lsn, IoError)>,
    closing: bool,
    /// Operations handed to IO threads and not yet completed.
    io_busy: u32,
    /// IO threads asleep on `io_wake`: a submit signals the condition
    /// variable only when one is (the signal is a syscall).
    io_idle: u32,
    /// Parked appenders: the last id each waits for.
    waiters: Vec<(Lsn, Thread)>,
    /// Parked appenders whose answer is ready, not yet unparked: each
    /// thread that takes the lock in a wait unparks the next
    /// [`RELAY_FANOUT`] of them. Every thread here is still inside a wait
    /// and has not taken the lock since it was queued, so it will take it
    /// again and pass the relay on.
    relay: VecDeque<Thread>,
    /// Appenders waiting on `ack_wake` for room in a full queue.
    busy_waiters: u32,
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
                io_busy: 0,
                io_idle: 0,
                waiters: Vec::new(),
                relay: VecDeque::new(),
                busy_waiters: 0,
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
    pub fn submit<'p, I>(&self, now: Now, payloads: I) -> Result<Ticket, SubmitError>
    where
        I: IntoIterator<Item = &'p [u8]>,
        I::IntoIter: Clone,
    {
        let (ticket, wake_io) = self.submit_quiet(now, payloads)?;
        if wake_io {
            self.wake_io();
        }
        Ok(ticket)
    }

    /// [`Handoff::submit`] without waking the IO thread: returns whether
    /// it sleeps, and then the caller must call [`Handoff::wake_io`] (an
    /// event loop does once per turn, so the requests of one turn reach
    /// an idle IO thread as one write and one fdatasync, not the first
    /// alone).
    pub fn submit_quiet<'p, I>(&self, now: Now, payloads: I) -> Result<(Ticket, bool), SubmitError>
    where
        I: IntoIterator<Item = &'p [u8]>,
        I::IntoIter: Clone,
    {
        let mut s = self.lock();
        if s.closing {
            return Err(SubmitError::Failed);
        }
        let (first, last) = s.commit.submit(now, payloads)?;
        let epoch = s.commit.id_epoch();
        Ok((Ticket { first, last, epoch }, s.io_idle > 0))
    }

    /// Wakes an IO thread sleeping for work (see [`Handoff::submit_quiet`]).
    pub fn wake_io(&self) {
        self.io_wake.notify_one();
    }

    /// Queues records, waiting while the queue is full; returns with the
    /// lock still held, and whether an idle IO thread must be signalled
    /// (after the lock is released, so that it does not wake to wait for
    /// it).
    fn submit_locked<'p, I>(
        &self,
        now: Now,
        payloads: I,
    ) -> Result<(MutexGuard<'_, Shared>, Ticket, bool), AppendError>
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
            match s.commit.submit(now, payloads.clone()) {
                Ok((first, last)) => {
                    let epoch = s.commit.id_epoch();
                    let wake_io = s.io_idle > 0;
                    return Ok((s, Ticket { first, last, epoch }, wake_io));
                }
                Err(SubmitError::Busy) => {
                    s.busy_waiters += 1;
                    s = match self.ack_wake.wait(s) {
                        Ok(g) => g,
                        Err(poisoned) => panic!("spool handoff lock poisoned: {poisoned}"),
                    };
                    s.busy_waiters -= 1;
                }
                Err(e) => return Err(AppendError::Submit(e)),
            }
        }
    }

    /// Blocks until the ticket's records are durable, or fail.
    pub fn wait_durable(&self, ticket: Ticket) -> Result<(), AppendError> {
        self.wait_durable_from(self.lock(), ticket, false)
    }

    fn wait_durable_from<'a>(
        &'a self,
        mut s: MutexGuard<'a, Shared>,
        ticket: Ticket,
        mut wake_io: bool,
    ) -> Result<(), AppendError> {
        let last = ticket.last;
        let me = current();
        loop {
            // A spurious unpark may leave our entry behind; never keep two.
            s.waiters.retain(|(_, t)| t.id() != me.id());
            let relay = take_relay(&mut s, &me);
            let answer = match status_of(&s, ticket) {
                Some(status) => Some(status),
                None if s.closing && s.io_busy == 0 && s.commit.is_idle() => {
                    Some(Err(AppendError::Closed))
                }
                None => {
                    s.waiters.push((last, me.clone()));
                    None
                }
            };
            drop(s);
            if core::mem::take(&mut wake_io) {
                self.wake_io();
            }
            unpark_all(relay);
            if let Some(answer) = answer {
                return answer;
            }
            // An unpark between the unlock and here is not lost: park
            // returns at once when the token is already set.
            park();
            s = self.lock();
        }
    }

    /// Blocks until the durable id is above `seen`, the log closes or
    /// fails, or about `timeout` passes (a spurious wake-up may return
    /// sooner); returns the durable id then. What a follower waits on; the
    /// caller keeps its own deadline (this module reads no clock). (Not
    /// modelled under loom: it has a timeout.)
    #[cfg(not(loom))]
    pub fn wait_beyond(&self, seen: Lsn, timeout: core::time::Duration) -> Lsn {
        let me = current();
        let mut s = self.lock();
        if s.durable > seen || s.failed.is_some() || s.closing {
            return s.durable;
        }
        s.waiters.retain(|(_, t)| t.id() != me.id());
        s.waiters.push((seen.next(), me.clone()));
        drop(s);
        // An unpark between the unlock and here is not lost.
        std::thread::park_timeout(timeout);
        let mut s = self.lock();
        s.waiters.retain(|(_, t)| t.id() != me.id());
        let relay = take_relay(&mut s, &me);
        let durable = s.durable;
        drop(s);
        unpark_all(relay);
        durable
    }

    /// Whether [`Handoff::close`] was called.
    pub fn is_closing(&self) -> bool {
        self.lock().closing
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
    pub fn next_op(&self, now: &dyn Fn() -> Now) -> Option<IoOp> {
        let mut s = self.lock();
        loop {
            let t = now();
            s.commit.handle_timeout(t);
            if let Some(op) = s.commit.poll_io(t) {
                s.io_busy += 1;
                self.collect(&mut s);
                return Some(op);
            }
            self.collect(&mut s);
            if s.commit.is_failed() || (s.closing && s.commit.is_idle()) {
                let waiters = take_everyone(&mut s);
                drop(s);
                // Other IO threads may be asleep: let them see it too.
                self.io_wake.notify_all();
                self.ack_wake.notify_all();
                unpark_all(waiters);
                return None;
            }
            s.io_idle += 1;
            s = self.wait_io(s, t);
            s.io_idle -= 1;
        }
    }

    #[cfg(not(loom))]
    fn wait_io<'a>(&self, s: MutexGuard<'a, Shared>, now: Now) -> MutexGuard<'a, Shared> {
        let guard = match s.commit.poll_timeout(now) {
            Some(deadline) => {
                let wait = core::time::Duration::from_nanos(deadline.nanos_since(now.mono).max(1));
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
    fn wait_io<'a>(&self, s: MutexGuard<'a, Shared>, _now: Now) -> MutexGuard<'a, Shared> {
        // loom models no time: timers are outside what it checks.
        match self.io_wake.wait(s) {
            Ok(g) => g,
            Err(poisoned) => panic!("spool handoff lock poisoned: {poisoned}"),
        }
    }

    /// IO thread: reports the result of the operation `next_op` returned,
    /// and returns the next operation if one can start now (taken under the
    /// same lock, so the IO thread does not contend with the appenders it is
    /// about to wake), plus the wake-ups owed. `None` means: call `next_op`.
    ///
    /// The durable watermark is published before this returns; the caller
    /// should start the next operation's write and then call
    /// [`Wakeups::wake`], so waking appenders overlaps the device's work
    /// instead of delaying it.
    pub fn complete(
        &self,
        now: Now,
        op: IoOp,
        result: Result<(), IoError>,
    ) -> (Option<IoOp>, Wakeups<'_>) {
        self.complete_with(now, op, result, None)
    }

    /// What a blocking appender calls: queues its records like
    /// [`Handoff::submit`], but while the queue is full it waits for a
    /// write to finish and tries again instead of returning `Busy`; and
    /// when no operation is running,
    /// takes the first one to run itself (it is the leader, as in logfile
    /// or RocksDB) instead of handing it to the IO thread and sleeping: an
    /// idle log then costs an append no thread switch. The caller runs the
    /// operation, reports it with [`Handoff::complete_lead`], runs what
    /// that returns, and then calls [`Handoff::wait_durable`]. Without an
    /// operation to run it waits here, under the lock it submitted with,
    /// and returns `None` once the records are durable.
    pub fn append_lead<'p, I>(
        &self,
        now: Now,
        payloads: I,
    ) -> Result<(Ticket, Option<IoOp>), AppendError>
    where
        I: IntoIterator<Item = &'p [u8]>,
        I::IntoIter: Clone,
    {
        let (mut s, ticket, wake_io) = self.submit_locked(now, payloads)?;
        if s.io_busy == 0 {
            let op = s.commit.poll_io(now);
            self.collect(&mut s);
            if op.is_some() {
                s.io_busy += 1;
                return Ok((ticket, op));
            }
        }
        self.wait_durable_from(s, ticket, wake_io)?;
        Ok((ticket, None))
    }

    /// A leader's [`Handoff::complete`]: it is handed the next operation
    /// while its own records have no answer, and then [`LEADER_EXTRA_OPS`]
    /// more (the records that queued during its sync: running them at once
    /// saves waking the IO thread for them); work it leaves goes to the IO
    /// thread.
    pub fn complete_lead(
        &self,
        now: Now,
        op: IoOp,
        result: Result<(), IoError>,
        lead: &mut Lead,
    ) -> (Option<IoOp>, Wakeups<'_>) {
        self.complete_with(now, op, result, Some(lead))
    }

    fn complete_with(
        &self,
        now: Now,
        op: IoOp,
        result: Result<(), IoError>,
        mut leader: Option<&mut Lead>,
    ) -> (Option<IoOp>, Wakeups<'_>) {
        let mut s = self.lock();
        s.io_busy -= 1;
        s.commit.complete(now, op, result);
        let rejected_before = s.rejected.len();
        let mut produced = self.collect(&mut s);
        let (take_next, extra) = match leader.as_deref() {
            None => (true, false),
            Some(lead) if status_of(&s, lead.ticket).is_none() => (true, false),
            Some(lead) => (lead.extra < LEADER_EXTRA_OPS, true),
        };
        let next = if take_next {
            s.commit.poll_io(now)
        } else {
            None
        };
        if next.is_some() {
            s.io_busy += 1;
            if let (true, Some(lead)) = (extra, leader.as_deref_mut()) {
                lead.extra += 1;
            }
        }
        produced |= self.collect(&mut s);
        // Work this thread does not take goes to an idle IO thread; a
        // leader's last completion also lets a closing IO thread see that
        // the log is done.
        let more = s.io_idle > 0 && (!s.commit.is_idle() || (leader.is_some() && s.closing));
        let everyone = s.failed.is_some() || s.rejected.len() != rejected_before;
        let threads = if everyone {
            // Rare: everyone gets an answer now, directly.
            take_everyone(&mut s)
        } else {
            let ready = take_ready_waiters(&mut s);
            s.relay.extend(ready);
            next_in_relay(&mut s)
        };
        let busy_waiters = s.busy_waiters > 0;
        drop(s);
        if more {
            self.io_wake.notify_one();
        }
        let wakeups = Wakeups {
            handoff: self,
            threads,
            busy_waiters,
            notify: produced,
        };
        (next, wakeups)
    }

    /// Stops accepting records; the IO thread finishes what is queued and
    /// then `next_op` returns `None`.
    pub fn close(&self) {
        let waiters = {
            let mut s = self.lock();
            s.closing = true;
            take_everyone(&mut s)
        };
        self.io_wake.notify_all();
        self.ack_wake.notify_all();
        unpark_all(waiters);
    }

    /// Drains state-machine events into the shared watermark (and the kept
    /// list). Returns whether there were any.
    fn collect(&self, s: &mut Shared) -> bool {
        let mut any = false;
        while let Some(ev) = s.commit.poll_event() {
            any = true;
            match ev {
                Event::Durable(l) => s.durable = l,
                Event::Rejected { first, last, epoch } => s.rejected.push((epoch, first, last)),
                Event::Failed { first, error, .. } => s.failed = Some((first, error)),
                Event::Rotated { .. } | Event::Deleted { .. } => {}
            }
            if s.keep_events {
                s.events.push(ev);
            }
        }
        any
    }
}

/// Wake-ups owed after a completion; see [`Handoff::complete`]. Dropping
/// it wakes too, so none is ever lost.
pub struct Wakeups<'a> {
    handoff: &'a Handoff,
    threads: Vec<Thread>,
    busy_waiters: bool,
    notify: bool,
}

impl Wakeups<'_> {
    /// Unparks the appenders whose records are now durable (or failed), and
    /// runs the owner's notify hook if events were produced.
    pub fn wake(mut self) {
        self.wake_now();
    }

    fn wake_now(&mut self) {
        for t in self.threads.drain(..) {
            t.unpark();
        }
        if core::mem::take(&mut self.busy_waiters) {
            self.handoff.ack_wake.notify_all();
        }
        if core::mem::take(&mut self.notify) {
            if let Some(notify) = &self.handoff.notify {
                notify();
            }
        }
    }
}

impl Drop for Wakeups<'_> {
    fn drop(&mut self) {
        self.wake_now();
    }
}

/// Removes and returns the parked appenders whose records are durable.
fn take_ready_waiters(s: &mut Shared) -> Vec<Thread> {
    let durable = s.durable;
    let mut ready = Vec::new();
    s.waiters.retain(|(last, t)| {
        let wake = *last <= durable;
        if wake {
            ready.push(t.clone());
        }
        !wake
    });
    ready
}

/// Removes and returns every parked appender, waiting or relayed (after a
/// rejection or failure, and at shutdown, all of them have an answer).
fn take_everyone(s: &mut Shared) -> Vec<Thread> {
    let mut all: Vec<Thread> = s.relay.drain(..).collect();
    all.extend(s.waiters.drain(..).map(|(_, t)| t));
    all
}

/// A waking appender's share of the relay: removes `me` from it (a
/// spurious wake-up may come before our turn) and takes the next
/// [`RELAY_FANOUT`] threads to unpark once the lock is released.
fn take_relay(s: &mut Shared, me: &Thread) -> Vec<Thread> {
    if s.relay.is_empty() {
        return Vec::new();
    }
    s.relay.retain(|t| t.id() != me.id());
    next_in_relay(s)
}

/// Takes the next [`RELAY_FANOUT`] threads off the relay, to unpark once
/// the lock is released.
fn next_in_relay(s: &mut Shared) -> Vec<Thread> {
    let n = s.relay.len().min(RELAY_FANOUT);
    s.relay.drain(..n).collect()
}

fn unpark_all(threads: Vec<Thread>) {
    for t in threads {
        t.unpark();
    }
}

fn status_of(s: &Shared, t: Ticket) -> Option<Result<(), AppendError>> {
    let (first, last) = (t.first, t.last);
    // Only a rejection in the ticket's own epoch concerns it: a later
    // epoch's records reuse the rejected ids.
    let rejected = s
        .rejected
        .iter()
        .any(|&(e, a, b)| e == t.epoch && a <= last && first <= b);
    if rejected {
        return Some(Err(AppendError::DiskFull));
    }
    if s.durable >= last {
        return Some(Ok(()));
    }
    s.failed.map(|(_, e)| Err(AppendError::Failed(e)))
}

//! The live path in the event loop: upgrading a `/ws` request, the
//! follower's reads, feeding subscribers from the window, their catch-up
//! jobs, and their sockets' input and deadlines.
//!
//! Each turn in which something changed (the durable id moved, inotify
//! reported a change, a subscriber's socket drained, a catch-up job
//! answered), the follower reads on if a subscriber waits for it (at most
//! `READ_BUDGET` bytes a turn) and every subscriber with room is fed.

use std::collections::HashMap;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};

use mio::unix::SourceFd;
use mio::Interest;
use spool_core::read::Start;
use spool_core::record::Lsn;
use spool_core::time::Instant;
use spool_proto::ws::{close, write_accept, WsLimits};

use super::{Server, READS_PER_TURN};
use crate::app::live::WsUpgrade;
use crate::app::reply::{self, Reply};
use crate::config::ServeConfig;
use crate::conn::http::HttpConn;
use crate::conn::ws::{WsConn, WsConnLimits};
use crate::conn::Conn;
use crate::live::catch_up::CatchUp;
use crate::live::follower::Follower;
use crate::live::subscription::{From, Selection, Subscription};

/// Payload bytes the follower reads in one turn at most.
const READ_BUDGET: usize = 1 << 20;
/// When the subscribers waiting for the follower are more than this many
/// records behind the durable id, the follower jumps to the head and they
/// read the log themselves, off the loop.
const JUMP_RECORDS: u64 = 1 << 16;

/// The live path's state in the runtime.
pub(super) struct Live {
    follower: Follower,
    limits: WsConnLimits,
    /// Slots of the WebSocket connections.
    subs: Vec<usize>,
    /// Something changed: feed the subscribers this turn.
    dirty: bool,
    /// The follower stopped at its budget: read on next turn.
    more: bool,
    /// Catch-up jobs in flight: job id → (slot, generation).
    jobs: HashMap<u64, (usize, u64)>,
}

impl Live {
    pub(super) fn new(cfg: &ServeConfig, durable: Lsn, gaps: &[(Lsn, Lsn)]) -> io::Result<Live> {
        let window = usize::try_from(cfg.live_window).unwrap_or(usize::MAX);
        let max_message = usize::try_from(cfg.max_ws_message).unwrap_or(usize::MAX);
        Ok(Live {
            follower: Follower::new(&cfg.data_dir, durable, gaps, window)?,
            limits: WsConnLimits {
                frames: WsLimits {
                    max_frame: max_message,
                    max_message,
                },
                max_unsent: usize::try_from(cfg.max_unsent).unwrap_or(usize::MAX),
                ping_every: cfg.ws_ping,
                idle_timeout: cfg.idle_timeout,
            },
            subs: Vec::new(),
            dirty: false,
            more: false,
            jobs: HashMap::new(),
        })
    }

    pub(super) fn watch_fd(&self) -> RawFd {
        self.follower.watch().fd().as_raw_fd()
    }

    /// The durable id moved (news only for subscribers: without any, the
    /// loop does no live-path work at all).
    pub(super) fn durable_advanced(&mut self) {
        if !self.subs.is_empty() {
            self.dirty = true;
        }
    }

    /// A subscriber's socket drained: it has room again.
    pub(super) fn room_freed(&mut self) {
        self.dirty = true;
    }

    /// The live path has work for the next turn: the follower stopped at
    /// its budget, or something changed after this turn's feeding (a
    /// subscriber's socket drained, a catch-up job answered).
    pub(super) fn has_more(&self) -> bool {
        self.more || self.dirty
    }

    /// Subscribers connected now.
    pub(super) fn subscribers(&self) -> usize {
        self.subs.len()
    }
}

impl Server {
    /// Upgrades connection `idx` to a WebSocket subscriber: queues the
    /// `101` and places its cursor. A `from` id newer than the newest
    /// durable record is refused (400).
    pub(super) fn upgrade(&mut self, idx: usize, up: WsUpgrade, now: Instant) -> Result<(), Reply> {
        let durable = self.log.handoff().durable();
        let (next, start, time) = match up.from {
            From::Now => (durable.next(), None, None),
            From::Oldest => (Lsn(1), Some(Start::Oldest), None),
            From::After(id) if id > durable => {
                return Err(reply::error(
                    400,
                    &format!("from: record {id} is newer than the newest record ({durable}); resume from an id this log gave (a time is RFC 3339, 2026-11-30T10:00:00Z)"),
                ))
            }
            From::After(id) => (id.next(), None, None),
            // The start is found by the first catch-up job (preset below).
            From::Time(ns) => (Lsn(1), None, Some(ns)),
        };
        let limits = self.live.limits;
        let http_limits = self.limits;
        // From a time: the first catch-up job finds where that time starts
        // through the indexes; until then nothing is sent from the window.
        let by_time = time.map(|_| self.live.follower.catch_up(Start::Oldest, time, Lsn(0)));
        let Some(slot) = self.slots.get_mut(idx).and_then(Option::as_mut) else {
            return Ok(());
        };
        let old = std::mem::replace(&mut slot.conn, Conn::Http(HttpConn::new(http_limits, now)));
        let Conn::Http(http) = old else {
            slot.conn = old;
            return Ok(());
        };
        let (input, mut output) = http.into_upgrade();
        write_accept(&mut output, &up.accept);
        let mut sub = Subscription::new(next, Selection::new(up.filter, time), start);
        if by_time.is_some() {
            sub.catch_up = by_time;
            sub.next = Lsn(0);
        }
        let ws = WsConn::new(limits, input, output, sub, now);
        // Pings may be due sooner than the HTTP deadlines the timer holds.
        self.timers.arm(ws.soonest_from(now), idx, slot.generation);
        slot.conn = Conn::Ws(Box::new(ws));
        let charged = std::mem::take(&mut slot.charged);
        self.buffered -= charged;
        self.requests += 1;
        if self.live.subs.is_empty() {
            self.watch_on(durable);
        }
        self.live.subs.push(idx);
        self.live.dirty = true;
        self.flush(idx, now);
        Ok(())
    }

    /// The first subscriber: the follower starts at the head and the loop
    /// listens to inotify. (With no subscriber the loop neither wakes for
    /// the log's writes nor reads anything.)
    fn watch_on(&mut self, durable: Lsn) {
        self.live.follower.watch().drain();
        self.live.follower.jump(durable);
        let fd = self.live.watch_fd();
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), super::WATCH, Interest::READABLE)
        {
            // Followers still wake on each durable advance.
            eprintln!("spool: watching the data directory: {e}");
        }
    }

    /// Subscriber `idx` is gone; the last one takes the watch off the loop.
    pub(super) fn unsubscribe(&mut self, idx: usize) {
        self.live.subs.retain(|&s| s != idx);
        if self.live.subs.is_empty() {
            let fd = self.live.watch_fd();
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
    }

    /// inotify reported a change in the data directory.
    pub(super) fn on_watch(&mut self) {
        self.live.follower.watch().drain();
        self.live.dirty = true;
    }

    /// Reads on if a subscriber waits, and feeds every subscriber.
    pub(super) fn pump_live(&mut self, now: Instant) {
        if !self.live.dirty && !self.live.more {
            return;
        }
        self.live.dirty = false;
        self.live.more = false;
        if self.live.subs.is_empty() {
            return;
        }
        let durable = self.log.handoff().durable();
        let window = self.live.follower.window();
        let waiting = self.live.subs.iter().any(|&idx| {
            matches!(
                self.slots.get(idx).and_then(Option::as_ref).map(|s| &s.conn),
                Some(Conn::Ws(ws)) if ws.room_for_records() > 0 && ws.sub.waits_for_follower(window)
            )
        });
        if waiting && durable >= window.next() {
            if durable.0 - window.next().0 >= JUMP_RECORDS {
                self.live.follower.jump(durable);
            } else {
                self.live.more = self.live.follower.read(durable, READ_BUDGET).more;
            }
        }
        // Feeding writes, and a write can close a subscriber (which leaves
        // the list): walk a copy.
        let subs = self.live.subs.clone();
        for idx in subs {
            self.feed(idx, now);
        }
    }

    /// Queues what subscriber `idx` wants from the window, or starts its
    /// catch-up job if it is behind; then writes.
    fn feed(&mut self, idx: usize, now: Instant) {
        let live = &mut self.live;
        let Some(Some(slot)) = self.slots.get_mut(idx) else {
            return;
        };
        let Conn::Ws(ws) = &mut slot.conn else {
            return;
        };
        let room = ws.room_for_records();
        if room == 0 || ws.sub.job {
            return;
        }
        let window = live.follower.window();
        if live.follower.failed().is_some() {
            ws.close_with(
                close::INTERNAL_ERROR,
                "the log cannot be read; see the daemon's log",
                now,
            );
        } else if ws.sub.is_behind(window) {
            let mut c = ws.sub.catch_up.take().unwrap_or_else(|| {
                let after = Start::After(Lsn(ws.sub.next.0.saturating_sub(1)));
                let start = ws.sub.start.take().unwrap_or(after);
                live.follower.catch_up(start, None, ws.sub.next)
            });
            c.selection = ws.sub.selection.take();
            c.next = ws.sub.next;
            self.next_job += 1;
            let id = self.next_job;
            match self.pool.try_catch_up(id, c, window.next(), room) {
                Ok(()) => {
                    ws.sub.job = true;
                    live.jobs.insert(id, (idx, slot.generation));
                }
                Err(Some(mut c)) => {
                    // The pool is busy: tried again when a job answers.
                    ws.sub.selection = c.selection.take();
                    ws.sub.catch_up = Some(c);
                }
                Err(None) => ws.close_with(close::GOING_AWAY, "the server is shutting down", now),
            }
        } else {
            // In the window its place is its cursor: should it fall behind
            // later, it reads on after it (never from its first start).
            ws.sub.catch_up = None;
            ws.sub.start = None;
            ws.take_records(window, now);
        }
        self.flush(idx, now);
    }

    /// A catch-up job answered: queue its frames and move the cursor.
    pub(super) fn on_catch_up(&mut self, id: u64, mut c: Box<CatchUp>, now: Instant) {
        self.live.dirty = true;
        let Some((idx, generation)) = self.live.jobs.remove(&id) else {
            return;
        };
        let Some(slot) = self.slot(idx) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        let Conn::Ws(ws) = &mut slot.conn else {
            return;
        };
        ws.sub.job = false;
        ws.sub.next = c.next;
        ws.sub.selection = c.selection.take();
        ws.push_frames(&std::mem::take(&mut c.frames), now);
        if let Some(e) = c.error.take() {
            eprintln!("spool: a WebSocket follower cannot read on: {e}");
            ws.close_with(
                close::INTERNAL_ERROR,
                "the log cannot be read; see the daemon's log",
                now,
            );
        }
        ws.sub.catch_up = Some(c);
        self.flush(idx, now);
        // Still full after the write: it waits for its client, holding its
        // place only.
        if let Some(Conn::Ws(ws)) = self.slot(idx).map(|s| &mut s.conn) {
            if ws.room_for_records() == 0 {
                if let Some(c) = ws.sub.catch_up.as_mut() {
                    c.release_buffers();
                }
            }
        }
    }

    /// Reads a subscriber's socket (pings, pongs, a close) and writes.
    pub(super) fn service_ws(&mut self, idx: usize, now: Instant) {
        for _ in 0..READS_PER_TURN {
            let Some(slot) = self.slots.get_mut(idx).and_then(Option::as_mut) else {
                return;
            };
            let Conn::Ws(ws) = &mut slot.conn else {
                return;
            };
            let room = ws.room().min(self.scratch.len());
            if room == 0 {
                break;
            }
            match slot.stream.read(&mut self.scratch[..room]) {
                Ok(0) => ws.peer_closed(),
                Ok(n) => ws.received(&self.scratch[..n], now),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => ws.write_failed(),
            }
        }
        self.live.dirty = true;
        self.flush(idx, now);
    }

    /// A subscriber's deadline: ping it, or close it when it is dead.
    pub(super) fn fire_ws_timer(&mut self, idx: usize, generation: u64, now: Instant) {
        let Some(Conn::Ws(ws)) = self.slot(idx).map(|s| &mut s.conn) else {
            return;
        };
        let (at, why) = ws.deadline();
        if at <= now {
            ws.expire(why, now);
        }
        let (at, _) = ws.deadline();
        let next = at.min(ws.soonest_from(now));
        self.timers.arm(next, idx, generation);
        self.flush(idx, now);
    }
}

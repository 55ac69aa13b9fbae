//! Moving bytes between sockets and connection states: reading what a
//! connection may take, handing its complete requests on, counting what it
//! buffers against `--max-buffered`, writing its answers, and firing its
//! deadlines. Each call does a bounded amount of work for one connection.

use std::io::{self, Read, Write};

use mio::{Interest, Token};
use spool_core::time::Instant;
use spool_proto::http::Version;

use super::{Server, FIRST_CONN, READS_PER_TURN, REQUESTS_PER_TURN};
use crate::app::reply;
use crate::clock;
use crate::conn::http::{Step, FREE_BUFFER};
use crate::conn::Conn;

impl Server {
    /// Reads what the connection may take, handles the complete requests,
    /// and sends answers; at most `REQUESTS_PER_TURN` requests and
    /// `READS_PER_TURN` reads, after which it is queued for the next turn.
    pub(super) fn service(&mut self, idx: usize, now: Instant) {
        if matches!(self.slot(idx).map(|s| &s.conn), Some(Conn::Ws(_))) {
            self.service_ws(idx, now);
            return;
        }
        let mut requests = 0;
        let mut reads = 0;
        let mut more = false;
        loop {
            // Requests already buffered first: reading is bounded by them.
            loop {
                if requests == REQUESTS_PER_TURN {
                    more = true;
                    break;
                }
                let Some(conn) = self.slot(idx).and_then(|s| s.conn.http()) else {
                    return;
                };
                match conn.next_request(now) {
                    Step::Request(req) => {
                        requests += 1;
                        self.recharge(idx);
                        self.dispatch(idx, req, now);
                    }
                    Step::Error(e) => {
                        conn.refuse(now, |out| e.write_to(out, Version::Http11));
                        self.recharge(idx);
                        break;
                    }
                    Step::Idle => {
                        self.recharge(idx);
                        break;
                    }
                }
            }
            if more {
                break;
            }
            let draining = self.draining.is_some();
            let Some(slot) = self.slots.get_mut(idx).and_then(Option::as_mut) else {
                return;
            };
            let Conn::Http(conn) = &mut slot.conn else {
                return;
            };
            let room = conn.room().min(self.scratch.len());
            if room == 0 {
                break;
            }
            // Known empty (see `Slot::readable`): skip the read that would
            // only return WouldBlock. At shutdown it is still made: it is
            // where a quiet connection closes.
            if !slot.readable && !draining {
                break;
            }
            if reads == READS_PER_TURN {
                more = true;
                break;
            }
            reads += 1;
            match slot.stream.read(&mut self.scratch[..room]) {
                Ok(0) => conn.peer_closed(),
                Ok(n) => {
                    slot.readable = n == room || slot.read_closed;
                    conn.received(&self.scratch[..n], now);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    slot.readable = false;
                    // Drained: at shutdown a connection with nothing in hand closes.
                    if draining && conn.is_quiet() {
                        self.close(idx);
                        return;
                    }
                    break;
                }
                Err(_) => {
                    conn.peer_closed();
                    conn.write_failed();
                }
            }
        }
        if more {
            self.enqueue(idx);
        }
        self.flush(idx, now);
    }
    /// Recounts what the connection buffers against `--max-buffered`. A
    /// request that needs more than `FREE_BUFFER` and would take the total
    /// past it is refused with 503 (nothing of it is stored) and the
    /// connection closes. Heads and small bodies are always taken (and
    /// counted): they are bounded per connection, and a producer of small
    /// requests is never refused because others send large ones.
    /// Returns whether the connection was refused.
    pub(super) fn recharge(&mut self, idx: usize) -> bool {
        let max = self.cfg.max_buffered;
        let total = self.buffered;
        let Some(slot) = self.slot(idx) else {
            return false;
        };
        let Conn::Http(conn) = &mut slot.conn else {
            return false;
        };
        let want = conn.buffered();
        let others = total - slot.charged;
        let over = want > slot.charged
            && want > FREE_BUFFER
            && conn.in_body()
            && (others as u64).saturating_add(want as u64) > max;
        if over {
            // Larger than the whole budget: no retry can succeed (413);
            // else the others hold it (503, retry).
            let never = want as u64 > max;
            conn.refuse(clock::mono(), |out| {
                let r = if never {
                    reply::larger_than_buffer(max)
                } else {
                    reply::too_much_buffered(max)
                };
                r.write(out, Version::Http11, false)
            });
            slot.charged = conn.buffered();
            self.buffered = others + slot.charged;
            return true;
        }
        slot.charged = want;
        self.buffered = others + want;
        false
    }
    pub(super) fn flush(&mut self, idx: usize, now: Instant) {
        let Some(slot) = self.slots.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        let room_before = slot.conn.room();
        let had_unsent = !slot.conn.unsent().is_empty();
        while !slot.conn.unsent().is_empty() {
            match slot.stream.write(slot.conn.unsent()) {
                Ok(0) => {
                    slot.conn.write_failed();
                    break;
                }
                Ok(n) => slot.conn.sent(n, now),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    // Peer gone: drop what it will never read.
                    slot.conn.write_failed();
                    break;
                }
            }
        }
        let pending = !slot.conn.unsent().is_empty();
        if pending != slot.writable_interest {
            let interest = if pending {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ = self.poll.registry().reregister(
                &mut slot.stream,
                Token(idx + FIRST_CONN),
                interest,
            );
            slot.writable_interest = pending;
        }
        if slot.conn.finished() {
            self.close(idx);
        } else if let Conn::Ws(ws) = &slot.conn {
            // Bytes went out and there is room for more records: the live
            // path fills it (next turn).
            if had_unsent && ws.room_for_records() > 0 {
                self.live.room_freed();
            }
        } else if room_before == 0 && slot.conn.room() > 0 {
            // Output drained below its bound: requests may be read again.
            self.enqueue(idx);
        }
    }
    /// Fires due connection deadlines: a 408 for a request not received in
    /// time, a close for an idle connection or one whose answers are not
    /// read. A timer that finds its deadline moved re-arms it.
    pub(super) fn fire_timers(&mut self, now: Instant) {
        while let Some((_, idx, generation)) = self.timers.pop_due(now) {
            let Some(slot) = self.slot(idx) else {
                continue;
            };
            if slot.generation != generation {
                continue;
            }
            let Conn::Http(conn) = &mut slot.conn else {
                self.fire_ws_timer(idx, generation, now);
                continue;
            };
            match conn.deadline() {
                Some((at, why)) if at <= now => {
                    conn.expire(why, now, |out| {
                        reply::error(
                            408,
                            "request not received in time; send the whole request promptly",
                        )
                        .write(out, Version::Http11, false)
                    });
                    let next = conn.soonest_from(now);
                    self.timers.arm(next, idx, generation);
                    self.recharge(idx);
                    self.flush(idx, now);
                }
                Some((at, _)) => {
                    let next = at.min(conn.soonest_from(now));
                    self.timers.arm(next, idx, generation);
                }
                None => {
                    let next = conn.soonest_from(now);
                    self.timers.arm(next, idx, generation);
                }
            }
        }
    }
}

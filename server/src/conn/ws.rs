//! One WebSocket connection's buffers and protocol state, without the
//! socket: what a client sent (pings, pongs, a close), the frames queued
//! for it, its subscription, and when it needs attention.
//!
//! Guarantees:
//! - Bounded input: [`WsConn::room`] lets the runtime read at most one
//!   largest client message (`--max-ws-message`) plus a read chunk; a
//!   frame over the limit is refused from its header (close 1009).
//! - Bounded output: records are queued only while fewer than
//!   `max_unsent` bytes are unsent ([`WsConn::room_for_records`]); a
//!   subscriber that stops reading holds that much, and its cursor.
//! - Liveness without a duration cap: a ping after `ping_every` without a
//!   frame out keeps proxies from cutting a quiet stream; a client that
//!   answers no ping, or reads nothing of what is queued, within the idle
//!   timeout is closed.

use std::time::Duration;

use spool_core::time::Instant;
use spool_proto::ws::{
    close, write_close, write_ping, write_pong, FrameReader, Incoming, WsLimits,
};

use super::http::READ_CHUNK;
use super::outbox::Outbox;
use crate::clock::after;
use crate::live::subscription::Subscription;
use crate::live::window::Window;

/// A WebSocket connection's limits.
#[derive(Clone, Copy, Debug)]
pub struct WsConnLimits {
    /// What a client may send.
    pub frames: WsLimits,
    /// Unsent bytes past which no more records are queued.
    pub max_unsent: usize,
    /// Ping after this long without a frame out.
    pub ping_every: Duration,
    /// Close when a ping goes unanswered, or queued bytes are not read,
    /// for this long.
    pub idle_timeout: Duration,
}

/// Why a WebSocket connection's deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsExpiry {
    /// Quiet for the ping interval: send a ping.
    Ping,
    /// No pong, or no reading, for the idle timeout: close.
    Dead,
}

/// One WebSocket connection. See the module docs.
pub struct WsConn {
    limits: WsConnLimits,
    input: Vec<u8>,
    reader: FrameReader,
    output: Outbox,
    /// A close frame is queued (or the peer is gone): read nothing more,
    /// close once the output is sent.
    closing: bool,
    peer_closed: bool,
    /// Last frame queued (pings are sent after quiet).
    last_out: Instant,
    /// A ping is out, unanswered, since then.
    ping_out: Option<Instant>,
    /// The subscriber's place and filter.
    pub sub: Subscription,
}

impl WsConn {
    /// A connection upgraded at `now`: `input` holds bytes the client sent
    /// after its handshake, `output` the answers queued before it and the
    /// `101` itself.
    pub fn new(
        limits: WsConnLimits,
        input: Vec<u8>,
        output: Vec<u8>,
        sub: Subscription,
        now: Instant,
    ) -> WsConn {
        let mut conn = WsConn {
            limits,
            input: Vec::new(),
            reader: FrameReader::new(limits.frames),
            output: Outbox::new(now, 4 * limits.max_unsent.max(READ_CHUNK)),
            closing: false,
            peer_closed: false,
            last_out: now,
            ping_out: None,
            sub,
        };
        conn.output.push(now, |out| out.extend_from_slice(&output));
        conn.received(&input, now);
        conn
    }

    /// How many bytes the runtime may read now (0: none).
    pub fn room(&self) -> usize {
        if self.closing || self.peer_closed {
            return 0;
        }
        (self.limits.frames.max_message + READ_CHUNK).saturating_sub(self.input.len())
    }

    /// Takes bytes read from the socket: answers pings, notes pongs,
    /// answers a close; a protocol error queues a close with its code.
    /// Messages from the client carry nothing for the server and are
    /// dropped (filters are set in the URL).
    pub fn received(&mut self, bytes: &[u8], now: Instant) {
        self.input.extend_from_slice(bytes);
        let mut used = 0;
        while !self.closing {
            match self.reader.next(&self.input[used..]) {
                Ok((message, n)) => {
                    used += n;
                    match message {
                        None if n == 0 => break,
                        None => {}
                        Some(Incoming::Ping(payload)) => {
                            self.last_out = now;
                            self.output.push(now, |out| write_pong(out, &payload));
                        }
                        Some(Incoming::Pong(_)) => self.ping_out = None,
                        Some(Incoming::Close(_)) => self.close_with(close::NORMAL, "", now),
                        Some(Incoming::Text(_) | Incoming::Binary(_)) => {}
                    }
                }
                Err(e) => {
                    self.close_with(e.code, e.reason, now);
                    used = self.input.len();
                }
            }
        }
        self.input.drain(..used.min(self.input.len()));
        if self.closing {
            self.input = Vec::new();
        }
    }

    /// Queues a close frame and closes once it is sent.
    pub fn close_with(&mut self, code: u16, reason: &str, now: Instant) {
        if self.closing {
            return;
        }
        self.last_out = now;
        self.output.push(now, |out| write_close(out, code, reason));
        self.closing = true;
    }

    /// The socket reported end of input (or an error).
    pub fn peer_closed(&mut self) {
        self.peer_closed = true;
    }

    /// Bytes of records it may take now (0: none until it reads more).
    pub fn room_for_records(&self) -> usize {
        if self.closing || self.peer_closed {
            return 0;
        }
        self.limits.max_unsent.saturating_sub(self.output.pending())
    }

    /// Queues the frames its subscription wants from `window`, up to its
    /// room. Returns whether any were queued.
    pub fn take_records(&mut self, window: &Window, now: Instant) -> bool {
        let room = self.room_for_records();
        if room == 0 {
            return false;
        }
        let sub = &mut self.sub;
        let took = self.output.push(now, |out| {
            let limit = out.len() + room;
            sub.take_from(window, out, limit)
        });
        if took {
            self.last_out = now;
        }
        took
    }

    /// Queues frames already made (a catch-up job's).
    pub fn push_frames(&mut self, frames: &[u8], now: Instant) {
        if !frames.is_empty() {
            self.last_out = now;
            self.output.push(now, |out| out.extend_from_slice(frames));
        }
    }

    /// Bytes not yet sent.
    pub fn unsent(&self) -> &[u8] {
        self.output.unsent()
    }

    /// `n` bytes of [`WsConn::unsent`] went to the socket.
    pub fn sent(&mut self, n: usize, now: Instant) {
        self.output.sent(n, now);
    }

    /// The peer is gone for writing: drop what it will never read.
    pub fn write_failed(&mut self) {
        self.output.discard();
        self.closing = true;
        self.peer_closed = true;
    }

    /// Whether the runtime should close it now.
    pub fn finished(&self) -> bool {
        self.peer_closed || (self.closing && self.output.is_drained())
    }

    /// When it next needs attention, and why.
    pub fn deadline(&self) -> (Instant, WsExpiry) {
        if !self.output.is_drained() {
            return (
                after(self.output.last_progress(), self.limits.idle_timeout),
                WsExpiry::Dead,
            );
        }
        if let Some(at) = self.ping_out {
            return (after(at, self.limits.idle_timeout), WsExpiry::Dead);
        }
        (after(self.last_out, self.limits.ping_every), WsExpiry::Ping)
    }

    /// The earliest any later deadline can be, counted from `now`.
    pub fn soonest_from(&self, now: Instant) -> Instant {
        after(now, self.limits.idle_timeout.min(self.limits.ping_every))
    }

    /// Acts on a passed deadline: a ping, or closing a dead connection.
    pub fn expire(&mut self, why: WsExpiry, now: Instant) {
        match why {
            WsExpiry::Ping => {
                self.last_out = now;
                self.output.push(now, |out| write_ping(out, b"spool"));
                if self.ping_out.is_none() {
                    self.ping_out = Some(now);
                }
            }
            WsExpiry::Dead => {
                self.output.discard();
                self.closing = true;
            }
        }
    }
}

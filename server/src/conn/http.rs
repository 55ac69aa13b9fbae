//! One HTTP/1.1 connection's buffers and protocol state, without the socket.
//!
//! Owns the bytes received and not yet parsed, the request parser, the
//! answers not yet sent, and where the connection stands (reading, waiting
//! for the log, closing). The runtime moves bytes between it and the socket
//! and asks it what to do next; it never blocks and does no IO.
//!
//! Guarantees:
//! - Answers leave in request order: while a request waits for the log
//!   ([`HttpConn::park`]), no later request is parsed.
//! - Input is consumed by cursor, so a burst of pipelined requests costs
//!   each request its own bytes, not a shift of everything behind it.
//! - Bounded input: [`HttpConn::room`] lets the runtime read at most
//!   `max(head limit, the current request's declared length)` plus one read
//!   chunk; a chunked body holds its decoded bytes plus at most a read of
//!   raw input (the parser releases what it decoded).
//! - Bounded output: while more than `max_unsent` bytes of answers are
//!   unsent, no request is parsed and nothing is read, so a client that
//!   pipelines and never reads fills its own socket buffers, not ours; if
//!   its output makes no progress for the idle timeout, it is closed.

use std::time::Duration;

use spool_core::time::Instant;
use spool_proto::http::{write_continue, HttpError, Limits, Request, RequestParser};

use super::outbox::Outbox;
use crate::clock::after;

/// Bytes asked of the socket per read.
pub const READ_CHUNK: usize = 64 * 1024;

/// What one connection may buffer for a request without drawing on the
/// shared `--max-buffered` budget: a head, or a body of up to this size.
pub const FREE_BUFFER: usize = 64 * 1024 + 16 * 1024;

/// A buffer emptied with more capacity than this is given back, so an idle
/// connection that once carried a large body holds nothing.
const KEEP_CAPACITY: usize = 256 * 1024;

/// The per-connection limits.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// What the request parser enforces.
    pub http: Limits,
    /// Unsent answer bytes beyond which requests stop being read.
    pub max_unsent: usize,
    /// Close an idle keep-alive connection, or one whose answers are not
    /// being read, after this long.
    pub idle_timeout: Duration,
    /// A whole request must arrive within this of its first byte.
    pub request_timeout: Duration,
}

/// What [`HttpConn::next_request`] found.
pub enum Step {
    /// A complete request, to be handled now.
    Request(Request),
    /// A malformed or over-limit request: answer it and close.
    Error(HttpError),
    /// Nothing to do until more bytes arrive or the connection is unblocked.
    Idle,
}

/// Why a connection's deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// A request did not arrive whole within the request timeout: 408.
    RequestTimeout,
    /// Nothing happened for the idle timeout, or the client stopped reading
    /// its answers: close.
    Idle,
}

/// One connection's state. See the module docs.
pub struct HttpConn {
    limits: ConnLimits,
    input: Vec<u8>,
    /// Bytes of `input` before this are consumed.
    start: usize,
    parser: RequestParser,
    output: Outbox,
    /// Parked on the log: no request is parsed until answered.
    waiting: bool,
    /// Close once the output is sent; parse nothing more.
    closing: bool,
    /// Answer every further request with `Connection: close`.
    last_answers: bool,
    peer_closed: bool,
    /// Last byte received, or last answer queued.
    last_active: Instant,
    /// First byte of the request being received.
    request_started: Option<Instant>,
}

impl HttpConn {
    /// A new connection accepted at `now`.
    pub fn new(limits: ConnLimits, now: Instant) -> HttpConn {
        HttpConn {
            limits,
            input: Vec::new(),
            start: 0,
            parser: RequestParser::new(limits.http),
            output: Outbox::new(now, KEEP_CAPACITY),
            waiting: false,
            closing: false,
            last_answers: false,
            peer_closed: false,
            last_active: now,
            request_started: None,
        }
    }

    fn unconsumed(&self) -> usize {
        self.input.len() - self.start
    }

    fn output_blocked(&self) -> bool {
        self.output.pending() > self.limits.max_unsent
    }

    /// How many bytes the runtime may read from the socket now (0: do not
    /// read; it will be told to try again when that changes).
    pub fn room(&self) -> usize {
        if self.waiting || self.closing || self.peer_closed || self.output_blocked() {
            return 0;
        }
        let need = self
            .parser
            .expected_len()
            .unwrap_or(0)
            .max(self.limits.http.max_header_bytes);
        (need + READ_CHUNK).saturating_sub(self.unconsumed())
    }

    /// Appends bytes read from the socket.
    pub fn received(&mut self, bytes: &[u8], now: Instant) {
        if self.start > 0 && self.start >= self.input.len() / 2 {
            self.input.drain(..self.start);
            self.start = 0;
        }
        self.input.extend_from_slice(bytes);
        self.last_active = now;
        if self.request_started.is_none() {
            self.request_started = Some(now);
        }
    }

    /// The socket reported end of input (or an error).
    pub fn peer_closed(&mut self) {
        self.peer_closed = true;
    }

    /// The next complete request, if one is buffered and the connection may
    /// take it (not parked, not over its output bound, not closing).
    pub fn next_request(&mut self, now: Instant) -> Step {
        if self.waiting || self.closing || self.output_blocked() {
            return Step::Idle;
        }
        let parsed = self.parser.parse(&self.input[self.start..]);
        match parsed {
            Ok(Some((request, used))) => {
                self.start += used;
                if self.start == self.input.len() {
                    self.input.clear();
                    self.start = 0;
                    if self.input.capacity() > KEEP_CAPACITY {
                        self.input = Vec::new();
                    }
                }
                self.request_started = (self.unconsumed() > 0).then_some(now);
                Step::Request(request)
            }
            Ok(None) => {
                self.start += self.parser.take_released();
                if self.parser.wants_continue() {
                    self.output.push(now, write_continue);
                    self.parser.mark_continue_sent();
                }
                if self.peer_closed {
                    self.closing = true;
                }
                Step::Idle
            }
            Err(e) => Step::Error(e),
        }
    }

    /// Ends HTTP on this connection for a protocol upgrade (WebSocket):
    /// the bytes received after the upgrading request, and the answers not
    /// yet sent (to go out before anything of the new protocol).
    pub fn into_upgrade(self) -> (Vec<u8>, Vec<u8>) {
        (self.input[self.start..].to_vec(), self.output.into_unsent())
    }

    /// Whether a request's body is being received.
    pub fn in_body(&self) -> bool {
        self.parser.in_body()
    }

    /// Bytes this connection holds for the request being received: the
    /// unparsed input, or the whole declared request if more, plus a chunked
    /// body's decoded bytes. What `--max-buffered` counts.
    pub fn buffered(&self) -> usize {
        self.unconsumed()
            .max(self.parser.expected_len().unwrap_or(0))
            .saturating_add(self.parser.decoded_body_len())
    }

    /// Whether the next answer must say `Connection: close` (the client
    /// asked, or the daemon is shutting down).
    pub fn keep_alive(&self, requested: bool) -> bool {
        requested && !self.last_answers
    }

    /// Queues an answer written by `write`; closes after it unless
    /// `keep_alive`. Unparks the connection.
    pub fn answer(&mut self, now: Instant, keep_alive: bool, write: impl FnOnce(&mut Vec<u8>)) {
        self.output.push(now, write);
        self.waiting = false;
        self.last_active = now;
        if !keep_alive {
            self.closing = true;
        }
    }

    /// Drops the request being received (and any after it), queues the
    /// answer written by `write`, and closes after it.
    pub fn refuse(&mut self, now: Instant, write: impl FnOnce(&mut Vec<u8>)) {
        self.input = Vec::new();
        self.start = 0;
        self.parser = RequestParser::new(self.limits.http);
        self.request_started = None;
        self.answer(now, false, write);
    }

    /// Waits for the log: nothing more is parsed until [`HttpConn::answer`].
    pub fn park(&mut self) {
        self.waiting = true;
    }

    /// Whether it waits for the log.
    pub fn is_parked(&self) -> bool {
        self.waiting
    }

    /// From now on every answer closes the connection (shutdown).
    pub fn answer_last(&mut self) {
        self.last_answers = true;
    }

    /// Whether nothing is buffered, parked or unsent: at shutdown such a
    /// connection is closed at once.
    pub fn is_quiet(&self) -> bool {
        !self.waiting && self.unconsumed() == 0 && !self.in_body() && self.output.is_drained()
    }

    /// Answer bytes not yet sent.
    pub fn unsent(&self) -> &[u8] {
        self.output.unsent()
    }

    /// `n` bytes of [`HttpConn::unsent`] went to the socket.
    pub fn sent(&mut self, n: usize, now: Instant) {
        self.output.sent(n, now);
    }

    /// The peer is gone for writing: drop what it will never read, close.
    pub fn write_failed(&mut self) {
        self.output.discard();
        self.closing = true;
        self.peer_closed = true;
    }

    /// Whether the runtime should close it now: nothing unsent, not parked,
    /// and closing (or the peer closed with nothing left to parse).
    pub fn finished(&self) -> bool {
        let done = self.closing || (self.peer_closed && self.unconsumed() == 0);
        done && !self.waiting && self.output.is_drained()
    }

    /// When this connection next needs attention, and why; `None` while it
    /// waits for the log (the log answers).
    pub fn deadline(&self) -> Option<(Instant, Expiry)> {
        if self.waiting {
            return None;
        }
        if !self.output.is_drained() {
            return Some((
                after(self.output.last_progress(), self.limits.idle_timeout),
                Expiry::Idle,
            ));
        }
        match self.request_started {
            Some(t) => Some((
                after(t, self.limits.request_timeout),
                Expiry::RequestTimeout,
            )),
            None => Some((
                after(self.last_active, self.limits.idle_timeout),
                Expiry::Idle,
            )),
        }
    }

    /// The earliest any later deadline can be, counted from an event at
    /// `now`: the runtime arms its timer no later than this, so it never
    /// needs a second timer when the deadline moves earlier.
    pub fn soonest_from(&self, now: Instant) -> Instant {
        after(
            now,
            self.limits.idle_timeout.min(self.limits.request_timeout),
        )
    }

    /// Expires the connection: for a request timeout, queues the 408 answer
    /// written by `write_408` and closes after it.
    pub fn expire(&mut self, why: Expiry, now: Instant, write_408: impl FnOnce(&mut Vec<u8>)) {
        match why {
            Expiry::RequestTimeout => self.refuse(now, write_408),
            Expiry::Idle => {
                self.output.discard();
                self.closing = true;
            }
        }
    }
}

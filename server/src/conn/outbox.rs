//! Bytes queued for one socket, and how many of them went out: what both
//! kinds of connection send through.

use spool_core::time::Instant;

/// A connection's output. See the module docs.
pub struct Outbox {
    buf: Vec<u8>,
    sent: usize,
    /// Last progress sending, or when output became pending.
    last_progress: Instant,
    /// A buffer emptied with more capacity than this is given back.
    keep: usize,
}

impl Outbox {
    /// An empty outbox at `now`; an emptied buffer larger than `keep`
    /// bytes is freed, so an idle connection holds nothing.
    pub fn new(now: Instant, keep: usize) -> Outbox {
        Outbox {
            buf: Vec::new(),
            sent: 0,
            last_progress: now,
            keep,
        }
    }

    /// Bytes not yet sent.
    pub fn unsent(&self) -> &[u8] {
        &self.buf[self.sent..]
    }

    /// How many bytes are not yet sent.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// Whether everything queued was sent.
    pub fn is_drained(&self) -> bool {
        self.sent == self.buf.len()
    }

    /// Appends what `write` writes. When nothing was pending, the wait for
    /// progress starts at `now`.
    pub fn push<T>(&mut self, now: Instant, write: impl FnOnce(&mut Vec<u8>) -> T) -> T {
        if self.is_drained() {
            self.last_progress = now;
        }
        write(&mut self.buf)
    }

    /// `n` bytes of [`Outbox::unsent`] went to the socket at `now`.
    pub fn sent(&mut self, n: usize, now: Instant) {
        self.sent += n;
        if n > 0 {
            self.last_progress = now;
        }
        if self.sent >= self.buf.len() {
            self.buf.clear();
            self.sent = 0;
            if self.buf.capacity() > self.keep {
                self.buf = Vec::new();
            }
        }
    }

    /// Drops everything queued (the peer will never read it).
    pub fn discard(&mut self) {
        self.buf = Vec::new();
        self.sent = 0;
    }

    /// The last progress sending, or when output became pending: with
    /// bytes pending, how long the peer has not read.
    pub fn last_progress(&self) -> Instant {
        self.last_progress
    }

    /// The bytes not yet sent, to go out first on what follows (an
    /// upgraded connection).
    pub fn into_unsent(mut self) -> Vec<u8> {
        self.buf.drain(..self.sent);
        self.buf
    }
}

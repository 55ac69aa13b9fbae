//! The alert webhook's socket in the event loop (`--alert-webhook`).
//!
//! `alerts::webhook::Webhook` decides what to send and when to retry;
//! this owns the one connection an attempt uses: a non-blocking connect,
//! the request written as the socket takes it, the answer read until its
//! status line (`proto::http::client`), then closed. Each turn the loop
//! calls [`Server::webhook_turn`]: expire an attempt past its timeout,
//! start the next one when due. Nothing here waits, so a receiver that is
//! down, slow or silent costs ingest nothing: alerts wait in the bounded
//! queue, and the oldest are dropped (counted) when it is full.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;
use mio::{Interest, Token};
use spool_core::time::Instant;
use spool_proto::http::client::{write_post, HttpUrl, ResponseReader, DEFAULT_MAX_HEAD};

use super::Server;
use crate::alerts::webhook::{Failure, Outcome, Verdict, Webhook};
use crate::app::AlertCounters;

/// The webhook connection's token.
pub(super) const WEBHOOK: Token = Token(4);

/// One attempt's connection.
struct Attempt {
    stream: TcpStream,
    request: Vec<u8>,
    sent: usize,
    answer: ResponseReader,
}

/// The webhook: where it goes, its queue, and the attempt in flight.
pub(crate) struct WebhookLink {
    url: HttpUrl,
    addr: SocketAddr,
    machine: Webhook,
    attempt: Option<Attempt>,
}

impl WebhookLink {
    /// Posts alerts to `url`, at `addr` (resolved at start-up).
    pub(crate) fn new(url: HttpUrl, addr: SocketAddr, machine: Webhook) -> WebhookLink {
        WebhookLink {
            url,
            addr,
            machine,
            attempt: None,
        }
    }

    /// Queues an alert (never blocks; the oldest waiting is dropped when
    /// the queue is full).
    pub(super) fn enqueue(&mut self, json: Vec<u8>, line: String, _now: Instant) {
        self.machine.enqueue(json, line);
    }

    /// When the loop must call [`Server::webhook_turn`] next.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.machine.deadline()
    }

    /// Adds the webhook's counters.
    pub(super) fn fill(&self, c: &mut AlertCounters) {
        let s = self.machine.stats();
        c.webhook_delivered = s.delivered;
        c.webhook_failed = s.failed_attempts;
        c.webhook_dropped = s.dropped + s.rejected;
        c.webhook_queued = s.queued as u64;
    }
}

impl Server {
    /// Expires an attempt past its timeout; starts the next one when due.
    pub(super) fn webhook_turn(&mut self, now: Instant) {
        let Some(link) = &mut self.alerts.webhook else {
            return;
        };
        if link.attempt.is_some() && link.machine.timed_out(now) {
            self.webhook_done(now, Outcome::Failed(Failure::TimedOut));
        }
        let Some(link) = &mut self.alerts.webhook else {
            return;
        };
        if link.attempt.is_some() {
            return;
        }
        let Some(body) = link.machine.next_attempt(now) else {
            return;
        };
        let mut request = Vec::with_capacity(body.len() + 256);
        write_post(&mut request, &link.url, "application/json", body);
        let mut stream = match TcpStream::connect(link.addr) {
            Ok(s) => s,
            Err(e) => {
                self.webhook_done(now, Outcome::Failed(Failure::Connect(e.kind())));
                return;
            }
        };
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            WEBHOOK,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.webhook_done(now, Outcome::Failed(Failure::Connect(e.kind())));
            return;
        }
        if let Some(link) = &mut self.alerts.webhook {
            link.attempt = Some(Attempt {
                stream,
                request,
                sent: 0,
                answer: ResponseReader::new(DEFAULT_MAX_HEAD),
            });
        }
    }

    /// The webhook socket is ready: send what is left, read the answer.
    pub(super) fn webhook_ready(&mut self, now: Instant) {
        let Some(link) = &mut self.alerts.webhook else {
            return;
        };
        let Some(a) = &mut link.attempt else {
            return;
        };
        let outcome = match exchange(a) {
            Ok(None) => return,
            Ok(Some(status)) => Outcome::Status(status),
            Err(f) => Outcome::Failed(f),
        };
        self.webhook_done(now, outcome);
    }

    /// Ends the attempt in flight: closes its socket and reports.
    fn webhook_done(&mut self, now: Instant, outcome: Outcome) {
        let Some(link) = &mut self.alerts.webhook else {
            return;
        };
        if let Some(mut a) = link.attempt.take() {
            let _ = self.poll.registry().deregister(&mut a.stream);
        }
        let why = match &outcome {
            Outcome::Status(s) => format!("answered {s}"),
            Outcome::Failed(f) => f.to_string(),
        };
        let url = link.url.to_string();
        match link.machine.attempt_done(now, outcome) {
            Some(Verdict::Retry {
                at,
                consecutive_failures: n,
            }) if n.is_power_of_two() => eprintln!(
                "spool: alert webhook {url}: {why}; retrying in {} ms ({n} failed attempts in a row)",
                at.nanos_since(now) / 1_000_000
            ),
            Some(Verdict::Rejected { status }) => eprintln!(
                "spool: alert webhook {url} refused an alert with {status}; it is dropped (not retried)"
            ),
            _ => {}
        }
    }
}

/// Writes what the socket takes and reads what arrived: the final status
/// once it is in, `None` while more is needed.
fn exchange(a: &mut Attempt) -> Result<Option<u16>, Failure> {
    match a.stream.take_error() {
        Ok(Some(e)) | Err(e) => {
            return Err(if a.sent == 0 {
                Failure::Connect(e.kind())
            } else {
                Failure::Io(e.kind())
            })
        }
        Ok(None) => {}
    }
    while a.sent < a.request.len() {
        match a.stream.write(&a.request[a.sent..]) {
            Ok(0) => return Err(Failure::Io(io::ErrorKind::WriteZero)),
            Ok(n) => a.sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if a.sent == 0 && e.kind() == io::ErrorKind::NotConnected => break,
            Err(e) if a.sent == 0 => return Err(Failure::Connect(e.kind())),
            Err(e) => return Err(Failure::Io(e.kind())),
        }
    }
    let mut buf = [0u8; 4096];
    loop {
        match a.stream.read(&mut buf) {
            Ok(0) => {
                return a.answer.closed().map(Some).map_err(Failure::Response);
            }
            Ok(n) => {
                if let Some(status) = a.answer.push(&buf[..n]).map_err(Failure::Response)? {
                    return Ok(Some(status));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if a.sent == 0 => return Err(Failure::Connect(e.kind())),
            Err(e) => return Err(Failure::Io(e.kind())),
        }
    }
}

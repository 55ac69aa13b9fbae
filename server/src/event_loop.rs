//! The daemon's event loop: one mio `Poll` owning the listener, every client
//! connection, the IO thread's waker and a signalfd.
//!
//! Each turn reads the clock once, handles readiness, and answers requests.
//! An ingest request is decoded, submitted to the group commit, and parked
//! until the IO thread reports its records durable; only then is `2xx`
//! written. Responses on a connection stay in request order: while one
//! request waits for the disk, later pipelined requests wait behind it.
//!
//! Guarantees: no `2xx` for an ingest before the `Durable` event covering its
//! last record; after a write failure every parked and later ingest gets
//! 503 and the process exits non-zero once answers are flushed; on
//! SIGINT/SIGTERM the listener closes, parked requests are answered, and the
//! loop returns.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use spool_core::commit::Event;
use spool_core::record::Lsn;
use spool_proto::http::{HttpError, Limits, Request, RequestParser, Version};

use crate::config::ServeConfig;
use crate::log::{Log, LogOptions};
use crate::routes::{self, Reply, Route};
use crate::storage::recovery::OpenError;
use spool_core::mark::MarkProblem;
use spool_core::segment::DeleteReason;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const SIGNALS: Token = Token(2);
const FIRST_CONN: usize = 3;
const READ_CHUNK: usize = 64 * 1024;
/// Longest a shutdown waits for parked requests and unsent answers.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// How the loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Asked to stop by a signal; everything acknowledged is durable.
    Signal,
    /// A write or sync failed: exit non-zero so recovery runs on restart.
    WriteFailed,
}

struct Parked {
    conn: usize,
    generation: u64,
    /// The id epoch the records were submitted in (see `Event::Rejected`).
    epoch: u64,
    first: Lsn,
    last: Lsn,
    version: Version,
    keep_alive: bool,
}

struct Conn {
    stream: TcpStream,
    generation: u64,
    read_buf: Vec<u8>,
    write_buf: Vec<u8>,
    written: usize,
    parser: RequestParser,
    /// Waiting for the disk: no further request is processed until answered.
    parked: bool,
    /// Close once `write_buf` is sent.
    closing: bool,
    peer_closed: bool,
    writable_interest: bool,
    last_active: Instant,
    /// When the first byte of the request being received arrived.
    request_started: Option<Instant>,
}

/// The running daemon.
pub struct Server {
    poll: Poll,
    listener: Option<TcpListener>,
    signals: OwnedFd,
    cfg: ServeConfig,
    limits: Limits,
    log: Log,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    open_conns: usize,
    next_generation: u64,
    parked: BTreeMap<Lsn, Vec<Parked>>,
    events: Vec<Event>,
    scratch: Vec<u8>,
    draining: Option<Instant>,
    failed: bool,
}

/// Blocks SIGINT and SIGTERM in this thread (and threads it spawns later) and
/// returns a signalfd that reports them. Call before any thread is spawned.
fn signal_fd() -> io::Result<OwnedFd> {
    // SAFETY: `set` is a local sigset_t initialised by sigemptyset before use;
    // the calls only read it. pthread_sigmask affects this thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Raises the soft open-file limit to the hard limit, so `--max-connections`
/// is not silently capped by a default soft limit of 1024. Best effort.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write a local struct of the right type.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Why the daemon could not start.
#[derive(Debug)]
pub enum StartError {
    /// Opening the data directory failed (corruption, lock, IO).
    Open(OpenError),
    /// Binding or polling failed.
    Io(io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Open(e) => write!(f, "{e}"),
            StartError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl Server {
    /// Recovers the data directory and binds the listener. The log is open
    /// (and recovery finished) before the socket accepts anything.
    pub fn start(cfg: ServeConfig) -> Result<Server, StartError> {
        raise_fd_limit();
        let signals = signal_fd().map_err(StartError::Io)?;
        let poll = Poll::new().map_err(StartError::Io)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(StartError::Io)?);
        let notify_waker = waker.clone();
        let log = Log::open_with(
            &cfg.data_dir,
            LogOptions {
                commit: cfg.commit_config(),
                keep_events: true,
                notify: Some(Box::new(move || {
                    let _ = notify_waker.wake();
                })),
                accept_data_loss: cfg.accept_data_loss,
            },
        )
        .map_err(StartError::Open)?;
        for (segment, offset, bytes) in &log.recovered().torn {
            eprintln!(
                "spool: recovery cut a torn tail of {bytes} bytes at {}:{offset}",
                crate::storage::files::segment_file_name(*segment)
            );
        }
        if let Some((problem, lost)) = &log.recovered().accepted {
            eprintln!("spool: WARNING: starting with --accept-data-loss: {problem}");
            match lost {
                Some((from, to)) => eprintln!(
                    "spool: WARNING: ids {from}..={to} are declared lost (some may never have been used); new records start at {}, in a new segment; readers report the lost ids as a gap",
                    to.next()
                ),
                None if matches!(problem, MarkProblem::NoMark | MarkProblem::BadMark(_)) => eprintln!(
                    "spool: WARNING: without a MARK nothing bounds the ids handed out before: ids continue after the last record present; if newer segments were lost too, their ids are given again"
                ),
                None => eprintln!("spool: WARNING: no id that was handed out is missing; ids continue after the last record present"),
            }
        }
        let mut listener = TcpListener::bind(cfg.listen).map_err(StartError::Io)?;
        // mio binds with a backlog of 128; a burst of connects (producers
        // reconnecting after a restart) would overflow it and wait out a 1 s
        // SYN retransmit. Calling listen again raises the backlog (Linux
        // caps it at net.core.somaxconn).
        // SAFETY: plain syscall on the listening socket we own.
        if unsafe { libc::listen(listener.as_raw_fd(), 4096) } != 0 {
            return Err(StartError::Io(io::Error::last_os_error()));
        }
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(StartError::Io)?;
        poll.registry()
            .register(
                &mut SourceFd(&signals.as_raw_fd()),
                SIGNALS,
                Interest::READABLE,
            )
            .map_err(StartError::Io)?;
        let limits = Limits {
            max_header_bytes: usize::try_from(cfg.max_header).unwrap_or(usize::MAX),
            max_body: cfg.max_body,
            ..Limits::default()
        };
        Ok(Server {
            poll,
            listener: Some(listener),
            signals,
            cfg,
            limits,
            log,
            conns: Vec::new(),
            free: Vec::new(),
            open_conns: 0,
            next_generation: 0,
            parked: BTreeMap::new(),
            events: Vec::new(),
            scratch: vec![0; READ_CHUNK],
            draining: None,
            failed: false,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        match &self.listener {
            Some(l) => l.local_addr(),
            None => Err(io::Error::other("listener closed")),
        }
    }

    /// Runs until a signal or a write failure; then drains and closes the log.
    pub fn run(mut self) -> io::Result<Exit> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = Some(Duration::from_millis(250));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(now),
                    WAKER => self.on_log_events(now),
                    SIGNALS => self.on_signal(now),
                    Token(t) => {
                        let idx = t - FIRST_CONN;
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.on_readable(idx, now);
                        }
                        if event.is_writable() {
                            self.flush(idx);
                        }
                    }
                }
            }
            // Completions may arrive between a wake and this point: check
            // every turn so nothing waits for the next wake.
            self.on_log_events(now);
            self.sweep(now);
            if self.finished(now) {
                break;
            }
        }
        let exit = if self.failed {
            Exit::WriteFailed
        } else {
            Exit::Signal
        };
        // Every parked request was answered, so nothing acknowledged is
        // still queued: these counters are final for this run.
        let st = self.log.handoff().inspect(|gc| gc.stats());
        eprintln!(
            "spool: {} records made durable in {} fsyncs ({:.1} per fsync), {} rejected for lack of space, {} segments deleted by retention",
            st.records,
            st.syncs,
            st.records as f64 / st.syncs.max(1) as f64,
            st.rejected,
            st.segments_deleted
        );
        if self.log.close() {
            eprintln!("spool: clean shutdown recorded in the log mark");
        } else if !self.failed {
            eprintln!("spool: WARNING: could not record a clean shutdown in the log mark (see the write error above, if any); the next start treats this stop as a crash");
        }
        Ok(exit)
    }

    fn finished(&self, now: Instant) -> bool {
        let Some(since) = self.draining else {
            return false;
        };
        let unsent = self
            .conns
            .iter()
            .flatten()
            .any(|c| c.written < c.write_buf.len());
        (self.parked.is_empty() && !unsent) || now.duration_since(since) > DRAIN_LIMIT
    }

    fn start_draining(&mut self, now: Instant) {
        if self.draining.is_some() {
            return;
        }
        self.draining = Some(now);
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        // Idle connections close now; busy ones after their answer.
        for idx in 0..self.conns.len() {
            if let Some(c) = &mut self.conns[idx] {
                c.closing = true;
                if !c.parked && c.written >= c.write_buf.len() {
                    self.close(idx);
                }
            }
        }
    }

    fn on_signal(&mut self, now: Instant) {
        let mut buf = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
        loop {
            // SAFETY: reads into a local buffer of exactly its length from a
            // descriptor we own.
            let n =
                unsafe { libc::read(self.signals.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
        }
        eprintln!("spool: signal received, finishing in-flight requests");
        self.start_draining(now);
    }

    fn accept(&mut self, now: Instant) {
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            let (mut stream, _) = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: leave it pending, try next turn.
                    eprintln!("spool: accept: {e}");
                    return;
                }
            };
            if self.open_conns >= self.cfg.max_connections {
                let mut out = Vec::new();
                routes::too_many_connections().write(&mut out, Version::Http11, false);
                let _ = stream.write(&out);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let idx = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            if self
                .poll
                .registry()
                .register(&mut stream, Token(idx + FIRST_CONN), Interest::READABLE)
                .is_err()
            {
                self.free.push(idx);
                continue;
            }
            self.next_generation += 1;
            self.open_conns += 1;
            self.conns[idx] = Some(Conn {
                stream,
                generation: self.next_generation,
                read_buf: Vec::new(),
                write_buf: Vec::new(),
                written: 0,
                parser: RequestParser::new(self.limits),
                parked: false,
                closing: false,
                peer_closed: false,
                writable_interest: false,
                last_active: now,
                request_started: None,
            });
        }
    }

    fn close(&mut self, idx: usize) {
        if let Some(mut c) = self.conns.get_mut(idx).and_then(Option::take) {
            let _ = self.poll.registry().deregister(&mut c.stream);
            self.open_conns -= 1;
            self.free.push(idx);
        }
    }

    fn on_readable(&mut self, idx: usize, now: Instant) {
        let cap = self.limits.max_header_bytes
            + usize::try_from(self.limits.max_body).unwrap_or(usize::MAX)
            + READ_CHUNK;
        let Some(c) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        // One scratch buffer for all reads: growing each connection's buffer
        // by a zeroed chunk per read cost a 64 KiB memset every time.
        let scratch = &mut self.scratch;
        loop {
            if c.read_buf.len() >= cap {
                break; // resumed after the parked request is answered
            }
            match c.stream.read(scratch) {
                Ok(0) => {
                    c.peer_closed = true;
                    break;
                }
                Ok(n) => {
                    c.read_buf.extend_from_slice(&scratch[..n]);
                    c.last_active = now;
                    if c.request_started.is_none() {
                        c.request_started = Some(now);
                    }
                }
                Err(e) => {
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    if e.kind() != io::ErrorKind::WouldBlock {
                        c.peer_closed = true;
                        c.closing = true;
                    }
                    break;
                }
            }
        }
        self.process(idx, now);
    }

    /// Answers every complete request in the connection's buffer, in order,
    /// stopping at one that waits for the disk.
    fn process(&mut self, idx: usize, now: Instant) {
        loop {
            let Some(c) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
                return;
            };
            if c.parked || c.closing {
                break;
            }
            let parsed = c.parser.parse(&c.read_buf);
            let request = match parsed {
                Ok(Some((req, used))) => {
                    c.read_buf.drain(..used);
                    c.request_started = (!c.read_buf.is_empty()).then_some(now);
                    req
                }
                Ok(None) => {
                    if c.parser.wants_continue() {
                        spool_proto::http::write_continue(&mut c.write_buf);
                        c.parser.mark_continue_sent();
                    }
                    if c.peer_closed {
                        c.closing = true;
                    }
                    break;
                }
                Err(e) => {
                    self.reject(idx, &e);
                    break;
                }
            };
            self.handle(idx, request);
        }
        self.flush(idx);
    }

    fn reject(&mut self, idx: usize, e: &HttpError) {
        if let Some(c) = self.conns.get_mut(idx).and_then(Option::as_mut) {
            routes::error(e.status(), &e.message()).write(&mut c.write_buf, Version::Http11, false);
            c.closing = true;
            c.read_buf.clear();
        }
    }

    fn handle(&mut self, idx: usize, req: Request) {
        let keep_alive = req.keep_alive && self.draining.is_none();
        let version = req.version;
        let reply = match routes::route(&req, &self.cfg.web) {
            Route::Ingest => {
                if self.failed || self.draining.is_some() {
                    routes::unavailable(self.failed)
                } else {
                    match routes::ingest(&req, &self.log, self.cfg.max_record) {
                        Ok(ticket) => {
                            let (first, last) = (ticket.first, ticket.last);
                            let Some(c) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
                                return;
                            };
                            c.parked = true;
                            self.parked.entry(last).or_default().push(Parked {
                                conn: idx,
                                generation: c.generation,
                                epoch: ticket.epoch,
                                first,
                                last,
                                version,
                                keep_alive,
                            });
                            return;
                        }
                        Err(reply) => reply,
                    }
                }
            }
            Route::Reply(reply) => reply,
            Route::Health => routes::health(),
            Route::Ready => routes::ready(self.failed, self.draining.is_some()),
        };
        if let Some(c) = self.conns.get_mut(idx).and_then(Option::as_mut) {
            let head_only = req.method == spool_proto::http::Method::Head;
            reply.write_maybe_head(&mut c.write_buf, version, keep_alive, head_only);
            if !keep_alive {
                c.closing = true;
            }
        }
    }

    fn on_log_events(&mut self, now: Instant) {
        self.log.handoff().take_events(&mut self.events);
        let events = std::mem::take(&mut self.events);
        for ev in &events {
            match *ev {
                Event::Durable(upto) => {
                    let rest = self.parked.split_off(&upto.next());
                    let done = std::mem::replace(&mut self.parked, rest);
                    for p in done.into_values().flatten() {
                        self.answer(p, routes::accepted, now);
                    }
                }
                Event::Rejected { first, last, epoch } => {
                    // Only requests of the rejected epoch: later ones reuse the ids.
                    let keys: Vec<Lsn> = self.parked.range(first..).map(|(k, _)| *k).collect();
                    for key in keys {
                        let Some(ps) = self.parked.remove(&key) else {
                            continue;
                        };
                        let (hit, keep): (Vec<Parked>, Vec<Parked>) = ps
                            .into_iter()
                            .partition(|p| p.epoch == epoch && p.first <= last);
                        if !keep.is_empty() {
                            self.parked.insert(key, keep);
                        }
                        for p in hit {
                            self.answer(p, |_, _| routes::disk_full(), now);
                        }
                    }
                }
                Event::Failed { error, .. } => {
                    eprintln!("spool: write or sync failed ({error}); nothing after the last durable record is acknowledged; exiting after answering");
                    self.failed = true;
                    let all = std::mem::take(&mut self.parked);
                    for p in all.into_values().flatten() {
                        self.answer(p, |_, _| routes::unavailable(true), now);
                    }
                    self.start_draining(now);
                }
                Event::Deleted {
                    segment,
                    first,
                    last,
                    file_bytes,
                    reason,
                } => {
                    let ids = if first.0 == 0 {
                        "no records".to_owned()
                    } else {
                        format!("ids {first}..={last}")
                    };
                    let why = match reason {
                        DeleteReason::Size => format!(
                            "all segments took more than --retention-bytes {}",
                            self.cfg.retention_bytes
                        ),
                        DeleteReason::Age => format!(
                            "sealed longer ago than --retention-age {:?} (wall clock)",
                            self.cfg.retention_age.unwrap_or_default()
                        ),
                    };
                    eprintln!(
                        "spool: retention deleted {} ({ids}, {file_bytes} bytes): {why}",
                        crate::storage::files::segment_file_name(segment)
                    );
                }
                Event::Rotated { .. } => {}
            }
        }
        self.events = events;
        self.events.clear();
    }

    fn answer(&mut self, p: Parked, reply: impl FnOnce(Lsn, Lsn) -> Reply, now: Instant) {
        let Some(c) = self.conns.get_mut(p.conn).and_then(Option::as_mut) else {
            return;
        };
        if c.generation != p.generation {
            return; // the client went away; its records are durable regardless
        }
        let keep_alive = p.keep_alive && self.draining.is_none();
        reply(p.first, p.last).write(&mut c.write_buf, p.version, keep_alive);
        c.parked = false;
        if !keep_alive {
            c.closing = true;
        }
        // Pipelined requests behind this one can go now.
        self.on_readable(p.conn, now);
    }

    fn flush(&mut self, idx: usize) {
        let Some(c) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        while c.written < c.write_buf.len() {
            match c.stream.write(&c.write_buf[c.written..]) {
                Ok(0) => {
                    c.closing = true;
                    c.write_buf.clear();
                    c.written = 0;
                    break;
                }
                Ok(n) => c.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    // Peer gone: drop what it will never read.
                    c.write_buf.clear();
                    c.written = 0;
                    c.closing = true;
                    c.peer_closed = true;
                    break;
                }
            }
        }
        let pending = c.written < c.write_buf.len();
        if !pending {
            c.write_buf.clear();
            c.written = 0;
        }
        if pending != c.writable_interest {
            let interest = if pending {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ =
                self.poll
                    .registry()
                    .reregister(&mut c.stream, Token(idx + FIRST_CONN), interest);
            c.writable_interest = pending;
        }
        let done = c.closing || (c.peer_closed && c.read_buf.is_empty());
        if !pending && !c.parked && done {
            self.close(idx);
        }
    }

    /// Time-based limits: the header deadline and the idle timeout.
    fn sweep(&mut self, now: Instant) {
        for idx in 0..self.conns.len() {
            let Some(c) = &mut self.conns[idx] else {
                continue;
            };
            if c.parked || c.written < c.write_buf.len() {
                continue;
            }
            if let Some(started) = c.request_started {
                if now.duration_since(started) > self.cfg.request_timeout {
                    routes::error(
                        408,
                        "request not received in time; send the whole request promptly",
                    )
                    .write(&mut c.write_buf, Version::Http11, false);
                    c.closing = true;
                    self.flush(idx);
                }
            } else if now.duration_since(c.last_active) > self.cfg.idle_timeout {
                self.close(idx);
            }
        }
    }
}

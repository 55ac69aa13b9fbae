//! The runtime: one mio `Poll` owning the listener, every client socket, the
//! IO thread's waker and a signalfd; the clock, the timers and the signals.
//! It moves bytes between sockets and connection states (`conn`), hands
//! complete requests to the application (`app`), and applies the outcomes.
//!
//! Each turn reads the monotonic clock once, handles readiness, serves the
//! connections that still have work (each turn bounds the requests and
//! reads done for one connection, so one client cannot hold the loop),
//! then fires due deadlines. It sleeps until the earliest deadline, or not
//! at all while a connection has work left.
//!
//! Guarantees: no `2xx` for an ingest before the `Durable` event covering
//! its last record; after a write failure every parked and later ingest
//! gets 503 and the process exits non-zero once answers are flushed; on
//! SIGINT/SIGTERM the listener closes, requests already received are
//! answered (with `Connection: close`), and the loop returns.

mod alerts;
mod apply;
mod live;
mod parked;
mod signals;
mod sockets;
mod timers;
mod webhook;

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use spool_core::mark::MarkProblem;
use spool_core::record::Lsn;
use spool_core::time::Instant;
use spool_proto::http::Version;

use crate::app::{reply, Phase};
use crate::clock;
use crate::config::ServeConfig;
use crate::conn::http::{ConnLimits, HttpConn, READ_CHUNK};
use crate::conn::Conn;
use crate::embed::{Log, LogOptions};
use crate::metrics::{Histogram, LogMetrics, Metrics, LATENCY_BOUNDS};
use crate::query::catalog::Catalog;
use crate::query::pool::Pool;
use crate::query::ReadSide;
use crate::storage::recovery::OpenError;
use apply::RecentRate;
use parked::ParkedRequests;
use timers::Timers;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const SIGNALS: Token = Token(2);
pub(super) const WATCH: Token = Token(3);
const FIRST_CONN: usize = 5;
/// Longest a shutdown waits for parked requests and unsent answers.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// Requests handled for one connection per turn before others are served.
const REQUESTS_PER_TURN: usize = 64;
/// Socket reads for one connection per turn before others are served.
const READS_PER_TURN: usize = 16;

/// How the loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Asked to stop by a signal; everything acknowledged is durable.
    Signal,
    /// A write or sync failed: exit non-zero so recovery runs on restart.
    WriteFailed,
}

/// A connection's socket beside its state.
struct Slot {
    stream: TcpStream,
    conn: Conn,
    generation: u64,
    peer: IpAddr,
    /// Bytes counted for it in `Server::buffered`.
    charged: usize,
    writable_interest: bool,
    /// In `Server::ready`.
    queued: bool,
    /// The socket may hold bytes not yet read. Cleared by a read that
    /// returns fewer bytes than asked (the receive queue was emptied) or
    /// WouldBlock; set by every readiness event. Edge-triggered epoll
    /// raises a new event for bytes that arrive after the queue was
    /// emptied, so a cleared flag never hides input. It saves a read
    /// returning WouldBlock per request, and another when a parked
    /// request is answered.
    readable: bool,
    /// An event said the peer closed its side (or the socket failed): the
    /// end of input may be queued behind the bytes a short read returned,
    /// with no event still to come, so reads go on to WouldBlock or 0.
    read_closed: bool,
}

/// A connection waiting for a job's answer.
struct ParkedJob {
    conn: usize,
    generation: u64,
    version: Version,
    keep_alive: bool,
    head_only: bool,
    since: Instant,
}

/// The running daemon.
pub struct Server {
    poll: Poll,
    listener: Option<TcpListener>,
    signals: OwnedFd,
    cfg: ServeConfig,
    limits: ConnLimits,
    log: Log,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    open_conns: usize,
    per_address: HashMap<IpAddr, usize>,
    next_generation: u64,
    parked: ParkedRequests,
    timers: Timers,
    /// Connections with work left that no readiness event will announce.
    ready: VecDeque<usize>,
    /// Request bytes held by all connections (`--max-buffered`).
    buffered: usize,
    scratch: Vec<u8>,
    draining: Option<Instant>,
    failed: bool,
    pool: Pool,
    jobs: HashMap<u64, ParkedJob>,
    next_job: u64,
    started: Instant,
    requests: u64,
    refused_records: u64,
    durable_seen: Lsn,
    /// Records were submitted this turn while the IO thread slept: wake it
    /// once, at the end of the turn ([`Handoff::submit_quiet`]).
    ///
    /// [`Handoff::submit_quiet`]: spool_core::handoff::Handoff::submit_quiet
    io_kick: bool,
    recent: RecentRate,
    live: live::Live,
    alerts: alerts::AlertState,
}

/// Why the daemon could not start.
#[derive(Debug)]
pub enum StartError {
    /// Opening the data directory failed (corruption, lock, IO).
    Open(OpenError),
    /// Binding the listen address failed.
    Bind(std::net::SocketAddr, io::Error),
    /// Polling or signal set-up failed.
    Io(io::Error),
    /// The alert rules are unreadable or invalid (a configuration
    /// mistake: a restart cannot fix it).
    Rules(String),
    /// The alert windows cannot be rebuilt, or the webhook's host resolved.
    Alerts(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Open(e) => write!(f, "{e}"),
            StartError::Bind(addr, e) if e.kind() == io::ErrorKind::AddrInUse => write!(
                f,
                "{addr} is already in use (another spool or program listens there); stop it or choose another address with --listen"
            ),
            StartError::Bind(addr, e) => {
                write!(f, "cannot listen on {addr}: {e}; choose another address with --listen")
            }
            StartError::Io(e) => write!(f, "{e}"),
            StartError::Rules(e) | StartError::Alerts(e) => write!(f, "{e}"),
        }
    }
}

impl Server {
    /// Recovers the data directory and binds the listener. The log is open
    /// (and recovery finished) before the socket accepts anything.
    pub fn start(cfg: ServeConfig) -> Result<Server, StartError> {
        signals::raise_fd_limit();
        let signals = signals::signal_fd().map_err(StartError::Io)?;
        let poll = Poll::new().map_err(StartError::Io)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(StartError::Io)?);
        let log_waker = waker.clone();
        let log_metrics = Arc::new(LogMetrics::default());
        let mut log = Log::open_with(
            &cfg.data_dir,
            LogOptions {
                commit: cfg.commit_config(),
                keep_events: true,
                notify: Some(Box::new(move || {
                    let _ = log_waker.wake();
                })),
                accept_data_loss: cfg.accept_data_loss,
                metrics: Some(log_metrics.clone()),
            },
        )
        .map_err(StartError::Open)?;
        let read = Arc::new(ReadSide {
            handoff: log.handoff().clone(),
            catalog: std::sync::Mutex::new({
                let mut catalog = Catalog::new(&cfg.data_dir);
                catalog.adopt(log.take_indexes());
                catalog
            }),
            query_timeout: cfg.query_timeout,
            max_answer: usize::try_from(cfg.max_answer).unwrap_or(usize::MAX),
            max_record: cfg.max_record,
            queries: Default::default(),
            metrics: Arc::new(Metrics {
                request_seconds: Histogram::new(LATENCY_BOUNDS),
                log: log_metrics,
            }),
            alert_feed: Default::default(),
        });
        // Index what the log holds before the first query needs it.
        if let Err(e) = read.current_catalog() {
            eprintln!("spool: indexing the log: {e}");
        }
        let pool = Pool::new(
            read,
            2,
            cfg.max_queries,
            Box::new(move || {
                let _ = waker.wake();
            }),
        )
        .map_err(StartError::Io)?;
        report_recovery(&log);
        let (alerts, missed) = start_alerts(&cfg, &log)?;
        {
            let (generation, selector) = alerts.engine.selector();
            pool.read_side()
                .alert_feed
                .set_rules(generation, selector.clone());
        }
        let mut listener =
            TcpListener::bind(cfg.listen).map_err(|e| StartError::Bind(cfg.listen, e))?;
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
        let limits = cfg.conn_limits();
        let log_durable = log.handoff().durable();
        // The inotify watch exists from the start (so it fails here, not
        // at the first subscriber); it is registered with the loop only
        // while there are subscribers.
        let live = live::Live::new(&cfg, log_durable, &log.recovered().state.gaps)
            .map_err(StartError::Io)?;
        let mut server = Server {
            poll,
            listener: Some(listener),
            signals,
            cfg,
            limits,
            log,
            slots: Vec::new(),
            free: Vec::new(),
            open_conns: 0,
            per_address: HashMap::new(),
            next_generation: 0,
            parked: ParkedRequests::default(),
            timers: Timers::default(),
            ready: VecDeque::new(),
            buffered: 0,
            scratch: vec![0; READ_CHUNK],
            draining: None,
            failed: false,
            pool,
            jobs: HashMap::new(),
            next_job: 0,
            started: clock::mono(),
            requests: 0,
            refused_records: 0,
            durable_seen: log_durable,
            io_kick: false,
            recent: RecentRate::default(),
            live,
            alerts,
        };
        let now = clock::now();
        server.raise_missed(&missed, now);
        server.alerts_checkpoint(now, false);
        Ok(server)
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
            let timeout = self.poll_timeout(clock::mono());
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = clock::mono();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(now),
                    WAKER => {
                        self.on_log_events(now);
                        self.on_job_answers(now);
                    }
                    WATCH => self.on_watch(),
                    webhook::WEBHOOK => self.webhook_ready(now),
                    SIGNALS => {
                        signals::drain(&self.signals);
                        eprintln!("spool: signal received, finishing in-flight requests");
                        self.start_draining(now);
                    }
                    Token(t) => {
                        let idx = t - FIRST_CONN;
                        if event.is_writable() {
                            self.flush(idx, now);
                        }
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            if let Some(slot) = self.slot(idx) {
                                slot.readable = true;
                                slot.read_closed |= event.is_read_closed() || event.is_error();
                            }
                            self.service(idx, now);
                        }
                    }
                }
            }
            // Completions may arrive between a wake and this point: check
            // every turn so nothing waits for the next wake.
            self.on_log_events(now);
            for _ in 0..self.ready.len() {
                let Some(idx) = self.ready.pop_front() else {
                    break;
                };
                if let Some(slot) = self.slot(idx) {
                    slot.queued = false;
                    self.service(idx, now);
                }
            }
            self.pump_live(now);
            self.webhook_turn(now);
            if self.alerts_checkpoint_due().is_some_and(|at| at <= now) {
                self.alerts_checkpoint(clock::now(), false);
            }
            self.fire_timers(now);
            if std::mem::take(&mut self.io_kick) {
                self.log.handoff().wake_io();
            }
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
        // The alert windows as they are now, so the next start puts them
        // back by arrival time.
        self.alerts_checkpoint(clock::now(), true);
        // Persist what the indexes know, so the next start reads them
        // instead of the segments.
        if let Err(e) = self.pool.read_side().current_catalog() {
            eprintln!("spool: indexing the log: {e}");
        }
        drop(self.pool);
        if self.log.close() {
            eprintln!("spool: clean shutdown recorded in the log mark");
        } else if !self.failed {
            eprintln!("spool: WARNING: could not record a clean shutdown in the log mark (see the write error above, if any); the next start treats this stop as a crash");
        }
        Ok(exit)
    }

    /// How long `poll` may sleep: not at all while a connection has work
    /// left, else until the earliest deadline.
    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if !self.ready.is_empty() || self.live.has_more() {
            return Some(Duration::ZERO);
        }
        let drain = self.draining.map(|since| clock::after(since, DRAIN_LIMIT));
        let hook = self.alerts.webhook.as_ref().and_then(|w| w.deadline());
        let save = self.alerts_checkpoint_due();
        let next = [self.timers.next(), drain, hook, save]
            .into_iter()
            .flatten()
            .min();
        next.map(|at| clock::until(now, at))
    }

    fn slot(&mut self, idx: usize) -> Option<&mut Slot> {
        self.slots.get_mut(idx).and_then(Option::as_mut)
    }

    fn phase(&self) -> Phase {
        if self.failed {
            Phase::Failed
        } else if self.draining.is_some() {
            Phase::Draining
        } else {
            Phase::Running
        }
    }

    fn finished(&self, now: Instant) -> bool {
        let Some(since) = self.draining else {
            return false;
        };
        // Answers still to send hold the exit (up to DRAIN_LIMIT); a
        // WebSocket follower's records do not (it resumes by id), so a
        // follower that stopped reading cannot delay a shutdown.
        let unsent = self
            .slots
            .iter()
            .flatten()
            .any(|s| matches!(&s.conn, Conn::Http(c) if !c.unsent().is_empty()));
        (self.parked.is_empty() && self.jobs.is_empty() && !unsent)
            || now >= clock::after(since, DRAIN_LIMIT)
    }

    fn start_draining(&mut self, now: Instant) {
        if self.draining.is_some() {
            return;
        }
        self.draining = Some(now);
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        // Quiet connections close now; the others answer what they have
        // received (reading what already arrived), each answer closing.
        for idx in 0..self.slots.len() {
            if let Some(slot) = self.slot(idx) {
                match &mut slot.conn {
                    Conn::Http(c) => c.answer_last(),
                    Conn::Ws(c) => c.close_with(
                        spool_proto::ws::close::GOING_AWAY,
                        "the server is shutting down; reconnect with from=<last id>",
                        now,
                    ),
                }
                self.enqueue(idx);
            }
        }
    }

    fn enqueue(&mut self, idx: usize) {
        if let Some(slot) = self.slot(idx) {
            if !slot.queued {
                slot.queued = true;
                self.ready.push_back(idx);
            }
        }
    }

    fn accept(&mut self, now: Instant) {
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            let (mut stream, addr) = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: leave it pending, try next turn.
                    eprintln!("spool: accept: {e}");
                    return;
                }
            };
            let peer = addr.ip();
            let from_peer = self.per_address.get(&peer).copied().unwrap_or(0);
            let refusal = if self.open_conns >= self.cfg.max_connections {
                Some(reply::too_many_connections())
            } else if from_peer >= self.cfg.max_connections_per_ip {
                Some(reply::too_many_from_address())
            } else {
                None
            };
            if let Some(refusal) = refusal {
                let mut out = Vec::new();
                refusal.write(&mut out, Version::Http11, false);
                let _ = stream.write(&out);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let idx = self.free.pop().unwrap_or_else(|| {
                self.slots.push(None);
                self.slots.len() - 1
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
            *self.per_address.entry(peer).or_default() += 1;
            let conn = HttpConn::new(self.limits, now);
            self.timers
                .arm(conn.soonest_from(now), idx, self.next_generation);
            let conn = Conn::Http(conn);
            self.slots[idx] = Some(Slot {
                stream,
                conn,
                generation: self.next_generation,
                peer,
                charged: 0,
                writable_interest: false,
                queued: false,
                readable: true,
                read_closed: false,
            });
        }
    }

    fn close(&mut self, idx: usize) {
        let Some(mut slot) = self.slots.get_mut(idx).and_then(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut slot.stream);
        if matches!(slot.conn, Conn::Ws(_)) {
            self.unsubscribe(idx);
        }
        self.open_conns -= 1;
        self.buffered -= slot.charged;
        if let Some(n) = self.per_address.get_mut(&slot.peer) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&slot.peer);
            }
        }
        self.free.push(idx);
    }
}

/// Start-up messages about what recovery did.
fn report_recovery(log: &Log) {
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
}

/// The alert rules (saved, `--alert-rules`, or the defaults), their
/// windows rebuilt from the log, and the webhook; with the alerts the
/// rebuild found fired but never stored.
fn start_alerts(
    cfg: &ServeConfig,
    log: &Log,
) -> Result<(alerts::AlertState, crate::alerts::restore::Restored), StartError> {
    use crate::alerts::{checkpoint, engine::Engine, restore, rules, webhook as hook};
    let (list, source, since) =
        rules::load(&cfg.data_dir, cfg.alert_rules.as_deref()).map_err(StartError::Rules)?;
    if let (rules::Source::Saved(saved), Some(file)) = (&source, &cfg.alert_rules) {
        eprintln!(
            "spool: --alert-rules {} is not used: the rules last set by PUT /alerts/rules ({}) are; delete that file to use --alert-rules",
            file.display(),
            saved.display()
        );
    }
    let mut engine =
        Engine::new(list).map_err(|e| StartError::Rules(format!("alert rules: {e}")))?;
    let now = clock::now();
    let saved = checkpoint::load(&cfg.data_dir);
    let restored =
        restore::rebuild(&mut engine, log, now, &since, saved.as_ref()).map_err(|e| {
            StartError::Alerts(format!("rebuilding the alert windows from the log: {e}"))
        })?;
    let rule_count = engine.rules().count();
    if restored.from_checkpoint {
        eprintln!(
            "spool: {rule_count} alert rules from {source}; {} windows restored from {} ({} new or changed rules start empty), {} records after it read, {} counted",
            restored.exact,
            checkpoint::FILE,
            rule_count - restored.exact,
            restored.records,
            restored.counted
        );
    } else if rule_count > 0 {
        eprintln!(
            "spool: {rule_count} alert rules from {source}; windows rebuilt from the log ({} records read, {} counted, {} cooldowns restored)",
            restored.records,
            restored.counted,
            restored.cooldowns
        );
    } else {
        eprintln!("spool: no alert rules ({source})");
    }
    let link = match &cfg.alert_webhook {
        None => None,
        Some(url) => {
            let addr = match url.socket_addr() {
                Some(a) => a,
                None => {
                    use std::net::ToSocketAddrs;
                    (url.host().to_string().as_str(), url.port())
                        .to_socket_addrs()
                        .ok()
                        .and_then(|mut a| a.next())
                        .ok_or_else(|| {
                            StartError::Alerts(format!(
                                "--alert-webhook {url}: cannot resolve {}; give an address the machine can resolve, or an IP address",
                                url.host()
                            ))
                        })?
                }
            };
            let seed = u64::from(std::process::id()) ^ now.wall.0;
            let machine = hook::Webhook::new(
                hook::WebhookConfig {
                    queue: cfg.alert_webhook_queue,
                    timeout: cfg.alert_webhook_timeout,
                    format: cfg.alert_webhook_format,
                    ..hook::WebhookConfig::default()
                },
                seed,
            );
            Some(webhook::WebhookLink::new(url.clone(), addr, machine))
        }
    };
    let writer = checkpoint::Writer::start(&cfg.data_dir).map_err(StartError::Io)?;
    Ok((
        alerts::AlertState::new(engine, &source, since, link, writer),
        restored,
    ))
}

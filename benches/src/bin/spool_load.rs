//! `spool-load`: an HTTP load generator for the Spool daemon's `/ingest`.
//!
//! ```text
//! spool-load [--addr 127.0.0.1:8080] [--connections 50]
//!            [--duration 10s | --requests N] [--warmup 1s]
//!            [--shape text|json|ndjson] [--batch 1000]
//!            [--ack-log FILE] [--run-id N]
//! ```
//!
//! Each connection is a blocking keep-alive TCP stream on its own thread: it
//! sends one request, reads the whole answer (Content-Length framing), and
//! repeats; no pipelining. Shapes: `text` is one ~64-byte `text/plain` line,
//! `json` one ~200-byte JSON object, `ndjson` `--batch` such objects per
//! request.
//!
//! Every record's message is unique and self-checking (see
//! `spool_benches::load`). With `--ack-log`, one line `<id> <fnv1a-hex>` is
//! appended per record, only after a 2xx answer named its id; the file is
//! flushed every 50 ms and on exit, so a crash of the server never loses an
//! acknowledgment the tool received.
//!
//! Requests during `--warmup` are sent (and acknowledged) but not measured.
//! The report goes to stdout: human-readable, then one line `RESULT {json}`.
//! A connection that fails (refused, reset, timed out) is reopened up to
//! three times in a row, then gives up; failures are counted, and the exit
//! status is non-zero only for bad arguments.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use spool_benches::load::{fnv1a64, write_message, MessageId};

const USAGE: &str = "usage: spool-load [--addr 127.0.0.1:8080] [--connections 50]
                  [--duration 10s | --requests N] [--warmup 1s]
                  [--shape text|json|ndjson] [--batch 1000]
                  [--ack-log FILE] [--run-id N]";

/// Consecutive failures (connect or exchange) after which a connection stops.
const MAX_FAILURES: u32 = 4;
/// Time limit of a run given by `--requests` without `--duration`.
const REQUESTS_TIME_LIMIT: Duration = Duration::from_secs(600);
/// Connect, read and write timeout of every socket operation.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the ack log is flushed.
const ACK_FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest response body accepted.
const MAX_BODY: usize = 1 << 20;
/// Padding letters in `json`/`ndjson` messages: the object is ~200 bytes.
const JSON_PAD: usize = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Text,
    Json,
    Ndjson,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Text => "text",
            Shape::Json => "json",
            Shape::Ndjson => "ndjson",
        }
    }
    fn content_type(self) -> &'static str {
        match self {
            Shape::Text => "text/plain",
            Shape::Json => "application/json",
            Shape::Ndjson => "application/x-ndjson",
        }
    }
}

#[derive(Debug, Clone)]
struct Opts {
    addr: SocketAddr,
    connections: usize,
    duration: Option<Duration>,
    requests: Option<u64>,
    warmup: Duration,
    shape: Shape,
    batch: usize,
    ack_log: Option<PathBuf>,
    run_id: u64,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (e.g. 500ms, 10s, 2m)"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("bad duration {s:?}: {e}"))
}

fn parse_args() -> Result<Opts, String> {
    use lexopt::prelude::*;
    let mut addr = String::from("127.0.0.1:8080");
    let mut connections = 50usize;
    let mut duration = None;
    let mut requests = None;
    let mut warmup = Duration::from_secs(1);
    let mut shape = Shape::Text;
    let mut batch = 1000usize;
    let mut ack_log = None;
    let mut run_id = None;
    let mut p = lexopt::Parser::from_env();
    let err = |e: lexopt::Error| e.to_string();
    while let Some(arg) = p.next().map_err(err)? {
        match arg {
            Long("addr") => addr = p.value().map_err(err)?.string().map_err(err)?,
            Long("connections") => connections = p.value().map_err(err)?.parse().map_err(err)?,
            Long("duration") => {
                duration = Some(parse_duration(
                    &p.value().map_err(err)?.string().map_err(err)?,
                )?)
            }
            Long("requests") => requests = Some(p.value().map_err(err)?.parse().map_err(err)?),
            Long("warmup") => {
                warmup = parse_duration(&p.value().map_err(err)?.string().map_err(err)?)?
            }
            Long("shape") => {
                shape = match p.value().map_err(err)?.string().map_err(err)?.as_str() {
                    "text" => Shape::Text,
                    "json" => Shape::Json,
                    "ndjson" => Shape::Ndjson,
                    other => return Err(format!("unknown shape {other:?} (text, json, ndjson)")),
                }
            }
            Long("batch") => batch = p.value().map_err(err)?.parse().map_err(err)?,
            Long("ack-log") => ack_log = Some(PathBuf::from(p.value().map_err(err)?)),
            Long("run-id") => run_id = Some(p.value().map_err(err)?.parse().map_err(err)?),
            Long("help") | Short('h') => return Err(String::new()),
            _ => return Err(arg.unexpected().to_string()),
        }
    }
    let addr = addr
        .to_socket_addrs()
        .map_err(|e| format!("bad --addr {addr:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("--addr {addr:?} resolves to nothing"))?;
    if connections == 0 || connections > 10_000 {
        return Err("--connections must be 1..=10000".into());
    }
    if batch == 0 || batch > 100_000 {
        return Err("--batch must be 1..=100000".into());
    }
    if requests == Some(0) {
        return Err("--requests must be at least 1".into());
    }
    if duration.is_none() && requests.is_none() {
        duration = Some(Duration::from_secs(10));
    }
    let run_id = run_id.unwrap_or_else(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        fnv1a64(&(nanos ^ (u64::from(std::process::id()) << 32)).to_le_bytes())
    });
    Ok(Opts {
        addr,
        connections,
        duration,
        requests,
        warmup,
        shape,
        batch,
        ack_log,
        run_id,
    })
}

/// State every connection thread shares.
struct Shared {
    opts: Opts,
    /// End of the warm-up: responses after it are measured.
    measure_from: Instant,
    /// No request starts after this.
    deadline: Instant,
    /// Measured requests claimed so far (for `--requests`).
    tickets: AtomicU64,
    acks: Option<Mutex<BufWriter<File>>>,
}

/// Counters of one connection thread, merged at the end.
struct Stats {
    hist: Histogram<u64>,
    status: BTreeMap<u16, u64>,
    /// Measured responses (any status).
    requests: u64,
    /// Records in measured 2xx responses.
    records: u64,
    /// Records acknowledged over the whole run, warm-up included.
    acked: u64,
    warmup_requests: u64,
    connect_errors: u64,
    io_errors: u64,
    bad_responses: u64,
    gave_up: bool,
    last_error: Option<String>,
    /// When the last answer arrived.
    finished: Instant,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            // 1 µs .. 1 h, 3 significant digits: valid bounds, cannot fail.
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds"),
            status: BTreeMap::new(),
            requests: 0,
            records: 0,
            acked: 0,
            warmup_requests: 0,
            connect_errors: 0,
            io_errors: 0,
            bad_responses: 0,
            gave_up: false,
            last_error: None,
            finished: Instant::now(),
        }
    }

    fn merge(&mut self, o: &Stats) {
        // Same bounds on both sides: cannot fail.
        let _ = self.hist.add(&o.hist);
        for (k, v) in &o.status {
            *self.status.entry(*k).or_default() += v;
        }
        self.requests += o.requests;
        self.records += o.records;
        self.acked += o.acked;
        self.warmup_requests += o.warmup_requests;
        self.connect_errors += o.connect_errors;
        self.io_errors += o.io_errors;
        self.bad_responses += o.bad_responses;
        if o.last_error.is_some() {
            self.last_error.clone_from(&o.last_error);
        }
        self.finished = self.finished.max(o.finished);
    }
}

/// One parsed HTTP response.
struct Response {
    status: u16,
    close: bool,
    body: Vec<u8>,
}

/// A keep-alive connection with its read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends `req` and reads one whole response.
    fn exchange(&mut self, req: &[u8]) -> io::Result<Response> {
        self.stream.write_all(req)?;
        loop {
            let resp = self.read_response()?;
            if resp.status != 100 {
                return Ok(resp);
            }
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    fn read_response(&mut self) -> io::Result<Response> {
        let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_owned());
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(bad("response head too large"));
            }
            self.fill()?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| bad("response head not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad status line"))?;
        let mut len = None;
        let mut close = status_line.starts_with("HTTP/1.0");
        for line in lines {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                len = Some(v.parse::<usize>().map_err(|_| bad("bad Content-Length"))?);
            } else if k.eq_ignore_ascii_case("connection") {
                close = v.eq_ignore_ascii_case("close");
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                return Err(bad("chunked responses are not supported"));
            }
        }
        let len = match (status, len) {
            (100, _) => 0,
            (_, Some(n)) if n <= MAX_BODY => n,
            (_, Some(_)) => return Err(bad("response body too large")),
            (_, None) => return Err(bad("response without Content-Length")),
        };
        while self.buf.len() < head_end + len {
            self.fill()?;
        }
        let body = self.buf[head_end..head_end + len].to_vec();
        self.buf.drain(..head_end + len);
        Ok(Response {
            status,
            close,
            body,
        })
    }
}

/// The value of `"key":"<digits>"` in a JSON answer.
fn json_id(body: &str, key: &str) -> Option<u64> {
    let pat = format!("\"{key}\":\"");
    let start = body.find(&pat)? + pat.len();
    let end = start + body[start..].find('"')?;
    body[start..end].parse().ok()
}

/// The ids an accepted answer names: `(first, last)`.
fn accepted_ids(body: &[u8]) -> Option<(u64, u64)> {
    let body = std::str::from_utf8(body).ok()?;
    match (json_id(body, "first_id"), json_id(body, "last_id")) {
        (Some(first), Some(last)) => Some((first, last)),
        _ => json_id(body, "id").map(|id| (id, id)),
    }
}

/// Builds one request of `shape` into `req`, numbering records from `seq`;
/// pushes each record's message hash to `hashes`.
fn build_request(
    opts: &Opts,
    conn: u32,
    seq: u64,
    req: &mut Vec<u8>,
    body: &mut String,
    msg: &mut String,
    hashes: &mut Vec<u64>,
) {
    body.clear();
    hashes.clear();
    let n = match opts.shape {
        Shape::Text | Shape::Json => 1,
        Shape::Ndjson => opts.batch as u64,
    };
    for s in seq..seq + n {
        msg.clear();
        let id = MessageId {
            run: opts.run_id,
            conn,
            seq: s,
        };
        let pad = if opts.shape == Shape::Text {
            0
        } else {
            JSON_PAD
        };
        write_message(msg, id, pad);
        hashes.push(fnv1a64(msg.as_bytes()));
        // Writing to a String cannot fail.
        let _ = match opts.shape {
            Shape::Text => writeln!(body, "{msg}"),
            Shape::Json => write!(
                body,
                r#"{{"level":"info","service":"spool-load","message":"{msg}","metadata":{{"conn":{conn},"seq":{s}}}}}"#
            ),
            Shape::Ndjson => writeln!(
                body,
                r#"{{"level":"info","service":"spool-load","message":"{msg}","metadata":{{"conn":{conn},"seq":{s}}}}}"#
            ),
        };
    }
    req.clear();
    let _ = write!(
        req,
        "POST /ingest HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
        opts.addr,
        opts.shape.content_type(),
        body.len()
    );
    req.extend_from_slice(body.as_bytes());
}

/// Counts a failure of the connection; `true` when it should give up.
/// Otherwise backs off 50, 100, 200 ms… before the next attempt.
fn fail(st: &mut Stats, failures: &mut u32, e: String) -> bool {
    st.last_error = Some(e);
    *failures += 1;
    if *failures >= MAX_FAILURES {
        st.gave_up = true;
        return true;
    }
    std::thread::sleep(Duration::from_millis(50 << (*failures - 1).min(4)));
    false
}

/// One connection's loop: bounded by the deadline, the request count and
/// [`MAX_FAILURES`] consecutive failures.
fn run_connection(shared: &Shared, index: u32) -> Stats {
    let opts = &shared.opts;
    let mut st = Stats::new();
    let mut conn: Option<Conn> = None;
    let mut failures = 0u32;
    let mut seq = 0u64;
    let (mut req, mut body, mut msg) = (Vec::new(), String::new(), String::new());
    let mut hashes = Vec::new();
    let mut ack_lines = String::new();
    loop {
        if Instant::now() >= shared.deadline {
            break;
        }
        if conn.is_none() {
            match Conn::open(opts.addr) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    st.connect_errors += 1;
                    if fail(&mut st, &mut failures, format!("connect: {e}")) {
                        break;
                    }
                    continue;
                }
            }
        }
        let measured = Instant::now() >= shared.measure_from;
        if measured {
            if let Some(n) = opts.requests {
                if shared.tickets.fetch_add(1, Ordering::Relaxed) >= n {
                    break;
                }
            }
        }
        build_request(opts, index, seq, &mut req, &mut body, &mut msg, &mut hashes);
        seq += hashes.len() as u64;
        let Some(c) = conn.as_mut() else { break };
        let start = Instant::now();
        let resp = match c.exchange(&req) {
            Ok(r) => r,
            Err(e) => {
                conn = None;
                if e.kind() == io::ErrorKind::InvalidData {
                    st.bad_responses += 1;
                } else {
                    st.io_errors += 1;
                }
                if fail(&mut st, &mut failures, format!("request: {e}")) {
                    break;
                }
                continue;
            }
        };
        let micros = start.elapsed().as_micros() as u64;
        // The run ends at the last answer, not after a failing connection's
        // back-off.
        st.finished = Instant::now();
        failures = 0;
        if measured {
            st.requests += 1;
            st.hist.saturating_record(micros.max(1));
            *st.status.entry(resp.status).or_default() += 1;
        } else {
            st.warmup_requests += 1;
        }
        if (200..300).contains(&resp.status) {
            match accepted_ids(&resp.body) {
                Some((first, last)) if last >= first && last - first + 1 == hashes.len() as u64 => {
                    st.acked += hashes.len() as u64;
                    if measured {
                        st.records += hashes.len() as u64;
                    }
                    if let Some(acks) = &shared.acks {
                        ack_lines.clear();
                        for (id, h) in (first..=last).zip(&hashes) {
                            let _ = writeln!(ack_lines, "{id} {h:016x}");
                        }
                        let mut w = acks.lock().unwrap_or_else(|p| p.into_inner());
                        if let Err(e) = w.write_all(ack_lines.as_bytes()) {
                            st.last_error = Some(format!("ack log: {e}"));
                        }
                    }
                }
                _ => {
                    st.bad_responses += 1;
                    st.last_error = Some(format!(
                        "2xx answer without the ids of {} records: {}",
                        hashes.len(),
                        String::from_utf8_lossy(&resp.body)
                    ));
                }
            }
        } else if matches!(resp.status, 503 | 507) {
            // Overloaded or out of space: give the server a moment.
            std::thread::sleep(Duration::from_millis(10));
        }
        if resp.close {
            conn = None;
        }
    }
    st
}

fn percentile(h: &Histogram<u64>, q: f64) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.value_at_quantile(q)
    }
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("spool-load: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let acks = match &opts.ack_log {
        None => None,
        Some(path) => match OpenOptions::new().create(true).append(true).open(path) {
            Ok(f) => Some(Mutex::new(BufWriter::with_capacity(256 * 1024, f))),
            Err(e) => {
                eprintln!("spool-load: cannot open ack log {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let start = Instant::now();
    let measure_from = start + opts.warmup;
    let deadline = measure_from + opts.duration.unwrap_or(REQUESTS_TIME_LIMIT);
    let shared = Arc::new(Shared {
        opts: opts.clone(),
        measure_from,
        deadline,
        tickets: AtomicU64::new(0),
        acks,
    });

    let done = Arc::new(AtomicBool::new(false));
    let flusher = {
        let (shared, done) = (shared.clone(), done.clone());
        std::thread::spawn(move || {
            let Some(acks) = &shared.acks else { return };
            while !done.load(Ordering::Acquire) {
                std::thread::sleep(ACK_FLUSH_EVERY);
                let _ = acks.lock().unwrap_or_else(|p| p.into_inner()).flush();
            }
        })
    };

    let workers: Vec<_> = (0..opts.connections)
        .map(|i| {
            let shared = shared.clone();
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || run_connection(&shared, i as u32))
        })
        .collect();
    let mut total = Stats::new();
    let mut gave_up = 0usize;
    let mut spawn_errors = 0usize;
    for w in workers {
        match w.map(|h| h.join()) {
            Ok(Ok(st)) => {
                gave_up += usize::from(st.gave_up);
                total.merge(&st);
            }
            _ => spawn_errors += 1,
        }
    }
    done.store(true, Ordering::Release);
    let _ = flusher.join();
    let mut ack_error = None;
    if let Some(acks) = &shared.acks {
        let mut w = acks.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = w.flush().and_then(|()| w.get_ref().sync_data()) {
            ack_error = Some(e.to_string());
        }
    }
    report(
        &opts,
        &total,
        measure_from,
        gave_up,
        spawn_errors,
        ack_error.as_deref(),
    );
    ExitCode::SUCCESS
}

fn report(
    opts: &Opts,
    t: &Stats,
    measure_from: Instant,
    gave_up: usize,
    spawn_errors: usize,
    ack_error: Option<&str>,
) {
    let elapsed = t.finished.saturating_duration_since(measure_from);
    let secs = elapsed.as_secs_f64().max(1e-9);
    let rps = t.requests as f64 / secs;
    let recs = t.records as f64 / secs;
    let h = &t.hist;
    let (p50, p90, p99, p999, max) = (
        percentile(h, 0.50),
        percentile(h, 0.90),
        percentile(h, 0.99),
        percentile(h, 0.999),
        h.max(),
    );
    let status_text: Vec<String> = t.status.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let status_json: Vec<String> = t
        .status
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    println!(
        "spool-load: {} shape, {} connections{}, {:.2} s measured (after {:.2} s warm-up), run id {:016x}",
        opts.shape.name(),
        opts.connections,
        if opts.shape == Shape::Ndjson {
            format!(", batch {}", opts.batch)
        } else {
            String::new()
        },
        elapsed.as_secs_f64(),
        opts.warmup.as_secs_f64(),
        opts.run_id
    );
    println!("  requests:   {} ({rps:.0}/s)", t.requests);
    println!("  records:    {} acknowledged ({recs:.0}/s)", t.records);
    println!("  latency µs: p50 {p50}  p90 {p90}  p99 {p99}  p99.9 {p999}  max {max}");
    println!(
        "  status:     {}",
        if status_text.is_empty() {
            "none".to_owned()
        } else {
            status_text.join(", ")
        }
    );
    println!(
        "  errors:     connect {}, io {}, bad response {}; {gave_up} connection(s) gave up{}",
        t.connect_errors,
        t.io_errors,
        t.bad_responses,
        t.last_error
            .as_ref()
            .map(|e| format!(" (last: {e})"))
            .unwrap_or_default()
    );
    if spawn_errors > 0 {
        println!("  threads:    {spawn_errors} connection thread(s) failed to start");
    }
    println!(
        "  warm-up:    {} requests; {} records acknowledged in total{}",
        t.warmup_requests,
        t.acked,
        match (&opts.ack_log, ack_error) {
            (Some(p), None) => format!(", logged to {}", p.display()),
            (Some(p), Some(e)) => format!(", ack log {} FAILED: {e}", p.display()),
            (None, _) => String::new(),
        }
    );
    let mut json = String::new();
    let _ = write!(
        json,
        "{{\"shape\":\"{}\",\"connections\":{},\"batch\":{},\"elapsed_s\":{:.3},\"requests\":{},\"records\":{},\
         \"requests_per_s\":{rps:.1},\"records_per_s\":{recs:.1},\
         \"latency_us\":{{\"p50\":{p50},\"p90\":{p90},\"p99\":{p99},\"p999\":{p999},\"max\":{max}}},\
         \"status\":{{{}}},\"errors\":{{\"connect\":{},\"io\":{},\"bad_response\":{},\"gave_up\":{gave_up}}},\
         \"warmup_requests\":{},\"acked_records\":{},\"ack_log_ok\":{}}}",
        opts.shape.name(),
        opts.connections,
        if opts.shape == Shape::Ndjson {
            opts.batch
        } else {
            1
        },
        elapsed.as_secs_f64(),
        t.requests,
        t.records,
        status_json.join(","),
        t.connect_errors,
        t.io_errors,
        t.bad_responses,
        t.warmup_requests,
        t.acked,
        ack_error.is_none(),
    );
    println!("RESULT {json}");
}

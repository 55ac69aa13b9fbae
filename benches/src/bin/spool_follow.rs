//! `spool-follow`: WebSocket followers against a running daemon.
//!
//! ```text
//! spool-follow --addr 127.0.0.1:8080 --followers 100 --rate 10000 --seconds 10
//!              [--producers 4] [--batch 10]
//! spool-follow --addr 127.0.0.1:8080 --stall 10
//! ```
//!
//! Fan-out mode: opens `--followers` WebSocket followers (`/ws`, from now)
//! on one thread (mio), then `--producers` threads post NDJSON batches of
//! `--batch` records paced to `--rate` records/s for `--seconds`. Each
//! producer notes when each record's acknowledgment arrived; each follower
//! checks it receives every id once, in order, and the latency from the
//! acknowledgment to the receipt is recorded (a record received before its
//! producer read the acknowledgment counts as 0). Prints percentiles and
//! `RESULT {json}`. With `--followers 0` it is a paced producer only
//! (`benches/dashboard.sh` uses it so while a browser follows).
//!
//! Stall mode: opens one follower, reads nothing for `--stall` seconds
//! (the caller runs producers meanwhile), then reads everything and checks
//! it got every id from the first on, in order, once, up to the last id
//! `/stats` reports. Prints `RESULT {json}`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};
use spool_benches::wire::{ack_ids, find, http_get, read_answer, subscribe, text_frames};

const USAGE: &str = "usage: spool-follow --addr HOST:PORT (--followers N --rate R --seconds S [--producers P] [--batch B] | --stall SECONDS)";

struct Args {
    addr: SocketAddr,
    followers: usize,
    rate: u64,
    seconds: u64,
    producers: usize,
    batch: usize,
    stall: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        followers: 100,
        rate: 10_000,
        seconds: 10,
        producers: 4,
        batch: 10,
        stall: None,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        let lexopt::Arg::Long(name) = arg else {
            return Err(USAGE.into());
        };
        let name = name.to_owned();
        let v = p
            .value()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|_| "not UTF-8".to_owned())?;
        let num = || {
            v.parse::<u64>()
                .map_err(|_| format!("--{name}: {v:?} is not a number"))
        };
        match name.as_str() {
            "addr" => a.addr = v.parse().map_err(|_| format!("--addr: {v:?}"))?,
            "followers" => a.followers = num()? as usize,
            "rate" => a.rate = num()?,
            "seconds" => a.seconds = num()?,
            "producers" => a.producers = num()?.max(1) as usize,
            "batch" => a.batch = num()?.max(1) as usize,
            "stall" => a.stall = Some(num()?),
            _ => return Err(USAGE.into()),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.stall {
        Some(secs) => stall(&args, secs),
        None => fan_out(&args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("spool-follow: {e}");
            ExitCode::from(1)
        }
    }
}

/// A follower's frame parser and id check.
#[derive(Default)]
struct FollowerState {
    buf: Vec<u8>,
    next: u64,
    received: u64,
    errors: u64,
    first_error: Option<String>,
}

impl FollowerState {
    /// Parses whole frames from `buf`; calls `on_id` with each record id.
    fn frames(&mut self, mut on_id: impl FnMut(u64)) {
        let mut buf = std::mem::take(&mut self.buf);
        text_frames(&mut buf, |payload| match record_id(payload) {
            Some(id) => {
                if self.next != 0 && id != self.next {
                    self.errors += 1;
                    self.first_error
                        .get_or_insert_with(|| format!("expected id {} got {id}", self.next));
                }
                self.next = id + 1;
                self.received += 1;
                on_id(id);
            }
            None => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| {
                    format!("not a record: {}", String::from_utf8_lossy(payload))
                });
            }
        });
        self.buf = buf;
    }
}

/// The id of a record message (`{"id":"N",...`).
fn record_id(payload: &[u8]) -> Option<u64> {
    let rest = payload.strip_prefix(b"{\"id\":\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

fn since(t0: Instant) -> u64 {
    t0.elapsed().as_nanos() as u64
}

fn fan_out(a: &Args) -> io::Result<bool> {
    let t0 = Instant::now();
    let capacity = (a.rate * a.seconds * 2 + 10_000) as usize;
    // Acknowledgment time of each id (ns since t0; 0 = not yet).
    let acks: Arc<Vec<AtomicU64>> = Arc::new((0..capacity).map(|_| AtomicU64::new(0)).collect());
    let mut poll = Poll::new()?;
    let mut conns: Vec<(MioStream, FollowerState)> = Vec::with_capacity(a.followers);
    for i in 0..a.followers {
        let mut s = TcpStream::connect(a.addr)?;
        subscribe(&mut s, a.addr, "/ws")?;
        s.set_nonblocking(true)?;
        let mut s = MioStream::from_std(s);
        poll.registry()
            .register(&mut s, Token(i), Interest::READABLE)?;
        conns.push((s, FollowerState::default()));
    }
    eprintln!("spool-follow: {} followers connected", a.followers);
    let last_acked = Arc::new(AtomicU64::new(0));
    let first_acked = Arc::new(AtomicU64::new(u64::MAX));
    let producers: Vec<_> = (0..a.producers)
        .map(|p| {
            let (acks, last_acked, first_acked) =
                (acks.clone(), last_acked.clone(), first_acked.clone());
            let (addr, batch, rate, seconds, producers) =
                (a.addr, a.batch, a.rate, a.seconds, a.producers);
            std::thread::spawn(move || -> io::Result<u64> {
                let mut s = TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                let per_post = Duration::from_secs_f64(batch as f64 * producers as f64 / rate as f64);
                let start = Instant::now();
                let end = start + Duration::from_secs(seconds);
                let mut body = String::new();
                let mut resp = vec![0u8; 4096];
                let mut posts = 0u64;
                let mut sent = 0u64;
                while Instant::now() < end {
                    let due = start + per_post.mul_f64(posts as f64);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    body.clear();
                    for j in 0..batch {
                        body.push_str(&format!(
                            "{{\"level\":\"INFO\",\"service\":\"bench\",\"message\":\"producer {p} post {posts} record {j} padding-padding-padding\"}}\n"
                        ));
                    }
                    let req = format!(
                        "POST /ingest HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    s.write_all(req.as_bytes())?;
                    let n = read_answer(&mut s, &mut resp)?;
                    let at = since(t0);
                    let text = &resp[..n];
                    let (first, last) = ack_ids(text).ok_or_else(|| {
                        io::Error::other(format!("answer: {}", String::from_utf8_lossy(text)))
                    })?;
                    for id in first..=last {
                        if let Some(slot) = acks.get(id as usize) {
                            slot.store(at.max(1), Ordering::Relaxed);
                        }
                    }
                    last_acked.fetch_max(last, Ordering::Relaxed);
                    first_acked.fetch_min(first, Ordering::Relaxed);
                    posts += 1;
                    sent += last - first + 1;
                }
                Ok(sent)
            })
        })
        .collect();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(io::Error::other)?;
    let mut early = 0u64;
    let mut events = Events::with_capacity(1024);
    let mut chunk = vec![0u8; 256 * 1024];
    let mut produced = false;
    let mut deadline = None;
    loop {
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        for ev in events.iter() {
            let (s, st) = &mut conns[ev.token().0];
            loop {
                match s.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        st.buf.extend_from_slice(&chunk[..n]);
                        let now = since(t0);
                        st.frames(|id| {
                            match acks.get(id as usize).map(|a| a.load(Ordering::Relaxed)) {
                                Some(ack) if ack > 0 => {
                                    let _ = hist.record((now.saturating_sub(ack) / 1000).max(1));
                                }
                                _ => {
                                    early += 1;
                                    let _ = hist.record(1);
                                }
                            }
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if !produced && producers.iter().all(|h| h.is_finished()) {
            produced = true;
            deadline = Some(Instant::now() + Duration::from_secs(10));
        }
        let last = last_acked.load(Ordering::Relaxed);
        if produced && conns.iter().all(|(_, st)| st.next > last) {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            break;
        }
    }
    let mut sent = 0;
    for h in producers {
        sent += h
            .join()
            .map_err(|_| io::Error::other("a producer panicked"))??;
    }
    let last = last_acked.load(Ordering::Relaxed);
    // Every id of this run, from its first acknowledged one to its last.
    let first = first_acked.load(Ordering::Relaxed);
    let complete = conns
        .iter()
        .filter(|(_, st)| {
            st.errors == 0 && st.received == last + 1 - first.min(last + 1) && st.next == last + 1
        })
        .count();
    let errors: u64 = conns.iter().map(|(_, st)| st.errors).sum();
    if let Some(e) = conns.iter().find_map(|(_, st)| st.first_error.clone()) {
        eprintln!("spool-follow: first error: {e}");
    }
    let q = |p: f64| hist.value_at_quantile(p) as f64 / 1000.0;
    println!(
        "followers {} | records acknowledged {sent} (last id {last}) at {:.0}/s | followers complete {complete}/{} | order errors {errors}",
        a.followers,
        sent as f64 / a.seconds as f64,
        a.followers
    );
    println!(
        "ack -> receipt ms: p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ({} receipts, {early} before the producer read its ack)",
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        hist.max() as f64 / 1000.0,
        hist.len()
    );
    println!(
        "RESULT {{\"followers\":{},\"records\":{sent},\"complete\":{complete},\"errors\":{errors},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"max_ms\":{:.3}}}",
        a.followers,
        q(0.5),
        q(0.99),
        q(0.999),
        hist.max() as f64 / 1000.0
    );
    Ok(complete == a.followers && errors == 0)
}

fn stall(a: &Args, secs: u64) -> io::Result<bool> {
    let mut s = TcpStream::connect(a.addr)?;
    subscribe(&mut s, a.addr, "/ws")?;
    println!("stalled follower connected; reading nothing for {secs} s");
    std::thread::sleep(Duration::from_secs(secs));
    let stats = http_get(a.addr, "/stats")?;
    let last: u64 = {
        let key = b"\"last_id\":\"";
        let at = find(&stats, key).map(|i| i + key.len()).unwrap_or(0);
        let end = stats[at..].iter().position(|&b| b == b'"').unwrap_or(0);
        std::str::from_utf8(&stats[at..at + end])
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let t = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut st = FollowerState::default();
    let mut first = None;
    let mut chunk = vec![0u8; 1 << 20];
    while st.next <= last && t.elapsed() < Duration::from_secs(300) {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        st.buf.extend_from_slice(&chunk[..n]);
        st.frames(|id| {
            first.get_or_insert(id);
        });
    }
    let took = t.elapsed().as_secs_f64();
    let ok = st.errors == 0 && st.next == last + 1;
    println!(
        "after the stall: received {} records (ids {}..={}) in {took:.2} s ({:.0}/s), order errors {}; last id at resume {last}: {}",
        st.received,
        first.unwrap_or(0),
        st.next.saturating_sub(1),
        st.received as f64 / took,
        st.errors,
        if ok { "complete" } else { "INCOMPLETE" }
    );
    println!(
        "RESULT {{\"received\":{},\"last_id\":{last},\"complete\":{ok},\"catch_up_s\":{took:.3}}}",
        st.received
    );
    Ok(ok)
}

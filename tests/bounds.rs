//! Memory and fairness under hostile clients, through the real binary: each
//! test bounds the daemon's memory (from /proc) and the latency of a normal
//! client served meanwhile.
//!
//! - Request bodies beyond `--max-buffered` get 503 at once; small requests
//!   never do.
//! - Many connections sending large bodies at full speed stay within the
//!   buffer budget.
//! - A client that pipelines and never reads is stopped being read, and
//!   closed once its answers have not drained for the idle timeout.
//! - A burst of 300,000 pipelined requests does not hold the loop.
//! - A body of one-byte chunks is refused at once.
//! - Connections per address are limited; other addresses are served.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// A field of /proc/PID/status, in KiB.
/// Samples the daemon's RSS every 20 ms until stopped; returns the peak.
struct RssWatch {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<u64>,
}

impl RssWatch {
    fn start(pid: u32) -> RssWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(proc_kib(pid, "VmRSS:"));
                thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        RssWatch { stop, thread }
    }
    fn peak_kib(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// A normal producer: one small durable POST every 50 ms on a new
/// connection until stopped. Returns (statuses, slowest answer).
struct Prober {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<(Vec<u16>, Duration)>,
}

impl Prober {
    fn start(addr: SocketAddr) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let mut statuses = Vec::new();
            let mut slowest = Duration::ZERO;
            let mut i = 0;
            while !flag.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = post(
                    addr,
                    "/ingest",
                    "text/plain",
                    format!("probe {i}").as_bytes(),
                );
                slowest = slowest.max(t.elapsed());
                statuses.push(r.status);
                i += 1;
                thread::sleep(Duration::from_millis(50));
            }
            (statuses, slowest)
        });
        Prober { stop, thread }
    }

    /// Stops it and asserts every probe was acknowledged within `bound`.
    #[track_caller]
    fn finish(self, bound: Duration, what: &str) {
        self.stop.store(true, Ordering::Relaxed);
        let (statuses, slowest) = self.thread.join().unwrap();
        assert!(!statuses.is_empty(), "{what}: no probe ran");
        assert!(
            statuses.iter().all(|&s| s == 200),
            "{what}: probes answered {statuses:?}"
        );
        assert!(
            slowest < bound,
            "{what}: a normal producer waited {slowest:?} (bound {bound:?})"
        );
        eprintln!("{what}: {} probes, slowest {slowest:?}", statuses.len());
    }
}

fn head_for(len: usize, content_type: &str) -> String {
    format!("POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\r\n")
}

/// `n` bytes of text lines of 1,000 bytes.
fn lines(n: usize) -> Vec<u8> {
    let line = format!("{}\n", "l".repeat(999));
    line.as_bytes().iter().copied().cycle().take(n).collect()
}

#[test]
fn bodies_beyond_max_buffered_get_503_and_small_requests_still_pass() {
    const BIG: usize = 8 << 20;
    let dir = TempDir::new("bounds-budget");
    // Room for two 8 MiB bodies with their heads, not for a third.
    let mut s = start(dir.path(), &["--max-buffered", "17MiB"]);
    let body = lines(BIG);
    // Two uploads declare 8 MiB each, send 1 MiB, and stall: they hold
    // the budget.
    let mut holders: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = connect(s.addr);
            c.write_all(head_for(BIG, "text/plain").as_bytes()).unwrap();
            c.write_all(&body[..1 << 20]).unwrap();
            c
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    // A third large upload is refused at once, before its body is read.
    let mut third = connect(s.addr);
    third
        .write_all(head_for(BIG, "text/plain").as_bytes())
        .unwrap();
    let t = Instant::now();
    let r = read_response(&mut third).expect("an answer to the third upload");
    assert_error(&r, 503, &["--max-buffered"], "third 8 MiB upload");
    assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Small requests are never refused for the budget.
    let small = post(s.addr, "/ingest", "text/plain", b"small while full");
    assert_eq!(small.status, 200, "{}", small.text());
    let medium = post(s.addr, "/ingest", "text/plain", &lines(60 << 10));
    assert_eq!(medium.status, 200, "{}", medium.text());
    // The holders finish and are stored whole.
    let mut stored = 1 + 60 * 1024 / 1000 + 1;
    for c in &mut holders {
        c.write_all(&body[1 << 20..]).unwrap();
        let r = read_response(c).expect("holder answered");
        assert_eq!(r.status, 200, "{}", r.text());
        stored += r.json()["count"].as_u64().unwrap() as usize;
    }
    // With the budget free again, a large upload passes.
    let again = post(s.addr, "/ingest", "text/plain", &body);
    assert_eq!(again.status, 200, "{}", again.text());
    stored += again.json()["count"].as_u64().unwrap() as usize;
    stop(&mut s);
    assert_eq!(cat_lines(dir.path()).len(), stored);
}

#[test]
fn a_firehose_of_large_bodies_stays_within_the_buffer_budget() {
    const SENDERS: usize = 48;
    const BIG: usize = 8 << 20;
    let dir = TempDir::new("bounds-firehose");
    let mut s = start(dir.path(), &["--max-buffered", "32MiB"]);
    let pid = s.child.id();
    let before = proc_kib(pid, "VmRSS:");
    let watch = RssWatch::start(pid);
    let prober = Prober::start(s.addr);
    // Rejected after it is read (not JSON), so the disk plays no part: this
    // measures buffering alone.
    let body = Arc::new(vec![b'x'; BIG]);
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (addr, body) = (s.addr, body.clone());
            thread::spawn(move || {
                let mut answered = Vec::new();
                // Retry at once whatever the answer, for 3 s, as a
                // misbehaving fleet would.
                let until = Instant::now() + Duration::from_secs(3);
                while Instant::now() < until {
                    let mut c = connect(addr);
                    if c.write_all(head_for(BIG, "application/json").as_bytes())
                        .is_err()
                    {
                        continue;
                    }
                    let _ = c.write_all(&body);
                    if let Some(r) = read_response(&mut c) {
                        answered.push(r.status);
                    }
                }
                answered
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in senders {
        statuses.extend(t.join().unwrap());
    }
    prober.finish(Duration::from_secs(2), "firehose");
    let peak = watch.peak_kib();
    let grew = peak.saturating_sub(before);
    eprintln!(
        "firehose: {SENDERS} senders of 8 MiB uploads for 3 s; answers {:?}; RSS {before} KiB -> peak {peak} KiB (+{} MiB)",
        count(&statuses),
        grew / 1024
    );
    assert!(
        statuses.iter().all(|&st| st == 400 || st == 503),
        "{statuses:?}"
    );
    // 32 MiB budget + the body copy and decode of the request being
    // handled + per-connection heads; without the budget this is
    // SENDERS x 8 MiB = 384 MiB.
    assert!(grew < 120 * 1024, "RSS grew {} MiB", grew / 1024);
    stop(&mut s);
}

fn count(statuses: &[u16]) -> Vec<(u16, usize)> {
    let mut c: Vec<(u16, usize)> = Vec::new();
    for &st in statuses {
        match c.iter_mut().find(|(k, _)| *k == st) {
            Some((_, n)) => *n += 1,
            None => c.push((st, 1)),
        }
    }
    c
}

#[test]
fn a_client_that_pipelines_and_never_reads_is_bounded_and_cut() {
    let dir = TempDir::new("bounds-noread");
    let mut s = start(dir.path(), &["--idle-timeout", "2s"]);
    let pid = s.child.id();
    let before = proc_kib(pid, "VmRSS:");
    let watch = RssWatch::start(pid);
    let prober = Prober::start(s.addr);
    let mut c = connect(s.addr);
    c.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let batch = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(1000);
    let started = Instant::now();
    let mut written = 0usize;
    // Write until the daemon stops reading (our writes block), at most 20 s.
    let blocked_at = loop {
        match c.write(batch.as_bytes()) {
            Ok(n) => written += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break Instant::now()
            }
            Err(e) => panic!("cut before it blocked ({written} bytes): {e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the daemon kept reading a client that never reads: {written} bytes"
        );
    };
    // It is closed once its answers have not drained for the idle timeout.
    c.set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let cut_after = loop {
        match c.write(b"G") {
            Err(e) if !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break blocked_at.elapsed()
            }
            _ => {}
        }
        assert!(
            blocked_at.elapsed() < Duration::from_secs(15),
            "a client whose answers do not drain was never closed"
        );
        thread::sleep(Duration::from_millis(100));
    };
    prober.finish(Duration::from_secs(1), "pipelining client that never reads");
    let peak = watch.peak_kib();
    eprintln!(
        "no-read client: wrote {written} bytes, blocked after {:?}, cut {cut_after:?} later; RSS {before} -> peak {peak} KiB",
        blocked_at - started
    );
    assert!(
        peak.saturating_sub(before) < 16 * 1024,
        "RSS grew {} KiB",
        peak - before
    );
    stop(&mut s);
}

#[test]
fn a_burst_of_300k_pipelined_requests_does_not_hold_the_loop() {
    const N: usize = 300_000;
    let dir = TempDir::new("bounds-burst");
    let mut s = start(dir.path(), &[]);
    let mut c = connect(s.addr);
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut reader = c.try_clone().unwrap();
    let counter = thread::spawn(move || {
        let needle = b"HTTP/1.1 200 ";
        let mut seen = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        let mut carry: Vec<u8> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        while seen < N && Instant::now() < deadline {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    carry.extend_from_slice(&buf[..n]);
                    let mut i = 0;
                    while let Some(p) = carry[i..].windows(needle.len()).position(|w| w == needle) {
                        seen += 1;
                        i += p + needle.len();
                    }
                    carry.drain(..i.max(carry.len().saturating_sub(needle.len())));
                }
            }
        }
        seen
    });
    let burst = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(N);
    let writer = thread::spawn(move || {
        c.write_all(burst.as_bytes()).unwrap();
        c
    });
    thread::sleep(Duration::from_millis(100));
    let prober = Prober::start(s.addr);
    thread::sleep(Duration::from_secs(2));
    prober.finish(Duration::from_secs(1), "300k pipelined burst");
    let _c = writer.join().unwrap();
    assert_eq!(
        counter.join().unwrap(),
        N,
        "every pipelined request answered, in order"
    );
    stop(&mut s);
}

#[test]
fn a_body_of_one_byte_chunks_is_refused_at_once() {
    let dir = TempDir::new("bounds-chunks");
    let mut s = start(dir.path(), &[]);
    let mut c = connect(s.addr);
    let mut w = c.try_clone().unwrap();
    let writer = thread::spawn(move || {
        let _ = w.write_all(
            b"POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        let chunks = b"1\r\nx\r\n".repeat(2_000_000);
        let _ = w.write_all(&chunks);
        let _ = w.write_all(b"0\r\n\r\n");
    });
    let t = Instant::now();
    if let Some(r) = read_response(&mut c) {
        assert_error(&r, 400, &["1 KiB"], "one-byte chunks");
    }
    expect_closed(&mut c, Duration::from_secs(5), "after one-byte chunks");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "refused after {:?} (the request timeout is 30 s)",
        t.elapsed()
    );
    let _ = c.shutdown(std::net::Shutdown::Both);
    writer.join().unwrap();
    let r = post(s.addr, "/ingest", "text/plain", b"after the chunks");
    assert_eq!(r.status, 200);
    stop(&mut s);
}

/// A TCP connection to `addr` from source address `from` (any 127.0.0.0/8
/// address works on Linux loopback).
fn connect_from(from: Ipv4Addr, addr: SocketAddr) -> TcpStream {
    let stream = connect_raw(addr, Some(from), None);
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

#[test]
fn connections_per_address_are_limited_and_other_addresses_served() {
    let dir = TempDir::new("bounds-per-ip");
    let mut s = start(dir.path(), &["--max-connections-per-ip", "8"]);
    let local = Ipv4Addr::new(127, 0, 0, 1);
    let mut held: Vec<TcpStream> = (0..8).map(|_| connect_from(local, s.addr)).collect();
    // Each is accepted (answered) before the next test.
    for c in &mut held {
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(c).unwrap().status, 200);
    }
    let mut ninth = connect_from(local, s.addr);
    let r = read_response(&mut ninth).expect("a 503 for the ninth");
    assert_error(
        &r,
        503,
        &["this address", "--max-connections-per-ip"],
        "ninth",
    );
    assert!(r.header("retry-after").is_some());
    // Another address is served.
    let mut other = connect_from(Ipv4Addr::new(127, 0, 0, 2), s.addr);
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut other).unwrap().status, 200);
    // Closing one frees a place for this address (bounded retries).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = connect_from(local, s.addr);
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let r = read_response(&mut c).unwrap();
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a freed place was never reusable"
        );
        thread::sleep(Duration::from_millis(50));
    }
    stop(&mut s);
}

/// A body that alone needs more than `--max-buffered` can never be taken:
/// 413 saying so, not a 503 asking to retry.
#[test]
fn a_body_larger_than_the_whole_budget_is_413() {
    let dir = TempDir::new("bounds-413");
    let mut s = start(dir.path(), &["--max-buffered", "1MiB"]);
    let mut c = connect(s.addr);
    c.write_all(head_for(2 << 20, "text/plain").as_bytes())
        .unwrap();
    let r = read_response(&mut c).expect("an answer before the body");
    assert_error(&r, 413, &["--max-buffered"], "2 MiB body, 1 MiB budget");
    stop(&mut s);
}

//! Hostile-client end-to-end tests (RELIABILITY 23–25): request smuggling
//! shapes, oversized heads, bodies and records, slowloris, thousands of idle
//! connections, and random garbage, all against the real `spool` binary on
//! loopback. Every loop is bounded in count and time; each test has its own
//! directory and server.

mod common;
use common::*;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

// ---------------------------------------------------------------------------
// Helpers local to this file.
// ---------------------------------------------------------------------------

/// Asserts a one-record ack and returns its id.
#[track_caller]
fn ack_one(r: &Response) -> u64 {
    assert_eq!(r.status, 200, "ingest: {}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "accepted", "ack: {v}");
    v["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("ack id should be a decimal string: {v}"))
}

/// Ingests one text record on its own connection; returns its id.
fn seed(addr: SocketAddr, message: &str) -> u64 {
    ack_one(&post(addr, "/ingest", "text/plain", message.as_bytes()))
}

/// Stops the server and asserts the log holds exactly `want` (id, message),
/// in order, and no record mentions `forbidden`.
#[track_caller]
fn assert_log_is(s: &mut Spool, want: &[(u64, String)], forbidden: &str) {
    stop(s);
    let records = cat(&s.dir);
    let all = records
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !all.contains(forbidden),
        "{forbidden:?} reached the log:\n{all}"
    );
    let got: Vec<(u64, String)> = records
        .iter()
        .map(|r| {
            (
                r["id"].as_str().and_then(|i| i.parse().ok()).unwrap_or(0),
                r["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(got, want, "log contents:\n{all}");
}

/// A small seeded PRNG (xorshift64*), so garbage is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---------------------------------------------------------------------------
// 1. Request smuggling corpus (RELIABILITY 23, 24).
// ---------------------------------------------------------------------------

/// A complete second request that, if a lenient framing let it through, would
/// store a record containing `SMUGGLED-<n>`.
fn smuggled(n: usize) -> String {
    let body = format!("SMUGGLED-{n}");
    format!(
        "POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A request head for `POST /ingest` with `extra` header lines (each ending
/// in CRLF) and the blank line.
fn head(version: &str, extra: &str) -> String {
    format!("POST /ingest {version}\r\nHost: localhost\r\nContent-Type: text/plain\r\n{extra}\r\n")
}

#[test]
fn smuggling_corpus_is_refused_and_closed() {
    let dir = TempDir::new("hostile-smuggle");
    let mut s = start(dir.path(), &[]);
    let good = "good record before the smuggling corpus";
    let id = seed(s.addr, good);

    // (name, request bytes, expected status, words the error must mention).
    // Every body embeds a complete second request that some other reading of
    // the framing would take as a new request (or as a record).
    type Case = (&'static str, Vec<u8>, u16, &'static [&'static str]);
    let mut cases: Vec<Case> = Vec::new();
    let mut add = |name, build: &dyn Fn(&str) -> String, status, mentions| {
        let n = cases.len() + 1;
        let req = build(&smuggled(n));
        cases.push((name, req.into_bytes(), status, mentions));
    };
    add(
        "Content-Length then Transfer-Encoding",
        &|inner| {
            head(
                "HTTP/1.1",
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            ) + "0\r\n\r\n"
                + inner
        },
        400,
        &["Transfer-Encoding", "Content-Length"],
    );
    add(
        "Transfer-Encoding then Content-Length",
        &|inner| {
            let body = format!("0\r\n\r\n{inner}");
            head(
                "HTTP/1.1",
                &format!(
                    "Transfer-Encoding: chunked\r\nContent-Length: {}\r\n",
                    body.len()
                ),
            ) + &body
        },
        400,
        &["Transfer-Encoding", "Content-Length"],
    );
    add(
        "Transfer-Encoding: chunked with Content-Length: 0",
        &|inner| {
            head(
                "HTTP/1.1",
                "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n",
            ) + inner
        },
        400,
        &["Transfer-Encoding", "Content-Length"],
    );
    add(
        "two equal Content-Length",
        &|inner| head("HTTP/1.1", "Content-Length: 5\r\nContent-Length: 5\r\n") + "hello" + inner,
        400,
        &["Content-Length"],
    );
    add(
        "two different Content-Length",
        &|inner| {
            head(
                "HTTP/1.1",
                &format!("Content-Length: 0\r\nContent-Length: {}\r\n", inner.len()),
            ) + inner
        },
        400,
        &["Content-Length"],
    );
    add(
        "Content-Length: +5",
        &|inner| head("HTTP/1.1", "Content-Length: +5\r\n") + "hello" + inner,
        400,
        &["Content-Length"],
    );
    add(
        "Content-Length: 1,2",
        &|inner| head("HTTP/1.1", "Content-Length: 1,2\r\n") + "x" + inner,
        400,
        &["Content-Length"],
    );
    add(
        "Content-Length: 5x",
        &|inner| head("HTTP/1.1", "Content-Length: 5x\r\n") + "hello" + inner,
        400,
        &["Content-Length"],
    );
    add(
        "Content-Length: -1",
        &|inner| head("HTTP/1.1", "Content-Length: -1\r\n") + inner,
        400,
        &["Content-Length"],
    );
    add(
        "Content-Length: 0x5",
        &|inner| head("HTTP/1.1", "Content-Length: 0x5\r\n") + "hello" + inner,
        400,
        &["Content-Length"],
    );
    add(
        "Content-Length overflowing u64",
        &|inner| head("HTTP/1.1", "Content-Length: 18446744073709551621\r\n") + "hello" + inner,
        400,
        &["Content-Length"],
    );
    add(
        "Transfer-Encoding: chunked, identity",
        &|inner| head("HTTP/1.1", "Transfer-Encoding: chunked, identity\r\n") + "0\r\n\r\n" + inner,
        400,
        &["chunked"],
    );
    add(
        "Transfer-Encoding: identity",
        &|inner| head("HTTP/1.1", "Transfer-Encoding: identity\r\n") + inner,
        400,
        &["chunked"],
    );
    add(
        "Transfer-Encoding: xchunked",
        &|inner| head("HTTP/1.1", "Transfer-Encoding: xchunked\r\n") + "0\r\n\r\n" + inner,
        400,
        &["chunked"],
    );
    add(
        "Transfer-Encoding:\\tchunked with an obs-fold continuation",
        &|inner| {
            head("HTTP/1.1", "Transfer-Encoding:\tchunked\r\n identity\r\n") + "0\r\n\r\n" + inner
        },
        400,
        &["folding"],
    );
    add(
        "Transfer-Encoding folded into the previous header",
        &|inner| {
            head(
                "HTTP/1.1",
                "X-Pad: a\r\n\tTransfer-Encoding: chunked\r\nContent-Length: 5\r\n",
            ) + "0\r\n\r\n"
                + inner
        },
        400,
        &["folding"],
    );
    add(
        "Transfer-Encoding: chunked on HTTP/1.0",
        &|inner| {
            let chunk = format!("{:x}\r\n{inner}\r\n0\r\n\r\n", inner.len());
            head("HTTP/1.0", "Transfer-Encoding: chunked\r\n") + &chunk + inner
        },
        400,
        &["HTTP/1.0"],
    );
    add(
        "chunk size 0x5",
        &|inner| {
            head("HTTP/1.1", "Transfer-Encoding: chunked\r\n") + "0x5\r\nhello\r\n0\r\n\r\n" + inner
        },
        400,
        &["chunk size"],
    );
    add(
        "chunk size +5",
        &|inner| {
            head("HTTP/1.1", "Transfer-Encoding: chunked\r\n") + "+5\r\nhello\r\n0\r\n\r\n" + inner
        },
        400,
        &["chunk size"],
    );
    add(
        "chunk size of 17 hex digits (wraps to 5 in u64)",
        &|inner| {
            head("HTTP/1.1", "Transfer-Encoding: chunked\r\n")
                + "10000000000000005\r\nhello\r\n0\r\n\r\n"
                + inner
        },
        400,
        &["chunk size"],
    );
    add(
        "bare LF after the chunk size",
        &|inner| {
            head("HTTP/1.1", "Transfer-Encoding: chunked\r\n") + "5\nhello\r\n0\r\n\r\n" + inner
        },
        400,
        &["CRLF"],
    );
    add(
        "chunk data longer than its size",
        &|inner| {
            let chunk = format!("3\r\n{inner}\r\n0\r\n\r\n");
            head("HTTP/1.1", "Transfer-Encoding: chunked\r\n") + &chunk
        },
        400,
        &["chunk"],
    );
    add(
        "space before the colon: Transfer-Encoding : chunked",
        &|inner| head("HTTP/1.1", "Transfer-Encoding : chunked\r\n") + "0\r\n\r\n" + inner,
        400,
        &["header name"],
    );
    add(
        "duplicate Transfer-Encoding: chunked headers",
        &|inner| {
            head(
                "HTTP/1.1",
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            ) + "0\r\n\r\n"
                + inner
        },
        400,
        &["chunked"],
    );
    add(
        "NUL inside Transfer-Encoding",
        &|inner| head("HTTP/1.1", "Transfer-Encoding: chunked\0\r\n") + "0\r\n\r\n" + inner,
        400,
        &["header value"],
    );
    // README: 501 for a transfer coding other than chunked (here gzip, with
    // chunked correctly last).
    add(
        "Transfer-Encoding: gzip, chunked",
        &|inner| {
            let chunk = format!("{:x}\r\n{inner}\r\n0\r\n\r\n", inner.len());
            head("HTTP/1.1", "Transfer-Encoding: gzip, chunked\r\n") + &chunk + inner
        },
        501,
        &["chunked"],
    );
    assert!(cases.len() >= 12);

    for (name, req, status, mentions) in &cases {
        assert!(
            String::from_utf8_lossy(req).contains("SMUGGLED-"),
            "{name}: the case must carry a smuggled request"
        );
        let mut c = connect(s.addr);
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        c.write_all(req).unwrap();
        let r = read_response(&mut c).unwrap_or_else(|| panic!("{name}: no answer"));
        assert_error(&r, *status, mentions, name);
        assert_eq!(r.header("connection"), Some("close"), "{name}: {r:?}");
        expect_closed(&mut c, Duration::from_secs(3), name);
    }
    assert_eq!(get(s.addr, "/healthz").status, 200, "alive after corpus");
    assert_log_is(&mut s, &[(id, good.to_owned())], "SMUGGLED");
}

// ---------------------------------------------------------------------------
// 2. Oversized head, body and record (RELIABILITY 25).
// ---------------------------------------------------------------------------

#[test]
fn oversized_head_body_and_record_are_refused() {
    let dir = TempDir::new("hostile-limits");
    let mut s = start(
        dir.path(),
        &[
            "--max-header",
            "2KiB",
            "--max-record",
            "1KiB",
            "--max-body",
            "64KiB",
        ],
    );
    let good = "good record before the oversized ones";
    let id = seed(s.addr, good);

    // Head over 2 KiB: one big field, then many small ones, then a head that
    // never ends (the server must not wait for its terminator).
    let big_field = head(
        "HTTP/1.1",
        &format!("X-Big: {}\r\nContent-Length: 8\r\n", "h".repeat(3000)),
    ) + "OVERSIZE";
    let many_fields = head(
        "HTTP/1.1",
        &((0..60).map(|i| format!("X-F{i:02}: {}\r\n", "v".repeat(40)))).collect::<String>(),
    ) + "OVERSIZE";
    let endless = format!(
        "POST /ingest HTTP/1.1\r\nHost: localhost\r\nX-Endless: {}",
        "e".repeat(3000)
    );
    for (name, req) in [
        ("one big header field", big_field),
        ("many header fields", many_fields),
        ("a head that never ends", endless),
    ] {
        let mut c = connect(s.addr);
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        c.write_all(req.as_bytes()).unwrap();
        let r = read_response(&mut c).unwrap_or_else(|| panic!("{name}: no 431 within 2 s"));
        assert_error(&r, 431, &["2048"], name);
        expect_closed(&mut c, Duration::from_secs(3), name);
    }

    // A request line alone over the limit: the parser answers 414 (URI Too
    // Long), which the README's status table does not list; 431 would also
    // match the README. Either way a JSON error and a close.
    let mut c = connect(s.addr);
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    c.write_all(format!("GET /{} HTTP/1.1\r\n", "u".repeat(3000)).as_bytes())
        .unwrap();
    let r = read_response(&mut c).expect("an answer to an overlong request line");
    assert!(
        matches!(r.status, 414 | 431),
        "overlong request line: {} {}",
        r.status,
        r.text()
    );
    assert_error(&r, r.status, &["2048"], "overlong request line");
    expect_closed(&mut c, Duration::from_secs(3), "overlong request line");

    // Body over 64 KiB, decided from Content-Length: only the head is sent.
    let mut c = connect(s.addr);
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let t = Instant::now();
    c.write_all(head("HTTP/1.1", "Content-Length: 1048576\r\n").as_bytes())
        .unwrap();
    let r = read_response(&mut c).expect("413 within 2 s, before any body byte is sent");
    let took = t.elapsed();
    assert_error(&r, 413, &["65536"], "oversized body");
    assert!(took < Duration::from_secs(2), "413 took {took:?}");
    expect_closed(&mut c, Duration::from_secs(3), "oversized body");

    // A 4 KiB NDJSON record over --max-record 1KiB, after a valid line: the
    // request is all or nothing.
    let nd = format!(
        "{{\"message\":\"OVERSIZE small\"}}\n{{\"message\":\"OVERSIZE {}\"}}\n",
        "r".repeat(4096)
    );
    let r = post(s.addr, "/ingest", "application/x-ndjson", nd.as_bytes());
    let body = assert_error(&r, 413, &["line 2"], "oversized record");
    assert_eq!(body["line"], 2, "{body}");

    // The server still serves, and the good record is intact.
    assert_eq!(get(s.addr, "/healthz").status, 200);
    assert_log_is(&mut s, &[(id, good.to_owned())], "OVERSIZE");
}

// ---------------------------------------------------------------------------
// 3. Slowloris (RELIABILITY 25): the request deadline runs from the first byte.
// ---------------------------------------------------------------------------

/// What a trickling client saw.
struct Trickle {
    /// From the first byte sent to the first answer byte or the close.
    cut_after: Option<Duration>,
    answer: Vec<u8>,
    sent: usize,
}

/// Sends `prefix` at once (if any), then `drip` one byte every `gap`, at most
/// `max` bytes, stopping as soon as the server answers or closes; then reads
/// the rest of the answer (bounded).
fn trickle(addr: SocketAddr, prefix: &[u8], drip: &[u8], gap: Duration, max: usize) -> Trickle {
    let mut c = connect(addr);
    let mut first: Option<Instant> = None;
    let mut answer = Vec::new();
    let mut cut_after = None;
    let mut buf = [0u8; 4096];
    if !prefix.is_empty() {
        c.write_all(prefix).unwrap();
        first = Some(Instant::now());
    }
    let mut sent = 0;
    'drip: for &b in drip.iter().take(max) {
        if c.write_all(&[b]).is_err() {
            cut_after = first.map(|f| f.elapsed());
            break;
        }
        sent += 1;
        let f = *first.get_or_insert_with(Instant::now);
        // The pause between bytes doubles as the wait for an answer.
        let until = Instant::now() + gap;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            c.set_read_timeout(Some(left)).unwrap();
            match c.read(&mut buf) {
                Ok(0) => {
                    cut_after = Some(f.elapsed());
                    break 'drip;
                }
                Ok(n) => {
                    cut_after = Some(f.elapsed());
                    answer.extend_from_slice(&buf[..n]);
                    break 'drip;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    cut_after = Some(f.elapsed());
                    break 'drip;
                }
            }
        }
    }
    // Read what remains of the answer, up to the close (bounded).
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        c.set_read_timeout(Some(left)).unwrap();
        match c.read(&mut buf) {
            Ok(0) => {
                if cut_after.is_none() {
                    cut_after = first.map(|f| f.elapsed());
                }
                break;
            }
            Ok(n) => {
                if cut_after.is_none() {
                    cut_after = first.map(|f| f.elapsed());
                }
                answer.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(_) => {
                if cut_after.is_none() {
                    cut_after = first.map(|f| f.elapsed());
                }
                break;
            }
        }
    }
    Trickle {
        cut_after,
        answer,
        sent,
    }
}

/// Asserts a trickling client was cut by a 2 s request deadline: answered 408
/// with a JSON error (or closed), 1.7–4 s after its first byte.
#[track_caller]
fn assert_cut_by_deadline(t: &Trickle, what: &str) {
    let after = t
        .cut_after
        .unwrap_or_else(|| panic!("{what}: never answered or closed ({} bytes sent)", t.sent));
    assert!(
        after >= Duration::from_millis(1700) && after <= Duration::from_secs(4),
        "{what}: cut {after:?} after the first byte, want ~2 s (request timeout)"
    );
    assert!(
        t.sent < 30,
        "{what}: the server let all {} bytes in",
        t.sent
    );
    if !t.answer.is_empty() {
        let text = String::from_utf8_lossy(&t.answer).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("{what}: answer without a head end: {text:?}"));
        assert!(head.starts_with("HTTP/1.1 408 "), "{what}: {text:?}");
        let v: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{what}: 408 body is not JSON ({e}): {body:?}"));
        assert!(v["error"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert_eq!(v["status"], 408, "{v}");
    }
}

#[test]
fn slowloris_head_and_body_are_cut_while_others_are_served() {
    let dir = TempDir::new("hostile-slowloris");
    let mut s = start(dir.path(), &["--request-timeout", "2s"]);
    let addr = s.addr;
    let gap = Duration::from_millis(300);

    let slow_head = thread::spawn(move || {
        let req = head("HTTP/1.1", "Content-Length: 9\r\n") + "SLOWHEAD!";
        trickle(addr, b"", req.as_bytes(), gap, 30)
    });
    let slow_body = thread::spawn(move || {
        let h = head("HTTP/1.1", "Content-Length: 40\r\n");
        trickle(addr, h.as_bytes(), "SLOWBODY".repeat(5).as_bytes(), gap, 30)
    });

    // Meanwhile: 20 ingests, each answered within 1 s.
    let mut want = Vec::new();
    let started = Instant::now();
    for i in 0..20 {
        let msg = format!("prompt record {i}");
        let t = Instant::now();
        let id = seed(addr, &msg);
        let took = t.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "ingest {i} took {took:?} next to slow clients"
        );
        want.push((id, msg));
        // Spread them over the slow clients' lifetime (≈ 2 s), bounded.
        if started.elapsed() < Duration::from_millis(1800) {
            thread::sleep(Duration::from_millis(60));
        }
    }

    let h = slow_head.join().expect("slow head thread");
    eprintln!(
        "slow head: cut after {:?}, {} bytes sent",
        h.cut_after, h.sent
    );
    assert_cut_by_deadline(&h, "slow head");
    let b = slow_body.join().expect("slow body thread");
    eprintln!(
        "slow body: cut after {:?}, {} body bytes sent",
        b.cut_after, b.sent
    );
    assert_cut_by_deadline(&b, "slow body");

    assert_log_is(&mut s, &want, "SLOW");
}

// ---------------------------------------------------------------------------
// 4. Many idle connections; the connection limit (RELIABILITY 25).
// ---------------------------------------------------------------------------

/// Raises this process's soft RLIMIT_NOFILE to its hard limit; returns the
/// new soft limit.
fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write a local struct of the right
    // type; they affect only this process's descriptor limit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
    lim.rlim_cur
}

/// Opens `n` idle connections (they never send a byte) within `limit`.
///
/// The daemon's listen backlog is 128 (mio's default), and on loopback a
/// client connects faster than the event loop accepts: an unpaced burst
/// fills the accept queue and the next SYN is dropped, costing that client
/// the 1 s SYN retransmit (see `a_burst_of_connects_is_not_stalled`). So
/// after every `BATCH` connects a probe request on a fresh connection is
/// answered first: accept order is FIFO, so once the probe is served every
/// earlier connection has been accepted, and the queue never overflows.
fn open_idle(addr: SocketAddr, n: usize, limit: Duration) -> Vec<TcpStream> {
    const BATCH: usize = 64;
    let deadline = Instant::now() + limit;
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        assert!(
            Instant::now() < deadline,
            "opened only {i} of {n} connections in {limit:?}"
        );
        let c = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connection {i} of {n}: {e}"));
        conns.push(c);
        if (i + 1) % BATCH == 0 && i + 1 < n {
            let r = get(addr, "/healthz");
            assert_eq!(r.status, 200, "probe after {} connections", i + 1);
        }
    }
    conns
}

/// A keep-alive `GET /healthz` on `c`, answered 200.
#[track_caller]
fn health_on(c: &mut TcpStream, what: &str) {
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let r = read_response(c).unwrap_or_else(|| panic!("{what}: no answer"));
    assert_eq!(r.status, 200, "{what}: {}", r.text());
}

#[test]
fn five_thousand_idle_connections_and_the_connection_limit() {
    let soft = raise_nofile();
    assert!(
        soft >= 6000,
        "need a descriptor limit of 6000 for 5000 connections, have {soft}"
    );

    // Part 1: 5,000 idle connections do not starve a new client.
    let dir = TempDir::new("hostile-idle5000");
    let mut s = start(
        dir.path(),
        &[
            "--max-connections",
            "5100",
            "--max-connections-per-ip",
            "5100",
        ],
    );
    let t = Instant::now();
    let mut idle = open_idle(s.addr, 5000, Duration::from_secs(20));
    let opened_in = t.elapsed();

    let t = Instant::now();
    let id = seed(s.addr, "ingested next to 5000 idle connections");
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "ingest took {took:?}");
    let t = Instant::now();
    assert_eq!(get(s.addr, "/healthz").status, 200);
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "healthz took {took:?}");
    // The first and last idle ones were accepted and are still served.
    health_on(&mut idle[0], "first idle connection");
    health_on(&mut idle[4999], "last idle connection");
    drop(idle);
    assert_log_is(
        &mut s,
        &[(id, "ingested next to 5000 idle connections".to_owned())],
        "never",
    );
    eprintln!("opened 5000 connections in {opened_in:?}");

    // Part 2: the limit. 50 idle connections fill it; the 51st is refused.
    let dir = TempDir::new("hostile-limit50");
    let mut s = start(dir.path(), &["--max-connections", "50"]);
    let mut idle = open_idle(s.addr, 50, Duration::from_secs(10));
    let mut extra = connect(s.addr);
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // A 503 with Retry-After and a JSON error, or a plain close.
    if let Some(r) = read_response(&mut extra) {
        assert_error(&r, 503, &["connections"], "51st connection");
        let ra = r
            .header("retry-after")
            .unwrap_or_else(|| panic!("503 without Retry-After; headers {:?}", r.headers));
        assert!(ra.parse::<u64>().is_ok(), "Retry-After {ra:?}");
    }
    expect_closed(&mut extra, Duration::from_secs(3), "51st connection");
    // The 50 are unaffected.
    health_on(&mut idle[0], "idle connection 0");
    health_on(&mut idle[49], "idle connection 49");

    // Closing some frees slots (noticed within a poll turn; bounded retries).
    idle.truncate(40);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut attempts = 0;
    let id = loop {
        attempts += 1;
        let r = post(s.addr, "/ingest", "text/plain", b"served after slots freed");
        if r.status == 200 {
            break ack_one(&r);
        }
        assert!(
            r.status == 503 && Instant::now() < deadline && attempts < 100,
            "a freed slot was never reusable: {} {}",
            r.status,
            r.text()
        );
        thread::sleep(Duration::from_millis(50));
    };
    for c in &idle {
        let _ = c.shutdown(Shutdown::Both);
    }
    drop(idle);
    assert_log_is(
        &mut s,
        &[(id, "served after slots freed".to_owned())],
        "never",
    );
}

/// A burst of 1,000 back-to-back connects (what a fleet of producers does
/// after a daemon restart) must not stall: every connect completes well under
/// the 1 s SYN retransmit, all 1,000 within 5 s.
#[test]
fn a_burst_of_connects_is_not_stalled() {
    raise_nofile();
    let dir = TempDir::new("hostile-burst");
    let mut s = start(dir.path(), &["--max-connections", "2000"]);
    let t = Instant::now();
    let mut conns = Vec::with_capacity(1000);
    let mut slowest = Duration::ZERO;
    for i in 0..1000 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "only {i} connects in 10 s"
        );
        let c0 = Instant::now();
        let c = TcpStream::connect_timeout(&s.addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect {i}: {e}"));
        slowest = slowest.max(c0.elapsed());
        conns.push(c);
    }
    let total = t.elapsed();
    assert!(
        slowest < Duration::from_millis(500) && total < Duration::from_secs(5),
        "1000 connects took {total:?}; the slowest single connect {slowest:?} \
         (a dropped SYN waits the 1 s retransmit)"
    );
    // And the daemon serves them all.
    health_on(&mut conns[999], "last of the burst");
    drop(conns);
    stop(&mut s);
}

// ---------------------------------------------------------------------------
// 5. Garbage never crashes the server.
// ---------------------------------------------------------------------------

#[test]
fn random_garbage_never_crashes_the_server() {
    let dir = TempDir::new("hostile-garbage");
    let mut s = start(dir.path(), &[]);
    let good = "good record before the garbage";
    let id = seed(s.addr, good);
    let addr = s.addr;

    let workers: Vec<_> = (0..4u64)
        .map(|w| {
            thread::spawn(move || {
                let mut rng = Rng(0x5EED_0000_0000_0001 ^ (w + 1).wrapping_mul(0x9E37_79B9));
                let deadline = Instant::now() + Duration::from_secs(20);
                for i in 0..50 {
                    assert!(Instant::now() < deadline, "worker {w} too slow at {i}");
                    let len = 1 + rng.below(2000) as usize;
                    let mut bytes = match rng.below(5) {
                        1 => b"GET /healthz HTTP/1.1\r\n".to_vec(),
                        2 => b"POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                            .to_vec(),
                        3 => b"POST /ingest HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2001\r\n\r\n"
                            .to_vec(),
                        _ => Vec::new(),
                    };
                    if rng.below(3) == 0 {
                        // Bytes from an alphabet that reaches deeper into the
                        // parser: line ends, colons, spaces, hex digits.
                        const ALPHA: &[u8] = b"\r\n\r\n: \t0123456789abcdefxX;,+-GETPOST/HTTP1.";
                        bytes.extend(
                            (0..len).map(|_| ALPHA[rng.below(ALPHA.len() as u64) as usize]),
                        );
                    } else {
                        bytes.extend(rng.bytes(len));
                    }
                    let mut c = connect(addr);
                    let _ = c.write_all(&bytes);
                    if rng.below(2) == 0 {
                        continue; // abrupt close, perhaps with unread data
                    }
                    // Half-close and read whatever comes, up to the close.
                    let _ = c.shutdown(Shutdown::Write);
                    let mut answer = Vec::new();
                    let t = Instant::now();
                    let mut buf = [0u8; 4096];
                    loop {
                        let left = Duration::from_secs(3).saturating_sub(t.elapsed());
                        assert!(
                            !left.is_zero(),
                            "worker {w} conn {i}: not closed 3 s after the half-close"
                        );
                        c.set_read_timeout(Some(left)).unwrap();
                        match c.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => answer.extend_from_slice(&buf[..n]),
                            Err(e) if e.kind() == ErrorKind::Interrupted => {}
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                                ) => {}
                            Err(_) => break,
                        }
                        assert!(answer.len() < 1 << 20, "endless answer");
                    }
                    if !answer.is_empty() {
                        let ok = answer.starts_with(b"HTTP/1.1 ")
                            && answer.len() > 12
                            && answer[9..12].iter().all(u8::is_ascii_digit);
                        assert!(
                            ok,
                            "worker {w} conn {i}: not an HTTP answer: {:?}",
                            String::from_utf8_lossy(&answer[..answer.len().min(200)])
                        );
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("garbage worker");
    }

    assert!(
        matches!(s.child.try_wait(), Ok(None)),
        "the server exited under garbage:\n{}",
        s.stderr()
    );
    let r = get(s.addr, "/healthz");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get(s.addr, "/readyz").status, 200);
    assert!(
        !s.stderr().contains("panicked"),
        "server panicked:\n{}",
        s.stderr()
    );
    assert_log_is(&mut s, &[(id, good.to_owned())], "never-stored");
}

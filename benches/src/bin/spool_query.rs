//! `spool-query`: the read-side benchmark client.
//!
//! ```text
//! spool-query [--addr 127.0.0.1:8080] [--queries 500] [--scans 3] [--needle TEXT]
//! ```
//!
//! Against a daemon holding records from `/simulate` (eight services, all
//! levels, metadata), on one keep-alive connection:
//!
//! 1. `filtered`: `--queries` times the newest 100 records of one level (or
//!    `level>=WARN`), one service, and a random time window (a tenth of the
//!    log's time span), after a fifth as many unmeasured warm-up queries;
//!    latency percentiles.
//! 2. `scan`: `--scans` times `q=<needle>` with a needle that occurs
//!    nowhere, so every block is read and searched; the median time, and
//!    the record bytes searched per second (`record_bytes` from `/stats`).
//!
//! The report is human-readable, then one line `RESULT {json}`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str =
    "usage: spool-query [--addr 127.0.0.1:8080] [--queries 500] [--scans 3] [--needle TEXT]";
const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"];
const SERVICES: [&str; 8] = [
    "api", "auth", "billing", "search", "worker", "gateway", "db", "cache",
];

struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
}

impl Conn {
    fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(900)))?;
        Ok(Conn { addr, stream })
    }

    /// `GET path`; the status and body.
    fn get(&mut self, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr);
        self.stream.write_all(req.as_bytes())?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if self.stream.read(&mut byte)? == 0 {
                return Err(std::io::Error::other("closed"));
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .ok_or_else(|| std::io::Error::other("no Content-Length"))?;
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body)?;
        Ok((status, body))
    }
}

/// The number after `"key":` in a JSON text (good enough for our answers).
fn json_number(body: &str, key: &str) -> Option<f64> {
    let at = body.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = body.get(at..)?.trim_start_matches('"');
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))?;
    rest.get(..end)?.parse().ok()
}

fn json_string<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let at = body.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let rest = body.get(at..)?;
    rest.get(..rest.find('"')?)
}

/// Nanoseconds since the epoch of an RFC 3339 UTC time `YYYY-MM-DDTHH:MM:SS.fffffffffZ`.
fn rfc3339_ns(s: &str) -> Option<u64> {
    let num = |a: usize, b: usize| s.get(a..b)?.parse::<u64>().ok();
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let frac = s.get(20..s.len() - 1).unwrap_or("");
    let mut ns_frac: u64 = frac.parse().unwrap_or(0);
    for _ in frac.len()..9 {
        ns_frac *= 10;
    }
    // Days from civil (Howard Hinnant).
    let y = if mo <= 2 { y - 1 } else { y } as i64;
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days as u64 * 86_400 + h * 3600 + mi * 60 + se;
    Some(secs * 1_000_000_000 + ns_frac)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> ExitCode {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut queries = 500usize;
    let mut scans = 3usize;
    let mut needle = "zq9xv-absent".to_owned();
    let mut args = lexopt::Parser::from_env();
    loop {
        let arg = match args.next() {
            Ok(Some(a)) => a,
            Ok(None) => break,
            Err(e) => {
                eprintln!("spool-query: {e}\n{USAGE}");
                return ExitCode::from(2);
            }
        };
        let name = match arg {
            lexopt::Arg::Long(n) => n.to_owned(),
            _ => String::new(),
        };
        let value = args.value().ok().and_then(|v| v.into_string().ok());
        let ok = match (name.as_str(), value) {
            ("addr", Some(v)) => v.parse().ok().map(|v| addr = v),
            ("queries", Some(v)) => v.parse().ok().map(|v| queries = v),
            ("scans", Some(v)) => v.parse().ok().map(|v| scans = v),
            ("needle", Some(v)) => {
                needle = v;
                Some(())
            }
            _ => None,
        };
        if ok.is_none() {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    match run(addr, queries, scans, &needle) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spool-query: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(addr: SocketAddr, queries: usize, scans: usize, needle: &str) -> Result<(), String> {
    let mut c = Conn::open(addr).map_err(|e| e.to_string())?;
    let (_, stats) = c.get("/stats").map_err(|e| e.to_string())?;
    let stats = String::from_utf8_lossy(&stats).into_owned();
    let records = json_number(&stats, "logs_in_storage").unwrap_or(0.0);
    let oldest = json_string(&stats, "oldest_record_time").and_then(rfc3339_ns);
    let newest = json_string(&stats, "newest_record_time").and_then(rfc3339_ns);
    let (Some(oldest), Some(newest)) = (oldest, newest) else {
        return Err(format!("the log is empty: {stats}"));
    };
    let span = (newest - oldest).max(1);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut latencies = Vec::with_capacity(queries);
    let mut found = 0u64;
    for i in 0..queries + queries / 5 {
        let level = match next() % 7 {
            6 => "level>=WARN".to_owned(),
            l => format!("level={}", LEVELS[l as usize]),
        };
        let service = SERVICES[(next() % 8) as usize];
        let window = span / 10;
        let since = oldest + next() % (span - window.min(span - 1));
        let (since_ms, until_ms) = (since / 1_000_000, (since + window) / 1_000_000 + 1);
        let path =
            format!("/logs?{level}&service={service}&since={since_ms}&until={until_ms}&limit=100");
        let t = Instant::now();
        let (status, body) = c.get(&path).map_err(|e| e.to_string())?;
        let took = t.elapsed();
        if status != 200 {
            return Err(format!(
                "{path}: {status} {}",
                String::from_utf8_lossy(&body)
            ));
        }
        if i >= queries / 5 {
            latencies.push(took);
            found += json_number(
                &String::from_utf8_lossy(&body[..body.len().min(64)]),
                "count",
            )
            .unwrap_or(0.0) as u64;
        }
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (p50, p90, p99, max) = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
    println!(
        "filtered (level + service + time window, newest 100), {queries} queries over {records} records: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {:.1} records per answer",
        ms(p50), ms(p90), ms(p99), ms(max), found as f64 / queries.max(1) as f64
    );
    let bytes = json_number(&stats, "record_bytes").unwrap_or(0.0);
    let mut times = Vec::new();
    for _ in 0..scans.max(1) {
        let t = Instant::now();
        let (status, body) = c
            .get(&format!("/logs?q={needle}&limit=100"))
            .map_err(|e| e.to_string())?;
        let took = t.elapsed();
        let body = String::from_utf8_lossy(&body);
        if status != 200
            || !body.starts_with("{\"count\":0,")
            || !body.contains("\"partial\":false")
        {
            return Err(format!(
                "scan answered {status}: {}",
                &body[..body.len().min(300)]
            ));
        }
        times.push(took);
    }
    times.sort();
    let scan = percentile(&times, 0.5);
    let gbps = bytes / scan.as_secs_f64() / 1e9;
    println!(
        "scan (q={needle}, matches nothing: every block read): median {:.3} s over {scans} runs for {:.3} GB of records: {gbps:.2} GB/s",
        scan.as_secs_f64(),
        bytes / 1e9
    );
    println!(
        "RESULT {{\"records\":{records},\"queries\":{queries},\"p50_ms\":{:.4},\"p90_ms\":{:.4},\"p99_ms\":{:.4},\"max_ms\":{:.4},\"scan_seconds\":{:.4},\"scan_bytes\":{bytes},\"scan_gb_per_s\":{gbps:.3}}}",
        ms(p50), ms(p90), ms(p99), ms(max), scan.as_secs_f64()
    );
    Ok(())
}

//! `spool-alerts`: alert latency against a running daemon (issue 8).
//!
//! ```text
//! spool-alerts --addr 127.0.0.1:8080 --rate 10000 --seconds 10
//!              [--producers 16] [--batch 10] [--trigger-every 100]
//!              [--followers 1] [--all-followers 1]
//!              [--trigger-rule issue8-trigger] [--expect all|none]
//! ```
//!
//! Opens `--followers` WebSocket followers whose filter selects no record
//! (`/ws?service=...`: they get alerts only, as every follower gets every
//! alert) and `--all-followers` that follow everything, on one thread
//! (mio). Then `--producers` threads post NDJSON batches of `--batch`
//! records paced to `--rate` records/s in all (`--rate 0`: each as fast as
//! its answers come) for `--seconds`, each waiting for its answer. Records
//! mix levels, services, messages and metadata; every
//! `--trigger-every`-th record a producer sends carries `ALERTME` in its
//! message, for the daemon's rule `--trigger-rule` (`pattern = "ALERTME"`,
//! `threshold = 1`, `cooldown = "0s"`), which must then fire exactly one
//! alert per triggering record, with that record's id as `last_id`.
//!
//! Each producer notes when the answer acknowledging each of its records
//! arrived (the k-th record of a batch has id `first_id + k`); each
//! follower notes when each `{"type":"alert"}` message arrived, keyed by
//! rule and `last_id`. The latency of an alert is from the acknowledgment
//! of its `last_id` to its receipt, computed after the run (an alert
//! received before its producer read the acknowledgment counts as 0 and
//! is reported). With `--expect all` every follower must receive one
//! trigger alert per triggering record, none missing, none twice, none for
//! another record; with `--expect none` (the daemon has no rules) none at
//! all. Alerts of other rules are counted per rule, and their latency
//! (from the acknowledgment of their `last_id`) reported apart.
//!
//! Prints a summary and `RESULT {json}`; exits 1 when a check fails.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};
use spool_benches::wire::{ack_ids, read_answer, subscribe, text_frames};

const USAGE: &str = "usage: spool-alerts --addr HOST:PORT [--rate R (0: unpaced)] [--seconds S] [--producers P] [--batch B] [--trigger-every N] [--followers F] [--all-followers F] [--trigger-rule NAME] [--expect all|none]";

/// The marker the trigger rule's pattern looks for.
const TRIGGER: &str = "ALERTME";

/// A service no producer uses: the alerts-only followers' filter.
const NO_SERVICE: &str = "spool-alerts-no-such-service";

struct Args {
    addr: SocketAddr,
    rate: u64,
    seconds: u64,
    producers: usize,
    batch: usize,
    trigger_every: u64,
    followers: usize,
    all_followers: usize,
    trigger_rule: String,
    expect_alerts: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        rate: 10_000,
        seconds: 10,
        producers: 16,
        batch: 10,
        trigger_every: 100,
        followers: 1,
        all_followers: 1,
        trigger_rule: "issue8-trigger".into(),
        expect_alerts: true,
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
            "rate" => a.rate = num()?,
            "seconds" => a.seconds = num()?.max(1),
            "producers" => a.producers = num()?.max(1) as usize,
            "batch" => a.batch = num()?.max(1) as usize,
            "trigger-every" => a.trigger_every = num()?,
            "followers" => a.followers = num()? as usize,
            "all-followers" => a.all_followers = num()? as usize,
            "trigger-rule" => a.trigger_rule = v,
            "expect" => {
                a.expect_alerts = match v.as_str() {
                    "all" => true,
                    "none" => false,
                    _ => return Err(format!("--expect: {v:?} is not all or none")),
                }
            }
            _ => return Err(USAGE.into()),
        }
    }
    if a.followers + a.all_followers == 0 {
        return Err("give at least one follower".into());
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
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("spool-alerts: {e}");
            ExitCode::from(1)
        }
    }
}

fn since(t0: Instant) -> u64 {
    t0.elapsed().as_nanos() as u64
}

/// What one producer did.
#[derive(Default)]
struct Produced {
    /// `(first_id, last_id, ack time)` of each post (ns since t0).
    posts: Vec<(u64, u64, u64)>,
    /// Ids of the triggering records.
    triggers: Vec<u64>,
    /// When its first post was sent and its last answer read (ns since t0).
    began: u64,
    ended: u64,
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const SERVICES: [&str; 6] = ["api", "db", "auth", "payments", "web", "worker"];

/// Appends one NDJSON record: a level mix (per mille: TRACE 50, DEBUG 150,
/// INFO 550, WARN 180, ERROR 69, CRITICAL 1), one of six services, a
/// message typical of it, metadata on every third, and `ALERTME` when
/// `trigger`.
fn push_record(body: &mut String, rng: &mut Rng, trigger: bool) {
    use std::fmt::Write as _;
    let r = rng.next();
    let level = match r % 1000 {
        0..50 => "TRACE",
        50..200 => "DEBUG",
        200..750 => "INFO",
        750..930 => "WARN",
        930..999 => "ERROR",
        _ => "CRITICAL",
    };
    let service = SERVICES[(r >> 10) as usize % SERVICES.len()];
    let n = (r >> 16) % 100_000;
    let ms = (r >> 40) % 900 + 1;
    let _ = write!(
        body,
        "{{\"level\":\"{level}\",\"service\":\"{service}\",\"message\":\""
    );
    let _ = match service {
        "api" => write!(body, "GET /api/v1/users/{n} answered in {ms}ms"),
        "db" => write!(body, "query users by id took {ms}ms rows={}", n % 50),
        "auth" => write!(body, "login user={n} from 10.0.{}.{}", n % 256, ms % 256),
        "payments" if level == "WARN" => write!(body, "charge {n} retried after a timeout"),
        "payments" => write!(body, "charge {n} settled in {ms}ms"),
        "web" => write!(body, "render /home for session {n:x}"),
        _ => write!(body, "job {n} finished in {ms}ms queue=default"),
    };
    if trigger {
        let _ = write!(body, " {TRIGGER}");
    }
    body.push('"');
    if n % 3 == 0 {
        let _ = write!(
            body,
            ",\"metadata\":{{\"request\":\"{:x}\",\"region\":\"eu-west-1\",\"attempt\":{}}}",
            r >> 8,
            ms % 4
        );
    }
    body.push_str("}\n");
}

fn produce(a: &Args, p: usize, t0: Instant) -> io::Result<Produced> {
    let addr = a.addr;
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let per_post = if a.rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(a.batch as f64 * a.producers as f64 / a.rate as f64)
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((p as u64 + 1) << 17));
    let mut out = Produced {
        began: since(t0),
        ..Produced::default()
    };
    let start = Instant::now();
    let end = start + Duration::from_secs(a.seconds);
    let mut body = String::new();
    let mut req = Vec::new();
    let mut resp = vec![0u8; 4096];
    let mut trig_at = Vec::new();
    // Records this producer sent; offset so producers trigger in turn.
    let mut k = (p as u64) * 37;
    let mut posts = 0u64;
    while Instant::now() < end {
        let due = start + per_post.mul_f64(posts as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        body.clear();
        trig_at.clear();
        for j in 0..a.batch {
            let trigger = a.trigger_every > 0 && k % a.trigger_every == 0;
            if trigger {
                trig_at.push(j as u64);
            }
            push_record(&mut body, &mut rng, trigger);
            k += 1;
        }
        req.clear();
        write!(
            req,
            "POST /ingest HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        s.write_all(&req)?;
        let n = read_answer(&mut s, &mut resp)?;
        let at = since(t0);
        let text = &resp[..n];
        let (first, last) = ack_ids(text).ok_or_else(|| {
            io::Error::other(format!("answer: {}", String::from_utf8_lossy(text)))
        })?;
        if last - first + 1 != a.batch as u64 {
            return Err(io::Error::other(format!(
                "{} records posted, ids {first}..={last} acknowledged",
                a.batch
            )));
        }
        out.posts.push((first, last, at));
        out.triggers.extend(trig_at.iter().map(|j| first + j));
        out.ended = at;
        posts += 1;
    }
    Ok(out)
}

/// One follower: its frames and the alerts it received.
struct Follower {
    stream: MioStream,
    all: bool,
    buf: Vec<u8>,
    /// `(rule, last_id, receipt ns since t0)` of each alert, in order.
    alerts: Vec<(String, u64, u64)>,
    /// Messages that were not alerts.
    records: u64,
    /// Alert messages it could not read.
    bad: u64,
    first_bad: Option<String>,
}

impl Follower {
    fn frames(&mut self, now: u64) {
        let mut buf = std::mem::take(&mut self.buf);
        text_frames(&mut buf, |payload| {
            if !payload.starts_with(b"{\"type\":\"alert\"") {
                self.records += 1;
                return;
            }
            match alert_key(payload) {
                Some((rule, last)) => self.alerts.push((rule, last, now)),
                None => {
                    self.bad += 1;
                    self.first_bad
                        .get_or_insert_with(|| String::from_utf8_lossy(payload).into_owned());
                }
            }
        });
        self.buf = buf;
    }
}

/// `rule` and `last_id` of an alert message.
fn alert_key(payload: &[u8]) -> Option<(String, u64)> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let rule = v.get("rule")?.as_str()?.to_owned();
    let last = v.get("last_id")?.as_str()?.parse().ok()?;
    Some((rule, last))
}

fn connect_followers(a: &Args, poll: &Poll) -> io::Result<Vec<Follower>> {
    let mut out = Vec::new();
    for i in 0..a.followers + a.all_followers {
        let all = i >= a.followers;
        let path = if all {
            "/ws".to_owned()
        } else {
            format!("/ws?service={NO_SERVICE}")
        };
        let mut s = TcpStream::connect(a.addr)?;
        subscribe(&mut s, a.addr, &path)?;
        s.set_nonblocking(true)?;
        let mut stream = MioStream::from_std(s);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE)?;
        out.push(Follower {
            stream,
            all,
            buf: Vec::new(),
            alerts: Vec::new(),
            records: 0,
            bad: 0,
            first_bad: None,
        });
    }
    Ok(out)
}

/// Reads whatever the followers have, for at most `timeout`.
fn pump(
    poll: &mut Poll,
    events: &mut Events,
    conns: &mut [Follower],
    chunk: &mut [u8],
    t0: Instant,
    timeout: Duration,
) -> io::Result<()> {
    poll.poll(events, Some(timeout))?;
    for ev in events.iter() {
        let f = &mut conns[ev.token().0];
        loop {
            match f.stream.read(chunk) {
                Ok(0) => return Err(io::Error::other("the daemon closed a follower")),
                Ok(n) => {
                    f.buf.extend_from_slice(&chunk[..n]);
                    f.frames(since(t0));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

fn histogram() -> io::Result<Histogram<u64>> {
    Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).map_err(io::Error::other)
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    h.value_at_quantile(q) as f64 / 1000.0
}

fn run(a: &Args) -> io::Result<bool> {
    let t0 = Instant::now();
    let mut poll = Poll::new()?;
    let mut conns = connect_followers(a, &poll)?;
    eprintln!(
        "spool-alerts: {} alerts-only and {} full followers connected",
        a.followers, a.all_followers
    );
    let producers: Vec<_> = std::thread::scope(|scope| -> io::Result<Vec<Produced>> {
        let handles: Vec<_> = (0..a.producers)
            .map(|p| scope.spawn(move || produce(a, p, t0)))
            .collect();
        let mut events = Events::with_capacity(1024);
        let mut chunk = vec![0u8; 256 * 1024];
        while !handles.iter().all(|h| h.is_finished()) {
            pump(
                &mut poll,
                &mut events,
                &mut conns,
                &mut chunk,
                t0,
                Duration::from_millis(50),
            )?;
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(
                h.join()
                    .map_err(|_| io::Error::other("a producer panicked"))??,
            );
        }
        // The last alerts: 1 s (late or duplicate alerts; the same tail
        // with and without rules, for the daemon's CPU), then until every
        // follower has one per triggering record, 10 s at most.
        let expected: usize = out.iter().map(|p| p.triggers.len()).sum();
        let tail = Instant::now() + Duration::from_secs(1);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let done = Instant::now() >= tail
                && (!a.expect_alerts
                    || expected == 0
                    || conns.iter().all(|f| {
                        f.alerts
                            .iter()
                            .filter(|(r, _, _)| *r == a.trigger_rule)
                            .count()
                            >= expected
                    }));
            if done {
                break;
            }
            pump(
                &mut poll,
                &mut events,
                &mut conns,
                &mut chunk,
                t0,
                Duration::from_millis(20),
            )?;
        }
        Ok(out)
    })?;
    Ok(report(a, &producers, &conns))
}

fn report(a: &Args, producers: &[Produced], conns: &[Follower]) -> bool {
    let mut posts: Vec<(u64, u64, u64)> = producers.iter().flat_map(|p| p.posts.clone()).collect();
    posts.sort_unstable();
    let ack_of = |id: u64| -> Option<u64> {
        let i = posts.partition_point(|&(first, _, _)| first <= id);
        let &(first, last, at) = posts.get(i.checked_sub(1)?)?;
        (first..=last).contains(&id).then_some(at)
    };
    let sent: u64 = posts.iter().map(|&(f, l, _)| l - f + 1).sum();
    let began = producers.iter().map(|p| p.began).min().unwrap_or(0);
    let ended = producers.iter().map(|p| p.ended).max().unwrap_or(0);
    let elapsed = ended.saturating_sub(began).max(1) as f64 / 1e9;
    let rate = sent as f64 / elapsed;
    let triggers: HashMap<u64, ()> = producers
        .iter()
        .flat_map(|p| p.triggers.iter().map(|&id| (id, ())))
        .collect();
    let expected = if a.expect_alerts { triggers.len() } else { 0 };

    let mut trig = histogram().expect("histogram bounds");
    let mut other = histogram().expect("histogram bounds");
    let mut early = 0u64;
    let mut unknown_ack = 0u64;
    let mut ok = true;
    let mut other_counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut lines = Vec::new();
    let (mut received, mut missing, mut dup, mut stray) = (0u64, 0u64, 0u64, 0u64);
    for (i, f) in conns.iter().enumerate() {
        let mut seen: HashMap<u64, u32> = HashMap::new();
        for (rule, last, at) in &f.alerts {
            let is_trigger = *rule == a.trigger_rule;
            if is_trigger {
                *seen.entry(*last).or_default() += 1;
            } else if i == 0 {
                *other_counts.entry(rule.as_str()).or_default() += 1;
            }
            let Some(ack) = ack_of(*last) else {
                unknown_ack += 1;
                continue;
            };
            let lat = if *at < ack {
                early += 1;
                1
            } else {
                ((*at - ack) / 1000).max(1)
            };
            let h = if is_trigger { &mut trig } else { &mut other };
            let _ = h.record(lat);
        }
        let got = seen.len() as u64;
        let f_dup: u64 = seen.values().map(|&c| u64::from(c - 1)).sum();
        let f_stray = seen.keys().filter(|id| !triggers.contains_key(id)).count() as u64;
        let f_missing = if a.expect_alerts {
            triggers.keys().filter(|id| !seen.contains_key(id)).count() as u64
        } else {
            0
        };
        let f_unexpected = if a.expect_alerts { f_stray } else { got };
        if f_missing + f_dup + f_unexpected + f.bad > 0 {
            ok = false;
        }
        received += got;
        missing += f_missing;
        dup += f_dup;
        stray += f_unexpected;
        lines.push(format!(
            "follower {i} ({}): trigger alerts {got} of {expected} expected, missing {f_missing}, twice {f_dup}, unexpected {f_unexpected}, unreadable {}; other alerts {}; records {}",
            if f.all { "everything" } else { "alerts only" },
            f.bad,
            f.alerts.len() as u64 - seen.values().map(|&c| u64::from(c)).sum::<u64>(),
            f.records
        ));
        if let Some(b) = &f.first_bad {
            lines.push(format!("  first unreadable alert: {b}"));
        }
    }
    println!(
        "records acknowledged {sent} in {elapsed:.2} s: {rate:.0}/s ({} producers, batches of {}, {}); triggering records {}",
        a.producers,
        a.batch,
        if a.rate == 0 { "unpaced".to_owned() } else { format!("paced to {}/s", a.rate) },
        triggers.len()
    );
    for l in &lines {
        println!("{l}");
    }
    println!(
        "trigger alert ack -> receipt ms: p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ({} receipts, {early} before the producer read its ack, {unknown_ack} alerts for ids not acknowledged)",
        ms(&trig, 0.5),
        ms(&trig, 0.9),
        ms(&trig, 0.99),
        ms(&trig, 0.999),
        trig.max() as f64 / 1000.0,
        trig.len()
    );
    if !other_counts.is_empty() {
        let list: Vec<String> = other_counts
            .iter()
            .map(|(r, n)| format!("{r} x{n}"))
            .collect();
        println!(
            "other alerts (follower 0): {}; ack of last_id -> receipt ms: p50 {:.2} p99 {:.2} max {:.2}",
            list.join(", "),
            ms(&other, 0.5),
            ms(&other, 0.99),
            other.max() as f64 / 1000.0
        );
    }
    let others: u64 = other_counts.values().sum();
    println!(
        "RESULT {{\"records\":{sent},\"seconds\":{elapsed:.3},\"records_per_s\":{rate:.0},\"triggers\":{},\"followers\":{},\"expected\":{expected},\"received\":{received},\"missing\":{missing},\"duplicates\":{dup},\"unexpected\":{stray},\"other_alerts\":{others},\"early\":{early},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"max_ms\":{:.3},\"ok\":{ok}}}",
        triggers.len(),
        conns.len(),
        ms(&trig, 0.5),
        ms(&trig, 0.9),
        ms(&trig, 0.99),
        ms(&trig, 0.999),
        trig.max() as f64 / 1000.0
    );
    ok
}

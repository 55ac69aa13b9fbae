//! The read side through the real binary: `/logs` against an independent
//! model (a plain filter over what was sent), cursor paging exactly once
//! while ingest runs, `/logs/recent`, `/stats` and `/metrics` agreeing with
//! what was sent (and `promtool check metrics` accepting `/metrics` when
//! Debian's `prometheus` is installed), `/simulate`, parameter errors, and
//! a corrupt sealed segment never served.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"];
const SERVICES: [&str; 11] = [
    "api", "auth", "db", "cache", "web", "queue", "mail", "search", "pay", "cron", "",
];
const WORDS: [&str; 8] = [
    "alpha", "Bravo", "charlie", "DELTA", "echo", "foxtrot", "golf", "hotel",
];

/// One record as sent, with its id.
#[derive(Clone, Debug)]
struct Sent {
    id: u64,
    ts_ms: u64,
    level: usize,
    service: &'static str,
    message: String,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const BASE_MS: u64 = 1_767_000_000_000;

/// Small segments, so a few thousand records span several.
const SMALL: [&str; 4] = ["--segment-size", "64KiB", "--max-record", "16KiB"];

/// Sends `n` generated records in NDJSON batches; returns them with ids.
fn send(addr: std::net::SocketAddr, rng: &mut Rng, n: usize) -> Vec<Sent> {
    let mut out = Vec::new();
    let mut left = n;
    while left > 0 {
        let k = left.min(1 + rng.below(60));
        let mut body = String::new();
        let mut batch = Vec::new();
        for _ in 0..k {
            // Out of order: up to an hour either way around a drifting base.
            let ts_ms = BASE_MS + rng.below(7_200_000) as u64;
            let level = rng.below(6);
            let service = SERVICES[rng.below(SERVICES.len())];
            let message = format!(
                "{} {} n{}",
                WORDS[rng.below(WORDS.len())],
                WORDS[rng.below(WORDS.len())],
                rng.below(1000)
            );
            let mut rec = json!({"timestamp": ts_ms, "level": LEVELS[level], "message": message});
            if !service.is_empty() {
                rec["service"] = json!(service);
            }
            body.push_str(&rec.to_string());
            body.push('\n');
            batch.push((ts_ms, level, service, message));
        }
        let r = post(addr, "/ingest", "application/x-ndjson", body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        let first: u64 = if k == 1 {
            j["id"].as_str().unwrap().parse().unwrap()
        } else {
            j["first_id"].as_str().unwrap().parse().unwrap()
        };
        for (i, (ts_ms, level, service, message)) in batch.into_iter().enumerate() {
            out.push(Sent {
                id: first + i as u64,
                ts_ms,
                level,
                service,
                message,
            });
        }
        left -= k;
    }
    out
}

/// A random `/logs` filter: its query string and the model's predicate.
struct Query {
    params: Vec<String>,
    levels: Option<Vec<usize>>,
    services: Option<Vec<&'static str>>,
    since: Option<u64>,
    until: Option<u64>,
    text: Option<(String, bool)>,
}

impl Query {
    /// No filter, or only the given parameters and text.
    fn with(params: &[&str], text: Option<(&str, bool)>) -> Query {
        Query {
            params: params.iter().map(|p| (*p).to_owned()).collect(),
            levels: None,
            services: None,
            since: None,
            until: None,
            text: text.map(|(t, ci)| (t.to_owned(), ci)),
        }
    }

    fn random(rng: &mut Rng) -> Query {
        let mut q = Query {
            params: Vec::new(),
            levels: None,
            services: None,
            since: None,
            until: None,
            text: None,
        };
        match rng.below(4) {
            0 => {}
            1 => {
                let l = rng.below(6);
                q.params.push(format!("level={}", LEVELS[l].to_lowercase()));
                q.levels = Some(vec![l]);
            }
            2 => {
                let a = rng.below(6);
                let b = rng.below(6);
                q.params.push(format!("level={},{}", LEVELS[a], LEVELS[b]));
                q.levels = Some(vec![a, b]);
            }
            _ => {
                let l = rng.below(6);
                q.params.push(format!("level>={}", LEVELS[l]));
                q.levels = Some((l..6).collect());
            }
        }
        if rng.below(2) == 0 {
            let mut s = vec![SERVICES[rng.below(SERVICES.len() - 1)]];
            if rng.below(2) == 0 {
                s.push(SERVICES[rng.below(SERVICES.len() - 1)]);
            }
            q.params.push(format!("service={}", s.join(",")));
            q.services = Some(s);
        }
        if rng.below(3) == 0 {
            let t = BASE_MS + rng.below(7_200_000) as u64;
            q.params.push(format!("since={t}"));
            q.since = Some(t);
        }
        if rng.below(3) == 0 {
            let t = BASE_MS + rng.below(7_200_000) as u64;
            q.params.push(format!("until={t}"));
            q.until = Some(t);
        }
        if rng.below(3) == 0 {
            let w = WORDS[rng.below(WORDS.len())];
            let ci = rng.below(2) == 0;
            let needle = if ci { w.to_uppercase() } else { w.to_owned() };
            q.params
                .push(format!("{}={needle}", if ci { "qi" } else { "q" }));
            q.text = Some((needle, ci));
        }
        q
    }

    fn matches(&self, r: &Sent) -> bool {
        self.levels.as_ref().is_none_or(|l| l.contains(&r.level))
            && self
                .services
                .as_ref()
                .is_none_or(|s| s.contains(&r.service))
            && self.since.is_none_or(|t| r.ts_ms >= t)
            && self.until.is_none_or(|t| r.ts_ms < t)
            && self.text.as_ref().is_none_or(|(n, ci)| {
                if *ci {
                    r.message
                        .to_ascii_lowercase()
                        .contains(&n.to_ascii_lowercase())
                } else {
                    r.message.contains(n.as_str())
                }
            })
    }

    /// The model's answer: matching ids, newest first.
    fn expect(&self, sent: &[Sent]) -> Vec<u64> {
        let mut ids: Vec<u64> = sent
            .iter()
            .filter(|r| self.matches(r))
            .map(|r| r.id)
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids
    }
}

fn logs(addr: std::net::SocketAddr, params: &[String]) -> Value {
    let r = get(addr, &format!("/logs?{}", params.join("&")));
    assert_eq!(r.status, 200, "{params:?}: {}", r.text());
    r.json()
}

fn ids_of(page: &Value) -> Vec<u64> {
    page["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// Every page of `q`, following `next_cursor`; the ids in order.
fn all_pages(addr: std::net::SocketAddr, q: &Query, limit: usize) -> Vec<u64> {
    let mut got = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut params = q.params.clone();
        params.push(format!("limit={limit}"));
        if let Some(c) = &cursor {
            params.push(format!("cursor={c}"));
        }
        let page = logs(addr, &params);
        assert_eq!(page["partial"], false);
        let ids = ids_of(&page);
        assert_eq!(page["count"].as_u64().unwrap() as usize, ids.len());
        got.extend(ids);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return got,
        }
    }
    panic!("paging did not end");
}

#[test]
fn logs_answers_equal_a_plain_filter_across_segments_and_a_restart() {
    let dir = TempDir::new("query-model");
    let args = SMALL;
    let mut s = start(dir.path(), &args);
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut sent = send(s.addr, &mut rng, 3000);
    // A restart in the middle: sealed indexes come back from their files.
    stop(&mut s);
    let idx = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".idx")
        })
        .count();
    assert!(idx >= 2, "sealed segments have persisted indexes ({idx})");
    let mut s = start(dir.path(), &args);
    sent.extend(send(s.addr, &mut rng, 3000));
    for round in 0..150 {
        let q = Query::random(&mut rng);
        let want = q.expect(&sent);
        let limit = 1 + rng.below(120);
        let mut params = q.params.clone();
        params.push(format!("limit={limit}"));
        let page = logs(s.addr, &params);
        let got = ids_of(&page);
        assert_eq!(
            got,
            want.iter().copied().take(limit).collect::<Vec<_>>(),
            "round {round}: {params:?}"
        );
        if round % 10 == 0 {
            assert_eq!(
                all_pages(s.addr, &q, 1 + rng.below(300)),
                want,
                "round {round} paged: {:?}",
                q.params
            );
        }
    }
    // The indexes of the restart came from their files, none rebuilt.
    let m = get(s.addr, "/metrics").text();
    assert!(m.contains("\nspool_indexes_rebuilt_total 0\n"), "{m}");
    // Records come back exactly as sent.
    let page = logs(s.addr, &["limit=1".to_owned()]);
    let newest = sent.last().unwrap();
    let rec = &page["logs"][0];
    assert_eq!(rec["message"], newest.message.as_str());
    assert_eq!(rec["level"], LEVELS[newest.level]);
    assert_eq!(rec["service"], newest.service);
    // /logs/recent: the newest, any level.
    let r = get(s.addr, "/logs/recent?limit=7");
    assert_eq!(r.status, 200);
    let want: Vec<u64> = sent.iter().rev().take(7).map(|r| r.id).collect();
    assert_eq!(ids_of(&r.json()), want);
    stop(&mut s);
}

#[test]
fn paging_while_ingest_runs_returns_every_match_once() {
    let dir = TempDir::new("query-paging");
    let mut s = start(
        dir.path(),
        &["--segment-size", "64KiB", "--max-record", "16KiB"],
    );
    let mut rng = Rng(77);
    let sent = Arc::new(Mutex::new(send(s.addr, &mut rng, 2000)));
    let stop_flag = Arc::new(AtomicBool::new(false));
    let writer = {
        let (addr, sent, stop_flag) = (s.addr, sent.clone(), stop_flag.clone());
        thread::spawn(move || {
            let mut rng = Rng(78);
            while !stop_flag.load(Ordering::Relaxed) {
                let more = send(addr, &mut rng, 20);
                sent.lock().unwrap().extend(more);
            }
        })
    };
    for round in 0..6 {
        let q = Query::random(&mut rng);
        let got = all_pages(s.addr, &q, 50);
        let unique: HashSet<u64> = got.iter().copied().collect();
        assert_eq!(
            unique.len(),
            got.len(),
            "round {round}: a record came twice"
        );
        assert!(
            got.windows(2).all(|w| w[0] > w[1]),
            "round {round}: not newest first"
        );
        // Everything matching at or below the first page's newest id.
        let top = got.first().copied().unwrap_or(0);
        let snapshot = sent.lock().unwrap().clone();
        let want: Vec<u64> = q
            .expect(&snapshot)
            .into_iter()
            .filter(|&id| id <= top)
            .collect();
        if !got.is_empty() {
            assert_eq!(got, want, "round {round}: {:?}", q.params);
        }
    }
    stop_flag.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    stop(&mut s);
}

#[test]
fn stats_and_metrics_agree_with_what_was_sent() {
    let dir = TempDir::new("query-stats");
    let mut s = start(dir.path(), &[]);
    let mut rng = Rng(5);
    let sent = send(s.addr, &mut rng, 700);
    let r = post(s.addr, "/simulate?count=3000", "text/plain", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["count"], 3000);
    let total = sent.len() as u64 + 3000;
    let st = get(s.addr, "/stats").json();
    assert_eq!(st["total_processed"], total);
    assert_eq!(st["logs_in_storage"], total);
    assert_eq!(st["total_dropped"], 0);
    assert_eq!(st["last_id"], total.to_string());
    assert!(st["fsyncs"].as_u64().unwrap() >= 1);
    assert!(st["uptime_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(st["segments"], 1);
    assert!(
        st["index_bytes_per_record"].as_f64().unwrap() <= 8.0,
        "{st}"
    );
    assert!(st["queries_served"].as_u64().is_some());
    let oldest = st["oldest_record_time"].as_str().unwrap();
    assert!(
        oldest.starts_with("2025-12-29") || oldest < "2027",
        "{oldest}"
    );
    let m = get(s.addr, "/metrics");
    assert_eq!(m.status, 200);
    assert!(m
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = m.text();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(value("spool_records_total"), total as f64);
    assert_eq!(value("spool_records_stored"), total as f64);
    assert_eq!(
        value("spool_record_bytes"),
        st["record_bytes"].as_f64().unwrap()
    );
    assert_eq!(value("spool_fsyncs_total"), st["fsyncs"].as_f64().unwrap());
    assert_eq!(
        value("spool_commit_records_count"),
        value("spool_fsyncs_total"),
        "one commit observation per fsync"
    );
    assert_eq!(value("spool_commit_records_sum"), total as f64);
    // promtool, when installed (CI installs Debian's prometheus).
    let dir_m = TempDir::new("query-promtool");
    let file = dir_m.path().join("metrics.txt");
    std::fs::write(&file, &m.body).unwrap();
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) if std::env::var_os("CI").is_some() => panic!("promtool must run in CI: {e}"),
        Err(e) => eprintln!("promtool not installed ({e}); skipped"),
    }
    stop(&mut s);
}

#[test]
fn bad_parameters_are_400_naming_the_parameter() {
    let dir = TempDir::new("query-params");
    let mut s = start(dir.path(), &[]);
    for (query, mentions) in [
        ("/logs?level=LOUD", &["level", "LOUD"][..]),
        ("/logs?since=yesterday", &["since", "RFC 3339"]),
        ("/logs?until=12:00", &["until"]),
        ("/logs?limit=0", &["limit", "10000"]),
        ("/logs?limit=10001", &["limit"]),
        ("/logs?cursor=bogus", &["cursor"]),
        ("/logs?q=a&qi=b", &["q", "qi"]),
        ("/logs?lvl=ERROR", &["lvl", "level"]),
        ("/logs?level=ERROR&level=WARN", &["level", "twice"]),
        ("/logs/recent?level=ERROR", &["/logs/recent", "limit"]),
        ("/logs/recent?limit=1&limit=2", &["limit", "twice"]),
        ("/simulate?count=5&count=7", &["count", "twice"]),
        ("/logs?since=2023-11-14T23:43:20+01:00", &["since", "%2B"]),
        ("/logs?service=%FF", &["service", "UTF-8"]),
        ("/simulate?count=0", &["count"]),
        ("/simulate?count=10000001", &["count"]),
    ] {
        let r = if query.starts_with("/simulate") {
            post(s.addr, query, "text/plain", b"")
        } else {
            get(s.addr, query)
        };
        assert_error(&r, 400, mentions, query);
    }
    let r = post(s.addr, "/logs", "text/plain", b"x");
    assert_eq!(r.status, 405);
    // q is bytes: a percent escape that is not UTF-8 on its own still
    // matches exactly those bytes (é is C3 A9), never a replacement char.
    assert_eq!(
        post(
            s.addr,
            "/ingest",
            "text/plain",
            "caf\u{e9} au lait".as_bytes()
        )
        .status,
        200
    );
    assert_eq!(
        post(
            s.addr,
            "/ingest",
            "text/plain",
            "replacement \u{fffd}".as_bytes()
        )
        .status,
        200
    );
    let page = |q: &str| get(s.addr, &format!("/logs?q={q}")).json();
    assert_eq!(page("%C3")["count"], 1, "the first byte of é");
    assert_eq!(page("%C3")["logs"][0]["message"], "caf\u{e9} au lait");
    assert_eq!(page("%FF")["count"], 0, "no record holds the byte FF");
    // service= alone: records without a service; %2C: a comma in a name.
    let body = "{\"service\":\"pay,ments\",\"message\":\"comma\"}\n{\"service\":\"api\",\"message\":\"api\"}\n";
    assert_eq!(
        post(s.addr, "/ingest", "application/x-ndjson", body.as_bytes()).status,
        200
    );
    let names = |q: &str| -> Vec<String> {
        get(s.addr, &format!("/logs?{q}")).json()["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["message"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("service=pay%2Cments"), ["comma"]);
    assert_eq!(names("service=pay%2Cments,api"), ["api", "comma"]);
    let without = names("service=");
    assert!(
        without.iter().any(|m| m.starts_with("replacement")),
        "{without:?}"
    );
    assert!(
        !without.iter().any(|m| m == "api" || m == "comma"),
        "{without:?}"
    );
    assert_error(
        &get(s.addr, "/logs?service=a,,b"),
        400,
        &["service", "empty name"],
        "a,,b",
    );
    // Limits that would refuse everything are refused at start.
    for flag in [
        "--max-connections",
        "--max-connections-per-ip",
        "--max-queries",
    ] {
        let out = Command::new(spool_bin())
            .args([flag, "0", "--data-dir"])
            .arg(dir.path().join("never"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(flag));
    }
    // POST /simulate with no body and no Content-Length (curl -X POST).
    let r = raw(
        s.addr,
        b"POST /simulate?count=10 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    stop(&mut s);
}

#[test]
fn a_corrupt_sealed_segment_is_never_served() {
    let dir = TempDir::new("query-corrupt");
    let args = SMALL;
    let mut s = start(dir.path(), &args);
    let mut rng = Rng(11);
    send(s.addr, &mut rng, 1200);
    // Index everything, then damage a record in the oldest sealed segment.
    assert_eq!(get(s.addr, "/logs?limit=1").status, 200);
    let seg = dir.path().join("00000000000000000001.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = 4000;
    bytes[at] ^= 0x40;
    std::fs::write(&seg, &bytes).unwrap();
    // A query that must read that block is an error naming the segment.
    let r = get(s.addr, "/logs?limit=10000");
    assert_error(
        &r,
        500,
        &["00000000000000000001.seg", "verify"],
        "corrupt block",
    );
    // The newest records, in other segments, are still served.
    assert_eq!(get(s.addr, "/logs?limit=5").status, 200);
    stop(&mut s);
    let t = Instant::now();
    let (code, out, err) = run_cmd(&["verify"], dir.path());
    assert_eq!(code, 3, "{err}");
    let text = out + &err;
    assert!(text.contains("00000000000000000001.seg"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(30));
}

/// `spool verify` checks every index file against its segment: a damaged
/// one is a note (the daemon rebuilds it, and does), one that checks out
/// by its ids but describes other blocks is a problem (the daemon would
/// trust it).
#[test]
fn verify_checks_index_files_and_the_daemon_rebuilds_a_bad_one() {
    use spool_core::index::{decode, encode, BlockTarget, IndexBuilder};
    use spool_core::record::{SegmentId, SEGMENT_HEADER_LEN};
    let dir = TempDir::new("query-idx");
    let args = SMALL;
    let mut s = start(dir.path(), &args);
    let mut rng = Rng(21);
    let sent = send(s.addr, &mut rng, 3000);
    stop(&mut s);
    let verify = || {
        let (code, out, _) = run_cmd(&["verify"], dir.path());
        (Some(code), out)
    };
    let idx: Vec<_> = {
        let mut v: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "idx"))
            .collect();
        v.sort();
        v
    };
    assert!(idx.len() >= 2, "{idx:?}");
    let (code, out) = verify();
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("{} index file(s)", idx.len())),
        "{out}"
    );
    // A flipped byte: not an index; a note, and the daemon rebuilds it.
    let mut bytes = std::fs::read(&idx[0]).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&idx[0], &bytes).unwrap();
    let (code, out) = verify();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("not a valid index"), "{out}");
    let mut s = start(dir.path(), &args);
    let q = Query {
        params: vec!["level=ERROR".into()],
        levels: Some(vec![4]),
        services: None,
        since: None,
        until: None,
        text: None,
    };
    assert_eq!(all_pages(s.addr, &q, 500), q.expect(&sent));
    let m = get(s.addr, "/metrics").text();
    assert!(m.contains("\nspool_indexes_rebuilt_total 1\n"), "{m}");
    stop(&mut s);
    let (code, out) = verify();
    assert_eq!(code, Some(0), "rebuilt and rewritten: {out}");
    assert!(!out.contains("note:"), "{out}");
    // Same ids, other blocks: the daemon would trust it; verify says so.
    let name = idx[1].file_name().unwrap().to_string_lossy().into_owned();
    let seg_id: u64 = name.trim_end_matches(".idx").parse().unwrap();
    let seg = std::fs::read(dir.path().join(name.replace(".idx", ".seg"))).unwrap();
    let mut b = IndexBuilder::with_target(
        SegmentId(seg_id),
        BlockTarget {
            max_bytes: 2048,
            max_records: 8,
        },
    );
    let h = SEGMENT_HEADER_LEN as usize;
    b.push_frames(&seg[h..], h as u64).unwrap();
    let lying = b.finish();
    let honest = decode(&std::fs::read(&idx[1]).unwrap()).unwrap();
    assert_eq!(lying.first_id(), honest.first_id());
    assert_eq!(lying.last_id(), honest.last_id());
    std::fs::write(&idx[1], encode(&lying)).unwrap();
    let (code, out) = verify();
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("does not describe its segment's blocks"),
        "{out}"
    );
}

/// A query past `--query-timeout` answers what it found, `partial`, with a
/// cursor that continues exactly; following the cursors yields every match
/// once. Beyond `--max-queries` queued or running, 503 + Retry-After.
#[test]
fn partial_answers_continue_exactly_and_the_query_cap_answers_503() {
    let dir = TempDir::new("query-partial");
    let mut s = start(
        dir.path(),
        &[
            "--query-timeout",
            "0ms",
            "--segment-size",
            "64KiB",
            "--max-record",
            "16KiB",
        ],
    );
    let mut rng = Rng(31);
    let sent = send(s.addr, &mut rng, 3000);
    let q = Query::with(&["qi=ALPHA"], Some(("ALPHA", true)));
    let mut got = Vec::new();
    let mut cursor: Option<String> = None;
    let mut partials = 0;
    for _ in 0..100_000 {
        let mut params = q.params.clone();
        params.push("limit=1000".into());
        if let Some(c) = &cursor {
            params.push(format!("cursor={c}"));
        }
        let page = logs(s.addr, &params);
        partials += usize::from(page["partial"] == true);
        got.extend(ids_of(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(partials > 0, "a zero budget makes answers partial");
    assert_eq!(got, q.expect(&sent), "{partials} partial answers");
    stop(&mut s);

    // The cap: one query at a time, and a long one running.
    let mut s = start(
        dir.path(),
        &["--max-queries", "1", "--query-timeout", "60s"],
    );
    let addr = s.addr;
    let long = thread::spawn(move || post(addr, "/simulate?count=3000000", "text/plain", b""));
    // Wait until it runs (records appear), so what follows overlaps it.
    let started = Instant::now();
    while get(addr, "/stats").json()["total_processed"]
        .as_u64()
        .unwrap_or(0)
        == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "/simulate never started"
        );
        thread::sleep(Duration::from_millis(10));
    }
    // Queries go one at a time; some overlap another and are refused.
    let mut refused = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    let busy: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(move || {
                let mut answers = Vec::new();
                for _ in 0..200 {
                    let r = get(addr, "/logs?q=zq9xv-absent&limit=1");
                    answers.push((
                        r.status,
                        r.header("retry-after").map(str::to_owned),
                        r.text(),
                    ));
                }
                answers
            })
        })
        .collect();
    // Monitoring has its own slots: query load never blacks it out.
    for _ in 0..20 {
        assert_eq!(get(addr, "/stats").status, 200);
        assert_eq!(get(addr, "/metrics").status, 200);
    }
    // A second /simulate while one runs: 503 saying so.
    let second = post(addr, "/simulate?count=10", "text/plain", b"");
    if second.status == 503 {
        assert!(
            second.text().contains("already running"),
            "{}",
            second.text()
        );
    }
    for t in busy {
        for (status, retry, text) in t.join().unwrap() {
            assert!(status == 200 || status == 503, "{status} {text}");
            if status == 503 {
                assert!(text.contains("--max-queries"), "{text}");
                assert!(retry.is_some());
                refused = Some(text);
            }
        }
    }
    assert!(Instant::now() < deadline);
    assert!(
        refused.is_some(),
        "four clients, one query at a time: some refused"
    );
    assert_eq!(long.join().unwrap().status, 200);
    stop(&mut s);
}

/// Every frame of a segment file: (id, frame offset, frame length).
fn frames_of(seg: &std::path::Path) -> Vec<(u64, usize, usize)> {
    let bytes = std::fs::read(seg).unwrap();
    frames(&bytes)
        .into_iter()
        .map(|(start, end)| {
            let id = u64::from_le_bytes(bytes[start + 12..start + 20].try_into().unwrap());
            (id, start, end - start)
        })
        .collect()
}

/// Damage a filter would not look at, or that hides a record from the
/// filter (a level byte turned from ERROR to INFO, a byte of the needle),
/// is never answered as a shorter result: the block's CRC refuses it.
#[test]
fn damage_that_would_hide_a_record_from_a_filter_is_an_error() {
    let dir = TempDir::new("query-hide");
    // Segments of 8 blocks: the damage goes in a middle block, which
    // start-up does not read (it checks a sealed segment's first and last
    // blocks against its index).
    let args = ["--segment-size", "256KiB", "--max-record", "16KiB"];
    let mut s = start(dir.path(), &args);
    let mut body = String::new();
    for i in 0..4000 {
        let level = if i % 2 == 0 { "ERROR" } else { "INFO" };
        body.push_str(&format!(
            "{{\"level\":\"{level}\",\"message\":\"rec {i} needle {}\"}}\n",
            "x".repeat(80)
        ));
    }
    assert_eq!(
        post(s.addr, "/ingest", "application/x-ndjson", body.as_bytes()).status,
        200
    );
    stop(&mut s);
    let seg = dir.path().join("00000000000000000001.seg");
    assert!(dir.path().join("00000000000000000001.idx").exists());
    let frames = frames_of(&seg);
    let middle = frames.len() / 2;
    let pristine = std::fs::read(&seg).unwrap();
    // An ERROR record (odd id) whose level byte now says INFO: payload
    // byte 9, after the 20-byte frame header.
    let &(_, at, _) = frames[middle..]
        .iter()
        .find(|(id, _, _)| id % 2 == 1)
        .unwrap();
    let mut bytes = pristine.clone();
    bytes[at + 20 + 9] = 2;
    std::fs::write(&seg, &bytes).unwrap();
    let mut s = start(dir.path(), &args);
    let r = get(s.addr, "/logs?level=ERROR&limit=10000");
    assert_error(
        &r,
        500,
        &["00000000000000000001.seg", "verify"],
        "level byte flipped",
    );
    stop(&mut s);
    // A byte of the needle in one record's message.
    let (_, at, len) = frames[middle + 7];
    let mut bytes = pristine.clone();
    let frame = &bytes[at..at + len];
    let n = frame.windows(6).position(|w| w == b"needle").unwrap();
    bytes[at + n] = b'N';
    std::fs::write(&seg, &bytes).unwrap();
    let mut s = start(dir.path(), &args);
    let r = get(s.addr, "/logs?q=needle&limit=10000");
    assert_error(
        &r,
        500,
        &["00000000000000000001.seg"],
        "needle byte flipped",
    );
    // The newest records, in the segments after it, are still served.
    assert_eq!(get(s.addr, "/logs?limit=3").status, 200);
    stop(&mut s);
}

/// An index file that checks out by its CRC, segment and ids but describes
/// another segment's blocks (copied from another log) is found out by the
/// first query that reads its blocks, rebuilt, and the answer is right.
#[test]
fn an_index_from_another_log_is_rebuilt_not_trusted() {
    let make = |tag: &str, level: &str, pad: usize| {
        let dir = TempDir::new(tag);
        let args = SMALL;
        let mut s = start(dir.path(), &args);
        let mut body = String::new();
        for i in 0..1500 {
            body.push_str(&format!(
                "{{\"level\":\"{level}\",\"service\":\"svc{level}\",\"message\":\"r{i} {}\"}}\n",
                "p".repeat(pad)
            ));
        }
        assert_eq!(
            post(s.addr, "/ingest", "application/x-ndjson", body.as_bytes()).status,
            200
        );
        stop(&mut s);
        dir
    };
    let a = make("query-idx-a", "INFO", 5);
    let b = make("query-idx-b", "ERROR", 60);
    // Same segment id and, with these sizes, ids starting at 1 in both.
    let (ia, ib) = (
        a.path().join("00000000000000000001.idx"),
        b.path().join("00000000000000000001.idx"),
    );
    let decode =
        |p: &std::path::Path| spool_core::index::decode(&std::fs::read(p).unwrap()).unwrap();
    let (xa, xb) = (decode(&ia), decode(&ib));
    assert_eq!(xa.first_id(), xb.first_id());
    std::fs::copy(&ia, &ib).unwrap();
    let mut s = start(
        b.path(),
        &["--segment-size", "64KiB", "--max-record", "16KiB"],
    );
    let want = frames_of(&b.path().join("00000000000000000001.seg")).len();
    let mut got = 0;
    let mut cursor = String::new();
    loop {
        let page = get(
            s.addr,
            &format!("/logs?level=ERROR&service=svcERROR&limit=10000{cursor}"),
        );
        assert_eq!(page.status, 200, "{}", page.text());
        let j = page.json();
        got += j["count"].as_u64().unwrap() as usize;
        match j["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(got, 1500, "every ERROR record ({want} in segment 1)");
    let m = get(s.addr, "/metrics").text();
    let rebuilt: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("spool_indexes_rebuilt_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(rebuilt >= 1, "{m}");
    stop(&mut s);
}

/// A sealed segment deleted by hand while the daemon runs is an error
/// naming it, never a silently shorter answer.
#[test]
fn a_segment_deleted_by_hand_is_an_error_not_a_shorter_answer() {
    let dir = TempDir::new("query-rm");
    let args = SMALL;
    let mut s = start(dir.path(), &args);
    let mut rng = Rng(3);
    send(s.addr, &mut rng, 3000);
    stop(&mut s);
    let mut s = start(dir.path(), &args);
    std::fs::remove_file(dir.path().join("00000000000000000001.seg")).unwrap();
    // Served whole from the descriptor the daemon holds (it opened every
    // segment when it checked its index), or an error naming the file;
    // never a shorter answer.
    let r = get(s.addr, "/logs?limit=10000");
    if r.status == 200 {
        assert_eq!(r.json()["count"], 3000, "a whole answer");
    } else {
        assert_error(
            &r,
            500,
            &["00000000000000000001.seg", "missing"],
            "removed by hand",
        );
    }
    s.kill9();
}

/// An answer is cut at `--max-answer` bytes (partial, with a cursor that
/// continues exactly), and while the answers clients have not read pass
/// `--max-buffered`, new queries get 503: memory for answers is bounded
/// whatever the clients do.
#[test]
fn answers_are_bounded_in_size_and_in_what_waits_for_slow_readers() {
    let dir = TempDir::new("query-answers");
    let mut s = start(
        dir.path(),
        &[
            "--max-answer",
            "1MiB",
            "--max-buffered",
            "4MiB",
            "--max-unsent",
            "16KiB",
        ],
    );
    // 60 records of ~100 KB.
    for batch in 0..6 {
        let mut body = String::new();
        for i in 0..10 {
            body.push_str(&format!(
                "{{\"message\":\"big {batch}-{i} {}\"}}\n",
                "y".repeat(100_000)
            ));
        }
        assert_eq!(
            post(s.addr, "/ingest", "application/x-ndjson", body.as_bytes()).status,
            200
        );
    }
    let mut ids = Vec::new();
    let mut cursor = String::new();
    let mut partial = 0;
    loop {
        let r = get(s.addr, &format!("/logs?limit=100{cursor}"));
        assert_eq!(r.status, 200);
        assert!(r.body.len() < (1 << 20) + 200_000, "{} bytes", r.body.len());
        let j = r.json();
        partial += usize::from(j["partial"] == true);
        ids.extend(ids_of(&j));
        match j["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert!(partial >= 5, "{partial} partial answers");
    assert_eq!(ids, (1..=60).rev().collect::<Vec<u64>>());
    stop(&mut s);
    // Clients that ask and never read (a 4 KiB receive buffer): their
    // answers wait in the daemon (beyond what the sockets hold) until
    // --max-buffered, then 503.
    let mut s = start(
        dir.path(),
        &[
            "--max-answer",
            "8MiB",
            "--max-buffered",
            "4MiB",
            "--max-unsent",
            "16KiB",
        ],
    );
    let mut idle = Vec::new();
    let mut refused = None;
    for _ in 0..40 {
        let mut c = connect_small_window(s.addr);
        c.write_all(b"GET /logs?limit=100 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        idle.push(c);
        thread::sleep(Duration::from_millis(30));
        let r = get(s.addr, "/logs?limit=1");
        if r.status == 503 {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("a query refused once unread answers passed --max-buffered");
    assert_error(&r, 503, &["--max-buffered"], "answers waiting");
    drop(idle);
    stop(&mut s);
}

/// A connection with a 4 KiB receive buffer (set before connecting, so the
/// window stays small): a client that reads slowly.
fn connect_small_window(addr: std::net::SocketAddr) -> std::net::TcpStream {
    connect_raw(addr, None, Some(4096))
}

/// A log written through the library with raw payloads (not entries) is
/// served: its records are not log entries, so no query selects them;
/// entries ingested after them are found; verify says it is whole.
#[test]
fn a_log_of_raw_library_payloads_is_served_not_called_damaged() {
    let dir = TempDir::new("query-raw");
    {
        let log = spool_server::Log::open(dir.path()).unwrap();
        for i in 0..500 {
            log.append(format!("raw payload {i}").as_bytes()).unwrap();
        }
        log.close();
    }
    let mut s = start(dir.path(), &[]);
    let r = get(s.addr, "/logs?limit=10");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["count"], 0);
    assert_eq!(get(s.addr, "/stats").status, 200);
    let id = post(s.addr, "/ingest", "text/plain", b"an entry after them").json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(id, "501");
    let page = get(s.addr, "/logs?limit=10").json();
    assert_eq!(page["count"], 1);
    assert_eq!(page["logs"][0]["message"], "an entry after them");
    stop(&mut s);
    let (code, out, _) = run_cmd(&["verify"], dir.path());
    assert_eq!(code, 0, "{out}");
}

/// Every answer names the oldest id still in the log, so a client paging
/// down into what retention deleted can tell "deleted" from "done".
#[test]
fn answers_name_the_oldest_id_left_after_retention() {
    let dir = TempDir::new("query-oldest");
    let args = [
        "--segment-size",
        "64KiB",
        "--max-record",
        "16KiB",
        "--retention-bytes",
        "256KiB",
    ];
    let mut s = start(dir.path(), &args);
    let mut rng = Rng(8);
    assert_eq!(
        logs(s.addr, &[]).get("oldest_id").cloned(),
        Some(Value::Null)
    );
    send(s.addr, &mut rng, 8000);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.stderr().contains("retention deleted") {
        assert!(Instant::now() < deadline, "no retention deletion");
        thread::sleep(Duration::from_millis(20));
    }
    let page = logs(s.addr, &["limit=1".to_owned()]);
    let oldest: u64 = page["oldest_id"].as_str().unwrap().parse().unwrap();
    assert!(oldest > 1, "{page}");
    // It is the first record a full read finds, and a cursor below it
    // yields nothing.
    let all = all_pages(s.addr, &Query::with(&[], None), 10_000);
    assert_eq!(all.last().copied(), Some(oldest));
    stop(&mut s);
}

/// Two logs with the same ids, one all INFO, the other with WARN records:
/// the first's index copied over the second's is not used (its first and
/// last blocks are checked against the segment), so a WARN query finds
/// every WARN record.
#[test]
fn an_index_with_the_same_ids_from_another_log_is_not_used() {
    let make = |tag: &str, warn_every: usize| {
        let dir = TempDir::new(tag);
        let mut s = start(dir.path(), &SMALL);
        let mut body = String::new();
        for i in 0..3000 {
            let level = if warn_every > 0 && i % warn_every == 0 {
                "WARN"
            } else {
                "INFO"
            };
            body.push_str(&format!(
                "{{\"level\":\"{level}\",\"service\":\"svcA\",\"message\":\"m{i:05}\"}}\n"
            ));
        }
        assert_eq!(
            post(s.addr, "/ingest", "application/x-ndjson", body.as_bytes()).status,
            200
        );
        stop(&mut s);
        dir
    };
    let a = make("query-same-a", 0);
    let b = make("query-same-b", 7);
    std::fs::copy(
        a.path().join("00000000000000000001.idx"),
        b.path().join("00000000000000000001.idx"),
    )
    .unwrap();
    let mut s = start(b.path(), &SMALL);
    let r = get(s.addr, "/logs?level=WARN&limit=10000");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["count"], 3000 / 7 + 1);
    stop(&mut s);
}

/// A record damaged in the active segment before the daemon indexed it is
/// an error (indexing checks each record's CRC), not a shorter answer; and
/// /stats and /metrics still answer, saying so.
#[test]
fn damage_in_the_active_segment_before_indexing_is_an_error() {
    let dir = TempDir::new("query-active-damage");
    let args = ["--segment-size", "1MiB", "--max-record", "16KiB"];
    let mut s = start(dir.path(), &args);
    assert_eq!(post(s.addr, "/ingest", "text/plain", b"first").status, 200);
    thread::sleep(Duration::from_millis(300));
    let mut body = String::new();
    for i in 0..3000 {
        let level = if i % 7 == 0 { "WARN" } else { "INFO" };
        body.push_str(&format!("{{\"level\":\"{level}\",\"message\":\"m{i}\"}}\n"));
    }
    assert_eq!(
        post(s.addr, "/ingest", "application/x-ndjson", body.as_bytes()).status,
        200
    );
    let seg = dir.path().join("00000000000000000001.seg");
    let frames = frames_of(&seg);
    let &(_, at, _) = frames[1500..]
        .iter()
        .find(|(id, _, _)| (id - 2) % 7 == 0)
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[at + 20 + 9] = 2; // WARN -> INFO
    std::fs::write(&seg, &bytes).unwrap();
    let r = get(s.addr, "/logs?level=WARN&limit=10000");
    assert_error(&r, 500, &["00000000000000000001.seg"], "active damage");
    let st = get(s.addr, "/stats");
    assert_eq!(st.status, 200);
    assert!(
        st.json()["index_error"]
            .as_str()
            .unwrap()
            .contains("damaged"),
        "{}",
        st.text()
    );
    let m = get(s.addr, "/metrics");
    assert!(m.text().contains("\nspool_index_ok 0\n"));
    s.kill9();
}

/// Retention deleting segments while queries and /stats run is never
/// reported as damage.
#[test]
fn retention_under_queries_is_not_damage() {
    let dir = TempDir::new("query-retention-race");
    let mut args = SMALL.to_vec();
    args.extend(["--retention-bytes", "256KiB"]);
    let mut s = start(dir.path(), &args);
    let addr = s.addr;
    let stop_flag = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for w in 0..2u64 {
        let stop_flag = stop_flag.clone();
        threads.push(thread::spawn(move || {
            let mut rng = Rng(100 + w);
            while !stop_flag.load(Ordering::Relaxed) {
                send(addr, &mut rng, 300);
            }
            Vec::new()
        }));
    }
    for path in [
        "/logs?limit=10000&q=zzz",
        "/logs?limit=10000&level=ERROR",
        "/stats",
    ] {
        let stop_flag = stop_flag.clone();
        threads.push(thread::spawn(move || {
            let mut bad = Vec::new();
            while !stop_flag.load(Ordering::Relaxed) {
                let r = get(addr, path);
                if r.status != 200 || r.text().contains("damaged") {
                    bad.push(format!("{path}: {} {}", r.status, r.text()));
                }
            }
            bad
        }));
    }
    thread::sleep(Duration::from_secs(4));
    stop_flag.store(true, Ordering::Relaxed);
    let bad: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert!(s.stderr().contains("retention deleted"), "retention ran");
    assert!(
        bad.is_empty(),
        "{} bad answers, e.g. {:?}",
        bad.len(),
        bad.first()
    );
    stop(&mut s);
}

/// Library payloads that look like entries but are not (metadata not a
/// JSON object, a byte too many) are never served, the page stays valid
/// JSON, and `spool verify` calls the log whole.
#[test]
fn payloads_that_only_look_like_entries_are_not_served() {
    use spool_core::entry::{Entry, Level};
    let dir = TempDir::new("query-near-entries");
    let entry = |message: &str, metadata: &str| Entry {
        timestamp_ns: 1_700_000_000_000_000_000,
        level: Level::Warn,
        service: "lib".into(),
        message: message.into(),
        metadata: metadata.into(),
    };
    {
        let log = spool_server::Log::open(dir.path()).unwrap();
        log.append(&entry("bad metadata", "{x}").encode().unwrap())
            .unwrap();
        log.append(&entry("array metadata", "[1]").encode().unwrap())
            .unwrap();
        let mut extra = entry("trailing byte", "").encode().unwrap();
        extra.push(0);
        log.append(&extra).unwrap();
        log.append_entry(&entry("good", "{\"k\":1}")).unwrap();
        log.close();
    }
    let mut s = start(dir.path(), &SMALL);
    let page = get(s.addr, "/logs?level=WARN").json();
    assert_eq!(page["count"], 1, "{page}");
    assert_eq!(page["logs"][0]["message"], "good");
    // Seal the segment so its index is written, then verify.
    let mut rng = Rng(4);
    send(s.addr, &mut rng, 3000);
    stop(&mut s);
    let (code, out, _) = run_cmd(&["verify"], dir.path());
    assert_eq!(code, 0, "{out}");
}

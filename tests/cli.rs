//! The command line through the real binary: `spool cat`'s filters against
//! a plain filter over what was sent, `spool stats` against counts of what
//! was sent, `spool verify`'s summary, `--version`, the segment-size
//! message, and usage errors in words (status 2, naming the argument).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;

const USAGE: i32 = 2;
const DAMAGED: i32 = 3;
const GAP: i32 = 4;

/// 2026-01-01T12:00:00Z in Unix seconds: every record is stamped on that
/// day, so the model formats times without a calendar.
const NOON: u64 = 1_767_268_800;
const MIDNIGHT: u64 = NOON - 43_200;

/// Level words as sent, and the level each one means.
const LEVELS: [(&str, &str); 9] = [
    ("TRACE", "TRACE"),
    ("debug", "DEBUG"),
    ("INFO", "INFO"),
    ("warn", "WARN"),
    ("WARNING", "WARN"),
    ("error", "ERROR"),
    ("ERR", "ERROR"),
    ("critical", "CRITICAL"),
    ("FATAL", "CRITICAL"),
];
const ORDER: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"];
const MESSAGES: [&str; 6] = [
    "disk full",
    "Disk FULL on /var",
    "user logged in",
    "payment failed",
    "retrying",
    "cache miss",
];

/// One record as sent, with what the daemon should store.
#[derive(Clone, Debug)]
struct Sent {
    id: u64,
    ts_ns: u64,
    level: &'static str,
    /// `""` when the record had no service.
    service: String,
    message: String,
    /// The metadata JSON text as sent; `""` for none.
    metadata: String,
}

/// The model's filter: the `/logs` conditions written out plainly.
#[derive(Clone, Debug, Default)]
struct Want {
    levels: Option<Vec<&'static str>>,
    services: Option<Vec<String>>,
    since_ns: Option<u64>,
    until_ns: Option<u64>,
    grep: Option<(String, bool)>,
}

impl Want {
    fn keeps(&self, r: &Sent) -> bool {
        let contains = |hay: &str, needle: &str, ci: bool| {
            if ci {
                hay.to_ascii_lowercase()
                    .contains(&needle.to_ascii_lowercase())
            } else {
                hay.contains(needle)
            }
        };
        self.levels.as_ref().is_none_or(|l| l.contains(&r.level))
            && self
                .services
                .as_ref()
                .is_none_or(|s| s.contains(&r.service))
            && self.since_ns.is_none_or(|t| r.ts_ns >= t)
            && self.until_ns.is_none_or(|t| r.ts_ns < t)
            && self
                .grep
                .as_ref()
                .is_none_or(|(n, ci)| contains(&r.message, n, *ci) || contains(&r.metadata, n, *ci))
    }
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` for a time on 2026-01-01.
fn day_time(ns: u64) -> String {
    let secs = ns / 1_000_000_000 - MIDNIGHT;
    assert!(secs < 86_400, "the model only knows 2026-01-01");
    format!(
        "2026-01-01T{:02}:{:02}:{:02}.{:09}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ns % 1_000_000_000
    )
}

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Starts a daemon on small segments, sends `n` generated records in
/// NDJSON batches (services skewed over 24 names and none, every level
/// word, timestamps as RFC 3339 strings or Unix ms, every seventh an hour
/// older than its neighbours), stops it, and returns what was sent.
fn fixture(dir: &Path, n: usize) -> Vec<Sent> {
    let mut s = start(dir, &["--segment-size", "8KiB", "--max-record", "2KiB"]);
    let mut rng = Rng(42);
    let mut sent = Vec::new();
    let mut i = 0;
    while i < n {
        let mut body = String::new();
        let mut batch = Vec::new();
        for _ in 0..50.min(n - i) {
            let (word, level) = LEVELS[rng.below(LEVELS.len() as u64) as usize];
            // Low numbers far more often: some services are big, most small.
            let service = match rng.below(10) {
                0 => String::new(),
                _ => format!("svc-{:02}", rng.below(24).min(rng.below(24))),
            };
            let message = format!("{} #{i}", MESSAGES[rng.below(6) as usize]);
            let metadata = match rng.below(3) {
                0 => format!(r#"{{"host":"db-{}"}}"#, rng.below(4)),
                1 => r#"{"note":"Disk quota","n":1.50}"#.to_owned(),
                _ => String::new(),
            };
            let mut secs = NOON + i as u64;
            if i % 7 == 0 {
                secs -= 3600;
            }
            let (ts_json, ts_ns) = if rng.below(2) == 0 {
                let ms = secs * 1000 + rng.below(1000);
                (ms.to_string(), ms * 1_000_000)
            } else {
                let ns = secs * 1_000_000_000 + rng.below(1_000_000_000);
                (format!("\"{}\"", day_time(ns)), ns)
            };
            let mut line =
                format!(r#"{{"level":"{word}","message":"{message}","timestamp":{ts_json}"#);
            if !service.is_empty() {
                line.push_str(&format!(r#","service":"{service}""#));
            }
            if !metadata.is_empty() {
                line.push_str(&format!(r#","metadata":{metadata}"#));
            }
            line.push_str("}\n");
            body.push_str(&line);
            batch.push(Sent {
                id: 0,
                ts_ns,
                level,
                service,
                message,
                metadata,
            });
            i += 1;
        }
        let r = post(s.addr, "/ingest", "application/x-ndjson", body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        let first: u64 = j["first_id"].as_str().unwrap().parse().unwrap();
        for (k, mut rec) in batch.into_iter().enumerate() {
            rec.id = first + k as u64;
            sent.push(rec);
        }
    }
    stop(&mut s);
    assert!(
        segments(dir).len() >= 3,
        "the records should span several segments"
    );
    sent
}

fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

/// Runs `spool <args>` (stdout piped): status, stdout, stderr.
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(spool_bin())
        .args(args)
        .output()
        .expect("run spool");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `spool <cmd> --data-dir <dir> <args>`.
fn run_in(cmd: &str, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let dir = dir.to_str().unwrap();
    let mut all = vec![cmd, "--data-dir", dir];
    all.extend_from_slice(args);
    run(&all)
}

#[test]
fn cat_filters_agree_with_a_plain_filter_over_what_was_sent() {
    let tmp = TempDir::new("cli-cat");
    let sent = fixture(tmp.path(), 400);

    // Unfiltered: every record, in id order, as sent.
    let all = cat_lines(tmp.path());
    assert_eq!(all.len(), sent.len());
    let mut line_of = BTreeMap::new();
    for (line, rec) in all.iter().zip(&sent) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["id"], rec.id.to_string(), "{line}");
        assert_eq!(v["timestamp"], day_time(rec.ts_ns), "{line}");
        assert_eq!(v["level"], rec.level, "{line}");
        assert_eq!(v["service"], rec.service.as_str(), "{line}");
        assert_eq!(v["message"], rec.message.as_str(), "{line}");
        line_of.insert(rec.id, line.clone());
    }

    let t = |sec_of_day: u64| (MIDNIGHT + sec_of_day) * 1_000_000_000;
    // A record's exact time, to check both ends of the window at it.
    let edge = sent[123].ts_ns;
    let edge_text = day_time(edge);
    let until_edge = sent[321].ts_ns;
    let cases: Vec<(Vec<String>, Want)> = vec![
        (
            vec!["--level".into(), "ERROR".into()],
            Want {
                levels: Some(vec!["ERROR"]),
                ..Want::default()
            },
        ),
        (
            vec![
                "--level".into(),
                ">=warn".into(),
                "--service".into(),
                "svc-00,svc-03".into(),
            ],
            Want {
                levels: Some(vec!["WARN", "ERROR", "CRITICAL"]),
                services: Some(vec!["svc-00".into(), "svc-03".into()]),
                ..Want::default()
            },
        ),
        (
            vec![
                "--level".into(),
                "trace,FATAL".into(),
                "--level".into(),
                "info".into(),
            ],
            Want {
                levels: Some(vec!["TRACE", "CRITICAL", "INFO"]),
                ..Want::default()
            },
        ),
        (
            // Inclusive since, exclusive until, at records' exact times.
            vec![
                "--since".into(),
                edge_text.clone(),
                "--until".into(),
                day_time(until_edge),
            ],
            Want {
                since_ns: Some(edge),
                until_ns: Some(until_edge),
                ..Want::default()
            },
        ),
        (
            // Unix milliseconds, and an RFC 3339 offset.
            vec![
                "--since".into(),
                ((MIDNIGHT + 43_300) * 1000).to_string(),
                "--until".into(),
                "2026-01-01T13:05:00+01:00".into(),
                "--service".into(),
                "svc-01".into(),
            ],
            Want {
                since_ns: Some(t(43_300)),
                until_ns: Some(t(43_500)),
                services: Some(vec!["svc-01".into()]),
                ..Want::default()
            },
        ),
        (
            vec!["--grep".into(), "Disk".into()],
            Want {
                grep: Some(("Disk".into(), false)),
                ..Want::default()
            },
        ),
        (
            vec![
                "--grep".into(),
                "DISK".into(),
                "-i".into(),
                "--level".into(),
                ">=ERROR".into(),
            ],
            Want {
                grep: Some(("DISK".into(), true)),
                levels: Some(vec!["ERROR", "CRITICAL"]),
                ..Want::default()
            },
        ),
        (
            // Found only in metadata.
            vec!["--grep-i".into(), "--grep".into(), "DB-2".into()],
            Want {
                grep: Some(("DB-2".into(), true)),
                ..Want::default()
            },
        ),
        (
            vec!["--service".into(), "no-such-service".into()],
            Want {
                services: Some(vec!["no-such-service".into()]),
                ..Want::default()
            },
        ),
    ];
    for (args, want) in &cases {
        let expected: Vec<u64> = sent
            .iter()
            .filter(|r| want.keeps(r))
            .map(|r| r.id)
            .collect();
        let shapes: [(&[&str], bool, Option<usize>); 4] = [
            (&[], false, None),
            (&["--reverse"], true, None),
            (&["--reverse", "--limit", "7"], true, Some(7)),
            (&["--limit", "5"], false, Some(5)),
        ];
        for (extra, reverse, limit) in shapes {
            let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
            a.extend_from_slice(extra);
            let (code, out, err) = run_in("cat", tmp.path(), &a);
            assert_eq!(code, 0, "cat {a:?}: {err}");
            assert_eq!(err, "", "cat {a:?}");
            let mut ids = expected.clone();
            if reverse {
                ids.reverse();
            }
            ids.truncate(limit.unwrap_or(usize::MAX));
            let want_lines: Vec<&str> = ids.iter().map(|id| line_of[id].as_str()).collect();
            let got: Vec<&str> = out.lines().collect();
            assert_eq!(got, want_lines, "cat {a:?}");
        }
        if args[1] != "no-such-service" {
            assert!(!expected.is_empty(), "{args:?} should select something");
            assert!(
                expected.len() < sent.len(),
                "{args:?} should leave something out"
            );
        }
    }

    // No filter, or every filter wide open: byte for byte the plain output.
    let (_, everything, _) = run_in("cat", tmp.path(), &[]);
    let (code, wide, _) = run_in(
        "cat",
        tmp.path(),
        &[
            "--level", ">=TRACE", "--grep", "", "--format", "json", "--limit", "100000",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(wide, everything);
    assert_eq!(everything.lines().collect::<Vec<_>>(), all);

    // The readable form: one line per record, no colour off a terminal.
    let (code, text, _) = run_in(
        "cat",
        tmp.path(),
        &["--format", "text", "--reverse", "--limit", "3"],
    );
    assert_eq!(code, 0);
    assert!(!text.contains('\x1b'), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let newest = sent.last().unwrap();
    assert!(
        lines[0].starts_with(&format!("#{}  ", newest.id))
            && lines[0].contains(&day_time(newest.ts_ns)[..23])
            && lines[0].contains(newest.level)
            && lines[0].contains(&newest.message),
        "{}",
        lines[0]
    );

    // verify's summary line counts the same records.
    let (code, out, _) = run_in("verify", tmp.path(), &[]);
    assert_eq!(code, 0, "{out}");
    let summary = out.lines().last().unwrap();
    assert!(
        summary.starts_with("OK: ")
            && summary.contains(&format!("{} segment(s)", segments(tmp.path()).len()))
            && summary.contains(&format!("{} record(s)", sent.len()))
            && summary.contains("no problems"),
        "{out}"
    );
}

#[test]
fn stats_counts_what_was_sent() {
    let tmp = TempDir::new("cli-stats");
    let sent = fixture(tmp.path(), 300);
    let (code, out, err) = run_in("stats", tmp.path(), &[]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("stats prints JSON when piped");

    assert_eq!(j["records"], sent.len());
    assert_eq!(j["first_id"], sent[0].id.to_string());
    assert_eq!(j["last_id"], sent.last().unwrap().id.to_string());
    assert_eq!(j["gaps"], 0);
    let oldest = sent.iter().map(|r| r.ts_ns).min().unwrap();
    let newest = sent.iter().map(|r| r.ts_ns).max().unwrap();
    assert_eq!(j["oldest"], day_time(oldest));
    assert_eq!(j["newest"], day_time(newest));
    let segs = segments(tmp.path());
    assert_eq!(j["segments"], segs.len());
    let bytes: u64 = segs
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(j["bytes_on_disk"], bytes);

    for level in ORDER {
        let n = sent.iter().filter(|r| r.level == level).count();
        assert_eq!(j["levels"][level], n, "{level}");
    }
    let mut by_service: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &sent {
        *by_service.entry(r.service.as_str()).or_default() += 1;
    }
    let mut ranked: Vec<(&str, u64)> = by_service.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    assert!(
        ranked.len() > 20,
        "the fixture should have more than 20 services"
    );
    let top: Vec<(String, u64)> = j["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap().to_owned(),
                s["records"].as_u64().unwrap(),
            )
        })
        .collect();
    let want_top: Vec<(String, u64)> = ranked[..20]
        .iter()
        .map(|(s, n)| (s.to_string(), *n))
        .collect();
    assert_eq!(top, want_top);
    assert_eq!(j["other_services"]["services"], ranked.len() - 20);
    assert_eq!(
        j["other_services"]["records"],
        ranked[20..].iter().map(|(_, n)| n).sum::<u64>()
    );

    // The table says the same, for a person.
    let (code, table, _) = run_in("stats", tmp.path(), &["--format", "text"]);
    assert_eq!(code, 0);
    assert!(
        table.contains(&format!("({} others)", ranked.len() - 20)),
        "{table}"
    );
    assert!(table.contains(&day_time(oldest)), "{table}");
    assert!(table.contains("gaps       none"), "{table}");
}

#[test]
fn filters_do_not_hide_gaps() {
    // A declared loss, as tests/integrity.rs makes one: the last record
    // damaged after a clean stop, the loss accepted.
    let tmp = TempDir::new("cli-gap");
    let mut s = start(tmp.path(), &[]);
    let body: String = (0..10).map(|i| format!("ERROR record {i}\n")).collect();
    assert_eq!(
        post(s.addr, "/ingest", "text/plain", body.as_bytes()).status,
        200
    );
    stop(&mut s);
    let seg = segments(tmp.path()).into_iter().next().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap();
    bytes[end - 3] ^= 0x10;
    std::fs::write(&seg, &bytes).unwrap();
    let mut s = start(tmp.path(), &["--accept-data-loss"]);
    assert_eq!(
        post(s.addr, "/ingest", "text/plain", b"INFO after\n").status,
        200
    );
    stop(&mut s);

    for args in [
        &["--service", "nothing-matches"][..],
        &["--level", "INFO"],
        &["--reverse", "--limit", "1"],
        &["--grep", "record", "--reverse"],
    ] {
        let (code, out, err) = run_in("cat", tmp.path(), args);
        assert_eq!(code, GAP, "cat {args:?}: {err}");
        assert!(err.contains("gap: records 10..=10"), "cat {args:?}: {err}");
        let n = out.lines().count();
        assert!(n <= 10, "cat {args:?}: {out}");
    }
    // A forward --limit stops reading at its last line, before the gap.
    let (code, out, err) = run_in("cat", tmp.path(), &["--limit", "3"]);
    assert_eq!((code, out.lines().count()), (0, 3), "{err}");

    let (code, out, err) = run_in("stats", tmp.path(), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("gap: records 10..=10"), "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (j["records"].as_u64(), j["gaps"].as_u64()),
        (Some(10), Some(1))
    );
    assert_eq!(j["missing_ids"], 1);
    assert_eq!(j["levels"]["ERROR"], 9);

    // Damage stops stats as it stops cat.
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    let (code, out, err) = run_in("stats", tmp.path(), &[]);
    assert_eq!(code, DAMAGED, "{out}{err}");
    assert!(out.is_empty() && err.contains("corruption"), "{out}{err}");
}

#[test]
fn version() {
    let want = format!("spool {}\n", env!("CARGO_PKG_VERSION"));
    for flag in ["--version", "-V"] {
        let (code, out, err) = run(&[flag]);
        assert_eq!((code, out.as_str(), err.as_str()), (0, want.as_str(), ""));
    }
}

#[test]
fn segment_size_errors_name_the_smallest_that_works() {
    let tmp = TempDir::new("cli-segsize");
    let refused = |args: &[&str]| -> String {
        match try_start(tmp.path(), args, &[]) {
            Ok(_) => panic!("started with {args:?}"),
            Err((status, text)) => {
                assert_eq!(status.and_then(|s| s.code()), Some(USAGE), "{text}");
                text
            }
        }
    };
    // The default 1 MiB record does not fit a 1 MiB segment with headers.
    let err = refused(&["--segment-size", "1MiB"]);
    assert!(
        err.contains("--segment-size 1MiB")
            && err.contains("--max-record 1MiB")
            && err.contains(&format!("{} bytes", (1 << 20) + 52))
            && err.contains("spool --help"),
        "{err}"
    );
    // The size it names works, with a record of exactly the maximum size;
    // one byte less does not.
    let err = refused(&["--max-record", "16KiB", "--segment-size", "16KiB"]);
    let smallest: u64 = err
        .split("works is ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no size in {err}"));
    refused(&[
        "--max-record",
        "16KiB",
        "--segment-size",
        &(smallest - 1).to_string(),
    ]);
    let mut s = start(
        tmp.path(),
        &[
            "--max-record",
            "16KiB",
            "--segment-size",
            &smallest.to_string(),
        ],
    );
    // A text line is an INFO entry with no service or metadata: 20 bytes
    // of fixed fields, then the message.
    let line = "x".repeat(16 * 1024 - 20);
    for _ in 0..2 {
        let r = post(s.addr, "/ingest", "text/plain", line.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = post(
        s.addr,
        "/ingest",
        "text/plain",
        format!("{line}x").as_bytes(),
    );
    assert_eq!(
        r.status,
        413,
        "one byte more than --max-record: {}",
        r.text()
    );
    stop(&mut s);
    assert_eq!(cat(tmp.path()).len(), 2);
    assert!(segments(tmp.path()).len() >= 2);
}

#[test]
fn usage_errors_name_the_argument_and_exit_2() {
    let cases: &[(&[&str], &[&str], &str)] = &[
        (
            &["cat", "--level"],
            &["--level needs a value", ">=WARN"],
            "spool cat --help",
        ),
        (
            &["cat", "--level", "loud"],
            &["--level", "\"loud\"", "CRITICAL"],
            "spool cat --help",
        ),
        (
            &["cat", "--levle", "x"],
            &["unknown flag --levle", "--level LEVELS"],
            "spool cat --help",
        ),
        (
            &["cat", "--since", "yesterday"],
            &["--since", "\"yesterday\"", "RFC 3339"],
            "spool cat --help",
        ),
        (
            &["cat", "--limit", "0"],
            &["--limit", "\"0\"", "1 or more"],
            "spool cat --help",
        ),
        (
            &["cat", "--service", "a,,b"],
            &["--service", "empty service name"],
            "spool cat --help",
        ),
        (&["cat", "-i"], &["--grep-i", "--grep"], "spool cat --help"),
        (
            &["cat", "--reverse=yes"],
            &["--reverse is a switch"],
            "spool cat --help",
        ),
        (
            &["cat", "ERROR"],
            &["\"ERROR\"", "only flags"],
            "spool cat --help",
        ),
        (
            &["stats", "--limit", "3"],
            &["unknown flag --limit", "--data-dir DIR"],
            "spool stats --help",
        ),
        (
            &["stats", "--format", "yaml"],
            &["--format", "json or text"],
            "spool stats --help",
        ),
        (
            &["verify", "extra"],
            &["\"extra\"", "--data-dir DIR"],
            "spool verify --help",
        ),
        (
            &["verify", "--data-dir"],
            &["--data-dir needs a value"],
            "spool verify --help",
        ),
        (
            &["--level", "WARN"],
            &["unknown flag --level", "spool cat", "--listen"],
            "spool --help",
        ),
        (
            &["serve", "-x"],
            &["unknown flag -x", "--segment-size"],
            "spool --help",
        ),
        (
            &["serve", "now"],
            &["\"now\"", "--flag value"],
            "spool --help",
        ),
        (
            &["--listen"],
            &["--listen needs a value", "127.0.0.1:8080"],
            "spool --help",
        ),
        (
            &["--max-body", "lots"],
            &["--max-body", "\"lots\"", "64MiB"],
            "spool --help",
        ),
        (
            &["--accept-data-loss=yes"],
            &["--accept-data-loss is a switch"],
            "spool --help",
        ),
        (
            &["follow"],
            &["unknown command \"follow\"", "cat, tail, stats, verify"],
            "spool --help",
        ),
    ];
    for (args, mentions, help) in cases {
        let (code, out, err) = run(args);
        assert_eq!(code, USAGE, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.contains(help), "{args:?}: {err} should point to {help}");
        assert!(
            !err.contains("Long(") && !err.contains("Value("),
            "{args:?}: {err}"
        );
        for m in *mentions {
            assert!(err.contains(m), "{args:?}: {err} should mention {m:?}");
        }
    }
}

#[test]
fn every_command_has_help() {
    for cmd in ["cat", "stats", "verify"] {
        for args in [&[cmd, "--help"][..], &[cmd, "-h"], &["help", cmd]] {
            let (code, out, err) = run(args);
            assert_eq!(code, 0, "{args:?}: {err}");
            assert!(
                out.contains(&format!("usage: spool {cmd}")),
                "{args:?}: {out}"
            );
            assert!(out.contains("--data-dir DIR"), "{args:?}: {out}");
        }
    }
    let (_, cat_help, _) = run(&["cat", "--help"]);
    for flag in [
        "--level",
        "--service",
        "--since",
        "--until",
        "--grep",
        "-i, --grep-i",
        "--limit",
        "--reverse",
        "--format",
    ] {
        assert!(cat_help.contains(flag), "{flag}: {cat_help}");
    }
    for args in [&["--help"][..], &["-h"], &["serve", "--help"], &["help"]] {
        let (code, out, _) = run(args);
        assert_eq!(code, 0, "{args:?}");
        for word in [
            "spool stats",
            "spool cat",
            "--version",
            "--segment-size",
            "exit status",
        ] {
            assert!(out.contains(word), "{args:?}: {word}: {out}");
        }
    }
}

/// `--service ''` selects exactly the records without a service.
#[test]
fn an_empty_service_selects_records_without_one() {
    let tmp = TempDir::new("cli-nosvc");
    let sent = fixture(tmp.path(), 200);
    let (code, out, err) = run_in("cat", tmp.path(), &["--service", ""]);
    assert_eq!(code, 0, "{err}");
    let got: Vec<u64> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["service"], "", "{l}");
            v["id"].as_str().unwrap().parse().unwrap()
        })
        .collect();
    let want: Vec<u64> = sent
        .iter()
        .filter(|r| r.service.is_empty())
        .map(|r| r.id)
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

/// Starts `spool tail <args>` with stdout piped; returns the child and a
/// channel of its stdout lines.
fn spawn_tail(
    dir: &Path,
    args: &[&str],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = Command::new(spool_bin())
        .arg("tail")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn spool tail");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Ids (and levels) of the tail's lines until `want` lines came (20 s max).
fn tail_lines(rx: &std::sync::mpsc::Receiver<String>, want: usize) -> Vec<(u64, String)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut got = Vec::new();
    while got.len() < want {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            break;
        };
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        got.push((
            v["id"].as_str().unwrap().parse().unwrap(),
            v["level"].as_str().unwrap().to_owned(),
        ));
    }
    got
}

/// `spool tail -f` follows the daemon's writes across rotations, every
/// record once, in order; `--from now` starts after what is there;
/// `--level` filters; without -f it stops at the end.
#[test]
fn tail_follows_the_daemon_across_rotation() {
    let tmp = TempDir::new("cli-tail");
    let mut s = start(
        tmp.path(),
        &["--segment-size", "64KiB", "--max-record", "16KiB"],
    );
    let batch = |from: usize, n: usize| {
        let body: String = (from..from + n)
            .map(|i| {
                let level = if i % 3 == 0 { "ERROR" } else { "INFO" };
                format!(
                    "{{\"level\":\"{level}\",\"message\":\"tail {i} {}\"}}\n",
                    "p".repeat(40)
                )
            })
            .collect();
        let r = post(s.addr, "/ingest", "application/x-ndjson", body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    };
    batch(0, 10);
    let (mut all, all_rx) = spawn_tail(tmp.path(), &["-f", "--from", "oldest", "--format", "json"]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (mut errors, errors_rx) =
        spawn_tail(tmp.path(), &["-f", "--level", "ERROR", "--format", "json"]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    for k in 0..30 {
        batch(10 + k * 100, 100);
    }
    let segments = segments(tmp.path()).len();
    assert!(segments >= 3, "rotated: {segments} segments");
    let got = tail_lines(&all_rx, 3010);
    let ids: Vec<u64> = got.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        (1..=3010).collect::<Vec<u64>>(),
        "every record once, in order"
    );
    // --from now (the default) started after the first 10; ERROR only.
    let got = tail_lines(&errors_rx, 1000);
    let want: Vec<u64> = (10..3010u64)
        .filter(|i| i % 3 == 0)
        .map(|i| i + 1)
        .collect();
    assert_eq!(got.iter().map(|(id, _)| *id).collect::<Vec<_>>(), want);
    assert!(got.iter().all(|(_, level)| level == "ERROR"));
    let _ = all.kill();
    let _ = errors.kill();
    let _ = all.wait();
    let _ = errors.wait();
    // Without -f: from an id to the end, then exit 0.
    let (code, out, err) = run_in("tail", tmp.path(), &["--from", "3000", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 10);
    stop(&mut s);
}

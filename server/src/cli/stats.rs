//! `spool stats`: offline counts over a data directory: records by level
//! and by service, the span of their timestamps, segments, bytes and gaps.
//!
//! It reads through the same pass as `spool cat` ([`walk`]), so it counts
//! exactly the records `spool cat` would print, reports gaps and damage
//! the same way on stderr, and exits 3 on damage without printing counts.
//! Gaps do not change the exit status: the counts say how many there were.
//! JSON when stdout is not a terminal; an aligned table on one.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{json, Value};
use spool_core::entry::{EntryRef, Level};
use spool_core::record::Lsn;
use spool_proto::format_rfc3339_nanos;

use super::args::{
    default_data_dir, parse_format, CommandSpec, Format, Usage, DATA_DIR, FORMAT, HELP,
};
use super::walk::{walk, Sink, Walked};
use super::{term, EXIT_FAILURE, EXIT_OK};
use crate::storage::files::segment_file_name;
use crate::storage::recovery::list_segments;

/// How many services are listed by name; the rest are summed as "others".
pub const TOP_SERVICES: usize = 20;

/// `spool stats`'s flags and help.
pub static SPEC: CommandSpec = CommandSpec {
    name: "stats",
    summary: "count the records of a data directory by level and service, offline",
    flags: &[DATA_DIR, FORMAT, HELP],
    notes: "Reads every record, as spool cat does, and reports: records by level, the
20 services with most records and the rest as others, the oldest and
newest record timestamps, ids, segments and their bytes on disk, and gaps
(each also named on stderr). Exit status 0, 3 when the log is damaged, 1
when it cannot be read. Safe beside a running daemon.
",
};

/// What the counts were taken over and how they are printed.
#[derive(Debug)]
struct StatsOptions {
    dir: PathBuf,
    format: Option<Format>,
}

/// `spool stats`'s entry point from `main`.
pub fn main(args: &mut lexopt::Parser) -> ExitCode {
    let given = match SPEC.parse(args) {
        Ok(g) => g,
        Err(u) => return super::usage_exit(&u),
    };
    let mut o = StatsOptions {
        dir: default_data_dir(),
        format: None,
    };
    for (flag, value) in given {
        match flag.long {
            "help" => {
                print!("{}", SPEC.help());
                return ExitCode::SUCCESS;
            }
            "data-dir" => o.dir = PathBuf::from(value.unwrap_or_default()),
            _ => match flag.text(value).and_then(|v| parse_format(&v)) {
                Ok(f) => o.format = Some(f),
                Err(error) => {
                    return super::usage_exit(&Usage {
                        command: SPEC.name,
                        error,
                    })
                }
            },
        }
    }
    run(&o)
}

/// The counts of one pass.
#[derive(Debug, Default)]
struct Counts {
    records: u64,
    first_id: Option<Lsn>,
    last_id: Option<Lsn>,
    by_level: [u64; Level::ALL.len()],
    by_service: HashMap<String, u64>,
    oldest_ns: Option<u64>,
    newest_ns: Option<u64>,
}

impl Sink for Counts {
    fn entry(&mut self, id: Lsn, e: &EntryRef<'_>) -> io::Result<bool> {
        self.records += 1;
        self.first_id.get_or_insert(id);
        self.last_id = Some(id);
        self.by_level[e.level as usize] += 1;
        match self.by_service.get_mut(e.service) {
            Some(n) => *n += 1,
            None => {
                self.by_service.insert(e.service.to_owned(), 1);
            }
        }
        self.oldest_ns = Some(
            self.oldest_ns
                .map_or(e.timestamp_ns, |t| t.min(e.timestamp_ns)),
        );
        self.newest_ns = Some(
            self.newest_ns
                .map_or(e.timestamp_ns, |t| t.max(e.timestamp_ns)),
        );
        Ok(true)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Segment files present after the pass, and their sizes.
#[derive(Debug, Default)]
struct Segments {
    count: u64,
    bytes: u64,
    first: Option<String>,
    last: Option<String>,
}

fn segments(dir: &Path) -> Result<Segments, String> {
    let ids = list_segments(dir, false).map_err(|e| e.to_string())?;
    let mut s = Segments {
        first: ids.first().map(|&id| segment_file_name(id)),
        last: ids.last().map(|&id| segment_file_name(id)),
        ..Segments::default()
    };
    for id in ids {
        // Retention may delete the oldest meanwhile: it no longer counts.
        if let Ok(m) = std::fs::metadata(dir.join(segment_file_name(id))) {
            s.count += 1;
            s.bytes += m.len();
        }
    }
    Ok(s)
}

fn run(o: &StatsOptions) -> ExitCode {
    let mut counts = Counts::default();
    let walked = match walk(&o.dir, &mut counts, "counted") {
        Ok(w) => w,
        Err(code) => return ExitCode::from(code),
    };
    let segs = match segments(&o.dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("spool: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let report = report(&o.dir, &counts, &walked, &segs);
    let on_terminal = term::stdout_is_terminal();
    let text = match o.format.unwrap_or(if on_terminal {
        Format::Text
    } else {
        Format::Json
    }) {
        Format::Json => format!("{report}\n"),
        Format::Text => table(&report),
    };
    use std::io::Write;
    let mut out = io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::from(EXIT_FAILURE);
    }
    ExitCode::from(EXIT_OK)
}

fn rfc3339(ns: Option<u64>) -> Value {
    ns.map_or(Value::Null, |ns| {
        let mut s = String::with_capacity(30);
        format_rfc3339_nanos(ns, &mut s);
        Value::String(s)
    })
}

/// The counts as one JSON object (the `--format json` output; the table
/// is drawn from it too, so the two cannot disagree).
fn report(dir: &Path, c: &Counts, walked: &Walked, segs: &Segments) -> Value {
    let mut levels = serde_json::Map::new();
    for level in Level::ALL {
        levels.insert(level.as_str().into(), c.by_level[level as usize].into());
    }
    let mut services: Vec<(&String, &u64)> = c.by_service.iter().collect();
    // Most records first; equal counts by name, so the order is stable.
    services.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let rest = services.split_off(services.len().min(TOP_SERVICES));
    json!({
        "data_dir": dir.display().to_string(),
        "records": c.records,
        "first_id": c.first_id.map(|id| id.0.to_string()),
        "last_id": c.last_id.map(|id| id.0.to_string()),
        "oldest": rfc3339(c.oldest_ns),
        "newest": rfc3339(c.newest_ns),
        "segments": segs.count,
        "first_segment": segs.first,
        "last_segment": segs.last,
        "bytes_on_disk": segs.bytes,
        "gaps": walked.gaps,
        "missing_ids": walked.missing_ids,
        "not_entries": walked.not_entries,
        "levels": levels,
        "services": services
            .iter()
            .map(|(name, n)| json!({"service": name, "records": n}))
            .collect::<Vec<_>>(),
        "other_services": {
            "services": rest.len(),
            "records": rest.iter().map(|(_, &n)| n).sum::<u64>(),
        },
    })
}

/// The report as an aligned table for a person.
fn table(r: &Value) -> String {
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    let s = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
    let mut out = format!("spool stats {}\n", s("data_dir"));
    let ids = match (r["first_id"].as_str(), r["last_id"].as_str()) {
        (Some(a), Some(b)) => format!("  (ids {a}..={b})"),
        _ => String::new(),
    };
    out.push_str(&format!(
        "  records    {}{ids}\n",
        term::grouped(n("records"))
    ));
    if r["oldest"].is_string() {
        out.push_str(&format!("  oldest     {}\n", s("oldest")));
        out.push_str(&format!("  newest     {}\n", s("newest")));
    }
    out.push_str(&format!(
        "  segments   {}, {} on disk ({} bytes)\n",
        n("segments"),
        term::human_bytes(n("bytes_on_disk")),
        n("bytes_on_disk")
    ));
    out.push_str(&match n("gaps") {
        0 => "  gaps       none\n".to_owned(),
        g => format!(
            "  gaps       {g} ({} ids missing)\n",
            term::grouped(n("missing_ids"))
        ),
    });
    if n("not_entries") > 0 {
        out.push_str(&format!(
            "  not log entries (not counted)  {}\n",
            n("not_entries")
        ));
    }
    let total = n("records").max(1);
    let row = |out: &mut String, name: &str, count: u64| {
        out.push_str(&format!(
            "  {name:<24} {:>14} {:>6.1}%\n",
            term::grouped(count),
            count as f64 * 100.0 / total as f64
        ));
    };
    out.push_str(&format!(
        "\n  {:<24} {:>14} {:>7}\n",
        "level", "records", "share"
    ));
    if let Some(levels) = r["levels"].as_object() {
        for (name, count) in levels {
            row(&mut out, name, count.as_u64().unwrap_or(0));
        }
    }
    out.push_str(&format!(
        "\n  {:<24} {:>14} {:>7}\n",
        "service", "records", "share"
    ));
    for svc in r["services"].as_array().map_or(&[][..], Vec::as_slice) {
        let name = match svc["service"].as_str().unwrap_or("") {
            "" => "(none)".to_owned(),
            name => {
                let mut shown = String::new();
                term::push_printable(&mut shown, name);
                shown
            }
        };
        row(&mut out, &name, svc["records"].as_u64().unwrap_or(0));
    }
    let others = &r["other_services"];
    if let Some(k @ 1..) = others["services"].as_u64() {
        row(
            &mut out,
            &format!("({k} others)"),
            others["records"].as_u64().unwrap_or(0),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(service: &str, level: Level, ts: u64) -> EntryRef<'_> {
        EntryRef {
            timestamp_ns: ts,
            level,
            service,
            message: "m",
            metadata: "",
        }
    }

    #[test]
    fn top_services_and_others() {
        let mut c = Counts::default();
        let names: Vec<String> = (0..25).map(|i| format!("svc{i:02}")).collect();
        let mut id = 0;
        for (i, name) in names.iter().enumerate() {
            // svc00 has 1 record, svc24 has 25.
            for _ in 0..=i {
                id += 1;
                c.entry(Lsn(id), &entry(name, Level::Warn, 1000 - id))
                    .unwrap();
            }
        }
        let r = report(Path::new("d"), &c, &Walked::default(), &Segments::default());
        assert_eq!(r["records"], 325);
        assert_eq!(r["first_id"], "1");
        assert_eq!(r["last_id"], "325");
        assert_eq!(r["levels"]["WARN"], 325);
        assert_eq!(r["levels"]["TRACE"], 0);
        let top = r["services"].as_array().unwrap();
        assert_eq!(top.len(), TOP_SERVICES);
        assert_eq!(top[0], json!({"service": "svc24", "records": 25}));
        assert_eq!(top[19], json!({"service": "svc05", "records": 6}));
        assert_eq!(
            r["other_services"],
            json!({"services": 5, "records": 1 + 2 + 3 + 4 + 5})
        );
        assert_eq!(r["oldest"], rfc3339(Some(1000 - 325)));
        assert_eq!(r["newest"], rfc3339(Some(999)));
        let t = table(&r);
        assert!(t.contains("(5 others)"), "{t}");
        assert!(t.contains("svc24"), "{t}");
        assert!(t.contains("325"), "{t}");
    }
}

//! `spool verify`: checks every record's CRC, the id sequence across
//! segments and the log against its mark, and reports what it found.
//!
//! Read only: it changes nothing and takes no lock, so it can run beside a
//! daemon (whose active segment may then end in a write in progress).
//! Exit status 0 when the log is whole, 3 when it is damaged, 1 when it
//! could not be read. On a terminal it shows a progress bar on stderr
//! (bytes read of the total, records per second); the report on stdout
//! ends with one summary line: the verdict, segments, records, bytes, time
//! and problems.
//!
//! The checks run in order, each adding what it finds to a [`Report`]:
//! the segments ([`check_segments`], each one's index file beside it with
//! [`check_index`]), then the mark.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use spool_core::mark::{check, Found, LogMark, MarkError};
use spool_core::record::{Lsn, SegmentId, MAX_PAYLOAD_LEN};
use spool_core::recover::{scan_segment, LogScan, Role};

use super::args::{default_data_dir, CommandSpec, DATA_DIR, HELP};
use super::term::Progress;
use super::{EXIT_DAMAGED, EXIT_FAILURE, EXIT_OK};
use spool_core::index::IndexBuilder;

use crate::storage::files::segment_file_name;
use crate::storage::index_files::index_file_name;
use crate::storage::recovery::{list_segments, read_mark, trailing_unwritten, OpenError};

/// `spool verify`'s flags and help.
pub static SPEC: CommandSpec = CommandSpec {
    name: "verify",
    summary: "check every record's CRC, the id sequence and the log against its mark",
    flags: &[DATA_DIR, HELP],
    notes: "Read only and lock-free: safe beside a running daemon. Prints a report on
stdout ending in OK or DAMAGED with counts; a progress bar on stderr when
it is a terminal. Exit status 0 when the log is whole, 3 when it is
damaged (the daemon refuses to start on it), 1 when it cannot be read.
",
};

/// `spool verify`'s entry point from `main`.
pub fn main(args: &mut lexopt::Parser) -> ExitCode {
    let given = match SPEC.parse(args) {
        Ok(g) => g,
        Err(u) => return super::usage_exit(&u),
    };
    let mut dir = default_data_dir();
    for (flag, value) in given {
        match flag.long {
            "data-dir" => dir = PathBuf::from(value.unwrap_or_default()),
            _ => {
                print!("{}", SPEC.help());
                return ExitCode::SUCCESS;
            }
        }
    }
    run(&dir)
}

/// Runs `spool verify` on `dir`; the report goes to stdout.
pub fn run(dir: &Path) -> ExitCode {
    let started = Instant::now();
    let mut progress = Progress::new(0);
    // Retention may delete the oldest segment between the listing and its
    // read while a daemon runs: list again and start over.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = verify(dir, &mut progress);
        progress.clear();
        match result {
            Ok(report) => {
                report.print(dir, started.elapsed());
                let whole = report.problems.is_empty();
                return ExitCode::from(if whole { EXIT_OK } else { EXIT_DAMAGED });
            }
            Err(Fail::Gone(_)) if attempts < 10 => continue,
            Err(Fail::Gone(e) | Fail::Other(e)) => {
                eprintln!("spool: verify {}: {e}", dir.display());
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    }
}

enum Fail {
    /// A segment listed a moment ago is gone (retention).
    Gone(String),
    Other(String),
}

impl From<String> for Fail {
    fn from(e: String) -> Fail {
        Fail::Other(e)
    }
}

/// Reads segment `id` whole, telling `progress` as the bytes arrive.
fn read(dir: &Path, id: SegmentId, progress: &mut Progress) -> Result<Vec<u8>, Fail> {
    let path = dir.join(segment_file_name(id));
    let fail = |e: std::io::Error| {
        let msg = format!("{}: {e}", path.display());
        if e.kind() == std::io::ErrorKind::NotFound {
            Fail::Gone(msg)
        } else {
            Fail::Other(msg)
        }
    };
    let mut file = std::fs::File::open(&path).map_err(fail)?;
    let len = file.metadata().map_err(fail)?.len();
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // In pieces, so the bar moves within a large segment.
    let mut chunk = vec![0u8; 4 << 20];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => {
                bytes.extend_from_slice(&chunk[..n]);
                progress.add_bytes(n as u64);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(e)),
        }
    }
}

/// What the checks found, printed once they all ran.
#[derive(Debug, Default)]
struct Report {
    mark: Option<Result<Option<LogMark>, MarkError>>,
    ids: Vec<SegmentId>,
    /// Ids declared lost in the mark.
    gaps: Vec<(Lsn, Lsn)>,
    records: u64,
    first_id: Option<Lsn>,
    last_id: Lsn,
    bytes: u64,
    /// Index files checked.
    indexes: u64,
    notes: Vec<String>,
    problems: Vec<String>,
}

/// Runs every check on `dir`.
fn verify(dir: &Path, progress: &mut Progress) -> Result<Report, Fail> {
    if !dir.is_dir() {
        return Err(Fail::Other("not a directory".into()));
    }
    let mark = read_mark(dir).map_err(|e| e.to_string())?;
    let mut report = Report {
        gaps: match &mark {
            Ok(Some(m)) => m.gaps.clone(),
            _ => Vec::new(),
        },
        ids: list_segments(dir, false).map_err(|e| e.to_string())?,
        ..Report::default()
    };
    if progress.shown() {
        let total = report
            .ids
            .iter()
            .filter_map(|&id| std::fs::metadata(dir.join(segment_file_name(id))).ok())
            .map(|m| m.len())
            .sum();
        progress.restart(total);
    }
    let found = check_segments(dir, &mut report, progress)?;
    if let Some(found) = found {
        if let Err(p) = check(mark.as_ref().map(Option::as_ref).map_err(|e| *e), &found) {
            report.problems.push(p.to_string());
        }
    }
    report.mark = Some(mark);
    Ok(report)
}

/// Scans every segment: CRCs, ids dense within and across segments,
/// declared gaps. After the first damage it goes on one segment at a time
/// to report all of it. What the scan found, for the mark check, unless
/// it stopped at damage.
fn check_segments(
    dir: &Path,
    report: &mut Report,
    progress: &mut Progress,
) -> Result<Option<Found>, Fail> {
    let ids = report.ids.clone();
    let trailing = trailing_unwritten(dir, &ids, false).map_err(|e| match e {
        OpenError::Io(_, ref io) if io.kind() == std::io::ErrorKind::NotFound => {
            Fail::Gone(e.to_string())
        }
        other => Fail::Other(other.to_string()),
    })?;
    let log = match LogScan::new(&ids, trailing) {
        Ok(log) => log,
        Err(m) => {
            report.problems.push(format!(
                "segment {} is missing between older and newer segments",
                segment_file_name(m.0)
            ));
            return Ok(None);
        }
    };
    let mut log = log.with_gaps(&report.gaps);
    let mut failed_at = None;
    for (i, &id) in ids.iter().enumerate() {
        let bytes = read(dir, id, progress)?;
        report.bytes += bytes.len() as u64;
        check_index(dir, id, &bytes, report);
        match log.push(&bytes, bytes.len() as u64, 0) {
            Ok(scan) => {
                report.first_id = report.first_id.or(scan.first);
                report.last_id = scan.last.unwrap_or(report.last_id);
                if let Some(t) = scan.torn {
                    report.notes.push(format!(
                        "{} ends in an incomplete record at offset {} ({} bytes): a write in progress if a daemon is running, else a torn tail that start-up cuts",
                        segment_file_name(id),
                        t.at,
                        t.dirty_end - t.at
                    ));
                }
            }
            Err(c) => {
                report
                    .problems
                    .push(format!("{}: {c}", segment_file_name(c.segment)));
                report.records += intact_before(id, &bytes, c.offset);
                failed_at = Some(i);
                break;
            }
        }
        progress.set_records(log.records());
    }
    report.records += log.records();
    let Some(i) = failed_at else {
        return Ok(Some(log.found()));
    };
    let newest_with_data = ids.len().saturating_sub(trailing + 1);
    for (j, &id) in ids.iter().enumerate().skip(i + 1) {
        let bytes = read(dir, id, progress)?;
        report.bytes += bytes.len() as u64;
        check_index(dir, id, &bytes, report);
        let role = if j >= newest_with_data {
            Role::Active
        } else {
            Role::Sealed
        };
        match scan_segment(id, &bytes, role, Lsn(0), MAX_PAYLOAD_LEN) {
            Ok(scan) => report.records += scan.records,
            Err(c) => {
                report
                    .problems
                    .push(format!("{}: {c}", segment_file_name(c.segment)));
                report.records += intact_before(id, &bytes, c.offset);
            }
        }
        progress.set_records(report.records);
    }
    Ok(None)
}

/// The records of a damaged segment that come whole, CRC checked, before
/// the damage at `offset` (0 for a bad header: none).
/// (The core's scan of the bytes before the damage, as an active segment's
/// that ends there.)
fn intact_before(id: SegmentId, bytes: &[u8], offset: u64) -> u64 {
    let end = usize::try_from(offset).map_or(bytes.len(), |o| o.min(bytes.len()));
    scan_segment(id, &bytes[..end], Role::Active, Lsn(0), MAX_PAYLOAD_LEN).map_or(0, |s| s.records)
}

/// Checks the index file of segment `id`, if there is one, against the
/// segment's bytes: it must decode (magic, version, CRC) and equal the
/// index rebuilt from the segment. One that does not decode or covers
/// other records is a note: the daemon checks that too, rebuilds it and
/// never uses it. One that decodes and checks out by its ids but
/// describes the blocks differently would be trusted by the daemon, so it
/// is a problem (delete it; the daemon rebuilds it).
fn check_index(dir: &Path, id: SegmentId, bytes: &[u8], report: &mut Report) {
    let name = index_file_name(id);
    let Ok(file) = std::fs::read(dir.join(&name)) else {
        return;
    };
    report.indexes += 1;
    report.bytes += file.len() as u64;
    let stored = match spool_core::index::decode(&file) {
        Ok(index) => index,
        Err(e) => {
            report.notes.push(format!(
                "{name} is not a valid index ({e:?}); the daemon rebuilds it from the segment"
            ));
            return;
        }
    };
    let mut builder = IndexBuilder::new(id);
    let header = spool_core::record::SEGMENT_HEADER_LEN as usize;
    let rebuilt = match builder.push_frames(bytes.get(header..).unwrap_or_default(), header as u64)
    {
        Ok(_) => builder.finish(),
        // The segment's own damage is reported by the segment check.
        Err(_) => return,
    };
    if stored.segment() != id
        || stored.first_id() != rebuilt.first_id()
        || stored.last_id() != rebuilt.last_id()
    {
        report.notes.push(format!(
            "{name} describes other records than its segment holds (stale); the daemon rebuilds it"
        ));
    } else if stored != rebuilt {
        report.problems.push(format!(
            "{name} checks out by its ids but does not describe its segment's blocks; delete it (the daemon rebuilds it)"
        ));
    }
}

impl Report {
    /// The report on stdout, ending in the summary line.
    fn print(&self, dir: &Path, took: Duration) {
        println!("spool verify {}", dir.display());
        match (self.ids.first(), self.ids.last()) {
            (Some(a), Some(b)) => println!(
                "  segments: {} ({} ..= {}), {} bytes",
                self.ids.len(),
                segment_file_name(*a),
                segment_file_name(*b),
                self.bytes
            ),
            _ => println!("  segments: none"),
        }
        match self.first_id {
            Some(first) => println!(
                "  records: {}, ids {first}..={}",
                self.records, self.last_id
            ),
            None => println!("  records: {}", self.records),
        }
        for (a, b) in &self.gaps {
            println!("  declared lost (accepted with --accept-data-loss): ids {a}..={b}");
        }
        println!(
            "  mark: {}",
            match &self.mark {
                Some(Ok(Some(m))) if m.clean.is_some() => "clean shutdown recorded",
                Some(Ok(Some(_))) =>
                    "no clean shutdown recorded (a daemon is running, or it stopped without one)",
                Some(Ok(None)) | None => "none",
                Some(Err(_)) => "damaged",
            }
        );
        for n in &self.notes {
            println!("  note: {n}");
        }
        for p in &self.problems {
            println!("  DAMAGE: {p}");
        }
        let counts = format!(
            "{} segment(s), {} index file(s), {} record(s), {} bytes checked in {:.2} s",
            self.ids.len(),
            self.indexes,
            self.records,
            self.bytes,
            took.as_secs_f64()
        );
        if self.problems.is_empty() {
            println!("OK: {counts}; no problems");
        } else {
            println!(
                "DAMAGED: {} problem(s); {counts}; queries refuse the damaged ranges, and the daemon refuses to start if start-up reads one (exit status 3)",
                self.problems.len()
            );
        }
    }
}

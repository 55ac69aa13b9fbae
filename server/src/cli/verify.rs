//! `spool verify`: checks every record's CRC, the id sequence across
//! segments and the log against its mark, and reports what it found.
//!
//! Read only: it changes nothing and takes no lock, so it can run beside a
//! daemon (whose active segment may then end in a write in progress).
//! Exit status 0 when the log is whole, 3 when it is damaged, 1 when it
//! could not be read. On a terminal it shows its progress on stderr.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use spool_core::mark::check;
use spool_core::record::{Lsn, SegmentId, MAX_PAYLOAD_LEN};
use spool_core::recover::{scan_segment, LogScan, Role};

use super::{EXIT_DAMAGED, EXIT_FAILURE, EXIT_OK};
use crate::storage::files::segment_file_name;
use crate::storage::recovery::{list_segments, read_mark, trailing_unwritten, OpenError};

/// Runs `spool verify` on `dir`; the report goes to stdout.
pub fn run(dir: &Path) -> ExitCode {
    // Retention may delete the oldest segment between the listing and its
    // read while a daemon runs: list again and start over.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match verify(dir) {
            Ok(true) => return ExitCode::from(EXIT_OK),
            Ok(false) => return ExitCode::from(EXIT_DAMAGED),
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

fn read(dir: &Path, id: SegmentId) -> Result<Vec<u8>, Fail> {
    let path = dir.join(segment_file_name(id));
    std::fs::read(&path).map_err(|e| {
        let msg = format!("{}: {e}", path.display());
        if e.kind() == std::io::ErrorKind::NotFound {
            Fail::Gone(msg)
        } else {
            Fail::Other(msg)
        }
    })
}

/// Prints the report; `Ok(true)` when no damage was found.
fn verify(dir: &Path) -> Result<bool, Fail> {
    if !dir.is_dir() {
        return Err(Fail::Other("not a directory".into()));
    }
    let mark = read_mark(dir).map_err(|e| e.to_string())?;
    let gaps = match &mark {
        Ok(Some(m)) => m.gaps.clone(),
        _ => Vec::new(),
    };
    let ids = list_segments(dir, false).map_err(|e| e.to_string())?;
    let trailing = trailing_unwritten(dir, &ids, false).map_err(|e| match e {
        OpenError::Io(_, ref io) if io.kind() == std::io::ErrorKind::NotFound => {
            Fail::Gone(e.to_string())
        }
        other => Fail::Other(other.to_string()),
    })?;
    let progress = std::io::stderr().is_terminal();
    let mut problems: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut records = 0u64;
    let mut first_id = None;
    let mut last_id = Lsn(0);
    let mut bytes_total = 0u64;
    let mut scan_ok = None;
    match LogScan::new(&ids, trailing) {
        Err(m) => problems.push(format!(
            "segment {} is missing between older and newer segments",
            segment_file_name(m.0)
        )),
        Ok(log) => {
            let mut log = log.with_gaps(&gaps);
            let mut failed_at = None;
            for (i, &id) in ids.iter().enumerate() {
                if progress {
                    eprint!(
                        "\rspool verify: segment {}/{} ({}%)",
                        i + 1,
                        ids.len(),
                        (i + 1) * 100 / ids.len()
                    );
                }
                let bytes = read(dir, id)?;
                bytes_total += bytes.len() as u64;
                match log.push(&bytes, bytes.len() as u64, 0) {
                    Ok(scan) => {
                        first_id = first_id.or(scan.first);
                        last_id = scan.last.unwrap_or(last_id);
                        if let Some(t) = scan.torn {
                            notes.push(format!(
                                "{} ends in an incomplete record at offset {} ({} bytes): a write in progress if a daemon is running, else a torn tail that start-up cuts",
                                segment_file_name(id),
                                t.at,
                                t.dirty_end - t.at
                            ));
                        }
                    }
                    Err(c) => {
                        problems.push(format!("{}: {c}", segment_file_name(c.segment)));
                        failed_at = Some(i);
                        break;
                    }
                }
            }
            records = log.records();
            match failed_at {
                None => scan_ok = Some(log.found()),
                Some(i) => {
                    // Go on, one segment at a time, to report all the damage.
                    let newest_with_data = ids.len().saturating_sub(trailing + 1);
                    for (j, &id) in ids.iter().enumerate().skip(i + 1) {
                        let bytes = read(dir, id)?;
                        bytes_total += bytes.len() as u64;
                        let role = if j >= newest_with_data {
                            Role::Active
                        } else {
                            Role::Sealed
                        };
                        match scan_segment(id, &bytes, role, Lsn(0), MAX_PAYLOAD_LEN) {
                            Ok(scan) => records += scan.records,
                            Err(c) => {
                                problems.push(format!("{}: {c}", segment_file_name(c.segment)))
                            }
                        }
                    }
                }
            }
        }
    }
    if progress {
        eprintln!();
    }
    let clean = matches!(&mark, Ok(Some(m)) if m.clean.is_some());
    if let Some(found) = scan_ok {
        if let Err(p) = check(mark.as_ref().map(Option::as_ref).map_err(|e| *e), &found) {
            problems.push(p.to_string());
        }
    }
    println!("spool verify {}", dir.display());
    match (ids.first(), ids.last()) {
        (Some(a), Some(b)) => println!(
            "  segments: {} ({} ..= {}), {bytes_total} bytes",
            ids.len(),
            segment_file_name(*a),
            segment_file_name(*b)
        ),
        _ => println!("  segments: none"),
    }
    match first_id {
        Some(first) => println!("  records: {records}, ids {first}..={last_id}"),
        None => println!("  records: {records}"),
    }
    for (a, b) in &gaps {
        println!("  declared lost (accepted with --accept-data-loss): ids {a}..={b}");
    }
    println!(
        "  mark: {}",
        match &mark {
            Ok(Some(_)) if clean => "clean shutdown recorded",
            Ok(Some(_)) =>
                "no clean shutdown recorded (a daemon is running, or it stopped without one)",
            Ok(None) => "none",
            Err(_) => "damaged",
        }
    );
    for n in &notes {
        println!("  note: {n}");
    }
    for p in &problems {
        println!("  DAMAGE: {p}");
    }
    if problems.is_empty() {
        println!("OK");
        Ok(true)
    } else {
        println!(
            "DAMAGED: {} problem(s); the daemon refuses to start on this log (exit status 3)",
            problems.len()
        );
        Ok(false)
    }
}

//! `spool cat`: every record of a data directory as NDJSON, in id order,
//! while a daemon may be writing it.
//!
//! Built on [`LogReader`]: consecutive ids, or a gap named on stderr (exit
//! status 4); corruption stops it with the segment and offset (status 3),
//! and so do records or segments missing that the log mark names (a
//! segment that is still there but ends early is damage, unless its
//! missing ids were declared lost). Records that are not log entries (raw
//! payloads appended through the library) are named on stderr and make
//! the exit status 1.
//! At the end of the newest segment, bytes that are not a complete record
//! are classified with the recovery scan: a torn tail (or a write in
//! progress) is a note; anything else is corruption.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use spool_core::entry::EntryRef;
use spool_core::mark::{check, Found};
use spool_core::read::{LogReader, ReadError, ReadItem, Start};
use spool_core::record::{Lsn, MAX_PAYLOAD_LEN};
use spool_core::recover::{scan_segment, Role};

use super::{EXIT_DAMAGED, EXIT_FAILURE, EXIT_GAP, EXIT_OK};
use crate::storage::dir_store::DirStore;
use crate::storage::files::segment_file_name;
use crate::storage::recovery::{list_segments, read_mark};

/// Runs `spool cat` on `dir`, writing records to stdout.
pub fn run(dir: &Path) -> ExitCode {
    if !dir.is_dir() {
        eprintln!("spool: {} is not a data directory", dir.display());
        return ExitCode::from(EXIT_FAILURE);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // Read before the segments: what it names existed then, so a segment
    // or record it names and the reader did not find is missing.
    let mark = match read_mark(dir) {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => {
            eprintln!("spool: the MARK file is damaged ({e}); run `spool verify`");
            return ExitCode::from(EXIT_DAMAGED);
        }
        Err(e) => {
            eprintln!("spool: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let gaps = mark.as_ref().map(|m| m.gaps.clone()).unwrap_or_default();
    let mut store = DirStore::new(dir);
    let mut reader = LogReader::new(Start::Oldest).with_gaps(&gaps);
    let mut not_entries = 0u64;
    let mut line = Vec::with_capacity(512);
    let mut gaps = 0u64;
    loop {
        match reader.next(&mut store) {
            Ok(Some(ReadItem::Record { id, payload })) => {
                line.clear();
                match EntryRef::decode(payload) {
                    Ok(e) => spool_proto::decode::entry_to_json(id.0, &e, &mut line),
                    Err(err) => {
                        not_entries += 1;
                        eprintln!(
                            "spool: record {id}: payload is not a log entry ({err}); not printed"
                        );
                        continue;
                    }
                }
                line.push(b'\n');
                if out.write_all(&line).is_err() {
                    return ExitCode::from(EXIT_FAILURE);
                }
            }
            Ok(Some(ReadItem::Gap { from, to })) => {
                gaps += 1;
                let _ = out.flush();
                eprintln!(
                    "spool: gap: records {from}..={to} cannot be read (deleted by retention before they were read, or declared lost)"
                );
            }
            Ok(None) => break,
            Err(ReadError::Corrupt(c)) => {
                let _ = out.flush();
                eprintln!(
                    "spool: corruption in {}: {c}; records after it are not printed (run `spool verify`)",
                    segment_file_name(c.segment)
                );
                return ExitCode::from(EXIT_DAMAGED);
            }
            Err(ReadError::Store(e)) => {
                let _ = out.flush();
                eprintln!("spool: reading {}: {e}", dir.display());
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    }
    if out.flush().is_err() {
        return ExitCode::from(EXIT_FAILURE);
    }
    if let Some((segment, at)) = reader.stopped_on_bytes() {
        let path = dir.join(segment_file_name(segment));
        if let Ok(bytes) = std::fs::read(&path) {
            match scan_segment(segment, &bytes, Role::Active, Lsn(0), MAX_PAYLOAD_LEN) {
                Ok(_) => eprintln!(
                    "spool: {} ends in an incomplete record at offset {at} (a write in progress, or a torn tail the daemon cuts on start)",
                    segment_file_name(segment)
                ),
                Err(c) => {
                    eprintln!(
                        "spool: corruption in {}: {c} (run `spool verify`)",
                        segment_file_name(segment)
                    );
                    return ExitCode::from(EXIT_DAMAGED);
                }
            }
        }
    }
    // What the mark says the log held, against what was read (the clean
    // end is not checked: a daemon may have started since).
    if let Some(mut m) = mark {
        m.clean = None;
        let newest = match list_segments(dir, false) {
            Ok(ids) => ids.last().copied(),
            Err(e) => {
                eprintln!("spool: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
        };
        let found = Found {
            newest_segment: newest,
            last: Lsn(reader.next_id().map_or(0, |n| n.0.saturating_sub(1))),
            active: None,
            torn: None,
        };
        if let Err(p) = check(Ok(Some(&m)), &found) {
            eprintln!("spool: the log is missing data: {p} (run `spool verify`)");
            return ExitCode::from(EXIT_DAMAGED);
        }
    }
    if not_entries > 0 {
        eprintln!("spool: {not_entries} record(s) were not log entries and were not printed");
        return ExitCode::from(EXIT_FAILURE);
    }
    ExitCode::from(if gaps > 0 { EXIT_GAP } else { EXIT_OK })
}

//! `spool cat`: every record of a data directory as NDJSON, in id order,
//! while a daemon may be writing it.
//!
//! Built on [`LogReader`]: consecutive ids, or a gap named on stderr (exit
//! status 4); corruption stops it with the segment and offset (status 3).
//! At the end of the newest segment, bytes that are not a complete record
//! are classified with the recovery scan: a torn tail (or a write in
//! progress) is a note; anything else is corruption.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use spool_core::entry::EntryRef;
use spool_core::read::{LogReader, ReadError, ReadItem, Start};
use spool_core::record::{Lsn, MAX_PAYLOAD_LEN};
use spool_core::recover::{scan_segment, Role};

use super::{EXIT_DAMAGED, EXIT_FAILURE, EXIT_GAP, EXIT_OK};
use crate::storage::dir_store::DirStore;
use crate::storage::files::segment_file_name;

/// Runs `spool cat` on `dir`, writing records to stdout.
pub fn run(dir: &Path) -> ExitCode {
    if !dir.is_dir() {
        eprintln!("spool: {} is not a data directory", dir.display());
        return ExitCode::from(EXIT_FAILURE);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut store = DirStore::new(dir);
    let mut reader = LogReader::new(Start::Oldest);
    let mut line = Vec::with_capacity(512);
    let mut gaps = 0u64;
    loop {
        match reader.next(&mut store) {
            Ok(Some(ReadItem::Record { id, payload })) => {
                line.clear();
                match EntryRef::decode(payload) {
                    Ok(e) => spool_proto::decode::entry_to_json(id.0, &e, &mut line),
                    Err(err) => {
                        eprintln!("spool: record {id}: payload is not a log entry: {err}");
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
    ExitCode::from(if gaps > 0 { EXIT_GAP } else { EXIT_OK })
}

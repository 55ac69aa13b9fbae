//! The one pass over a data directory that `spool cat` and `spool stats`
//! share: every log entry in id order, with gaps and damage reported the
//! same way for both.
//!
//! Built on [`LogReader`]: consecutive ids, or a gap named on stderr;
//! corruption stops it with the segment and offset (status 3), and so do
//! records or segments missing that the log mark names (a segment that is
//! still there but ends early is damage, unless its missing ids were
//! declared lost). Records that are not log entries (raw payloads appended
//! through the library) are named on stderr and counted. At the end of the
//! newest segment, bytes that are not a complete record are classified
//! with the recovery scan: a torn tail (or a write in progress) is a note;
//! anything else is corruption. A [`Sink`] that stops the pass early skips
//! the end-of-log checks: it never reached the end.

use std::io;
use std::path::Path;

use spool_core::entry::EntryRef;
use spool_core::mark::{check, Found};
use spool_core::read::{LogReader, ReadError, ReadItem, Start};
use spool_core::record::{Lsn, MAX_PAYLOAD_LEN};
use spool_core::recover::{scan_segment, Role};

use super::{EXIT_DAMAGED, EXIT_FAILURE};
use crate::storage::dir_store::DirStore;
use crate::storage::files::segment_file_name;
use crate::storage::recovery::{list_segments, read_mark};

/// Where the entries of a pass go.
pub(crate) trait Sink {
    /// One log entry; `Ok(false)` when the sink has all it wants.
    fn entry(&mut self, id: Lsn, entry: &EntryRef<'_>) -> io::Result<bool>;

    /// Makes what was written so far visible: called before each message
    /// on stderr, so that output sharing a terminal stays in order.
    fn flush(&mut self) -> io::Result<()>;

    /// The pass read its last record (the end of the log, an early stop,
    /// or damage): write anything held back, then flush.
    fn finish(&mut self) -> io::Result<()> {
        self.flush()
    }
}

/// What a pass that did not fail saw besides the entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Walked {
    /// Gaps reported (each named on stderr).
    pub(crate) gaps: u64,
    /// Ids in those gaps.
    pub(crate) missing_ids: u64,
    /// Records that are not log entries (each named on stderr).
    pub(crate) not_entries: u64,
}

/// Reads every record of `dir` into `sink`. `skipped` says what happens
/// to a record that is not a log entry ("printed", "counted"). `Err` holds
/// the exit status after the reason was printed on stderr.
pub(crate) fn walk(dir: &Path, sink: &mut impl Sink, skipped: &str) -> Result<Walked, u8> {
    if !dir.is_dir() {
        eprintln!("spool: {} is not a data directory", dir.display());
        return Err(EXIT_FAILURE);
    }
    // Read before the segments: what it names existed then, so a segment
    // or record it names and the reader did not find is missing.
    let mark = match read_mark(dir) {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => {
            eprintln!("spool: the MARK file is damaged ({e}); run `spool verify`");
            return Err(EXIT_DAMAGED);
        }
        Err(e) => {
            eprintln!("spool: {e}");
            return Err(EXIT_FAILURE);
        }
    };
    let declared = mark.as_ref().map(|m| m.gaps.clone()).unwrap_or_default();
    let mut store = DirStore::new(dir);
    let mut reader = LogReader::new(Start::Oldest).with_gaps(&declared);
    let mut walked = Walked::default();
    let mut reached_end = false;
    while !reached_end {
        match reader.next(&mut store) {
            Ok(Some(ReadItem::Record { id, payload })) => match EntryRef::decode(payload) {
                Ok(e) if !spool_proto::decode::metadata_is_object(e.metadata) => {
                    walked.not_entries += 1;
                    let _ = sink.flush();
                    eprintln!(
                        "spool: record {id}: payload is not a log entry (its metadata is not a JSON object); not {skipped}"
                    );
                }
                Ok(e) => match sink.entry(id, &e) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(_) => return Err(EXIT_FAILURE),
                },
                Err(err) => {
                    walked.not_entries += 1;
                    let _ = sink.flush();
                    eprintln!(
                        "spool: record {id}: payload is not a log entry ({err}); not {skipped}"
                    );
                }
            },
            Ok(Some(ReadItem::Gap { from, to })) => {
                walked.gaps += 1;
                walked.missing_ids += to.0.saturating_sub(from.0).saturating_add(1);
                let _ = sink.flush();
                eprintln!(
                    "spool: gap: records {from}..={to} cannot be read (deleted by retention before they were read, or declared lost)"
                );
            }
            Ok(None) => reached_end = true,
            Err(ReadError::Corrupt(c)) => {
                let _ = sink.finish();
                eprintln!(
                    "spool: corruption in {}: {c}; records after it are not {skipped} (run `spool verify`)",
                    segment_file_name(c.segment)
                );
                return Err(EXIT_DAMAGED);
            }
            Err(ReadError::Store(e)) => {
                let _ = sink.finish();
                eprintln!("spool: reading {}: {e}", dir.display());
                return Err(EXIT_FAILURE);
            }
        }
    }
    if sink.finish().is_err() {
        return Err(EXIT_FAILURE);
    }
    if !reached_end {
        return Ok(walked);
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
                    return Err(EXIT_DAMAGED);
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
                return Err(EXIT_FAILURE);
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
            return Err(EXIT_DAMAGED);
        }
    }
    Ok(walked)
}

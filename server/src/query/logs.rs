//! `GET /logs`: one page of matching records, newest first.
//!
//! Plans over the catalog's indexes ([`spool_core::query::plan`]), reads
//! each planned block with one `pread`, and scans it
//! ([`spool_core::query::scan_block`]): records come out exactly as a plain
//! filter over every durable record would give them. A block that does not
//! decode is never served: the answer is an error naming the segment and
//! offset. A query that runs past its time budget answers what it found,
//! `"partial": true`, and a cursor that continues exactly where it stopped;
//! it always reads at least one block, so following the cursors ends. An
//! answer is also cut, the same way, once it holds `--max-answer` bytes
//! (after at least one record).

use std::sync::atomic::Ordering;
use std::time::Instant;

use spool_core::query::{plan, scan_block, BlockRange, Cursor, Filter, ScanError};
use spool_core::record::{decode_frame, Decoded, Lsn, MAX_PAYLOAD_LEN};
use spool_proto::entry_to_json;

use super::catalog::{read_at, CatalogError};
use super::ReadSide;
use crate::storage::files::segment_file_name;

/// A parsed `/logs` request.
#[derive(Clone, Debug)]
pub struct LogsQuery {
    /// Which records.
    pub filter: Filter,
    /// Continue below this id.
    pub cursor: Option<Cursor>,
    /// Page size.
    pub limit: usize,
}

/// Why a query has no answer.
#[derive(Debug)]
pub enum QueryError {
    /// The log is damaged where the query had to read.
    Damaged(String),
    /// Reading failed.
    Io(String),
}

impl From<CatalogError> for QueryError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Damaged(_) => QueryError::Damaged(e.to_string()),
            CatalogError::Io(..) => QueryError::Io(e.to_string()),
        }
    }
}

/// What a query found wrong in a block it read.
enum Trouble {
    /// The answer is an error.
    Fail(QueryError),
    /// The bytes are intact but the index does not describe them: rebuild
    /// that segment's index and run the query again.
    StaleIndex(spool_core::record::SegmentId),
}

/// Runs `q`; returns the JSON answer body. An index found not to describe
/// its segment's (intact) bytes is rebuilt and the query run again, once.
pub fn run(rs: &ReadSide, q: &LogsQuery) -> Result<Vec<u8>, QueryError> {
    match run_once(rs, q) {
        Ok(body) => Ok(body),
        Err(Trouble::Fail(e)) => Err(e),
        Err(Trouble::StaleIndex(segment)) => {
            if let Ok(mut catalog) = rs.catalog.lock() {
                catalog.forget(segment);
            }
            match run_once(rs, q) {
                Ok(body) => Ok(body),
                Err(Trouble::Fail(e)) => Err(e),
                Err(Trouble::StaleIndex(segment)) => Err(QueryError::Damaged(format!(
                    "the index of {} still does not describe it after a rebuild; run spool verify",
                    segment_file_name(segment)
                ))),
            }
        }
    }
}

impl From<QueryError> for Trouble {
    fn from(e: QueryError) -> Self {
        Trouble::Fail(e)
    }
}

impl From<CatalogError> for Trouble {
    fn from(e: CatalogError) -> Self {
        Trouble::Fail(e.into())
    }
}

/// After a block failed its check: which frame is damaged (an error naming
/// it), or none (the index is stale).
fn diagnose(bytes: &[u8], range: &BlockRange) -> Trouble {
    let mut pos = 0usize;
    while pos < bytes.len() {
        let offset = range.offset + pos as u64;
        match decode_frame(&bytes[pos..], range.segment, MAX_PAYLOAD_LEN) {
            Ok(Decoded::Record(frame)) => pos += frame.encoded_len() as usize,
            Ok(Decoded::NeedMore { .. }) => break,
            Err(e) => {
                return Trouble::Fail(QueryError::Damaged(format!(
                    "the log is damaged at {} offset {offset}: {e}; run spool verify",
                    segment_file_name(range.segment)
                )))
            }
        }
    }
    Trouble::StaleIndex(range.segment)
}

fn run_once(rs: &ReadSide, q: &LogsQuery) -> Result<Vec<u8>, Trouble> {
    let started = Instant::now();
    let (snapshot, files) = {
        let mut catalog = rs.current_catalog()?;
        let snapshot = catalog.snapshot();
        let mut files = Vec::with_capacity(snapshot.len());
        for index in &snapshot {
            let file = catalog
                .file(index.segment())
                .map_err(|e| QueryError::Io(e.to_string()))?;
            files.push((index.segment(), file));
        }
        (snapshot, files)
    };
    let mut logs = Vec::with_capacity(q.limit.min(1000) * 200);
    let mut count = 0usize;
    let mut emitted = 0usize;
    let mut last_id = None;
    let mut partial_at = None;
    let mut bytes = Vec::new();
    let mut scanned = 0usize;
    for range in plan(snapshot.iter().map(|i| i.as_ref()), &q.filter, q.cursor) {
        // At least one block per query, so paging always moves on.
        if scanned > 0 && started.elapsed() >= rs.query_timeout {
            partial_at = Some(range.below.unwrap_or(Lsn(range.last_id.0 + 1)));
            break;
        }
        let Some((_, Some(file))) = files.iter().find(|(s, _)| *s == range.segment) else {
            // Gone. Retention deletes a segment only after the log stops
            // listing it; one the log still lists was removed by hand.
            let listed = rs.handoff.inspect(|gc| {
                !gc.is_deleting(range.segment)
                    && gc.segments().iter().any(|s| s.id == range.segment)
            });
            if listed {
                return Err(Trouble::Fail(QueryError::Damaged(format!(
                    "{} is missing though the log holds records in it (deleted by hand?); run spool verify",
                    segment_file_name(range.segment)
                ))));
            }
            continue; // deleted by retention since the plan was made
        };
        let len = usize::try_from(range.len).map_err(|e| QueryError::Io(e.to_string()))?;
        bytes.resize(len, 0);
        let n =
            read_at(file, &mut bytes, range.offset).map_err(|e| QueryError::Io(e.to_string()))?;
        if n < len {
            return Err(Trouble::Fail(QueryError::Damaged(format!(
                "{} offset {}: the file ends inside an indexed block; run spool verify",
                segment_file_name(range.segment),
                range.offset + n as u64
            ))));
        }
        scanned += 1;
        let mut found = Vec::new();
        if let Err(e) = scan_block(&bytes, &range, &q.filter, q.limit - count, &mut found) {
            return Err(match e {
                ScanError::BlockCrc { .. } | ScanError::IndexMismatch { .. } => {
                    diagnose(&bytes, &range)
                }
                e => Trouble::Fail(QueryError::Damaged(format!(
                    "the log is damaged at {}: {e}; run spool verify",
                    segment_file_name(range.segment)
                ))),
            });
        }
        for m in &found {
            count += 1;
            last_id = Some(m.id);
            // A payload laid out as an entry whose metadata is not a JSON
            // object (a raw library payload) is not a log entry: skipped,
            // but counted for paging so the cursor stays exact.
            if !spool_proto::decode::metadata_is_object(m.entry.metadata) {
                continue;
            }
            if emitted > 0 {
                logs.push(b',');
            }
            entry_to_json(m.id.0, &m.entry, &mut logs);
            emitted += 1;
            // Past the byte budget: stop after this record (there is
            // always at least one, so paging moves on).
            if logs.len() >= rs.max_answer && count < q.limit {
                partial_at = Some(m.id);
                break;
            }
        }
        if count == q.limit || partial_at.is_some() {
            break;
        }
    }
    rs.queries.fetch_add(1, Ordering::Relaxed);
    let next = match partial_at {
        Some(below) => Some(Cursor::below(below)),
        None if count == q.limit => last_id.map(Cursor::below),
        None => None,
    };
    let mut body = Vec::with_capacity(logs.len() + 128);
    body.extend_from_slice(format!("{{\"count\":{emitted},\"logs\":[").as_bytes());
    body.extend_from_slice(&logs);
    body.extend_from_slice(b"],\"next_cursor\":");
    match next {
        Some(c) => body.extend_from_slice(format!("\"{}\"", c.encode()).as_bytes()),
        None => body.extend_from_slice(b"null"),
    }
    // The oldest id still in the log: a client whose cursor is at or below
    // it knows that nothing older is left (retention deleted it).
    match snapshot.last().and_then(|i| i.first_id()) {
        Some(oldest) => body.extend_from_slice(format!(",\"oldest_id\":\"{oldest}\"").as_bytes()),
        None => body.extend_from_slice(b",\"oldest_id\":null"),
    }
    body.extend_from_slice(format!(",\"partial\":{}}}", partial_at.is_some()).as_bytes());
    Ok(body)
}

//! Reading an open [`Log`]: its durable records in id order, from the
//! oldest, after an id, or from a time; and following it as it grows.
//!
//! ```
//! use std::time::Duration;
//! use spool_server::{Log, reader::{From, Item}};
//!
//! let dir = std::env::temp_dir().join(format!("spool-doc-reader-{}", std::process::id()));
//! let log = Log::open(&dir).unwrap();
//! let first = log.append(b"one").unwrap();
//! log.append(b"two").unwrap();
//!
//! let mut reader = log.reader(From::Oldest).unwrap();
//! while let Some(item) = reader.next_item().unwrap() {
//!     if let Item::Record { id, payload } = item {
//!         println!("{id}: {}", String::from_utf8_lossy(&payload));
//!     }
//! }
//! // Resume after an id; wait up to 10 ms for more (a follower).
//! let mut follower = log.reader(From::After(first)).unwrap();
//! assert!(matches!(follower.next_item().unwrap(), Some(Item::Record { .. })));
//! assert!(follower.wait_next(Duration::from_millis(10)).unwrap().is_none());
//! # drop(follower); drop(reader); log.close(); std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! Guarantees: only durable records are yielded (a record written but not
//! yet fdatasync'ed is held back until it is); ids come consecutive, or an
//! [`Item::Gap`] names the ids that retention deleted before the reader got
//! there (or that were declared lost); damage is an error, never skipped.
//! The reader reads the segment files as any reader does: it never slows a
//! writer. [`From::Time`] needs records that are log entries (what the
//! daemon writes, or [`Log::append_entry`]).

use std::time::Duration;

use spool_core::entry::EntryRef;
use spool_core::read::{LogReader, ReadError, ReadItem, Start};
use spool_core::record::Lsn;

use crate::embed::Log;
use crate::query::catalog::{Catalog, LogView};
use crate::storage::dir_store::DirStore;

/// Where a reader starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum From {
    /// The oldest record still in the log.
    Oldest,
    /// The record after this id (resume without a duplicate).
    After(Lsn),
    /// The first record, in id order, whose own timestamp is at or after
    /// this (nanoseconds since the Unix epoch), and every record after it.
    /// Found through the segment indexes, not by reading the whole log.
    Time(u64),
}

/// What a reader yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A durable record.
    Record {
        /// Its id.
        id: Lsn,
        /// Its payload, as appended.
        payload: Vec<u8>,
    },
    /// Ids `from..=to` cannot be read (deleted by retention, or declared
    /// lost); the reader goes on after them.
    Gap {
        /// First missing id.
        from: Lsn,
        /// Last missing id.
        to: Lsn,
    },
}

/// Why reading stopped.
#[derive(Debug)]
pub enum ReaderError {
    /// The log is damaged (segment, offset, what).
    Damaged(String),
    /// Reading a file failed.
    Io(std::io::Error),
    /// [`From::Time`] on a log whose records are not entries.
    NotEntries(String),
}

impl std::fmt::Display for ReaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReaderError::Damaged(what) => write!(f, "the log is damaged: {what}"),
            ReaderError::Io(e) => write!(f, "reading the log: {e}"),
            ReaderError::NotEntries(what) => write!(f, "cannot seek by time: {what}"),
        }
    }
}

impl std::error::Error for ReaderError {}

/// A reader of a [`Log`]; see the module docs.
pub struct Reader<'a> {
    log: &'a Log,
    inner: DurableReader,
    /// For [`From::Time`]: skip records before the first at or after this.
    seek_ns: Option<u64>,
}

/// A [`LogReader`] over a data directory that yields only records at or
/// below a durable id it is given each call: the one reader every
/// follower inside a process that writes the log uses (the embedded
/// [`Reader`], the daemon's live follower and its catch-up readers).
///
/// A record read whose id is beyond the durable id is held, not dropped,
/// and yielded by a later call once the durable id covers it: what a
/// follower may see is capped by what `fdatasync` has covered, whatever
/// the page cache already shows.
pub struct DurableReader {
    inner: LogReader,
    store: DirStore,
    held: Option<(Lsn, Vec<u8>)>,
}

impl DurableReader {
    /// A reader of the directory `dir` from `start`, reporting the ids
    /// `gaps` (declared lost) as gaps.
    pub fn new(dir: &std::path::Path, start: Start, gaps: &[(Lsn, Lsn)]) -> DurableReader {
        DurableReader {
            inner: LogReader::new(start).with_gaps(gaps),
            store: DirStore::new(dir),
            held: None,
        }
    }

    /// The next record or gap with ids at or below `durable`; `None` when
    /// caught up with it (call again later: the place is kept).
    pub fn next(&mut self, durable: Lsn) -> Result<Option<Item>, ReaderError> {
        if let Some((id, payload)) = self.held.take() {
            if id > durable {
                self.held = Some((id, payload));
                return Ok(None);
            }
            return Ok(Some(Item::Record { id, payload }));
        }
        // The log reader answers "caught up" at the end of the bytes it
        // buffered, and reads afresh on the next call: a second look sees
        // what was written since its last read.
        let mut looked = false;
        let item = loop {
            match self.inner.next(&mut self.store) {
                Ok(None) if looked => return Ok(None),
                Ok(None) => looked = true,
                Ok(Some(item)) => break item,
                Err(ReadError::Store(e)) => return Err(ReaderError::Io(e)),
                Err(ReadError::Corrupt(c)) => return Err(ReaderError::Damaged(c.to_string())),
            }
        };
        match item {
            ReadItem::Gap { from, to } => Ok(Some(Item::Gap { from, to })),
            ReadItem::Record { id, payload } if id > durable => {
                self.held = Some((id, payload.to_vec()));
                Ok(None)
            }
            ReadItem::Record { id, payload } => Ok(Some(Item::Record {
                id,
                payload: payload.to_vec(),
            })),
        }
    }

    /// Drops the read buffers, keeping the place (see
    /// [`LogReader::release_buffers`]): a paused reader holds its position
    /// and an open segment, about a hundred bytes.
    pub fn release_buffers(&mut self) {
        self.inner.release_buffers();
    }

    /// The id the next record yielded will have, once known (after the
    /// first record or gap, or from the start for [`Start::After`]).
    pub fn next_id(&self) -> Option<Lsn> {
        match &self.held {
            Some((id, _)) => Some(*id),
            None => self.inner.next_id(),
        }
    }
}

impl Log {
    /// A reader of this log's durable records, starting at `from`.
    pub fn reader(&self, from: From) -> Result<Reader<'_>, ReaderError> {
        let (start, seek_ns) = match from {
            From::Oldest => (Start::Oldest, None),
            From::After(id) => (Start::After(id), None),
            From::Time(ns) => (self.seek_time(ns)?, Some(ns)),
        };
        Ok(Reader {
            log: self,
            inner: DurableReader::new(self.dir(), start, &self.recovered().state.gaps),
            seek_ns,
        })
    }

    /// Where to start for the first record at or after `ns`: after the
    /// last record of the blocks whose newest timestamp is before it.
    fn seek_time(&self, ns: u64) -> Result<Start, ReaderError> {
        let view = self.handoff().inspect(LogView::of);
        let mut catalog = Catalog::new(self.dir());
        catalog
            .refresh(&view)
            .map_err(|e| ReaderError::NotEntries(e.to_string()))?;
        Ok(time_start(&catalog.snapshot(), ns, view.durable))
    }
}

/// Where to start reading for the first record at or after `ns`: after the
/// last record of the blocks whose newest timestamp is before it (`indexes`
/// are the catalog's, newest segment first; `durable` when every record is
/// older).
pub fn time_start(
    indexes: &[std::sync::Arc<spool_core::index::SegmentIndex>],
    ns: u64,
    durable: Lsn,
) -> Start {
    for index in indexes.iter().rev() {
        if let Some(block) = index.blocks().iter().find(|b| b.max_timestamp_ns() >= ns) {
            return match block.first_id().0 {
                0 | 1 => Start::Oldest,
                n => Start::After(Lsn(n - 1)),
            };
        }
    }
    Start::After(durable)
}

impl Reader<'_> {
    /// The next durable record or gap; `None` when caught up (call again
    /// later for more: the reader keeps its place).
    pub fn next_item(&mut self) -> Result<Option<Item>, ReaderError> {
        loop {
            let durable = self.log.handoff().durable();
            match self.inner.next(durable)? {
                Some(Item::Record { id, payload }) => {
                    if let Some(item) = self.seeking(id, payload)? {
                        return Ok(Some(item));
                    }
                }
                other => return Ok(other),
            }
        }
    }

    /// Applies a time seek: records before the first at or after the time
    /// are skipped (`None`); from it on, every record is yielded.
    fn seeking(&mut self, id: Lsn, payload: Vec<u8>) -> Result<Option<Item>, ReaderError> {
        if let Some(ns) = self.seek_ns {
            let entry = EntryRef::decode(&payload)
                .map_err(|e| ReaderError::NotEntries(format!("record {id}: {e}")))?;
            if entry.timestamp_ns < ns {
                return Ok(None);
            }
            self.seek_ns = None;
        }
        Ok(Some(Item::Record { id, payload }))
    }

    /// Like [`Reader::next_item`], but when caught up waits up to `timeout` for
    /// a new record to become durable (a follower). `None`: nothing new in
    /// time, or the log closed.
    pub fn wait_next(&mut self, timeout: Duration) -> Result<Option<Item>, ReaderError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let seen = self.log.handoff().durable();
            if let Some(item) = self.next_item()? {
                return Ok(Some(item));
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let now = self.log.handoff().wait_beyond(seen, left);
            if now <= seen && self.log.handoff().is_closing() {
                return Ok(None);
            }
        }
    }
}

//! The log reader: every record in id order, each once, or a declared gap.
//!
//! [`LogReader`] is what every consumer of a log directory uses (`spool
//! cat`, the embeddable reader, followers): it walks the segments through a
//! [`SegmentStore`] while a writer may be appending, rotating and deleting
//! old segments underneath it, and yields only
//!
//! - records with consecutive ids, in order, each exactly once; or
//! - a [`ReadItem::Gap`] naming the ids it could not read (retention deleted
//!   them before they were read, or they were declared lost), after which it
//!   goes on.
//!
//! It never skips silently. The checks that make this hold:
//!
//! - ids within a segment are dense (the writer guarantees it; a jump inside
//!   a segment is corruption);
//! - at a segment boundary the next segment's first id must be the id the
//!   reader wants. If it is larger, the segment being read may have been
//!   written on (and sealed) after the reader saw its end: the reader
//!   re-reads it from where it stopped. The next segment holding a record
//!   proves the writer finished this one (one write is in flight at a time,
//!   in order), so a re-read sees all of it. Only if the segment is gone is
//!   the difference a gap (retention); if it is still there and ends
//!   early, the difference is a gap only when it was declared lost
//!   ([`LogReader::with_gaps`]), and damage otherwise, as are non-zero
//!   bytes that are not a record, and an empty or unreadable segment
//!   followed by one holding records.
//! - a segment that disappears while being read was deleted by retention
//!   (only the oldest segments are deleted, never the one being written):
//!   the reader moves to the next one and reports what it missed as a gap.
//!
//! At the end of what is visible in the newest segment [`LogReader::next`]
//! returns `Ok(None)`: caught up. A one-shot reader stops there; a follower
//! calls again once the log has grown (its state is kept). Bytes at that
//! point that are not a complete valid record mean "not written yet" to a
//! live reader; [`LogReader::stopped_on_bytes`] tells a reader of a stopped
//! log that it should classify them (a torn tail or corruption) with the
//! recovery scan.

use alloc::vec::Vec;
use core::fmt;

use crate::mark::gap_declared;
use crate::record::{
    decode_frame, Decoded, FrameError, Lsn, SegmentId, FRAME_HEADER_LEN, MAX_PAYLOAD_LEN,
    SEGMENT_HEADER_LEN,
};
use crate::recover::{check_header, Corruption, CorruptionKind};

/// Where a reader gets segments from: a directory, or a simulated one.
pub trait SegmentStore {
    /// The store's own error (IO).
    type Error;

    /// The ids of the segments present now, ascending, into `out`.
    fn list(&mut self, out: &mut Vec<SegmentId>) -> Result<(), Self::Error>;

    /// Reads bytes of segment `id` at `offset` into `buf`; returns how many
    /// (0 at the end of the file), or `None` when the segment does not exist.
    fn read_at(
        &mut self,
        id: SegmentId,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<Option<usize>, Self::Error>;
}

/// Where a reader begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The oldest record present.
    Oldest,
    /// The record after this id (resume): a record with exactly the next id
    /// comes first, or a gap says which ids are gone.
    After(Lsn),
}

/// What a reader yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadItem<'a> {
    /// A record: its id and payload.
    Record {
        /// The record id.
        id: Lsn,
        /// The payload bytes (valid until the next call).
        payload: &'a [u8],
    },
    /// Ids `from..=to` cannot be read: deleted by retention before this
    /// reader reached them, or declared lost.
    Gap {
        /// First id missing.
        from: Lsn,
        /// Last id missing.
        to: Lsn,
    },
}

/// Why a reader stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError<E> {
    /// The store failed.
    Store(E),
    /// The log is damaged here.
    Corrupt(Corruption),
}

impl<E: fmt::Display> fmt::Display for ReadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Store(e) => write!(f, "{e}"),
            ReadError::Corrupt(c) => write!(f, "corruption: {c}"),
        }
    }
}

/// Bytes read at once (more when a record is larger).
const CHUNK: usize = 256 * 1024;

/// What is at the reader's position in the buffered bytes.
enum AtPos {
    /// A valid frame: its id and length on disk.
    Frame(Lsn, usize),
    /// Zeros, the end of the file, or an incomplete frame at the end of the
    /// file: nothing (more) written here yet.
    Clean,
    /// Bytes that are not a valid frame.
    Bad(FrameError),
}

/// The log reader. See the module docs for what it guarantees.
///
/// Call [`LogReader::next`] until it returns `Ok(None)` (caught up).
pub struct LogReader {
    want: Option<Lsn>,
    skip_through: Lsn,
    cur: Option<SegmentId>,
    /// Bytes of `cur` starting at file offset `buf_at`.
    buf: Vec<u8>,
    buf_at: u64,
    /// Whether the last read of `cur` reached the end of the file.
    eof: bool,
    header_checked: bool,
    /// File offset of the next frame in `cur`.
    pos: u64,
    listing: Vec<SegmentId>,
    stopped_on: Option<(SegmentId, u64)>,
    /// Read into here, then copied to `buf` (zeroed once, not per read).
    scratch: Vec<u8>,
    /// Id ranges declared lost (from the log mark).
    gaps: Vec<(Lsn, Lsn)>,
}

impl LogReader {
    /// A reader starting at `start`.
    pub fn new(start: Start) -> LogReader {
        let (want, skip_through) = match start {
            Start::Oldest => (None, Lsn(0)),
            Start::After(id) => (Some(id.next()), id),
        };
        LogReader {
            want,
            skip_through,
            cur: None,
            buf: Vec::new(),
            buf_at: 0,
            eof: false,
            header_checked: false,
            pos: SEGMENT_HEADER_LEN,
            listing: Vec::new(),
            stopped_on: None,
            scratch: Vec::new(),
            gaps: Vec::new(),
        }
    }

    /// Declares id ranges known lost (the log mark's `gaps`). A segment
    /// that is still present but ends before the next segment's first id
    /// is a declared gap only if the missing ids are declared; otherwise it
    /// is damage ([`CorruptionKind::MissingRecords`]). Retention deletes
    /// whole segments, so records missing from a segment that is still
    /// there are never retention.
    pub fn with_gaps(mut self, gaps: &[(Lsn, Lsn)]) -> LogReader {
        self.gaps = gaps.to_vec();
        self
    }

    /// The id the next record must have, once known.
    pub fn next_id(&self) -> Option<Lsn> {
        self.want
    }

    /// After `Ok(None)`: where the reader stopped at non-zero bytes that
    /// are not a complete valid record, if it did (a write in progress to a
    /// live reader; a torn tail or corruption in a stopped log).
    pub fn stopped_on_bytes(&self) -> Option<(SegmentId, u64)> {
        self.stopped_on
    }

    /// The next record or gap; `Ok(None)` when caught up with the log.
    pub fn next<S: SegmentStore>(
        &mut self,
        store: &mut S,
    ) -> Result<Option<ReadItem<'_>>, ReadError<S::Error>> {
        self.stopped_on = None;
        loop {
            let Some(cur) = self.cur else {
                store.list(&mut self.listing).map_err(ReadError::Store)?;
                let start = match self.want {
                    Some(want) => self.segment_holding(store, want)?,
                    None => None,
                };
                match start.or_else(|| self.listing.first().copied()) {
                    Some(first) => self.open(first),
                    None => return Ok(None),
                }
                continue;
            };
            let at = match self.at_pos(store, cur)? {
                Some(at) => at,
                None => {
                    // `cur` is gone: retention deleted it. What it held
                    // that we did not read shows as a gap at the next
                    // segment's first record.
                    store.list(&mut self.listing).map_err(ReadError::Store)?;
                    let Some(&next) = self.listing.iter().find(|&&s| s > cur) else {
                        self.cur = None;
                        return Ok(None);
                    };
                    self.open(next);
                    // Report the gap now, so a reader that retention keeps
                    // outrunning still returns (with gaps) on every call.
                    if let (Some(w), FirstRecord::Id(first)) =
                        (self.want, first_record(store, next)?)
                    {
                        if first > w && first.0 - 1 > self.skip_through.0 {
                            let from = w.max(self.skip_through.next());
                            self.skip_through = Lsn(0);
                            self.want = Some(first);
                            return Ok(Some(ReadItem::Gap {
                                from,
                                to: Lsn(first.0 - 1),
                            }));
                        }
                    }
                    continue;
                }
            };
            match at {
                AtPos::Frame(id, len) => {
                    if id <= self.skip_through {
                        self.pos += len as u64;
                        continue;
                    }
                    self.skip_through = Lsn(0);
                    match self.want {
                        Some(w) if id > w && self.pos == SEGMENT_HEADER_LEN => {
                            // The first record of a segment, past the id
                            // wanted: the ids between are gone.
                            self.want = Some(id);
                            return Ok(Some(ReadItem::Gap {
                                from: w,
                                to: Lsn(id.0 - 1),
                            }));
                        }
                        Some(w) if id != w => {
                            return Err(ReadError::Corrupt(Corruption {
                                segment: cur,
                                offset: self.pos,
                                kind: CorruptionKind::Sequence {
                                    previous: Lsn(w.0.saturating_sub(1)),
                                    found: id,
                                },
                            }));
                        }
                        _ => {}
                    }
                    let start = (self.pos - self.buf_at) as usize;
                    self.pos += len as u64;
                    self.want = Some(id.next());
                    let payload = &self.buf[start + FRAME_HEADER_LEN..start + len];
                    return Ok(Some(ReadItem::Record { id, payload }));
                }
                AtPos::Clean | AtPos::Bad(_) => {
                    if !self.advance(store, cur, &at)? {
                        // Caught up: what follows `pos` is read afresh
                        // next time (the writer may be appending).
                        if self.cur == Some(cur) {
                            self.forget_after_pos();
                        }
                        if matches!(at, AtPos::Bad(_)) {
                            self.stopped_on = Some((cur, self.pos));
                        }
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The newest listed segment whose first record is at or before
    /// `want`: where a reader starting after an id begins, so it reads
    /// only the first record of each older segment, not the segments.
    /// `None` when no segment qualifies (start at the oldest; a gap is
    /// reported there if ids are missing). Segments whose first record
    /// cannot be read here are passed over: the reader meets them, and
    /// reports what they hold, if it gets to them.
    fn segment_holding<S: SegmentStore>(
        &self,
        store: &mut S,
        want: Lsn,
    ) -> Result<Option<SegmentId>, ReadError<S::Error>> {
        for &id in self.listing.iter().rev() {
            match first_record(store, id) {
                Ok(FirstRecord::Id(first)) if first <= want => return Ok(Some(id)),
                Ok(_) | Err(ReadError::Corrupt(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Drops every buffered byte, keeping the place: a reader that pauses
    /// (a follower waiting for its client) holds its position only, and
    /// the next call reads from the store again.
    pub fn release_buffers(&mut self) {
        self.buf = Vec::new();
        self.scratch = Vec::new();
        self.buf_at = self.pos;
        self.eof = false;
    }

    /// Drops the buffered bytes from `pos` on, so the next look reads them
    /// from the store again (the writer may have written there since).
    fn forget_after_pos(&mut self) {
        self.buf.truncate((self.pos - self.buf_at) as usize);
        self.eof = false;
    }

    /// Starts reading segment `id` from its first record.
    fn open(&mut self, id: SegmentId) {
        self.cur = Some(id);
        self.buf.clear();
        self.buf_at = 0;
        self.eof = false;
        self.header_checked = false;
        self.pos = SEGMENT_HEADER_LEN;
    }

    /// At the end of what `cur` shows: moves to the next segment if `cur`
    /// is finished (returns `true`), or returns `false` when `cur` is the
    /// newest segment with records (caught up).
    fn advance<S: SegmentStore>(
        &mut self,
        store: &mut S,
        cur: SegmentId,
        at: &AtPos,
    ) -> Result<bool, ReadError<S::Error>> {
        store.list(&mut self.listing).map_err(ReadError::Store)?;
        let Some(next) = self.listing.iter().copied().find(|&s| s > cur) else {
            return Ok(false);
        };
        let first = match first_record(store, next)? {
            // Deleted between the listing and the read: only retention
            // deletes, oldest first, so `cur` went too; the next call
            // finds that out.
            FirstRecord::Gone => return Ok(true),
            // Prepared ahead and not written (`cur` is the active segment),
            // or its first record is being written: caught up. Unless a
            // later segment holds a record: the writer fills segments in
            // order, so then `next` lost its records.
            first @ (FirstRecord::None | FirstRecord::Unreadable) => {
                let later: Vec<SegmentId> =
                    self.listing.iter().copied().filter(|&s| s > next).collect();
                for s in later {
                    if let FirstRecord::Id(id) = first_record(store, s)? {
                        // `next` was read before `s`: look again, now that
                        // the writer is known to have gone past it.
                        let first = match first_record(store, next)? {
                            FirstRecord::Id(_) | FirstRecord::Gone => return Ok(true),
                            again => again,
                        };
                        let kind = match (first, self.want) {
                            (FirstRecord::None, Some(w)) if id > w => {
                                CorruptionKind::MissingRecords {
                                    from: w,
                                    to: Lsn(id.0 - 1),
                                }
                            }
                            _ => CorruptionKind::Frame(FrameError::BadCrc),
                        };
                        return Err(ReadError::Corrupt(Corruption {
                            segment: next,
                            offset: SEGMENT_HEADER_LEN,
                            kind,
                        }));
                    }
                }
                if matches!(first, FirstRecord::Unreadable) {
                    self.stopped_on = Some((next, SEGMENT_HEADER_LEN));
                }
                return Ok(false);
            }
            FirstRecord::Id(id) => id,
        };
        let finished = match self.want {
            None => true,
            Some(w) if first == w => true,
            // Still looking for the resume point: records up to it are skipped.
            Some(_) if first <= self.skip_through => true,
            Some(w) if first < w => {
                return Err(ReadError::Corrupt(Corruption {
                    segment: next,
                    offset: SEGMENT_HEADER_LEN,
                    kind: CorruptionKind::Sequence {
                        previous: Lsn(w.0.saturating_sub(1)),
                        found: first,
                    },
                }))
            }
            Some(_) => {
                // `next` holds a record, so the writer finished `cur`
                // before it: read `cur` again from where it stopped.
                self.forget_after_pos();
                match self.at_pos(store, cur)? {
                    // Deleted by retention: the next call reports the gap.
                    None => return Ok(true),
                    // It grew: read on.
                    Some(AtPos::Frame(..)) => return Ok(true),
                    // It is still there and ends before the ids `next`
                    // starts after: a declared gap, or records lost.
                    Some(AtPos::Clean) => {
                        let (w, to) = (self.want.unwrap_or(first), Lsn(first.0 - 1));
                        if !gap_declared(&self.gaps, w, to) {
                            return Err(ReadError::Corrupt(Corruption {
                                segment: next,
                                offset: SEGMENT_HEADER_LEN,
                                kind: CorruptionKind::MissingRecords { from: w, to },
                            }));
                        }
                        true
                    }
                    Some(AtPos::Bad(e)) => {
                        return Err(ReadError::Corrupt(Corruption {
                            segment: cur,
                            offset: self.pos,
                            kind: CorruptionKind::Frame(e),
                        }))
                    }
                }
            }
        };
        if finished && matches!(at, AtPos::Bad(_)) {
            // A sealed segment ends in zeros after its last record: read
            // again to be sure these bytes were not a write in progress.
            self.forget_after_pos();
            match self.at_pos(store, cur)? {
                None | Some(AtPos::Clean) => {}
                Some(AtPos::Frame(..)) => return Ok(true),
                Some(AtPos::Bad(e)) => {
                    return Err(ReadError::Corrupt(Corruption {
                        segment: cur,
                        offset: self.pos,
                        kind: CorruptionKind::Frame(e),
                    }))
                }
            }
        }
        if finished {
            self.open(next);
        }
        Ok(true)
    }

    /// What lies at `pos` in `cur`, reading more bytes as needed; `None`
    /// when the segment does not exist.
    fn at_pos<S: SegmentStore>(
        &mut self,
        store: &mut S,
        cur: SegmentId,
    ) -> Result<Option<AtPos>, ReadError<S::Error>> {
        if !self.header_checked {
            if !self.fill(store, cur, 0, SEGMENT_HEADER_LEN as usize)? {
                return Ok(None);
            }
            check_header(cur, &self.buf).map_err(ReadError::Corrupt)?;
            self.header_checked = true;
        }
        let mut need = FRAME_HEADER_LEN;
        loop {
            if !self.fill(store, cur, self.pos, need)? {
                return Ok(None);
            }
            let start = (self.pos - self.buf_at) as usize;
            let rest = self.buf.get(start..).unwrap_or(&[]);
            return Ok(Some(match decode_frame(rest, cur, MAX_PAYLOAD_LEN) {
                Ok(Decoded::Record(f)) => AtPos::Frame(f.seq, FRAME_HEADER_LEN + f.payload.len()),
                Ok(Decoded::NeedMore { needed }) if !self.eof => {
                    need = rest.len() + needed as usize;
                    continue;
                }
                Ok(Decoded::NeedMore { .. }) => {
                    if rest.iter().all(|&b| b == 0) {
                        AtPos::Clean
                    } else {
                        AtPos::Bad(FrameError::BadLength(0))
                    }
                }
                Err(FrameError::Zero) => AtPos::Clean,
                Err(e) => AtPos::Bad(e),
            }));
        }
    }

    /// Makes the buffer hold `len` bytes from file offset `from` (fewer at
    /// the end of the file). `false` if the segment does not exist.
    fn fill<S: SegmentStore>(
        &mut self,
        store: &mut S,
        cur: SegmentId,
        from: u64,
        len: usize,
    ) -> Result<bool, ReadError<S::Error>> {
        if from < self.buf_at || from > self.buf_at + self.buf.len() as u64 {
            self.buf.clear();
            self.buf_at = from;
            self.eof = false;
        } else if from - self.buf_at > (CHUNK as u64) * 4 {
            // Drop what was consumed so the buffer does not grow with the file.
            let drop = (from - self.buf_at) as usize;
            self.buf.drain(..drop);
            self.buf_at = from;
        }
        let want_end = from + len as u64;
        while self.buf_at + (self.buf.len() as u64) < want_end && !self.eof {
            let have = self.buf.len();
            let ask = (want_end - self.buf_at - have as u64).max(CHUNK as u64) as usize;
            if self.scratch.len() < ask {
                self.scratch.resize(ask, 0);
            }
            let at = self.buf_at + have as u64;
            match store.read_at(cur, at, &mut self.scratch[..ask]) {
                Ok(Some(0)) => self.eof = true,
                Ok(Some(n)) => self.buf.extend_from_slice(&self.scratch[..n.min(ask)]),
                Ok(None) => return Ok(false),
                Err(e) => return Err(ReadError::Store(e)),
            }
        }
        Ok(true)
    }
}

#[derive(Clone, Copy)]
enum FirstRecord {
    Gone,
    None,
    Unreadable,
    Id(Lsn),
}

/// The id of the first record of segment `id`, checked whole (CRC
/// included), without reading the rest of the segment.
fn first_record<S: SegmentStore>(
    store: &mut S,
    id: SegmentId,
) -> Result<FirstRecord, ReadError<S::Error>> {
    let head_len = SEGMENT_HEADER_LEN as usize + FRAME_HEADER_LEN;
    let mut buf = alloc::vec![0u8; head_len];
    let Some(got) = read_full(store, id, 0, &mut buf)? else {
        return Ok(FirstRecord::Gone);
    };
    check_header(id, &buf[..got]).map_err(ReadError::Corrupt)?;
    let mut got = got;
    loop {
        let frame = &buf[SEGMENT_HEADER_LEN as usize..got];
        let needed = match decode_frame(frame, id, MAX_PAYLOAD_LEN) {
            Ok(Decoded::Record(f)) => return Ok(FirstRecord::Id(f.seq)),
            Ok(Decoded::NeedMore { needed }) if got == buf.len() => needed,
            Err(FrameError::Zero) => return Ok(FirstRecord::None),
            Ok(Decoded::NeedMore { .. }) if frame.iter().all(|&b| b == 0) => {
                return Ok(FirstRecord::None)
            }
            _ => return Ok(FirstRecord::Unreadable),
        };
        let old = buf.len();
        buf.resize(
            old.saturating_add(usize::try_from(needed).unwrap_or(usize::MAX)),
            0,
        );
        match read_full(store, id, old as u64, &mut buf[old..])? {
            None => return Ok(FirstRecord::Gone),
            Some(n) => got = old + n,
        }
    }
}

/// Reads until `buf` is full or the file ends; `None` if the segment is gone.
fn read_full<S: SegmentStore>(
    store: &mut S,
    id: SegmentId,
    offset: u64,
    buf: &mut [u8],
) -> Result<Option<usize>, ReadError<S::Error>> {
    let mut got = 0;
    while got < buf.len() {
        match store
            .read_at(id, offset + got as u64, &mut buf[got..])
            .map_err(ReadError::Store)?
        {
            None => return Ok(None),
            Some(0) => break,
            Some(n) => got += n,
        }
    }
    Ok(Some(got))
}
